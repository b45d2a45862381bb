/** The KV state machine: command codec and limits, atomic batches, dedupe, statistics. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CommandKind,
  decodeCommand,
  defaultKvLimits,
  encodeCommand,
  OpType,
  resolveKvLimits,
  validateKvOps,
  type KvOp,
} from '../../src/range/kv_command.js';
import { applyKvOps, type RangeStats } from '../../src/range/kv_apply.js';
import { MemoryKv } from '../../src/range/kv_store.js';
import { RangeState } from '../../src/range/range_state.js';
import {
  compareKeys,
  KEY_MAX,
  keyToString,
} from '../../src/range/keys.js';
import {
  RangeErrorCode,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
const id = (n: number) => Uint8Array.of(1, n >> 8, n & 0xff);
const desc = (start = USER_KEY_MIN, end = KEY_MAX): RangeDescriptor => ({
  rangeId: 2, startKey: start, endKey: end, generation: 0,
  replicas: [{ nodeId: 1, replicaId: 1, type: ReplicaType.Voter }],
});

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

function userEntries(kv: MemoryKv): [string, string][] {
  return kv.entries().filter((e) => compareKeys(e.key, USER_KEY_MIN) >= 0)
    .map((e) => [keyToString(e.key), keyToString(e.value)]);
}

describe('command codec and limits', () => {
  const ops: KvOp[] = [
    { type: OpType.Put, key: k('a'), value: k('1') },
    { type: OpType.ConditionalPut, key: k('b'), value: k('2'), expected: null },
    { type: OpType.ConditionalPut, key: k('b'), value: k('3'), expected: k('2') },
    { type: OpType.Get, key: k('a') },
    { type: OpType.Delete, key: k('a') },
    { type: OpType.Scan, start: k('a'), end: KEY_MAX, limit: 10 },
    { type: OpType.DeleteRange, start: k('a'), end: k('z') },
  ];

  it('round-trips KV batches and splits', () => {
    const cmd = { kind: CommandKind.Kv, id: id(7), ops } as const;
    expect(decodeCommand(encodeCommand(cmd), defaultKvLimits)).toEqual(cmd);
    const split = { kind: CommandKind.Split, id: id(8), splitKey: k('m'), rightRangeId: 5,
      generation: 3 } as const;
    expect(decodeCommand(encodeCommand(split), defaultKvLimits)).toEqual(split);
  });

  it('refuses bad input with stable codes, before anything is proposed', () => {
    const limits = resolveKvLimits({ keyBytesMax: 8, valueBytesMax: 16, batchOpsMax: 2,
      batchBytesMax: 30 });
    const put = (key: Uint8Array, value = k('v')): KvOp => ({ type: OpType.Put, key, value });
    expect(codeOf(() => validateKvOps([], limits))).toBe(RangeErrorCode.BadCommand);
    expect(codeOf(() => validateKvOps([put(k('123456789'))], limits)))
      .toBe(RangeErrorCode.KeyTooLarge);
    expect(codeOf(() => validateKvOps([put(k('a'), new Uint8Array(17))], limits)))
      .toBe(RangeErrorCode.ValueTooLarge);
    expect(codeOf(() => validateKvOps([put(k('a')), put(k('b')), put(k('c'))], limits)))
      .toBe(RangeErrorCode.BatchTooLarge);
    expect(codeOf(() => validateKvOps([put(k('a'), new Uint8Array(16)),
      put(k('b'), new Uint8Array(16))], limits))).toBe(RangeErrorCode.BatchTooLarge);
    expect(codeOf(() => validateKvOps([put(Uint8Array.of(0, 1))], limits)))
      .toBe(RangeErrorCode.KeyOutsideKeySpace);
    expect(codeOf(() => validateKvOps([{ type: OpType.Scan, start: k('b'), end: k('a'),
      limit: 1 }], limits))).toBe(RangeErrorCode.BadCommand);
    expect(codeOf(() => resolveKvLimits({ keyBytesMax: 0 }))).toBe('ERR_CONFIG');
  });

  it('decodes arbitrary bytes to a command or a typed error, never anything else', () => {
    const valid = encodeCommand({ kind: CommandKind.Kv, id: id(1), ops });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(valid.length - 1),
      fc.integer({ min: 0, max: 255 }), (noise, at, byte) => {
        for (const bytes of [noise, valid.map((b, i) => (i === at ? byte : b))]) {
          try {
            decodeCommand(bytes, defaultKvLimits);
          } catch (error) {
            expect((error as { code?: string }).code).toMatch(/^ERR_/);
          }
        }
      }));
  });
});

describe('applyKvOps', () => {
  it('applies a batch atomically: a failed condition writes nothing', () => {
    const kv = new MemoryKv();
    const stats: RangeStats = { keyCount: 0, byteCount: 0 };
    expect(applyKvOps(desc(), [{ type: OpType.Put, key: k('a'), value: k('1') }], kv, stats).ok)
      .toBe(true);
    const out = applyKvOps(desc(), [
      { type: OpType.Put, key: k('b'), value: k('2') },
      { type: OpType.DeleteRange, start: k('a'), end: k('z') },
      { type: OpType.ConditionalPut, key: k('a'), value: k('3'), expected: k('1') },
    ], kv, stats);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error.code).toBe(RangeErrorCode.ConditionFailed);
    expect(userEntries(kv)).toEqual([['a', '1']]);
    expect(stats).toEqual({ keyCount: 1, byteCount: 2 });
  });

  it('refuses a key outside the range with its descriptor, writing nothing', () => {
    const kv = new MemoryKv();
    const stats: RangeStats = { keyCount: 0, byteCount: 0 };
    const d = desc(k('c'), k('m'));
    const out = applyKvOps(d, [{ type: OpType.Put, key: k('d'), value: k('1') },
      { type: OpType.Put, key: k('n'), value: k('1') }], kv, stats);
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error.code).toBe(RangeErrorCode.RangeKeyMismatch);
      expect((out.error as unknown as { descriptor: RangeDescriptor }).descriptor).toBe(d);
    }
    expect(kv.size).toBe(0);
  });

  it('clamps scans to the range and says where to resume', () => {
    const kv = new MemoryKv();
    const stats: RangeStats = { keyCount: 0, byteCount: 0 };
    const d = desc(k('b'), k('e'));
    const puts: KvOp[] = ['b', 'c', 'd'].map((s) => ({ type: OpType.Put, key: k(s), value: k(s) }));
    applyKvOps(d, puts, kv, stats);
    kv.put(k('e'), k('outside'));
    const out = applyKvOps(d, [{ type: OpType.Scan, start: k('b'), end: k('z'), limit: 2 },
      { type: OpType.Scan, start: k('c'), end: k('z'), limit: 5 }], kv, stats);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const [first, second] = out.results as [Extract<typeof out.results[0], { type: 4 }>,
      Extract<typeof out.results[0], { type: 4 }>];
    expect(first.entries.map((e) => keyToString(e.key))).toEqual(['b', 'c']);
    expect(keyToString(first.resumeKey!)).toBe('c\x00');
    expect(second.entries.map((e) => keyToString(e.key))).toEqual(['c', 'd']);
    expect(keyToString(second.resumeKey!)).toBe('e');
  });

  it('matches a naive model on random batches, reads seeing the batch’s own writes', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e').map(k);
    const op: fc.Arbitrary<KvOp> = fc.oneof(
      fc.record({ type: fc.constant(OpType.Put), key, value: fc.uint8Array({ maxLength: 3 }) }),
      fc.record({ type: fc.constant(OpType.Delete), key }),
      fc.record({ type: fc.constant(OpType.Get), key }),
      fc.record({ type: fc.constant(OpType.Scan), start: key, end: fc.constant(k('f')),
        limit: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ type: fc.constant(OpType.DeleteRange), start: key, end: fc.constant(k('d')) })
        .filter((o) => compareKeys(o.start, o.end) < 0),
    ) as fc.Arbitrary<KvOp>;
    fc.assert(fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 8 }),
      { maxLength: 6 }), (batches) => {
      const kv = new MemoryKv();
      const stats: RangeStats = { keyCount: 0, byteCount: 0 };
      const model = new Map<string, Uint8Array>();
      for (const batch of batches) {
        const out = applyKvOps(desc(), batch, kv, stats);
        expect(out.ok).toBe(true);
        if (!out.ok) return;
        batch.forEach((o, i) => checkOp(o, out.results[i], model));
        const sorted = [...model.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
        expect(kv.entries().map((e) => [keyToString(e.key), [...e.value]]))
          .toEqual(sorted.map(([a, v]) => [a, [...v]]));
        expect(stats.keyCount).toBe(model.size);
        expect(stats.byteCount).toBe(sorted.reduce((n, [a, v]) => n + a.length + v.length, 0));
      }
    }));
  });
});

/** Applies `o` to the model and checks the state machine's result against it. */
function checkOp(o: KvOp, result: unknown, model: Map<string, Uint8Array>): void {
  const r = result as Record<string, unknown>;
  const inSpan = (s: string, start: Uint8Array, end: Uint8Array) =>
    s >= keyToString(start) && s < keyToString(end);
  switch (o.type) {
    case OpType.Put:
      model.set(keyToString(o.key), o.value);
      return;
    case OpType.Delete:
      expect(r.existed).toBe(model.delete(keyToString(o.key)));
      return;
    case OpType.Get:
      expect(r.value).toEqual(model.get(keyToString(o.key)));
      return;
    case OpType.Scan: {
      const want = [...model.keys()].filter((s) => inSpan(s, o.start, o.end)).sort()
        .slice(0, o.limit);
      expect((r.entries as { key: Uint8Array }[]).map((e) => keyToString(e.key))).toEqual(want);
      return;
    }
    case OpType.DeleteRange: {
      const gone = [...model.keys()].filter((s) => inSpan(s, o.start, o.end));
      for (const s of gone) model.delete(s);
      expect(r.deleted).toBe(gone.length);
      return;
    }
    default:
      throw new Error('unexpected op');
  }
}

