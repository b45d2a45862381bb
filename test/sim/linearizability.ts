/**
 * A linearizability checker for concurrent histories, in the style of Wing & Gong's search
 * with Lowe's memoization (as popularised by Porcupine), plus the partitioning by key that
 * makes key-value histories cheap: a KV history is linearizable iff each key's sub-history is
 * (linearizability is compositional, Herlihy & Wing 1990), so each key is searched alone.
 *
 * The search walks a doubly linked list of call and return events ordered by time. It tries to
 * linearize the earliest pending call whose effect the model accepts; when it meets a return
 * whose call it has not linearized yet, it backtracks. A cache of (set of linearized
 * operations, model state) pairs already explored prunes the search.
 *
 * Operations whose response was never seen (the client crashed, the node went down) have
 * `returnTime: Infinity`: they may take effect at any point after their call, or never, which
 * is equivalent to taking effect after everything else. Models must accept an `undefined`
 * output as "unknown".
 *
 * When a partition is not linearizable the checker shrinks it to a 1-minimal failing
 * sub-history: removing any single operation of what it reports makes the rest linearizable.
 */
import { assert } from '../../src/util/index.js';

/** One completed (or pending) operation of a history. Times are logical and comparable. */
export interface Operation<I, O> {
  /** Who issued it; only for printing. */
  clientId: number;
  input: I;
  /** `undefined` when the response was never observed. */
  output: O | undefined;
  callTime: number;
  /** `Infinity` when the response was never observed. */
  returnTime: number;
}

/** A sequential specification. States must be treated as immutable values. */
export interface Model<S, I, O> {
  init(): S;
  /** The state after `input` when it may produce `output` from `state`, else `undefined`. */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** A string that identifies the state exactly (memoization key). */
  stateKey(state: S): string;
  /** Splits a history into independent sub-histories (e.g. by key). Default: one partition. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** One line describing an operation, for reports. */
  describe?(op: Operation<I, O>): string;
  /**
   * Whether a sub-history may be reported while shrinking. The KV model refuses to drop the
   * write of a value that a kept read returns, so that a stale read shrinks to "write a, write
   * b, read a" rather than to the uninformative "read a value nobody wrote".
   * @default every sub-history is allowed
   */
  admissible?(candidate: readonly Operation<I, O>[], whole: readonly Operation<I, O>[]): boolean;
  /**
   * An exact and fast decision procedure for the histories it applies to (the KV model's
   * register zones), or `null` where it does not apply; the search is used then. Reported
   * failures are always confirmed by the search on the (small) minimal sub-history.
   */
  decide?(partition: readonly Operation<I, O>[]): 'ok' | 'illegal' | null;
}

/** The outcome of checking one history. */
export type CheckResult<I, O> =
  | { kind: 'ok' }
  | {
      kind: 'illegal';
      /** A 1-minimal non-linearizable sub-history, ordered by call time. */
      minimal: Operation<I, O>[];
      /** The whole failing partition it was cut from. */
      partition: Operation<I, O>[];
      /** Readable report: the minimal sub-history, one operation per line. */
      report: string;
    }
  | { kind: 'unknown'; reason: string };

/** Options of `checkHistory`. */
export interface CheckOptions {
  /**
   * Upper bound on search steps per partition; a search that exceeds it answers `unknown`
   * rather than running for ever on a pathological history.
   * @default 2_000_000
   */
  searchStepsMax?: number;
}

const SEARCH_STEPS_MAX_DEFAULT = 2_000_000;

