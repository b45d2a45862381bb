/**
 * Private: creating replicas and their Raft nodes (storage from the store's engine), and
 * rebuilding a dormant replica's node from its storage and record (`RawNode.restoreQuiesced`).
 */
import { assert, RANGE_ID_LIMIT } from '../util/index.js';
import {
  EMPTY_BYTES,
  RawNode,
  type ConfState,
  type ConfigOptions,
  type Snapshot,
} from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import { ReplicaCorruptError, type ReplicaStorage } from '../storage/index.js';
import { ReplicaBrokenError } from './input_errors.js';
import { RangeExistsError, StoreFullError } from './errors.js';
import { checkRangeConfig, checkRangeId as checkRangeIdArgument } from './api_check.js';
import { RANGE_INITIAL_INDEX, RANGE_INITIAL_TERM, type RangeConfig } from './range_config.js';
import { BOOTSTRAP_HARD_STATE, type StoreContext } from './_context.js';

/** Snapshots interned per store at most (distinct configurations of created ranges). */
const INTERNED_SNAPSHOTS_MAX = 4096;

/** A table slot for `rangeId`. @throws StoreFullError at `replicasMax` replicas. */
function allocate(st: StoreContext, rangeId: number): GroupId {
  if (st.replicaCount >= st.config.replicasMax) {
    throw new StoreFullError(st.config.replicasMax);
  }
  const id = st.table.allocate(rangeId);
  st.stats.replicasCreated++;
  return id;
}

/**
 * A replica for an unknown group, empty until its snapshot arrives. It ticks although it can
 * never campaign: the message that created it may have named a leader, and under CheckQuorum
 * a follower ignores votes while its leader's lease runs (etcd's `inLease`). A replica that
 * never ticked would keep that lease for ever and, if its snapshot never came, block every
 * later election of a group where it holds a vote (found by the store simulation, seed 286).
 */
export function createUninitialized(st: StoreContext, rangeId: number): GroupId {
  checkRangeId(rangeId);
  const id = allocate(st, rangeId);
  const storage = st.engine.createReplica(rangeId);
  st.table.storages[id] = storage;
  st.enterRange(id);
  st.table.nodes[id] = new RawNode(rawNodeConfig(st, storage, 0));
  st.ticker.add(id);
  st.stats.replicasCreatedLazily++;
  st.log?.debug({ rangeId }, 'created uninitialized replica');
  return id;
}

/** The Raft configuration of this store's replica on `storage`. */
export function rawNodeConfig(
  st: StoreContext,
  storage: ReplicaStorage,
  applied: number,
): ConfigOptions {
  const c = st.config;
  return {
    id: st.nodeId,
    storage,
    applied,
    electionTick: c.electionTimeoutTicks,
    heartbeatTick: c.heartbeatIntervalTicks,
    checkQuorum: c.checkQuorum,
    preVote: c.preVote,
    maxSizePerMsg: c.maxSizePerMsgBytes,
    maxInflightMsgs: c.maxInflightMsgs,
    random: c.random,
    logger: st.raftLogger,
  };
}