describe('RangeState', () => {
  const put = (n: number, key: string, value: string) => encodeCommand({
    kind: CommandKind.Kv, id: id(n), ops: [{ type: OpType.Put, key: k(key), value: k(value) }],
  });

  it('applies a duplicated or re-proposed command once', () => {
    const kv = new MemoryKv();
    const state = new RangeState(desc(), defaultKvLimits);
    expect(state.apply(1, put(1, 'a', 'x'), kv).kind).toBe('kv');
    state.apply(2, put(2, 'a', 'y'), kv);
    // Command 1 again (re-proposed after a leader change): it must not overwrite y.
    const again = state.apply(3, put(1, 'a', 'x'), kv);
    expect(again.kind).toBe('duplicate');
    if (again.kind === 'duplicate') expect(again.record).toEqual({ index: 1, code: '' });
    expect(keyToString(kv.get(k('a'))!)).toBe('y');
  });

  it('records only commands that took effect: a failed one applies on its retry', () => {
    const kv = new MemoryKv();
    const left = new RangeState(desc(USER_KEY_MIN, k('m')), defaultKvLimits);
    const right = new RangeState({ ...desc(k('m'), KEY_MAX), rangeId: 3 }, defaultKvLimits);
    // Sent to the left range on a stale route: refused there, nothing recorded.
    const refused = left.apply(1, put(9, 'x', 'v'), kv);
    expect(refused.kind === 'kv' && refused.outcome.ok).toBe(false);
    expect(left.dedupe.lookup(id(9))).toBeUndefined();
    // Its retry with the same id on the range that holds the key applies.
    const retried = right.apply(1, put(9, 'x', 'v'), kv);
    expect(retried.kind === 'kv' && retried.outcome.ok).toBe(true);
    // A merge takes the right's records over: a late duplicate still applies once.
    left.dedupe.absorb(right.dedupe, 100, kv);
    expect(left.dedupe.lookup(id(9))).toEqual({ index: 1, code: '' });
  });

  it('refuses a bad payload on every replica alike, changing nothing', () => {
    const kv = new MemoryKv();
    const state = new RangeState(desc(), defaultKvLimits);
    const out = state.apply(1, Uint8Array.of(0xc1, 1, 2), kv);
    expect(out.kind).toBe('bad');
    expect(kv.size).toBe(0);
  });

  it('keeps its dedupe table bounded, and a restart or snapshot restores the same table', () => {
    const kv = new MemoryKv();
    const state = new RangeState(desc(), defaultKvLimits, 3);
    for (let n = 1; n <= 5; n++) state.apply(n, put(n, `k${n}`, 'v'), kv);
    expect(state.dedupe.size).toBe(3);
    expect(state.dedupe.lookup(id(2))).toBeUndefined();
    // A replica rebuilt from the same rows (restart, or the rows carried in a snapshot).
    const copy = new MemoryKv();
    for (const e of kv.entries()) copy.put(e.key, e.value);
    const restored = new RangeState(desc(), defaultKvLimits, 3);
    restored.load(copy);
    expect(restored.stats).toEqual(state.stats);
    for (let n = 1; n <= 5; n++) {
      expect(restored.dedupe.lookup(id(n))).toEqual(state.dedupe.lookup(id(n)));
    }
    // Both evict the same id next: the table is a function of the log.
    state.apply(6, put(6, 'k6', 'v'), kv);
    restored.apply(6, put(6, 'k6', 'v'), copy);
    expect(kv.entries()).toEqual(copy.entries());
    expect(restored.apply(7, put(5, 'k5', 'again'), copy).kind).toBe('duplicate');
    expect(restored.dedupe.lookup(id(3))).toBeUndefined();
  });
});