interface EventNode {
  /** Operation index within the partition; -1 for the list head. */
  id: number;
  isCall: boolean;
  /** For a call: its return event. */
  match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

/** Checks a whole history: partition, search each, shrink the first failing one. */
export function checkHistory<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const stepsMax = options.searchStepsMax ?? SEARCH_STEPS_MAX_DEFAULT;
  for (const op of history) {
    assert(op.callTime <= op.returnTime, `operation returns before its call: ${op.callTime}`);
  }
  const partitions = model.partition ? model.partition(history) : [history.slice()];
  let unknown: string | null = null;
  for (const part of partitions) {
    const verdict = decidePartition(model, part, stepsMax);
    if (verdict === 'unknown') {
      unknown = `search exceeded ${stepsMax} steps on a partition of ${part.length} operations`;
      continue;
    }
    if (verdict === 'ok') continue;
    const minimal = shrink(model, part, stepsMax);
    // The fast path and the search must agree on what is reported.
    assert(searchPartition(model, minimal, stepsMax) !== 'ok', 'search confirms the failure');
    return { kind: 'illegal', minimal, partition: part, report: describeHistory(model, minimal) };
  }
  return unknown === null ? { kind: 'ok' } : { kind: 'unknown', reason: unknown };
}

function decidePartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  stepsMax: number,
): 'ok' | 'illegal' | 'unknown' {
  return model.decide?.(ops) ?? searchPartition(model, ops, stepsMax);
}

/** Whether one partition is linearizable: 'ok', 'illegal' or 'unknown' (budget exceeded). */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  stepsMax: number = SEARCH_STEPS_MAX_DEFAULT,
): 'ok' | 'illegal' | 'unknown' {
  const head = buildEventList(ops);
  const linearized = new Uint32Array(Math.ceil(ops.length / 32) || 1);
  const cache = new LinearizedCache(ops.length);
  const stack: { entry: EventNode; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > stepsMax) return 'unknown';
    assert(entry !== null, 'search ran off the end of the event list');
    if (entry.isCall) {
      const op = ops[entry.id]!;
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        setBit(linearized, entry.id, true);
        if (cache.add(linearized, entry.id, model.stateKey(next))) {
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        setBit(linearized, entry.id, false);
        cache.toggle(entry.id);
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: nothing before it can be ordered so
      // that this operation takes effect in its window. Undo the last choice.
      const top = stack.pop();
      if (top === undefined) return 'illegal';
      state = top.state;
      setBit(linearized, top.entry.id, false);
      cache.toggle(top.entry.id);
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  assert(stack.length === ops.length, 'every operation is linearized exactly once');
  return 'ok';
}

/** Call and return events sorted by time; at equal times calls come first (more overlap). */
function buildEventList<I, O>(ops: readonly Operation<I, O>[]): EventNode {
  const events: { time: number; isCall: boolean; id: number; node: EventNode }[] = [];
  ops.forEach((op, id) => {
    const call: EventNode = { id, isCall: true, match: null, prev: null, next: null };
    const ret: EventNode = { id, isCall: false, match: null, prev: null, next: null };
    call.match = ret;
    events.push({ time: op.callTime, isCall: true, id, node: call });
    events.push({ time: op.returnTime, isCall: false, id, node: ret });
  });
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.id - b.id;
  });
  const head: EventNode = { id: -1, isCall: false, match: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    last.next = e.node;
    e.node.prev = last;
    last = e.node;
  }
  return head;
}

