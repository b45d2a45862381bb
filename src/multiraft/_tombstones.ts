/**
 * Private: the tombstones of destroyed replicas, their last term and vote by range id
 * (_destroy.ts says why a replica created again starts from them).
 */
import { assert } from '../util/index.js';
import type { HardState } from '../raft/index.js';

/**
 * Tombstones kept at most. One is two numbers in a Map (~80 bytes); the bound keeps a store
 * that destroys millions of replicas over its life from growing without limit.
 */
export const TOMBSTONES_MAX = 65536;

/** The last term and vote of destroyed replicas, by range id (see the file comment). */
export class Tombstones {
  private readonly byRange = new Map<number, { term: number; vote: number }>();

  /** Number held. */
  get size(): number {
    return this.byRange.size;
  }

  /** Records the destroyed replica's hard state. */
  add(rangeId: number, hs: HardState): void {
    if (hs.term === 0) return;
    this.byRange.delete(rangeId);
    if (this.byRange.size >= TOMBSTONES_MAX) {
      const oldest = this.byRange.keys().next().value as number;
      this.byRange.delete(oldest);
    }
    this.byRange.set(rangeId, { term: hs.term, vote: hs.vote });
    assert(this.byRange.size <= TOMBSTONES_MAX, 'tombstones bounded');
  }

  /** Whether a destroyed replica of `rangeId` left a tombstone here. */
  has(rangeId: number): boolean {
    return this.byRange.has(rangeId);
  }

  /** Takes the tombstone of `rangeId` (a replica of it is being created), if any. */
  take(rangeId: number): { term: number; vote: number } | undefined {
    const t = this.byRange.get(rangeId);
    if (t !== undefined) this.byRange.delete(rangeId);
    return t;
  }
}

