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
 *   it stays with a configuration that still names it, without a leader. Such a SUSPECT
 *   (initialized, no leader known) is checked against the meta range, as CockroachDB's
 *   queue does with a consistent range lookup: `removedPerMeta` below.
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
import { replicaOnNode, type RangeDescriptor } from './descriptor.js';
import { compareKeys } from './keys.js';

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

/** Ticks between two meta checks of the same suspect replica (one linearizable meta read). */
export const GC_SUSPECT_CHECK_TICKS = 50;
/** Replicas the suspect scan looks at per tick (it walks every replica, this many a tick). */
export const GC_SCAN_PER_TICK = 128;
/** Meta lookups of suspects in flight at once on one node. */
export const GC_LOOKUPS_MAX = 4;

/**
 * Why the replica of `local` on `nodeId` is to be destroyed, given `meta`: the meta range's
 * descriptor of the range holding `local.startKey`, read linearizably after `local` was
 * taken; null to keep it. Generations only grow along the descriptors that cover a key, so
 * a covering descriptor newer than `local` that does not name this node says that, at a point
 * after `local`, this node held nothing there: the replica was removed (or its range merged
 * into one this node is not in) and cannot catch up. If it is re-added later, that comes
 * with a snapshot of a newer generation still (the tombstone lets it in). A meta row that is
 * missing, older (an update still on its way) or that names this node keeps the replica.
 */
export function removedPerMeta(local: RangeDescriptor, meta: RangeDescriptor | undefined,
  nodeId: number): string | null {
  assert(replicaOnNode(local, nodeId) !== undefined, 'a suspect still names its own node');
  if (meta === undefined || meta.generation <= local.generation) return null;
  if (replicaOnNode(meta, nodeId) !== undefined) return null;
  assert(compareKeys(meta.startKey, local.startKey) <= 0 &&
    compareKeys(local.startKey, meta.endKey) < 0, 'the meta range covers the start key');
  return meta.rangeId === local.rangeId ? 'removed in meta' : 'covered in meta by another range';
}

/**
 * What destroying one replica did (`obsolete`: nothing to do any more, dropped; `kept`: it
 * belongs here again). Anything but `busy` leaves the queue.
 */
export type GcResult = 'destroyed' | 'busy' | 'obsolete' | 'kept';

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
