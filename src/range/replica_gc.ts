/**
 * Replica GC: a replica that no longer belongs on its store is destroyed there (CockroachDB's
 * replica GC queue). Two reasons:
 *
 * - REMOVED: the replica applied a membership change that left its node out of the
 *   configuration (in neither half of a joint state, nor a learner). Its Raft state goes
 *   (`Store.destroyReplica`), and so do its range-local rows and the user data of its span
 *   (no other range of this store covers that span: ranges tile the key space).
 *   A replica can also be removed WITHOUT ever applying its removal: cut off while the
 *   others removed it, it never gets those entries (the leader no longer sends it any), so
 *   it stays with a configuration that still names it, without a leader: STALE below.
 * - MERGED AWAY: the range was the right-hand side of a merge applied here. Its Raft group
 *   goes; its data now belongs to the left range, and its range-local rows were deleted by
 *   the merge already.
 * - STALE: the meta range shows the replica out of its range, or its range merged into
 *   ranges without this node (`RangeNode`'s meta scan): as REMOVED.
 *
 * Destruction happens at the range node's tick, outside the store's batch end (the store's
 * rule); a replica with writes in flight (`ReplicaBusyError`) is tried again at the next
 * tick, at most `GC_ATTEMPTS_MAX` times. The node remembers the generation at which a range
 * left it (its tombstone) and refuses snapshots of older descriptors, so that a stale
 * leader cannot bring the destroyed replica back (see `RangeNode.acceptsSnapshot`).
 */
import { assert } from '../util/index.js';

/** Why a replica is collected (stable strings, for logs and stats). */
export const GcReason = {
  Removed: 'removed',
  MergedAway: 'merged-away',
  /**
   * Found stale in the meta range (a removal or a merge it never heard of): destroyed like a
   * removed replica, and even while it leads (a zombie group that elected it among replicas
   * its messages recreated empty).
   */
  Stale: 'stale',
} as const;
export type GcReason = (typeof GcReason)[keyof typeof GcReason];

/** Attempts per replica (a tick apart) before the queue gives up and logs it. */
export const GC_ATTEMPTS_MAX = 1000;

/** What destroying one replica did (`kept`: it belongs here again; it leaves the queue). */
export type GcResult = 'destroyed' | 'busy' | 'kept';

/** Replicas waiting to be destroyed on this store, by range id. */
export class ReplicaGcQueue {
  private readonly pending = new Map<number, { reason: GcReason; attempts: number }>();

  /** Number waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** Whether `rangeId` waits for destruction. */
  has(rangeId: number): boolean {
    return this.pending.has(rangeId);
  }

  /** Queues the replica of `rangeId` (a second reason for the same replica is ignored). */
  add(rangeId: number, reason: GcReason): void {
    assert(Number.isSafeInteger(rangeId) && rangeId > 0, 'range id');
    if (!this.pending.has(rangeId)) this.pending.set(rangeId, { reason, attempts: 0 });
  }

  /**
   * Calls `destroy` for each waiting replica; a busy one stays for the next run, the others
   * leave the queue. @returns
   * the replicas given up on (over `GC_ATTEMPTS_MAX`), for the caller to log.
   */
  run(destroy: (rangeId: number, reason: GcReason) => GcResult): number[] {
    const givenUp: number[] = [];
    for (const [rangeId, entry] of this.pending) {
      if (destroy(rangeId, entry.reason) !== 'busy') {
        this.pending.delete(rangeId);
        continue;
      }
      if (++entry.attempts >= GC_ATTEMPTS_MAX) {
        this.pending.delete(rangeId);
        givenUp.push(rangeId);
      }
    }
    assert(givenUp.every((id) => !this.pending.has(id)), 'given up replicas leave the queue');
    return givenUp;
  }
}