/** The bootstrap snapshot of a configuration, one object shared by all its ranges. */
function bootstrapSnapshot(
  st: StoreContext,
  voters: readonly number[],
  learners: readonly number[],
): Snapshot {
  const confState: ConfState = {
    voters: [...voters].sort((a, b) => a - b),
    learners: [...learners].sort((a, b) => a - b),
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  return internSnapshot(st, {
    data: EMPTY_BYTES,
    metadata: { confState, index: RANGE_INITIAL_INDEX, term: RANGE_INITIAL_TERM },
  });
}

/**
 * Returns the shared copy of an empty-data snapshot with the same index, term and
 * configuration (snapshots are immutable once handed to storage), or `snapshot` itself.
 */
export function internSnapshot(st: StoreContext, snapshot: Snapshot): Snapshot {
  const { metadata: md, data } = snapshot;
  const cs = md.confState;
  if (data.length !== 0 || cs.votersOutgoing.length !== 0 || cs.learnersNext.length !== 0 ||
    cs.autoLeave) return snapshot;
  const key = `${md.index}/${md.term}/${cs.voters.join(',')}/${cs.learners.join(',')}`;
  const shared = st.internedSnapshots.get(key);
  if (shared !== undefined) return shared;
  if (st.internedSnapshots.size < INTERNED_SNAPSHOTS_MAX) st.internedSnapshots.set(key, snapshot);
  return snapshot;
}

/**
 * Gives a dormant replica seated at open (_open.ts) its storage, loaded from the engine, if
 * it has none yet. A replica whose records the engine refuses now (a missing or damaged log
 * entry) is isolated: it refuses every message and request from then on.
 * @returns false if it was refused (now or before).
 */
export function loadDormantStorage(st: StoreContext, gid: GroupId): boolean {
  const t = st.table;
  if (t.isBroken(gid)) return false;
  if (t.storages[gid] !== null) return true;
  assert(t.isDormant(gid), 'only a dormant replica is without its storage');
  const rangeId = t.rangeIds[gid]!;
  try {
    t.storages[gid] = st.engine.loadReplica(rangeId);
  } catch (error) {
    if (!(error instanceof ReplicaCorruptError)) throw error;
    if (st.ticker.isRegistered(gid)) st.ticker.remove(gid);
    t.markRefused(gid);
    st.stats.replicasBroken++;
    st.log?.error({ rangeId, key: error.keyHex, err: error.message },
      'replica refused on load: isolated');
    return false;
  }
  st.stats.replicasLoaded++;
  assert(t.storages[gid]!.hardState().term === t.term[gid], 'the term the open recorded');
  return true;
}

/**
 * Builds a node from a dormant replica's storage and record (`RawNode.restoreQuiesced`),
 * loading the storage first if the replica has none yet (seated at open).
 * @throws ReplicaBrokenError if the engine refuses the replica's records
 */
export function rebuildNode(st: StoreContext, gid: GroupId): RawNode {
  const t = st.table;
  assert(t.isDormant(gid), 'rebuild a dormant replica only');
  if (!loadDormantStorage(st, gid)) throw new ReplicaBrokenError(t.rangeIds[gid]!);
  const lead = t.lead[gid]!;
  st.enterRange(gid);
  const node = RawNode.restoreQuiesced(
    rawNodeConfig(st, t.storages[gid]!, t.applied[gid]!),
    { term: t.term[gid]!, lead, lagging: st.laggingByGroup.get(gid) },
  );
  assert(node.lead === lead && node.term === t.term[gid], 'rebuilt in the recorded role');
  return node;
}

/**
 * Creates an initialized, awake replica of a new range (see `Store.createRange`). Its
 * bootstrap writes go into the current batch's engine batch, committed at that batch's end
 * (the group is enqueued so that the batch runs); they are visible to its node at once.
 * @throws RangeExistsError, StoreFullError
 */
export function createInitialized(st: StoreContext, rangeId: number, range: RangeConfig): void {
  st.checkOpen();
  checkRangeIdArgument(rangeId);
  // Every argument is checked before anything is touched: a refused call changes nothing.
  const { voters, learners } = checkRangeConfig(st.nodeId, range);
  const existing = st.table.slotOfRange.get(rangeId);
  if (existing !== undefined && st.table.isInitialized(existing)) {
    throw new RangeExistsError(rangeId);
  }
  if (existing === undefined && st.replicaCount >= st.config.replicasMax) {
    throw new StoreFullError(st.config.replicasMax);
  }
  // A split's right-hand replica may exist already, uninitialized: created by a message of
  // the new range from a store that applied the split first. It is initialized in place,
  // keeping the term and vote it may have cast in the new range's first election (Raft's
  // safety needs them); it holds no entries (it could match no append).
  assert(existing === undefined || !st.table.isReadyPending(existing),
    'an uninitialized replica is initialized outside its batch end');
  const id = existing ?? allocate(st, rangeId);
  const storage = existing === undefined ? st.engine.createReplica(rangeId)
    : st.table.storages[id]!;
  const heard = existing === undefined ? null : storage.hardState();
  const writes = st.staging.writes();
  const error = storage.applySnapshot(bootstrapSnapshot(st, voters, learners),
    EMPTY_BYTES, writes);
  assert(error === null, 'a new storage takes the bootstrap snapshot');
  const keep = heard !== null && heard.term > BOOTSTRAP_HARD_STATE.term;
  storage.setHardState(keep
    ? { term: heard.term, vote: heard.vote, commit: RANGE_INITIAL_INDEX } : BOOTSTRAP_HARD_STATE,
  writes);
  st.table.storages[id] = storage;
  st.enterRange(id);
  st.table.nodes[id] = new RawNode(rawNodeConfig(st, storage, RANGE_INITIAL_INDEX));
  st.table.markInitialized(id);
  if (existing === undefined) st.ticker.add(id);
  else {
    // It no longer waits for a snapshot: the collector of uninitialized replicas lets go.
    st.uninitialized.delete(id);
    st.stats.uninitializedReplicasNow = st.uninitialized.count;
  }
  st.scheduler.enqueue(id, WorkFlag.Ready);
  for (const peer of voters) st.liveness.addPeer(peer, st.storeTicks);
  for (const peer of learners) st.liveness.addPeer(peer, st.storeTicks);
}

/** Range ids are the `rangeId` of envelopes on the wire: integers in [1, RANGE_ID_LIMIT). */
function checkRangeId(rangeId: number): void {
  assert(Number.isInteger(rangeId) && rangeId > 0 && rangeId < RANGE_ID_LIMIT,
    'range ids are integers in [1, 2^32)');
}
