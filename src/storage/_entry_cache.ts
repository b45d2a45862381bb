/**
 * The entry cache of a durable engine: one byte budget shared by every replica of the store.
 * Each replica holds its cached entries itself, as one contiguous run ending at its last
 * index (so a cache hit is one subtraction); this class only keeps the total and the order
 * in which replicas last appended, and evicts whole runs, least recently appended first.
 *
 * Entries not yet durable are pinned (their replica will not drop them): until their batch
 * completes they exist nowhere else. A replica whose run is all pinned is skipped, so the
 * budget can be exceeded by at most the bytes of the batches in flight.
 */
import { assert } from '../util/index.js';

/** What the cache needs of a replica. */
export interface CachedRun {
  /** Drops the cached entries that are durable; returns the bytes freed. */
  evictDurable(): number;
  /** Whether any entry is still cached. */
  hasCached(): boolean;
}

/** The shared budget and eviction order. */
export class EntryCache {
  /** Bytes held by all runs (an estimate: data plus a fixed cost per entry). */
  bytes = 0;
  private readonly order = new Map<CachedRun, true>();

  /** @param bytesMax the budget, in bytes. */
  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, 'a byte budget');
  }

  /** A run grew by `bytes` (appended); it becomes the most recent. */
  grew(run: CachedRun, bytes: number): void {
    this.bytes += bytes;
    this.order.delete(run);
    this.order.set(run, true);
  }

  /** A run shrank by `bytes` (evicted, compacted, truncated). */
  shrank(run: CachedRun, bytes: number): void {
    this.bytes -= bytes;
    assert(this.bytes >= 0, 'the cache never holds negative bytes');
    if (!run.hasCached()) this.order.delete(run);
  }

  /** Evicts durable runs, oldest first, until the budget holds or nothing more can go. */
  evict(): void {
    if (this.bytes <= this.bytesMax) return;
    // Bounded: each run is visited at most once per call.
    let visits = this.order.size;
    for (const run of this.order.keys()) {
      if (this.bytes <= this.bytesMax || visits-- === 0) break;
      run.evictDurable();
    }
  }

  /** Runs holding cached entries (for tests). */
  get runCount(): number {
    return this.order.size;
  }
}

/** The estimated heap cost of one cached entry beyond its data (object, array slot). */
export const ENTRY_OVERHEAD_BYTES = 64;

/** A log byte estimate after `before` entries became `after` (a compaction). */
export function scaledLogBytes(bytes: number, before: number, after: number): number {
  assert(after <= before, 'a compaction only removes entries');
  return before <= 0 || after <= 0 ? 0 : Math.round(bytes * (after / before));
}
