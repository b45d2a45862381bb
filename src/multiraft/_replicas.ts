/**
 * Private: creating replicas and their Raft nodes, and rebuilding a dormant replica's node
 * from its storage and record (`RawNode.restoreQuiesced`).
 */
import { assert } from '../util/index.js';
import {
  EMPTY_BYTES,
  MemoryStorage,
  RawNode,
  type ConfState,
  type ConfigOptions,
  type Snapshot,
} from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import { RangeExistsError, StoreFullError } from './errors.js';
import { ReplicaFlag } from './_table.js';
import {
  BOOTSTRAP_HARD_STATE,
  RANGE_INITIAL_INDEX,
  RANGE_INITIAL_TERM,
  type RangeConfig,
  type StoreCore,
} from './_core.js';

/** A table slot for `rangeId`. @throws StoreFullError at `replicasMax` replicas. */
export function allocate(st: StoreCore, rangeId: number): number {
  if (st.replicaCount >= st.config.replicasMax) {
    throw new StoreFullError(st.config.replicasMax);
  }
  const id = st.table.allocate(rangeId);
  st.groupOfRange.set(rangeId, id);
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
export function createUninitialized(st: StoreCore, rangeId: number): number {
  checkRangeId(rangeId);
  const id = allocate(st, rangeId);
  const storage = new MemoryStorage();
  st.table.storages[id] = storage;
  st.table.nodes[id] = newRawNode(st, storage, 0);
  st.ticker.add(id as GroupId);
  st.stats.replicasCreatedLazily++;
  st.log?.debug({ rangeId }, 'created uninitialized replica');
  return id;
}

function newRawNode(st: StoreCore, storage: MemoryStorage, applied: number): RawNode {
  return new RawNode(rawNodeConfig(st, storage, applied));
}

function rawNodeConfig(
  st: StoreCore,
  storage: MemoryStorage,
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
  };
}

/** The bootstrap snapshot of a configuration, one object shared by all its ranges. */
function bootstrapSnapshot(
  st: StoreCore,
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
export function internSnapshot(st: StoreCore, snapshot: Snapshot): Snapshot {
  const { metadata: md, data } = snapshot;
  const cs = md.confState;
  if (data.length !== 0 || cs.votersOutgoing.length !== 0 || cs.learnersNext.length !== 0 ||
    cs.autoLeave) return snapshot;
  const key = `${md.index}/${md.term}/${cs.voters.join(',')}/${cs.learners.join(',')}`;
  const shared = st.internedSnapshots.get(key);
  if (shared !== undefined) return shared;
  if (st.internedSnapshots.size < 4096) st.internedSnapshots.set(key, snapshot);
  return snapshot;
}

/** Builds a node from a dormant replica's storage and record (`RawNode.restoreQuiesced`). */
export function rebuildNode(st: StoreCore, gid: number): RawNode {
  const t = st.table;
  assert((t.flags[gid]! & ReplicaFlag.Dormant) !== 0, 'rebuild a dormant replica only');
  const lead = t.lead[gid]!;
  const node = RawNode.restoreQuiesced(
    rawNodeConfig(st, t.storages[gid]!, t.applied[gid]!),
    { term: t.term[gid]!, lead, lagging: st.laggingByGroup.get(gid) },
  );
  assert(node.raft.lead === lead, 'rebuilt in the recorded role');
  return node;
}

/**
 * Creates an initialized, awake replica of a new range (see `Store.createRange`).
 * @throws RangeExistsError, StoreFullError
 */
export function createInitialized(st: StoreCore, rangeId: number, range: RangeConfig): void {
  st.checkOpen();
  checkRangeId(rangeId);
  const existing = st.groupOfRange.get(rangeId);
  if (existing !== undefined && (st.table.flags[existing]! & ReplicaFlag.Initialized) !== 0) {
    throw new RangeExistsError(rangeId);
  }
  const learners = range.learners ?? [];
  assert(range.voters.length > 0, 'a range has at least one voter');
  assert(range.voters.includes(st.nodeId) || learners.includes(st.nodeId),
    'this store is in the range configuration');
  // A split's right-hand replica may exist already, uninitialized: created by a message of
  // the new range from a store that applied the split first. It is initialized in place,
  // keeping the term and vote it may have cast in the new range's first election (Raft's
  // safety needs them); it holds no entries (it could match no append).
  assert(existing === undefined || (st.table.flags[existing]! & ReplicaFlag.ReadyPending) === 0,
    'an uninitialized replica is initialized outside its batch end');
  const id = existing ?? allocate(st, rangeId);
  const heard = existing === undefined ? null : st.table.storages[id]!.initialState().hardState;
  const storage = new MemoryStorage();
  const error = storage.applySnapshot(bootstrapSnapshot(st, range.voters, learners));
  assert(error === null, 'a new storage takes the bootstrap snapshot');
  const keep = heard !== null && heard.term > BOOTSTRAP_HARD_STATE.term;
  storage.setHardState(keep
    ? { term: heard.term, vote: heard.vote, commit: RANGE_INITIAL_INDEX } : BOOTSTRAP_HARD_STATE);
  st.table.storages[id] = storage;
  st.table.nodes[id] = newRawNode(st, storage, RANGE_INITIAL_INDEX);
  st.table.flags[id]! |= ReplicaFlag.Initialized;
  if (existing === undefined) st.ticker.add(id as GroupId);
  else st.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
  for (const peer of range.voters) st.liveness.addPeer(peer, st.storeTicks);
  for (const peer of learners) st.liveness.addPeer(peer, st.storeTicks);
}

/** Range ids are the group ids on the wire: integers in [1, 2^32). */
function checkRangeId(rangeId: number): void {
  assert(Number.isInteger(rangeId) && rangeId > 0 && rangeId < 2 ** 32,
    'range ids are integers in [1, 2^32)');
}
