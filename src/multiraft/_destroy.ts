/**
 * Private: destroying a replica (`Store.destroyReplica`), and the tombstones it leaves.
 *
 * DESTROY. Everything the replica holds goes: its Raft state through the engine's
 * `destroyReplica` (staged into the current engine batch, committed at the next batch end,
 * which the store makes sure runs), its table slot (freed for reuse by the next replica),
 * its place in the ticker, its inbox, its pending heartbeat row, lagging set, recorded read
 * position and collector entry. The application deletes its own range-local rows and user data (it knows which).
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
import { WorkFlag } from '../scheduler/index.js';
import type { EngineBatch } from '../storage/index.js';
import { RangeNotFoundError } from './errors.js';
import { ReplicaBusyError } from './membership_errors.js';
import { checkRangeId } from './api_check.js';
import type { StoreContext } from './_context.js';
export { TOMBSTONES_MAX } from './_tombstones.js';
import { ReplicaBrokenError } from './input_errors.js';
import { loadDormantStorage } from './_replicas.js';

/** Destroys the replica of `rangeId` (see the file comment). */
export function destroyReplica(st: StoreContext, rangeId: number,
  stage?: (batch: EngineBatch) => void): void {
  st.checkOpen();
  checkRangeId(rangeId);
  const t = st.table;
  const gid = t.slotOfRange.get(rangeId);
  if (gid === undefined) throw new RangeNotFoundError(rangeId);
  if (t.isReadyPending(gid)) throw new ReplicaBusyError(rangeId);
  // A replica seated dormant at open has no storage object yet: load it to delete it. One
  // whose records the engine refuses cannot be deleted through its storage: it stays
  // isolated (and its records in the engine).
  if (!loadDormantStorage(st, gid)) throw new ReplicaBrokenError(rangeId);
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
  st.readPositionByGroup.delete(gid);
  st.uninitialized.delete(gid);
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
  const batch = st.staging.writes();
  st.engine.destroyReplica(storage, batch);
  stage?.(batch);
  t.destroy(gid);
  st.stats.replicasDestroyed++;
  st.scheduler.enqueue(gid, WorkFlag.Ready);
  st.log?.info({ rangeId }, 'destroyed replica');
  assert(!t.slotOfRange.has(rangeId) && !t.isUsed(gid), 'the slot is free');
}
