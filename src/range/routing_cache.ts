/**
 * A node's cache of where ranges are: descriptors (and the leader last heard of) in end-key
 * order, so that a lookup is one binary search. It may be stale; the answers of the replicas
 * correct it:
 *
 * - "not leader (leader L)" → `noteLeader(rangeId, L)`: the next request goes to L;
 * - "range key mismatch (descriptor D)" → `insert(D)`: D replaces every cached entry whose
 *   span overlaps it and whose generation is not newer (a split or merge bumps generations,
 *   so the newest descriptor of a span wins and a late stale answer cannot undo a fresh one).
 *
 * INVARIANT: entries are sorted by end key and their spans do not overlap (asserted by
 * `assertInvariants`, checked after every insert in tests).
 *
 * BOUND: at most `entriesMax` entries; inserting into a full cache evicts the least recently
 * used entry (a miss only costs a meta lookup).
 */
import { assert } from '../util/index.js';
import { type RangeDescriptor, descriptorContainsKey } from './descriptor.js';
import { compareKeys } from './keys.js';

/** One cached range. */
export interface RoutingEntry {
  readonly descriptor: RangeDescriptor;
  /** The leader's node id last heard of (0: unknown, try any replica). */
  leaderNodeId: number;
  /** Logical time of the last use (for eviction). */
  usedAt: number;
}

/** The routing cache of one node (see the file header). */
export class RoutingCache {
  private readonly entries: RoutingEntry[] = [];
  private clock = 0;

  /** @param entriesMax bound of the cache (entries). */
  constructor(readonly entriesMax = 1 << 16) {
    assert(Number.isSafeInteger(entriesMax) && entriesMax > 0, 'routing cache bound');
  }

  /** Entries held. */
  get size(): number {
    return this.entries.length;
  }

  /** The cached range holding `key`, if any. */
  lookup(key: Uint8Array): RoutingEntry | undefined {
    const i = this.firstEndAfter(key);
    const e = this.entries[i];
    if (e === undefined || !descriptorContainsKey(e.descriptor, key)) return undefined;
    e.usedAt = ++this.clock;
    return e;
  }

  /**
   * Caches `desc` (with the leader if known), dropping the entries it supersedes. Returns
   * false, changing nothing, if an overlapping entry is newer.
   */
  insert(desc: RangeDescriptor, leaderNodeId = 0): boolean {
    const lo = this.firstEndAfter(desc.startKey);
    let hi = lo;
    while (hi < this.entries.length &&
      compareKeys(this.entries[hi]!.descriptor.startKey, desc.endKey) < 0) {
      if (this.entries[hi]!.descriptor.generation > desc.generation) return false;
      hi++;
    }
    const kept = this.entries.slice(lo, hi).find((e) => e.descriptor.rangeId === desc.rangeId &&
      e.descriptor.generation === desc.generation);
    const leader = leaderNodeId !== 0 ? leaderNodeId : kept?.leaderNodeId ?? 0;
    this.entries.splice(lo, hi - lo, { descriptor: desc, leaderNodeId: leader,
      usedAt: ++this.clock });
    if (this.entries.length > this.entriesMax) this.evictOne();
    assert(this.entries.length <= this.entriesMax, 'routing cache bound');
    return true;
  }

  /** Records the leader a replica of `rangeId` named. */
  noteLeader(rangeId: number, leaderNodeId: number): void {
    for (const e of this.entries) {
      if (e.descriptor.rangeId === rangeId) e.leaderNodeId = leaderNodeId;
    }
  }

  /** Forgets `rangeId` (its replicas no longer answer for it). */
  evict(rangeId: number): void {
    const i = this.entries.findIndex((e) => e.descriptor.rangeId === rangeId);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /** Checks the invariant of the file header; throws `AssertionError` if broken. */
  assertInvariants(): void {
    for (let i = 1; i < this.entries.length; i++) {
      const prev = this.entries[i - 1]!.descriptor;
      const cur = this.entries[i]!.descriptor;
      assert(compareKeys(prev.endKey, cur.startKey) <= 0, 'cached spans do not overlap');
      assert(compareKeys(prev.endKey, cur.endKey) < 0, 'entries sorted by end key');
    }
  }

  /** Index of the first entry whose end is greater than `key`. */
  private firstEndAfter(key: Uint8Array): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.entries[mid]!.descriptor.endKey, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private evictOne(): void {
    let victim = 0;
    for (let i = 1; i < this.entries.length; i++) {
      if (this.entries[i]!.usedAt < this.entries[victim]!.usedAt) victim = i;
    }
    this.entries.splice(victim, 1);
  }
}
