import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/index.js';
import {
  checkHistory,
  checkKvHistory,
  decideRegister,
  kvModel,
  searchPartition,
  type KvInput,
  type KvOperation,
  type KvOutput,
} from './linearizability.js';

const put = (key: string, value: string, call: number, ret: number, client = 0): KvOperation => ({
  clientId: client,
  input: { kind: 'put', key, value },
  output: { value: null },
  callTime: call,
  returnTime: ret,
});
const get = (
  key: string,
  value: string | null | undefined,
  call: number,
  ret: number,
  client = 1,
): KvOperation => ({
  clientId: client,
  input: { kind: 'get', key },
  output: value === undefined ? undefined : { value },
  callTime: call,
  returnTime: ret,
});

describe('linearizability checker', () => {
  it('accepts sequential and overlapping histories', () => {
    expect(checkKvHistory([put('x', '1', 0, 10), get('x', '1', 20, 30)]).kind).toBe('ok');
    // The read overlaps both writes: either value (or the first) is fine.
    const h = [put('x', '1', 0, 10), put('x', '2', 15, 40), get('x', '1', 20, 30)];
    expect(checkKvHistory(h).kind).toBe('ok');
    expect(checkKvHistory([get('x', null, 0, 5)]).kind).toBe('ok');
  });

  it('catches a planted stale read and reports a minimal failing sub-history', () => {
    const history = [
      put('y', 'a', 0, 5, 2),
      put('x', '1', 0, 10),
      get('y', 'a', 6, 9, 3),
      put('x', '2', 20, 30),
      put('y', 'b', 21, 22, 2),
      get('x', '2', 31, 35, 3),
      // The stale read: '2' was acknowledged before this read began.
      get('x', '1', 40, 50),
      get('y', 'b', 41, 60, 3),
    ];
    const result = checkKvHistory(history);
    expect(result.kind).toBe('illegal');
    if (result.kind !== 'illegal') return;
    const described = result.minimal.map((op) => kvModel.describe!(op));
    expect(described).toEqual(['put(x, 1)', 'put(x, 2)', 'get(x) -> 1']);
    expect(result.report).toContain('get(x) -> 1');
    // 1-minimal: dropping any single operation leaves a linearizable history, or one that
    // fails only because a read returns a value nobody wrote (which would explain nothing).
    for (let i = 0; i < result.minimal.length; i++) {
      const rest = result.minimal.filter((_, j) => j !== i);
      const explains = kvModel.admissible!(rest, result.partition);
      expect(explains && searchPartition(kvModel, rest) === 'illegal').toBe(false);
    }
  });

  it('treats an unanswered write as possibly applied at any later time, or never', () => {
    const pending = put('x', '1', 0, Infinity);
    expect(checkKvHistory([pending, get('x', '1', 100, 110)]).kind).toBe('ok');
    expect(checkKvHistory([pending, get('x', null, 100, 110)]).kind).toBe('ok');
    // But once it is seen it cannot be unseen.
    const h = [pending, get('x', '1', 100, 110), get('x', null, 120, 130)];
    expect(checkKvHistory(h).kind).toBe('illegal');
    // Reads with no answer constrain nothing.
    expect(checkKvHistory([put('x', '1', 0, 1), get('x', undefined, 2, Infinity)]).kind).toBe('ok');
  });

  it('detects a lost acknowledged write', () => {
    const h = [put('k', 'v', 0, 5), get('k', null, 10, 12)];
    const result = checkKvHistory(h);
    expect(result.kind).toBe('illegal');
    if (result.kind === 'illegal') expect(result.minimal.length).toBe(2);
  });

  it('agrees with a brute-force checker on random small histories', () => {
    const rng = new SeededRandom(7);
    let illegal = 0;
    for (let round = 0; round < 400; round++) {
      const ops = randomHistory(rng, 2 + rng.intn(5), rng.intn(3) === 0);
      const fast = searchPartition(kvModel, ops);
      const slow = bruteForce(ops) ? 'ok' : 'illegal';
      expect(fast, JSON.stringify(ops)).toBe(slow);
      if (slow === 'illegal') illegal++;
    }
    // Both verdicts occur, so the comparison means something.
    expect(illegal).toBeGreaterThan(20);
    expect(illegal).toBeLessThan(380);
  });

  it('the register zone test agrees with the brute force and with the search', () => {
    const rng = new SeededRandom(13);
    const verdicts = { ok: 0, illegal: 0 };
    for (let round = 0; round < 3000; round++) {
      const ops = randomHistory(rng, 2 + rng.intn(6), false);
      const zones = decideRegister(ops);
      const slow = bruteForce(ops) ? 'ok' : 'illegal';
      expect(zones, JSON.stringify(ops)).toBe(slow);
      expect(searchPartition(kvModel, ops)).toBe(slow);
      verdicts[slow]++;
    }
    expect(verdicts.ok).toBeGreaterThan(300);
    expect(verdicts.illegal).toBeGreaterThan(300);
  });

  it('checks long linearizable histories quickly thanks to partitioning by key', () => {
    const rng = new SeededRandom(11);
    const history: KvOperation[] = [];
    for (let key = 0; key < 20; key++) history.push(...linearizableHistory(rng, `k${key}`, 60));
    const started = performance.now();
    expect(checkKvHistory(history).kind).toBe('ok');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('answers unknown rather than searching for ever', () => {
    const ops: KvOperation[] = [];
    // Many fully concurrent writes and one impossible read: a large search space.
    for (let i = 0; i < 24; i++) ops.push(put('x', String(i), 0, 100, i));
    ops.push(get('x', 'never', 0, 100));
    const searchOnly = { ...kvModel, decide: undefined };
    expect(checkHistory(searchOnly, ops, { searchStepsMax: 1000 }).kind).toBe('unknown');
    // The register zone test decides it at once.
    expect(checkHistory(kvModel, ops).kind).toBe('illegal');
  });
});

/** Ops on one key whose outputs come from a hidden linearization point in each window. */
function linearizableHistory(rng: SeededRandom, key: string, count: number): KvOperation[] {
  const ops: { op: KvOperation; at: number }[] = [];
  for (let i = 0; i < count; i++) {
    const call = rng.intn(1000);
    const at = call + rng.intn(30);
    const ret = at + rng.intn(30);
    const input: KvInput =
      rng.intn(2) === 0 ? { kind: 'put', key, value: `${key}.${i}` } : { kind: 'get', key };
    const op: KvOperation = {
      clientId: i, input, output: undefined, callTime: call, returnTime: ret,
    };
    ops.push({ op, at });
  }
  ops.sort((a, b) => a.at - b.at);
  let value: string | null = null;
  for (const { op } of ops) {
    if (op.input.kind === 'put') value = op.input.value;
    op.output = { value: op.input.kind === 'get' ? value : null } satisfies KvOutput;
  }
  return ops.map((o) => o.op);
}

function randomHistory(rng: SeededRandom, n: number, withPending: boolean): KvOperation[] {
  const ops: KvOperation[] = [];
  for (let i = 0; i < n; i++) {
    const call = rng.intn(20);
    const ret = withPending && rng.intn(4) === 0 ? Infinity : call + 1 + rng.intn(10);
    if (rng.intn(2) === 0) ops.push(put('x', String(i), call, ret, i));
    else {
      const v = rng.intn(n + 1);
      ops.push(get('x', v === n ? null : String(v), call, ret, i));
    }
  }
  return ops;
}

/** Tries every order that respects real time. */
function bruteForce(ops: readonly KvOperation[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const go = (count: number, state: string | null): boolean => {
    if (count === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      const op = ops[i]!;
      // op may go next only if no unused op returned before op was called.
      const blocked = ops.some((o, j) => !used[j] && j !== i && o.returnTime < op.callTime);
      if (blocked) continue;
      const next = kvModel.step(state, op.input, op.output);
      if (next === undefined) continue;
      used[i] = true;
      if (go(count + 1, next)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(0, null);
}