/** Removes a call and its return from the list; their own links stay for `unlift`. */
function lift(call: EventNode): void {
  assert(call.isCall && call.match !== null, 'only calls are lifted');
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const ret = call.match;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Reinserts what `lift` removed, in reverse order (dancing links). */
function unlift(call: EventNode): void {
  assert(call.isCall && call.match !== null, 'only calls are unlifted');
  const ret = call.match;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}

function setBit(bits: Uint32Array, i: number, on: boolean): void {
  const w = i >>> 5;
  const mask = 1 << (i & 31);
  bits[w] = on ? bits[w]! | mask : bits[w]! & ~mask;
}

/**
 * The set of (linearized operations, state) pairs already explored. The set of operations is
 * hashed incrementally (Zobrist: one random 64-bit word per operation, XORed in and out), so a
 * lookup costs O(1) plus an exact comparison of the bitsets on a hash hit.
 */
class LinearizedCache {
  private readonly seen = new Map<string, Uint32Array[]>();
  private readonly zobristLo: Uint32Array;
  private readonly zobristHi: Uint32Array;
  private hashLo = 0;
  private hashHi = 0;

  constructor(ops: number) {
    this.zobristLo = new Uint32Array(ops);
    this.zobristHi = new Uint32Array(ops);
    // A fixed generator: the checker is deterministic too.
    let x = 0x9e3779b9;
    const next = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    for (let i = 0; i < ops; i++) {
      this.zobristLo[i] = next();
      this.zobristHi[i] = next();
    }
  }

  /** Flips operation `id` in the hashed set (call with every bit flip of the search). */
  toggle(id: number): void {
    this.hashLo = (this.hashLo ^ this.zobristLo[id]!) >>> 0;
    this.hashHi = (this.hashHi ^ this.zobristHi[id]!) >>> 0;
  }

  /**
   * Records `bits` (in which `id` was just set) with `stateKey`; returns false, with the hash
   * left including `id`, if the pair was already explored.
   */
  add(bits: Uint32Array, id: number, stateKey: string): boolean {
    this.toggle(id);
    const key = `${this.hashLo}:${this.hashHi}|${stateKey}`;
    let list = this.seen.get(key);
    if (list === undefined) this.seen.set(key, (list = []));
    for (const other of list) if (sameBits(other, bits)) return false;
    list.push(bits.slice());
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Shrinks a failing partition to a 1-minimal failing sub-history. First tries to drop large
 * chunks (halves, quarters, ...; ddmin's complement step), then single operations.
 */
function shrink<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  stepsMax: number,
): Operation<I, O>[] {
  const fails = (candidate: readonly Operation<I, O>[]): boolean =>
    (model.admissible === undefined || model.admissible(candidate, ops)) &&
    decidePartition(model, candidate, stepsMax) === 'illegal';
  assert(fails(ops), 'shrink starts from a failing history');
  let current = ops.slice();
  for (let chunk = current.length >> 1; chunk >= 1; chunk >>= 1) {
    let i = 0;
    while (i < current.length) {
      const candidate = current.slice(0, i).concat(current.slice(i + chunk));
      if (candidate.length > 0 && fails(candidate)) current = candidate;
      else i += chunk;
    }
  }
  assert(fails(current), 'the shrunk history still fails');
  return current.sort((a, b) => a.callTime - b.callTime);
}

/** One line per operation, ordered by call time. */
export function describeHistory<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
): string {
  const fmt = (t: number): string => (t === Infinity ? '∞' : String(t));
  return ops
    .slice()
    .sort((a, b) => a.callTime - b.callTime)
    .map((op) => {
      const what = model.describe ? model.describe(op) : JSON.stringify(op.input);
      return `  [${fmt(op.callTime)}, ${fmt(op.returnTime)}] client ${op.clientId}: ${what}`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------
// The key-value model.

/** A KV request: read one key, or write one key. */
export type KvInput = { kind: 'get'; key: string } | { kind: 'put'; key: string; value: string };

/** A KV response: the value read (`null` when absent); writes answer `{ value: null }`. */
export interface KvOutput {
  value: string | null;
}

/** An operation on the KV model. */
export type KvOperation = Operation<KvInput, KvOutput>;

/**
 * A register per key, all starting absent. The state of one partition is the value of its key
 * (partitions hold a single key each).
 */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    if (input.kind === 'put') return input.value;
    if (output === undefined) return state;
    return output.value === state ? state : undefined;
  },
  stateKey: (state) => (state === null ? '\u0000' : 's' + state),
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      let list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
  },
  admissible(candidate, whole) {
    const written = (ops: readonly KvOperation[]): Set<string> => {
      const set = new Set<string>();
      for (const op of ops) if (op.input.kind === 'put') set.add(op.input.value);
      return set;
    };
    const inCandidate = written(candidate);
    const inWhole = written(whole);
    for (const op of candidate) {
      const v = op.output?.value;
      if (op.input.kind !== 'get' || v === undefined || v === null) continue;
      if (inWhole.has(v) && !inCandidate.has(v)) return false;
    }
    return true;
  },
  decide: (ops) => decideRegister(ops),
  describe(op) {
    if (op.input.kind === 'put') return `put(${op.input.key}, ${op.input.value})`;
    const v = op.output === undefined ? '?' : op.output.value === null ? 'nil' : op.output.value;
    return `get(${op.input.key}) -> ${v}`;
  },
};

/** Checks a KV history (partitioned by key). */
export function checkKvHistory(
  history: readonly KvOperation[],
  options: CheckOptions = {},
): CheckResult<KvInput, KvOutput> {
  // Three exact reductions keep the search small.
  // 1. A read that never answered constrains nothing.
  // 2. A write that never answered and whose value nobody read can be dropped: if the rest
  //    linearizes, the write fits at the very end; if the whole linearizes, removing it leaves
  //    every read's value in place (no read returned its value).
  // 3. A write that never answered but whose value was read took effect before that read
  //    returned (values are unique), so its window closes at the earliest such return.
  const firstSeen = new Map<string, number>();
  for (const op of history) {
    if (op.input.kind !== 'get' || op.output === undefined || op.output.value === null) continue;
    const k = `${op.input.key}\u0000${op.output.value}`;
    firstSeen.set(k, Math.min(firstSeen.get(k) ?? Infinity, op.returnTime));
  }
  const relevant: KvOperation[] = [];
  for (const op of history) {
    if (op.input.kind === 'get') {
      if (op.output !== undefined) relevant.push(op);
      continue;
    }
    if (op.returnTime !== Infinity) {
      relevant.push(op);
      continue;
    }
    const seen = firstSeen.get(`${op.input.key}\u0000${op.input.value}`);
    if (seen !== undefined) relevant.push({ ...op, returnTime: Math.max(seen, op.callTime) });
  }
  return checkHistory(kvModel, relevant, options);
}

/**
 * Decides linearizability of one register's history in O(n log n) when every write's value is
 * unique (so each read names the write it read from) and no operation is pending: Gibbons and
 * Korach's zone test (SIAM J. Computing 26(4), 1997), as presented by Golab, Li and Shah (PODC
 * 2011). Group each write with the reads of its value into a cluster; let f be the earliest
 * return and s the latest call in the cluster. The value must be current throughout [f, s]
 * when f < s (a forward zone). The history is linearizable iff every read's write starts
 * before the read ends, no two forward zones overlap, and no cluster with f >= s (a backward
 * zone [s, f]) lies strictly inside a forward zone. The initial value is a write at -∞.
 * Returns null when the preconditions do not hold (the search decides then).
 */
export function decideRegister(ops: readonly KvOperation[]): 'ok' | 'illegal' | null {
  const clusters = new Map<string | null, { f: number; s: number; writeCall: number }>();
  clusters.set(null, { f: -Infinity, s: -Infinity, writeCall: -Infinity });
  for (const op of ops) {
    if (op.returnTime === Infinity) return null;
    if (op.input.kind !== 'put') continue;
    if (clusters.has(op.input.value)) return null; // not unique
    clusters.set(op.input.value, { f: op.returnTime, s: op.callTime, writeCall: op.callTime });
  }
  for (const op of ops) {
    if (op.input.kind !== 'get') continue;
    if (op.output === undefined) return null;
    const c = clusters.get(op.output.value);
    if (c === undefined) return 'illegal'; // a value nobody wrote
    if (op.returnTime < c.writeCall) return 'illegal'; // read ends before its write starts
    c.f = Math.min(c.f, op.returnTime);
    c.s = Math.max(c.s, op.callTime);
  }
  const forward: [number, number][] = [];
  const backward: [number, number][] = [];
  for (const c of clusters.values()) {
    if (c.s === -Infinity) continue; // the initial value, never read
    if (c.f < c.s) forward.push([c.f, c.s]);
    else backward.push([c.s, c.f]);
  }
  forward.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < forward.length; i++) {
    // Sorted by start: an overlap, if any, shows between neighbours (strict: touching ends
    // are concurrent events, as in the search, where calls precede returns at equal times).
    if (forward[i]![0] < forward[i - 1]![1]) return 'illegal';
  }
  // Forward zones are disjoint, so each backward zone can only lie inside the one that
  // starts last before it.
  const starts = forward.map((z) => z[0]);
  for (const [bs, bf] of backward) {
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! < bs) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found >= 0 && bf < forward[found]![1]) return 'illegal';
  }
  return 'ok';
}
