/**
 * The seam between the node's KV HTTP API and whatever serves it: `KvService`. The ranges
 * layer implements it (routing each key to its range's leader, forwarding, linearizable
 * reads); `MemoryKv` is a single-process stand-in for tests and the API's own contract.
 *
 * Keys and values are bytes. Errors a caller can act on are `FlotillaError`s with stable
 * codes (`KvErrorCode`, and the store's `ERR_NOT_LEADER`, `ERR_RANGE_NOT_FOUND`); the HTTP
 * layer maps each code to a status (http_kv.ts).
 */
import { FlotillaError, assert } from '../util/index.js';

/** One operation of a batch. */
export type KvOp =
  | { op: 'get'; key: Uint8Array }
  | { op: 'put'; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; key: Uint8Array };

/** The outcome of one batch operation, in order: a get's value (null: absent). */
export type KvOpResult =
  | { op: 'get'; value: Uint8Array | null }
  | { op: 'put' }
  | { op: 'delete'; deleted: boolean };

/** One key and its value, as a scan returns them. */
export interface KvPair {
  key: Uint8Array;
  value: Uint8Array;
}

/** The range that served a call, as the HTTP API reports it to clients (their cache). */
export interface ServedRange {
  rangeId: number;
  generation: number;
  startKey: Uint8Array;
  endKey: Uint8Array;
  /** The node that served it (the range's leader when the call went through one). */
  servedBy: number;
  /** That node's HTTP address (`HOST:PORT`; '' if unknown). */
  servedHttp: string;
}

/**
 * What a request says beyond its operations (HTTP headers, see http_kv.ts); every field is
 * optional and a service that does not route (MemoryKv) ignores them all.
 */
export interface KvCallContext {
  /** The write's command id (a retry reuses it, so that the write applies once). */
  commandId?: Uint8Array;
  /**
   * The caller believes this node leads range `rangeId` and the key is in it: serve here
   * or refuse (not leader, key mismatch) without forwarding.
   */
  directRangeId?: number;
  /** Set by the service: the range that served the call. */
  served?: ServedRange;
}

/** What the KV API needs from the layer below. Every method may reject with a typed error. */
export interface KvService {
  /** The value of `key`, or null. */
  get(key: Uint8Array, ctx?: KvCallContext): Promise<Uint8Array | null>;
  /** Sets `key` to `value`. */
  put(key: Uint8Array, value: Uint8Array, ctx?: KvCallContext): Promise<void>;
  /** Removes `key`; resolves to whether it existed. */
  delete(key: Uint8Array, ctx?: KvCallContext): Promise<boolean>;
  /** Pairs with `start <= key < end` (an empty `end`: no bound), in key order, at most `limit`. */
  scan(start: Uint8Array, end: Uint8Array, limit: number, ctx?: KvCallContext):
    Promise<KvPair[]>;
  /**
   * Runs `ops` in order and atomically (all or none), resolving to one result per op. A
   * service over ranges requires the keys of one batch to lie in one range.
   */
  batch(ops: readonly KvOp[], ctx?: KvCallContext): Promise<KvOpResult[]>;
}

/** Stable codes of the KV API's own errors. */
export const KvErrorCode = {
  /** No service behind the API (the ranges layer is not wired into this node yet). */
  Unavailable: 'ERR_KV_UNAVAILABLE',
  /** The keys of one batch lie in more than one range (a batch is atomic in one range). */
  BatchSpansRanges: 'ERR_BATCH_SPANS_RANGES',
} as const;

/** A batch's keys are not all in the range of its first key. */
export class BatchSpansRangesError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(KvErrorCode.BatchSpansRanges, `the batch's keys are not all in range ${rangeId} ` +
      '(that of its first key): a batch is atomic within one range');
  }
}

/** The node serves no KV service. */
export class KvUnavailableError extends FlotillaError {
  constructor() {
    super(KvErrorCode.Unavailable, 'this node serves no KV API yet (the ranges layer is not ' +
      'wired in)');
  }
}

/** Orders two byte strings as memcmp does. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** An in-memory `KvService` in one process (tests; a single node's stand-in). */
export class MemoryKv implements KvService {
  /** Keys as latin1 strings (one char per byte), so that the Map's lookup is exact. */
  private readonly data = new Map<string, Uint8Array>();

  /** Number of keys held. */
  get size(): number {
    return this.data.size;
  }

  async get(key: Uint8Array): Promise<Uint8Array | null> {
    return this.data.get(toMapKey(key)) ?? null;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.data.set(toMapKey(key), value.slice());
  }

  async delete(key: Uint8Array): Promise<boolean> {
    return this.data.delete(toMapKey(key));
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number): Promise<KvPair[]> {
    assert(Number.isSafeInteger(limit) && limit >= 0, 'a scan limit');
    const pairs: KvPair[] = [];
    for (const [k, value] of this.data) {
      const key = Buffer.from(k, 'latin1');
      if (compareBytes(key, start) < 0) continue;
      if (end.length > 0 && compareBytes(key, end) >= 0) continue;
      pairs.push({ key: new Uint8Array(key), value });
    }
    pairs.sort((a, b) => compareBytes(a.key, b.key));
    return pairs.slice(0, limit);
  }

  async batch(ops: readonly KvOp[]): Promise<KvOpResult[]> {
    // One synchronous pass: nothing else runs in between, so the batch is atomic here.
    const results: KvOpResult[] = [];
    for (const op of ops) {
      const key = toMapKey(op.key);
      if (op.op === 'get') results.push({ op: 'get', value: this.data.get(key) ?? null });
      else if (op.op === 'put') {
        this.data.set(key, op.value.slice());
        results.push({ op: 'put' });
      } else results.push({ op: 'delete', deleted: this.data.delete(key) });
    }
    assert(results.length === ops.length, 'one result per op');
    return results;
  }
}

function toMapKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
