/**
 * Applying a KV batch to a range: all operations or none.
 *
 * The batch runs against an overlay over the range's data: reads see the batch's own earlier
 * writes, writes stay in the overlay. If every operation succeeds the overlay is written
 * through to the `KvWriter` (which stages it in the apply's engine batch) and the range's
 * statistics move by the difference; if one fails (a key outside the range, a conditional
 * put's condition) the overlay is dropped and nothing is written. The outcome depends only on
 * the data and the descriptor as of the entry, so every replica reaches the same one.
 */
import { assert, type FlotillaError } from '../util/index.js';
import type { RangeDescriptor } from './descriptor.js';
import { descriptorContainsKey } from './descriptor.js';
import { ConditionFailedError, RangeKeyMismatchError } from './errors.js';
import { type KvOp, OpType } from './kv_command.js';
import { compareKeys, keyFromString, keyNext, keysEqual, keyToString } from './keys.js';
import type { KvEntry, KvReader, KvWriter } from './kv_store.js';

/** The size of a range's user data, kept by every replica as part of the replicated state. */
export interface RangeStats {
  /** User keys held. */
  keyCount: number;
  /** Bytes of user keys and values held. */
  byteCount: number;
}

/** The result of one operation. */
export type OpResult =
  | { type: typeof OpType.Get; value: Uint8Array | undefined }
  | { type: typeof OpType.Put }
  | { type: typeof OpType.Delete; existed: boolean }
  | { type: typeof OpType.ConditionalPut }
  | { type: typeof OpType.Scan; entries: KvEntry[]; resumeKey: Uint8Array | undefined }
  | { type: typeof OpType.DeleteRange; deleted: number; resumeKey: Uint8Array | undefined };

/** What a batch did: every operation's result, or the error that undid the whole batch. */
export type KvOutcome =
  | { ok: true; results: OpResult[] }
  | { ok: false; error: FlotillaError };

/**
 * Applies `ops` atomically to the range `desc` through `writer`, moving `stats` by what the
 * batch changed.
 */
export function applyKvOps(
  desc: RangeDescriptor,
  ops: readonly KvOp[],
  writer: KvWriter,
  stats: RangeStats,
): KvOutcome {
  assert(ops.length > 0, 'a batch has operations');
  const overlay = new Overlay(writer);
  const results: OpResult[] = [];
  for (const op of ops) {
    const result = applyOp(desc, op, overlay);
    if (result instanceof Error) return { ok: false, error: result };
    results.push(result);
  }
  overlay.flush(writer, stats);
  assert(stats.keyCount >= 0 && stats.byteCount >= 0, 'stats stay non-negative');
  return { ok: true, results };
}

function applyOp(desc: RangeDescriptor, op: KvOp, o: Overlay): OpResult | FlotillaError {
  const key = op.type === OpType.Scan || op.type === OpType.DeleteRange ? op.start : op.key;
  if (!descriptorContainsKey(desc, key)) return new RangeKeyMismatchError(desc.rangeId, key, desc);
  switch (op.type) {
    case OpType.Get:
      return { type: OpType.Get, value: o.get(op.key) };
    case OpType.Put:
      o.put(op.key, op.value);
      return { type: OpType.Put };
    case OpType.Delete: {
      const existed = o.get(op.key) !== undefined;
      if (existed) o.delete(op.key);
      return { type: OpType.Delete, existed };
    }
    case OpType.ConditionalPut: {
      const actual = o.get(op.key);
      const matches = op.expected === null ? actual === undefined
        : actual !== undefined && keysEqual(actual, op.expected);
      if (!matches) return new ConditionFailedError(op.key, actual);
      o.put(op.key, op.value);
      return { type: OpType.ConditionalPut };
    }
    case OpType.Scan: {
      const { entries, resumeKey } = clampedScan(desc, op.start, op.end, op.limit, o);
      return { type: OpType.Scan, entries, resumeKey };
    }
    case OpType.DeleteRange:
      return deleteRange(desc, op.start, op.end, o);
  }
}

/** Most keys one delete-range removes; more are left for a resumed request. */
export const DELETE_RANGE_KEYS_MAX = 10_000;

function deleteRange(
  desc: RangeDescriptor, start: Uint8Array, end: Uint8Array, o: Overlay,
): OpResult {
  const { entries, resumeKey } = clampedScan(desc, start, end, DELETE_RANGE_KEYS_MAX, o);
  for (const e of entries) o.delete(e.key);
  return { type: OpType.DeleteRange, deleted: entries.length, resumeKey };
}

/**
 * Scans `[start, min(end, range end))`. `resumeKey` says where to continue: after the last
 * entry when the limit was reached, else the range's end when the span goes beyond it.
 */
function clampedScan(
  desc: RangeDescriptor, start: Uint8Array, end: Uint8Array, limit: number, o: Overlay,
): { entries: KvEntry[]; resumeKey: Uint8Array | undefined } {
  const clamped = compareKeys(end, desc.endKey) > 0;
  const scanEnd = clamped ? desc.endKey : end;
  const entries = o.scan(start, scanEnd, limit + 1);
  if (entries.length > limit) {
    entries.length = limit;
    return { entries, resumeKey: keyNext(entries[limit - 1]!.key) };
  }
  return { entries, resumeKey: clamped ? desc.endKey : undefined };
}

/** The batch's own writes over the range's data (null marks a deletion). */
class Overlay implements KvReader {
  private readonly writes = new Map<string, Uint8Array | null>();
  private deletes = 0;

  constructor(private readonly base: KvReader) {}

  get(key: Uint8Array): Uint8Array | undefined {
    const w = this.writes.get(keyToString(key));
    if (w !== undefined) return w ?? undefined;
    return this.base.get(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const k = keyToString(key);
    if (this.writes.get(k) === null) this.deletes--;
    this.writes.set(k, value);
  }

  delete(key: Uint8Array): void {
    const k = keyToString(key);
    if (this.writes.get(k) !== null) this.deletes++;
    this.writes.set(k, null);
  }

  /** Base entries (over-fetched by the deletions that may hide some) merged with writes. */
  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[] {
    if (this.writes.size === 0) return this.base.scan(start, end, limit);
    const base = this.base.scan(start, end, limit + this.deletes);
    const lo = keyToString(start);
    const hi = keyToString(end);
    const merged = new Map<string, Uint8Array | null>();
    for (const e of base) merged.set(keyToString(e.key), e.value);
    for (const [k, v] of this.writes) if (k >= lo && k < hi) merged.set(k, v);
    const keys = [...merged.keys()].sort();
    const out: KvEntry[] = [];
    for (const k of keys) {
      const v = merged.get(k)!;
      if (v === null) continue;
      if (out.length >= limit) break;
      out.push({ key: keyFromString(k), value: v });
    }
    return out;
  }

  /** Writes the overlay through, moving `stats` by each key's before and after. */
  flush(writer: KvWriter, stats: RangeStats): void {
    for (const [k, v] of this.writes) {
      const key = keyFromString(k);
      const before = this.base.get(key);
      if (before !== undefined) {
        stats.keyCount--;
        stats.byteCount -= key.length + before.length;
      }
      if (v === null) {
        if (before !== undefined) writer.delete(key);
        continue;
      }
      writer.put(key, v);
      stats.keyCount++;
      stats.byteCount += key.length + v.length;
    }
    this.writes.clear();
  }
}
