/**
 * Private: destroying a replica (`Store.destroyReplica`), and the tombstones it leaves.
 *
 * DESTROY. Everything the replica holds goes: its Raft state through the engine's
 * `destroyReplica` (staged into the current engine batch, committed at the next batch end,
 * which the store makes sure runs), its table slot (freed for reuse by the next replica),
 * its place in the ticker, its inbox, its pending heartbeat row, lagging set and collector
 * entry. The application deletes its own range-local rows and user data (it knows which).
 * Work the scheduler still holds for the slot finds it unused (or reused: a spurious turn
 * of a replica with nothing to do).
 *
 * RESURRECTION (tombstones). A peer that has not heard of the removal may still send the
 * range's messages here. The store does what it does for any unknown range: it creates an
 * empty UNINITIALIZED replica (bounded, collected if no snapshot comes; the existing rules),
 * which has no log and no data, so no old state can come back; only a snapshot the state
 * machine accepts (`acceptsSnapshot`, where the ranges layer refuses descriptors older than
 * the removal) initializes it. What must not be forgotten is the vote: a destroyed replica
 * may have voted in its last term, and an empty one could vote again in that term for
 * another candidate of a peer with a stale configuration. So the store keeps a tombstone
 * per destroyed range, its last term and vote, and a replica created for that range again
 * starts from them. Tombstones live in memory (at most `TOMBSTONES_MAX`, oldest dropped
 * first); after a restart the engine holds none, which is the window where only Raft's
 * term checks protect a re-created replica.
 */
import { assert } from '../util/index.js';
import type { HardState } from '../raft/index.js';
import { WorkFlag } from '../scheduler/index.js';
import { RangeNotFoundError } from './errors.js';
import { ReplicaBusyError } from './membership_errors.js';
import { checkRangeId } from './api_check.js';
import type { StoreContext } from './_context.js';

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

  /** Takes the tombstone of `rangeId` (a replica of it is being created), if any. */
  take(rangeId: number): { term: number; vote: number } | undefined {
    const t = this.byRange.get(rangeId);
    if (t !== undefined) this.byRange.delete(rangeId);
    return t;
  }
}

/** Destroys the replica of `rangeId` (see the file comment). */
export function destroyReplica(st: StoreContext, rangeId: number): void {
  st.checkOpen();
  checkRangeId(rangeId);
  const t = st.table;
  const gid = t.slotOfRange.get(rangeId);
  if (gid === undefined) throw new RangeNotFoundError(rangeId);
  if (t.isReadyPending(gid)) throw new ReplicaBusyError(rangeId);
  const storage = t.storages[gid]!;
  st.tombstones.add(rangeId, storage.hardState());
  if (st.ticker.isRegistered(gid)) st.ticker.remove(gid);
  if (st.rows.has(gid)) {
    st.rows.take(gid, rangeId);
    st.rows.release();
  }
  const inbox = t.inboxes[gid];
  if (inbox !== null && inbox !== undefined) inbox.length = 0;
  st.laggingByGroup.delete(gid);
  st.uninitialized.delete(gid);
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
  st.engine.destroyReplica(storage, st.staging.writes());
  t.destroy(gid);
  st.stats.replicasDestroyed++;
  st.scheduler.enqueue(gid, WorkFlag.Ready);
  st.log?.info({ rangeId }, 'destroyed replica');
  assert(!t.slotOfRange.has(rangeId) && !t.isUsed(gid), 'the slot is free');
}
