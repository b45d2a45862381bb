/**
 * `Store`: many Raft groups in one process, sharing one scheduler, one tick clock, one
 * random source and one transport. See `index.ts` for the contract; this file holds the
 * mechanism.
 */
import type { Logger } from 'pino';
import { assert, FlotillaError } from '../util/index.js';
import {
  EMPTY_BYTES,
  EntryType,
  MemoryStorage,
  MessageType,
  ProgressState,
  RawNode,
  SnapshotStatus as RaftSnapshotStatus,
  StateType,
  newMessage,
  unmarshalConfChange,
  type ConfState,
  type HardState,
  type Ready,
  type Snapshot,
} from '../raft/index.js';
import {
  Scheduler,
  Ticker,
  WorkFlag,
  type GroupId,
  type GroupProcessor,
} from '../scheduler/index.js';
import type { Envelope, SnapshotStatus, TransportHandler } from '../transport/index.js';
import {
  NotLeaderError,
  RangeExistsError,
  RangeNotFoundError,
  RangeNotInitializedError,
  StoreClosedError,
  StoreFullError,
} from './errors.js';
import { LIVENESS_GROUP_ID, NodeLiveness, type LivenessChange } from './liveness.js';
import { resolveStoreOptions, type StoreConfig, type StoreOptions } from './options.js';
import {
  QUIESCE_REFUSALS,
  newFollowerQuiesceView,
  newLeaderQuiesceView,
  shouldFollowerQuiesce,
  shouldLeaderQuiesce,
  type QuiesceRefusal,
} from './quiesce.js';
import { restoreFollower, restoreLeadership } from './_restore.js';
import { ReplicaFlag, ReplicaTable } from './_table.js';
import {
  newReplicaStatus,
  type RaftStatus,
  type ReplicaStatus,
  type StoreSummary,
} from './status.js';

/**
 * Index and term of the snapshot a range is created with (CockroachDB's raftInitialLogIndex
 * and raftInitialLogTerm idea): above zero, so that a replica created empty by a message
 * (index 0) is told apart and gets this snapshot instead of a log replay from index 1.
 */
export const RANGE_INITIAL_INDEX = 5;
export const RANGE_INITIAL_TERM = 5;

/** Why a group wakes; decides whether a follower must wake its leader. */
const WakeReason = {
  /** A message arrived: its sender is awake, nothing else to wake. */
  Message: 0,
  /** A local proposal: it travels to the leader and wakes it. */
  Proposal: 1,
  /** A local request (campaign, explicit wake): a follower wakes its leader. */
  Local: 2,
  /** The leader's node went down: wake to elect a new one. */
  LeaderDown: 3,
  /** A lagging follower's node came back: the leader wakes to catch it up. */
  LaggingBack: 4,
} as const;
type WakeReason = (typeof WakeReason)[keyof typeof WakeReason];

/** Counters of a store; one object updated in place. */
export interface StoreStats {
  /** Proposals accepted by `propose` (including the empty ones that wake leaders). */
  proposals: number;
  /** Normal entries with a payload handed to the state machine. */
  entriesApplied: number;
  /** Raft ticks delivered to awake groups. */
  ticks: number;
  /** Batches whose writes, sends and applies the store completed. */
  batches: number;
  messagesReceived: number;
  messagesSent: number;
  /** Inbound messages dropped: full inbox, unknown group, or refused by Raft. */
  messagesDropped: number;
  quiesces: number;
  wakes: number;
  /** Raft nodes released on quiescence and rebuilt on wake-up. */
  nodesReleased: number;
  nodesRebuilt: number;
  replicasCreated: number;
  /** Replicas created by the first message of an unknown group. */
  replicasCreatedLazily: number;
  /** Times a replica of this store became leader. */
  leadershipsAcquired: number;
  livenessChanges: number;
  /** Quiescence refusals by reason (leader and follower side). */
  quiesceRefusals: Record<QuiesceRefusal, number>;
}

function newStoreStats(): StoreStats {
  const quiesceRefusals = {} as Record<QuiesceRefusal, number>;
  for (const reason of QUIESCE_REFUSALS) quiesceRefusals[reason] = 0;
  return {
    proposals: 0, entriesApplied: 0, ticks: 0, batches: 0, messagesReceived: 0,
    messagesSent: 0, messagesDropped: 0, quiesces: 0, wakes: 0, nodesReleased: 0,
    nodesRebuilt: 0, replicasCreated: 0, replicasCreatedLazily: 0, leadershipsAcquired: 0,
    livenessChanges: 0, quiesceRefusals,
  };
}

/** The configuration of a range created on this store. */
export interface RangeConfig {
  /** Node ids of the voters; this store's node must be a voter or a learner. */
  voters: readonly number[];
  /** Node ids of the learners. @default [] */
  learners?: readonly number[];
}

/** Message types that create a replica for an unknown group (the others are dropped). */
function createsReplica(type: number): boolean {
  return (
    type === MessageType.MsgApp ||
    type === MessageType.MsgHeartbeat ||
    type === MessageType.MsgSnap ||
    type === MessageType.MsgVote ||
    type === MessageType.MsgPreVote ||
    type === MessageType.MsgTimeoutNow
  );
}

/** A follower quiesces with no lagging set (only leaders keep one). */
const NO_LAGGING: readonly number[] = Object.freeze([]);

const BOOTSTRAP_HARD_STATE: HardState = Object.freeze({
  term: RANGE_INITIAL_TERM,
  vote: 0,
  commit: RANGE_INITIAL_INDEX,
});

/**
 * The store: hosts the replicas of many Raft groups (one per range) on one node. It is the
 * scheduler's `GroupProcessor` and the transport's `TransportHandler`.
 */
export class Store implements GroupProcessor, TransportHandler {
  readonly config: Readonly<StoreConfig>;
  readonly nodeId: number;
  readonly scheduler: Scheduler;
  readonly ticker: Ticker;
  readonly stats: StoreStats = newStoreStats();
  private readonly table: ReplicaTable;
  private readonly groupOfRange = new Map<number, number>();
  private readonly liveness: NodeLiveness;
  private readonly log: Logger | null;
  /** Envelopes to send at the end of the batch, after this batch's writes. */
  private readonly outbox: Envelope[] = [];
  /** Groups whose Ready was taken in this batch, and those Readies (parallel). */
  private readonly stagedGroups: number[] = [];
  private readonly stagedReadies: Ready[] = [];
  /** Leaders quiesced with followers left behind (sparse: only such groups). */
  private readonly laggingByGroup = new Map<number, number[]>();
  /** Snapshots shared by every range created with the same configuration. */
  private readonly internedSnapshots = new Map<string, Snapshot>();
  private readonly inboxPool: Envelope[][] = [];
  private readonly leaderView = newLeaderQuiesceView();
  private readonly followerView = newFollowerQuiesceView();
  private readonly laggingScratch: number[] = [];
  private readonly livenessChanges: LivenessChange[] = [];
  private quiescence: boolean;
  /** Election clock cap on wake-up while the leader is live (see `wake`). */
  private readonly wakeElectionElapsedMax: number;
  private subTicks = 0;
  private storeTicks = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  /** @param options see `StoreOptions`; invalid values throw `ConfigError`. */
  constructor(options: StoreOptions) {
    this.config = resolveStoreOptions(options);
    this.nodeId = this.config.nodeId;
    this.quiescence = this.config.quiescence;
    this.wakeElectionElapsedMax = Math.max(0,
      this.config.electionTimeoutTicks - 2 * this.config.heartbeatIntervalTicks);
    this.log = this.config.logger?.child({ storeNodeId: this.nodeId }) ?? null;
    this.scheduler = new Scheduler(this, {
      ...this.config.scheduler,
      groupIdsMax: this.config.replicasMax,
      onBatchEnd: () => this.finishBatch(),
    });
    this.ticker = new Ticker(this.scheduler, {
      ...this.config.ticker,
      groupIdsMax: this.config.replicasMax,
    });
    this.table = new ReplicaTable(Math.min(1024, this.config.replicasMax),
      this.config.replicasMax);
    this.liveness = new NodeLiveness(this.nodeId, this.config.livenessTimeoutTicks);
    this.config.transport.setHandler(this);
    assert(this.config.transport.nodeId === this.nodeId, 'transport of another node');
  }

  // ---------------------------------------------------------------------------------------
  // Ranges and requests.

  /** Number of replicas on this store. */
  get replicaCount(): number {
    return this.groupOfRange.size;
  }

  /** Whether quiescence is on. */
  get quiescenceEnabled(): boolean {
    return this.quiescence;
  }

  /** Whether this store holds a replica of `rangeId`. */
  hasRange(rangeId: number): boolean {
    return this.groupOfRange.has(rangeId);
  }

  /** Calls `visit` with the range id of every replica, in creation order. */
  forEachRange(visit: (rangeId: number) => void): void {
    const t = this.table;
    for (let id = 0; id < t.allocated; id++) {
      if ((t.flags[id]! & ReplicaFlag.Used) !== 0) visit(t.rangeIds[id]!);
    }
  }

  /**
   * Creates an initialized replica of a new range (a bootstrap, or the right-hand side of a
   * split on every replica of it). The replica is awake and elects a leader by itself after
   * an election timeout, or at once with `campaign`.
   * @throws RangeExistsError, StoreFullError, StoreClosedError
   */
  createRange(rangeId: number, range: RangeConfig): void {
    this.checkOpen();
    checkRangeId(rangeId);
    if (this.groupOfRange.has(rangeId)) throw new RangeExistsError(rangeId);
    const learners = range.learners ?? [];
    assert(range.voters.length > 0, 'a range has at least one voter');
    assert(range.voters.includes(this.nodeId) || learners.includes(this.nodeId),
      'this store is in the range configuration');
    const id = this.allocate(rangeId);
    const storage = new MemoryStorage();
    const error = storage.applySnapshot(this.bootstrapSnapshot(range.voters, learners));
    assert(error === null, 'a new storage takes the bootstrap snapshot');
    storage.setHardState(BOOTSTRAP_HARD_STATE);
    this.table.storages[id] = storage;
    this.table.nodes[id] = this.newRawNode(storage, RANGE_INITIAL_INDEX);
    this.table.flags[id]! |= ReplicaFlag.Initialized;
    this.ticker.add(id as GroupId);
    for (const peer of range.voters) this.liveness.addPeer(peer, this.storeTicks);
    for (const peer of learners) this.liveness.addPeer(peer, this.storeTicks);
  }

  /**
   * Proposes `data` to the range's log. On a follower the proposal is forwarded to the
   * leader. Wakes the group (and, through the forwarded proposal, its leader).
   * @throws RangeNotFoundError, RangeNotInitializedError, NotLeaderError (no leader known),
   *   ProposalDroppedError (e.g. during a leadership transfer)
   */
  propose(rangeId: number, data: Uint8Array): void {
    const id = this.initializedGroup(rangeId);
    this.wake(id, WakeReason.Proposal);
    const node = this.table.nodes[id]!;
    if (node.raft.lead === 0) throw new NotLeaderError(rangeId, 0);
    this.table.idleTicks[id] = 0;
    node.propose(data);
    this.stats.proposals++;
    this.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
  }

  /** Makes the replica campaign for leadership now (a no-op on a leader). */
  campaign(rangeId: number): void {
    const id = this.initializedGroup(rangeId);
    this.wake(id, WakeReason.Local);
    this.table.nodes[id]!.campaign();
    this.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
  }

  /** Wakes a quiesced replica (a follower also wakes its leader). A no-op if awake. */
  wakeRange(rangeId: number): void {
    const id = this.initializedGroup(rangeId);
    this.wake(id, WakeReason.Local);
    this.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
  }

  /**
   * Turns quiescence on or off. Turning it off wakes every quiesced group, which then ticks
   * and heartbeats forever (the baseline the density benchmark measures).
   */
  setQuiescence(enabled: boolean): void {
    this.quiescence = enabled;
    if (enabled) return;
    const t = this.table;
    for (let id = 0; id < t.allocated; id++) {
      if ((t.flags[id]! & ReplicaFlag.Quiesced) !== 0) this.wake(id, WakeReason.Message);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Driving: ticks and batches.

  /**
   * One sub-tick of the store's clock: ticks the awake groups of one phase, and once per full
   * tick interval pings the peer nodes and re-evaluates their liveness. The node layer calls
   * it every `ticker.subTickIntervalMs` (`start` does); tests call it directly.
   */
  tick(): void {
    this.checkOpen();
    this.ticker.tick();
    this.subTicks++;
    if (this.subTicks % this.ticker.config.tickSpreadSlots === 0) this.tickStore();
  }

  /** Runs batches until no group has work (synchronous drivers: tests, benchmarks). */
  runUntilIdle(): number {
    return this.scheduler.runUntilIdle();
  }

  /** Drives itself on the event loop: one timer for the clock, batches via setImmediate. */
  start(): void {
    this.checkOpen();
    assert(this.timer === null, 'store already started');
    this.scheduler.start();
    this.timer = setInterval(() => this.tick(), this.ticker.subTickIntervalMs);
  }

  /** Stops driving itself; resolves once the current batch has finished. */
  async stop(): Promise<void> {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    await this.scheduler.stop();
  }

  /** Stops the store for good; further calls throw `StoreClosedError`. */
  async close(): Promise<void> {
    await this.stop();
    this.closed = true;
  }

  // ---------------------------------------------------------------------------------------
  // GroupProcessor.

  /** Steps the group's inbox into its node, handling quiesce heartbeats. */
  processMessages(gid: GroupId): boolean {
    const t = this.table;
    const inbox = gid < t.allocated ? t.inboxes[gid]! : null;
    if (inbox === null) return false;
    t.inboxes[gid] = null;
    let stepped = false;
    for (let i = 0; i < inbox.length; i++) {
      if (this.receive(gid, inbox[i]!)) stepped = true;
    }
    inbox.length = 0;
    if (this.inboxPool.length < 1024) this.inboxPool.push(inbox);
    return stepped;
  }

  /** One tick: a leader that may quiesce does so instead of ticking. */
  processTick(gid: GroupId): boolean {
    const t = this.table;
    const flags = t.flags[gid]!;
    const awake = ReplicaFlag.Used | ReplicaFlag.Initialized;
    if ((flags & (awake | ReplicaFlag.Quiesced)) !== awake) return false;
    const node = t.nodes[gid]!;
    assert(node !== null, 'an awake replica has a node');
    if (t.idleTicks[gid]! < 255) t.idleTicks[gid]!++;
    if (this.quiescence && node.raft.state === StateType.StateLeader) {
      if (this.maybeQuiesceLeader(gid, node)) return false;
    }
    // A tick can only start an election or a pre-vote (role, term, leader, messages), send
    // heartbeats or check the quorum (messages, role). Comparing those few fields of one
    // object is much cheaper than `hasReady()`, which walks the log and its unstable part on
    // every tick of every awake group; anything else pending already set the Ready flag.
    const r = node.raft;
    const state = r.state;
    this.stats.ticks++;
    // A non-leader's tick only advances its election clock until the clock reaches the
    // randomized timeout (etcd's tickElection: `electionElapsed++`, then campaign if
    // promotable and past the timeout). Short of that, `tickQuiesced` is the same tick
    // without the promotability check, which reads the progress tracker: three more objects,
    // that is three more cache misses, on every tick of every awake follower.
    if (state !== StateType.StateLeader && r.electionElapsed + 1 < r.randomizedElectionTimeout) {
      node.tickQuiesced();
      return false;
    }
    const term = r.term;
    const lead = r.lead;
    node.tick();
    return r.msgs.length > 0 || r.msgsAfterAppend.length > 0 || r.state !== state ||
      r.term !== term || r.lead !== lead;
  }

  /** Takes the group's Ready; its writes, sends and applies happen at the batch end. */
  processReady(gid: GroupId): void {
    const t = this.table;
    const node = gid < t.allocated ? t.nodes[gid]! : null;
    if (node === null || (t.flags[gid]! & ReplicaFlag.ReadyPending) !== 0) return;
    if (!node.hasReady()) return;
    const rd = node.ready();
    const rangeId = t.rangeIds[gid]!;
    for (let i = 0; i < rd.messages.length; i++) {
      this.outbox.push({ groupId: rangeId, message: rd.messages[i]! });
    }
    const hs = rd.hardState;
    if (rd.entries.length === 0 && rd.committedEntries.length === 0 && rd.snapshot === null &&
      hs.term === 0 && hs.vote === 0 && hs.commit === 0) {
      // Messages only (heartbeats and their responses, most of an awake group's traffic):
      // nothing to persist or apply, so nothing to wait for. Advancing now, while the node
      // is still in cache, spares the batch end a second visit. Such an advance steps
      // nothing (its acknowledgements come only with entries or a HardState), so it leaves
      // no new Ready behind. The messages still leave after the batch's writes.
      node.advance();
      return;
    }
    t.flags[gid]! |= ReplicaFlag.ReadyPending;
    this.stagedGroups.push(gid);
    this.stagedReadies.push(rd);
    assert(this.stagedGroups.length === this.stagedReadies.length, 'staged in step');
  }

  // ---------------------------------------------------------------------------------------
  // TransportHandler.

  /** Queues each envelope in its group's inbox, creating replicas of unknown groups. */
  handleBatch(fromNodeId: number, envelopes: Envelope[]): void {
    if (this.closed) return;
    this.liveness.heardFrom(fromNodeId, this.storeTicks);
    const max = this.config.inboxMessagesMax;
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      const rangeId = envelope.groupId;
      if (rangeId === LIVENESS_GROUP_ID) continue;
      this.stats.messagesReceived++;
      let id = this.groupOfRange.get(rangeId);
      if (id === undefined) {
        const full = this.replicaCount >= this.config.replicasMax;
        if (full || !createsReplica(envelope.message.type)) {
          this.stats.messagesDropped++;
          continue;
        }
        id = this.createUninitialized(rangeId);
      }
      let inbox = this.table.inboxes[id]!;
      if (inbox === null) {
        inbox = this.inboxPool.pop() ?? [];
        this.table.inboxes[id] = inbox;
      }
      if (inbox.length >= max) {
        this.stats.messagesDropped++;
        continue;
      }
      inbox.push(envelope);
      this.scheduler.enqueue(id as GroupId, WorkFlag.Message);
    }
  }

  /** Awake groups whose messages to `toNodeId` were dropped go back to probing it. */
  reportUnreachable(toNodeId: number, groupIds: readonly number[]): void {
    for (const rangeId of groupIds) {
      const id = this.groupOfRange.get(rangeId);
      const node = id === undefined ? null : this.table.nodes[id]!;
      if (node === null) continue;
      node.reportUnreachable(toNodeId);
      this.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
    }
  }

  /** Tells an awake leader how its snapshot to `toNodeId` ended. */
  reportSnapshot(rangeId: number, toNodeId: number, status: SnapshotStatus): void {
    const id = this.groupOfRange.get(rangeId);
    const node = id === undefined ? null : this.table.nodes[id]!;
    if (node === null) return;
    node.reportSnapshot(toNodeId, status === 'finish'
      ? RaftSnapshotStatus.SnapshotFinish : RaftSnapshotStatus.SnapshotFailure);
    this.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
  }

  // ---------------------------------------------------------------------------------------
  // Status.

  /**
   * Fills `out` with the basic status of the range's replica without allocating and without
   * waking it. @returns false if the store has no replica of `rangeId`.
   */
  readStatus(rangeId: number, out: ReplicaStatus): boolean {
    const id = this.groupOfRange.get(rangeId);
    if (id === undefined) return false;
    this.readStatusOf(id, out);
    return true;
  }

  /**
   * The full status, with every peer's progress on a leader (allocates; for on-demand use).
   * A dormant replica is rebuilt for the occasion (and released again), not woken.
   */
  raftStatus(rangeId: number): RaftStatus | undefined {
    const id = this.groupOfRange.get(rangeId);
    if (id === undefined) return undefined;
    const status: RaftStatus = { ...newReplicaStatus(), progress: [] };
    this.readStatusOf(id, status);
    const node = this.table.nodes[id] ?? this.rebuildNode(id);
    if (node.raft.state !== StateType.StateLeader) return status;
    const progress = node.raft.trk.progress;
    for (const peer of progress.ids) {
      const pr = progress.get(peer)!;
      status.progress.push({ nodeId: peer, match: pr.match, next: pr.next, state: pr.state,
        recentActive: pr.recentActive, isLearner: pr.isLearner, inflight: pr.inflights.count() });
    }
    return status;
  }

  /** Folds every replica into `out` (which it zeroes first). O(replicas), no allocation. */
  summary(out: StoreSummary): StoreSummary {
    for (const key of Object.keys(out) as (keyof StoreSummary)[]) out[key] = 0;
    const t = this.table;
    const s = this.scratchStatus;
    for (let id = 0; id < t.allocated; id++) {
      if ((t.flags[id]! & ReplicaFlag.Used) === 0) continue;
      this.readStatusOf(id, s);
      this.summarize(id, s, out);
    }
    out.awake = this.ticker.awakeCount;
    return out;
  }

  /** Bytes held by the store's per-replica arrays (typed arrays and pointer slots). */
  get tableBytes(): number {
    return this.table.memoryBytes + this.scheduler.memoryBytes + this.ticker.memoryBytes;
  }

  /** Whether `nodeId` is live as this store sees it. */
  isNodeLive(nodeId: number): boolean {
    return this.liveness.isLive(nodeId);
  }

  private readonly scratchStatus: ReplicaStatus = newReplicaStatus();

  private summarize(id: number, s: ReplicaStatus, out: StoreSummary): void {
    out.replicas++;
    if (!s.initialized) {
      out.uninitialized++;
      return;
    }
    if (s.quiesced) out.quiesced++;
    if (s.dormant) out.dormant++;
    if (s.lead === 0) out.leaderless++;
    out.termMax = Math.max(out.termMax, s.term);
    out.termSum += s.term;
    if (s.raftState === StateType.StateFollower) out.followers++;
    else if (s.raftState !== StateType.StateLeader) out.candidates++;
    else this.summarizeLeader(id, out);
  }

  private summarizeLeader(id: number, out: StoreSummary): void {
    out.leaders++;
    const node = this.table.nodes[id];
    if (node === null || node === undefined) {
      const lagging = this.laggingByGroup.get(id)?.length ?? 0;
      out.followersLagging += lagging;
      out.followersReplicate += this.table.peers[id]! - 1 - lagging;
      return;
    }
    const progress = node.raft.trk.progress;
    const ids = progress.ids;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === this.nodeId) continue;
      const state = progress.get(ids[i]!)!.state;
      if (state === ProgressState.StateReplicate) out.followersReplicate++;
      else if (state === ProgressState.StateProbe) out.followersProbe++;
      else out.followersSnapshot++;
    }
  }

  private readStatusOf(id: number, out: ReplicaStatus): void {
    const t = this.table;
    const flags = t.flags[id]!;
    out.rangeId = t.rangeIds[id]!;
    out.replicaId = this.nodeId;
    out.initialized = (flags & ReplicaFlag.Initialized) !== 0;
    out.quiesced = (flags & ReplicaFlag.Quiesced) !== 0;
    out.dormant = (flags & ReplicaFlag.Dormant) !== 0;
    const node = t.nodes[id];
    if (node !== null && node !== undefined) {
      const r = node.raft;
      out.raftState = r.state;
      out.term = r.term;
      out.vote = r.vote;
      out.commit = r.raftLog.committed;
      out.applied = r.raftLog.applied;
      out.lastIndex = r.raftLog.lastIndex();
      out.lead = r.lead;
      out.leadTransferee = r.leadTransferee;
      return;
    }
    const storage = t.storages[id]!;
    out.term = t.term[id]!;
    out.lead = t.lead[id]!;
    out.raftState = out.lead === this.nodeId ? StateType.StateLeader : StateType.StateFollower;
    out.vote = storage.hardState.vote;
    out.commit = storage.hardState.commit;
    out.applied = t.applied[id]!;
    out.lastIndex = storage.lastIndex();
    out.leadTransferee = 0;
  }

  // ---------------------------------------------------------------------------------------
  // Messages, quiescence and wake-up.

  /** Handles one inbound envelope. @returns whether it was stepped into the node. */
  private receive(gid: number, envelope: Envelope): boolean {
    const t = this.table;
    const m = envelope.message;
    const isQuiesceHeartbeat = envelope.quiesce === true && m.type === MessageType.MsgHeartbeat;
    if ((t.flags[gid]! & ReplicaFlag.Quiesced) !== 0) {
      // Already quiesced on this very heartbeat's terms (the leader quiesced again after a
      // wake-up): nothing to do, and no reason to wake.
      if (isQuiesceHeartbeat && m.term === t.term[gid] && m.from === t.lead[gid] &&
        m.commit === t.applied[gid]) return false;
      this.wake(gid, WakeReason.Message);
    }
    const node = t.nodes[gid]!;
    if (isQuiesceHeartbeat && this.maybeQuiesceFollower(gid, node, envelope)) return false;
    try {
      node.step(m);
    } catch (error) {
      // A response from a peer no longer in the configuration, a proposal the leader drops:
      // Raft's own typed refusals. Anything else is a bug and propagates.
      if (!(error instanceof FlotillaError)) throw error;
      this.stats.messagesDropped++;
      return false;
    }
    return true;
  }

  /** Fills the leader view, decides, and quiesces the group if it may. */
  private maybeQuiesceLeader(gid: number, node: RawNode): boolean {
    const t = this.table;
    const r = node.raft;
    const v = this.leaderView;
    v.quiescenceEnabled = this.quiescence;
    v.initialized = true;
    v.id = this.nodeId;
    v.isLeader = r.state === StateType.StateLeader;
    v.leadTransferee = r.leadTransferee;
    v.ticksSinceProposal = t.idleTicks[gid]!;
    v.quiesceAfterTicks = this.config.quiesceAfterTicks;
    v.applied = r.raftLog.applied;
    v.commit = r.raftLog.committed;
    v.lastIndex = r.raftLog.lastIndex();
    v.hasReady = (t.flags[gid]! & ReplicaFlag.ReadyPending) !== 0 || node.hasReady();
    v.selfInProgress = false;
    v.followerCount = 0;
    const progress = r.trk.progress;
    const ids = progress.ids;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === this.nodeId) {
        v.selfInProgress = true;
        continue;
      }
      const pr = progress.get(id)!;
      const k = v.followerCount++;
      v.followerIds[k] = id;
      v.followerMatch[k] = pr.match;
      v.followerState[k] = pr.state;
      v.followerLive[k] = this.liveness.isLive(id);
    }
    const lagging = this.laggingScratch;
    const refusal = shouldLeaderQuiesce(v, lagging);
    if (refusal !== null) {
      this.refuse(gid, refusal);
      return false;
    }
    this.sendQuiesceHeartbeats(gid, node, lagging);
    this.quiesce(gid, node, lagging);
    return true;
  }

  private sendQuiesceHeartbeats(gid: number, node: RawNode, lagging: readonly number[]): void {
    const r = node.raft;
    const rangeId = this.table.rangeIds[gid]!;
    const ids = r.trk.progress.ids;
    for (let i = 0; i < ids.length; i++) {
      const to = ids[i]!;
      if (to === this.nodeId || lagging.includes(to)) continue;
      const message = newMessage(MessageType.MsgHeartbeat);
      message.to = to;
      message.from = this.nodeId;
      message.term = r.term;
      message.commit = r.raftLog.committed;
      this.outbox.push({ groupId: rangeId, message, quiesce: true });
    }
  }

  /** A follower quiesces on a quiesce heartbeat if the rules allow; else it steps it. */
  private maybeQuiesceFollower(gid: number, node: RawNode, envelope: Envelope): boolean {
    const t = this.table;
    const r = node.raft;
    const v = this.followerView;
    v.quiescenceEnabled = this.quiescence;
    v.initialized = (t.flags[gid]! & ReplicaFlag.Initialized) !== 0;
    v.term = r.term;
    v.commit = r.raftLog.committed;
    v.lastIndex = r.raftLog.lastIndex();
    v.lead = r.lead;
    v.ticksSinceProposal = t.idleTicks[gid]!;
    v.quiesceAfterTicks = this.config.quiesceAfterTicks;
    v.hasReady = node.hasReady();
    v.heartbeatTerm = envelope.message.term;
    v.heartbeatCommit = envelope.message.commit;
    v.heartbeatFrom = envelope.message.from;
    const refusal = shouldFollowerQuiesce(v);
    if (refusal !== null) {
      this.refuse(gid, refusal);
      return false;
    }
    this.quiesce(gid, node, NO_LAGGING);
    return true;
  }

  private refuse(gid: number, refusal: QuiesceRefusal): void {
    this.stats.quiesceRefusals[refusal]++;
    if (this.log !== null && this.log.isLevelEnabled('trace')) {
      this.log.trace({ rangeId: this.table.rangeIds[gid], reason: refusal }, 'not quiescing');
    }
  }

  /** Takes the group out of the tick set and records term, leader and applied index. */
  private quiesce(gid: number, node: RawNode, lagging: readonly number[]): void {
    const t = this.table;
    const r = node.raft;
    assert((t.flags[gid]! & ReplicaFlag.Quiesced) === 0, 'quiesce an awake group');
    this.ticker.quiesce(gid as GroupId);
    t.flags[gid]! |= ReplicaFlag.Quiesced;
    t.term[gid] = r.term;
    t.lead[gid] = r.lead;
    t.applied[gid] = r.raftLog.applied;
    t.peers[gid] = Math.min(255, r.trk.progress.size);
    if (lagging.length > 0 && r.lead === this.nodeId) this.laggingByGroup.set(gid, [...lagging]);
    this.stats.quiesces++;
    this.maybeRelease(gid);
  }

  /**
   * Releases a quiesced group's node when nothing is in flight: no Ready taken or pending
   * and the whole log in storage. Otherwise the batch end tries again.
   */
  private maybeRelease(gid: number): void {
    const t = this.table;
    const flags = t.flags[gid]!;
    if (!this.config.releaseQuiescedNodes || (flags & ReplicaFlag.Quiesced) === 0) return;
    if ((flags & (ReplicaFlag.Dormant | ReplicaFlag.ReadyPending)) !== 0) return;
    const node = t.nodes[gid]!;
    const storage = t.storages[gid]!;
    const log = node.raft.raftLog;
    if (node.hasReady() || log.lastIndex() !== storage.lastIndex()) return;
    assert(log.applied === log.committed, 'a quiesced group applied everything committed');
    assert(node.raft.term === t.term[gid] && node.raft.lead === t.lead[gid], 'record current');
    t.applied[gid] = log.applied;
    // The log array grew by doubling while the group was busy: a three-entry log may sit in
    // a seventeen-slot backing store. A sleeping replica keeps an exact-size copy.
    storage.ents = storage.ents.slice();
    t.nodes[gid] = null;
    t.flags[gid] = flags | ReplicaFlag.Dormant;
    this.stats.nodesReleased++;
  }

  /**
   * Puts a quiesced group back in the tick set, rebuilding its node if released, and
   * advances its election clock by the ticks it slept through (`tickQuiesced`).
   *
   * While the leader is live the advance is capped at `wakeElectionElapsedMax` ticks: its
   * lease is intact (it quiesced the group, and liveness would have woken us had it died),
   * so this replica must neither campaign before the leader's first heartbeat after the
   * wake-up can arrive (one heartbeat interval, plus a margin of another) nor grant votes
   * to a disruptive candidate. The leader's own clock is capped the same way, so its next
   * CheckQuorum comes after its followers had time to answer. With the leader down the
   * whole sleep counts (up to the ticker's `sleptTicksMax`), so the replica campaigns at
   * once: that is what the slept ticks are for.
   */
  private wake(gid: number, reason: WakeReason): void {
    const t = this.table;
    const flags = t.flags[gid]!;
    if ((flags & ReplicaFlag.Quiesced) === 0) return;
    const slept = this.ticker.wake(gid as GroupId);
    t.flags[gid] = flags & ~ReplicaFlag.Quiesced;
    const node = (flags & ReplicaFlag.Dormant) !== 0 ? this.rehydrate(gid) : t.nodes[gid]!;
    this.laggingByGroup.delete(gid);
    const r = node.raft;
    const leaderLive = r.lead !== 0 && this.liveness.isLive(r.lead);
    const ticks = leaderLive
      ? Math.min(slept, Math.max(0, this.wakeElectionElapsedMax - r.electionElapsed))
      : slept;
    for (let i = 0; i < ticks; i++) node.tickQuiesced();
    this.stats.wakes++;
    const follower = r.lead !== this.nodeId;
    if (follower && leaderLive && (reason === WakeReason.Local)) {
      // A follower that wakes on its own wakes its leader, with an empty proposal that is
      // forwarded to it (CockroachDB's maybeUnquiesceAndWakeLeader).
      node.propose(EMPTY_BYTES);
      this.stats.proposals++;
      this.scheduler.enqueue(gid as GroupId, WorkFlag.Ready);
    }
    assert((t.flags[gid]! & (ReplicaFlag.Quiesced | ReplicaFlag.Dormant)) === 0, 'awake');
  }

  private rehydrate(gid: number): RawNode {
    const t = this.table;
    const node = this.rebuildNode(gid);
    t.nodes[gid] = node;
    t.flags[gid]! &= ~ReplicaFlag.Dormant;
    this.stats.nodesRebuilt++;
    return node;
  }

  /** Builds a node from a dormant replica's storage and record (see _restore.ts). */
  private rebuildNode(gid: number): RawNode {
    const t = this.table;
    assert((t.flags[gid]! & ReplicaFlag.Dormant) !== 0, 'rebuild a dormant replica only');
    const node = this.newRawNode(t.storages[gid]!, t.applied[gid]!);
    assert(node.raft.term === t.term[gid], 'storage term matches the record');
    const lead = t.lead[gid]!;
    if (lead === this.nodeId) restoreLeadership(node, this.laggingByGroup.get(gid));
    else if (lead !== 0) restoreFollower(node, lead);
    return node;
  }

  // ---------------------------------------------------------------------------------------
  // Batch end: write, send, apply, advance.

  /**
   * The scheduler's `onBatchEnd`. ORDER (etcd's Ready contract, for every group of the batch
   * at once): persist every staged Ready; only then send all messages (a message may promise
   * that its sender persisted something); then apply committed entries and advance.
   */
  private finishBatch(): void {
    const groups = this.stagedGroups;
    const readies = this.stagedReadies;
    for (let i = 0; i < groups.length; i++) this.persist(groups[i]!, readies[i]!);
    this.flushOutbox();
    for (let i = 0; i < groups.length; i++) this.applyAndAdvance(groups[i]!, readies[i]!);
    groups.length = 0;
    readies.length = 0;
    this.stats.batches++;
    // Applying may propose (a state machine reacting to a command): send what it produced.
    this.flushOutbox();
  }

  private flushOutbox(): void {
    if (this.outbox.length === 0) return;
    this.stats.messagesSent += this.outbox.length;
    this.config.transport.send(this.outbox);
    this.outbox.length = 0;
    this.config.transport.flush();
  }

  private persist(gid: number, rd: Ready): void {
    const t = this.table;
    const storage = t.storages[gid]!;
    if (rd.snapshot !== null && rd.snapshot.metadata.index !== 0) {
      const snapshot = this.internSnapshot(rd.snapshot);
      const error = storage.applySnapshot(snapshot);
      assert(error === null, 'Raft hands out only snapshots newer than the storage');
      this.config.stateMachine.applySnapshot(t.rangeIds[gid]!, snapshot);
      this.initialize(gid, snapshot.metadata.confState);
    }
    if (rd.entries.length > 0) storage.append(rd.entries);
    const hs = rd.hardState;
    if (hs.term !== 0 || hs.vote !== 0 || hs.commit !== 0) storage.setHardState(hs);
  }

  private applyAndAdvance(gid: number, rd: Ready): void {
    const t = this.table;
    const node = t.nodes[gid]!;
    assert(node !== null && (t.flags[gid]! & ReplicaFlag.ReadyPending) !== 0, 'staged ready');
    if (rd.softState !== null && rd.softState.raftState === StateType.StateLeader &&
      rd.softState.lead === this.nodeId) this.stats.leadershipsAcquired++;
    const rangeId = t.rangeIds[gid]!;
    const entries = rd.committedEntries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.type === EntryType.EntryNormal) {
        if (entry.data.length === 0) continue;
        this.config.stateMachine.apply(rangeId, entry);
        this.stats.entriesApplied++;
      } else {
        const cs = node.applyConfChange(unmarshalConfChange(entry.type, entry.data));
        for (const peer of cs.voters) this.liveness.addPeer(peer, this.storeTicks);
        for (const peer of cs.learners) this.liveness.addPeer(peer, this.storeTicks);
      }
    }
    node.advance();
    t.flags[gid]! &= ~ReplicaFlag.ReadyPending;
    if (node.hasReady()) this.scheduler.enqueue(gid as GroupId, WorkFlag.Ready);
    else this.maybeRelease(gid);
  }

  /** A lazily created replica got its snapshot: it knows its configuration and ticks. */
  private initialize(gid: number, cs: ConfState): void {
    const t = this.table;
    for (const peer of cs.voters) this.liveness.addPeer(peer, this.storeTicks);
    for (const peer of cs.learners) this.liveness.addPeer(peer, this.storeTicks);
    if ((t.flags[gid]! & ReplicaFlag.Initialized) !== 0) return;
    t.flags[gid]! |= ReplicaFlag.Initialized;
    this.ticker.wake(gid as GroupId);
    assert(this.ticker.isAwake(gid as GroupId), 'an initialized replica ticks');
  }

  // ---------------------------------------------------------------------------------------
  // Store ticks and liveness.

  private tickStore(): void {
    this.storeTicks++;
    if (this.storeTicks % this.config.livenessIntervalTicks === 0) this.pingPeers();
    const changes = this.livenessChanges;
    this.liveness.update(this.storeTicks, changes);
    for (let i = 0; i < changes.length; i++) this.onLivenessChange(changes[i]!);
  }

  private pingPeers(): void {
    const peers = this.liveness.nodeIds;
    if (peers.length === 0) return;
    for (let i = 0; i < peers.length; i++) {
      const message = newMessage(MessageType.MsgHeartbeat);
      message.to = peers[i]!;
      message.from = this.nodeId;
      this.outbox.push({ groupId: LIVENESS_GROUP_ID, message });
    }
    this.flushOutbox();
  }

  /**
   * A peer went down: wake the quiesced followers of its leaders so that they elect new
   * ones. A peer came back: wake the leaders that left it behind so that they catch it up.
   * Both scans are O(replicas) but run only on liveness changes.
   */
  private onLivenessChange(change: LivenessChange): void {
    this.stats.livenessChanges++;
    this.log?.info({ peerNodeId: change.nodeId, live: change.live }, 'peer liveness changed');
    const t = this.table;
    let woken = 0;
    if (!change.live) {
      for (let id = 0; id < t.allocated; id++) {
        if ((t.flags[id]! & ReplicaFlag.Quiesced) === 0 || t.lead[id] !== change.nodeId) continue;
        this.wake(id, WakeReason.LeaderDown);
        woken++;
      }
    } else {
      for (const [id, lagging] of [...this.laggingByGroup]) {
        if (!lagging.includes(change.nodeId)) continue;
        this.wake(id, WakeReason.LaggingBack);
        this.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
        woken++;
      }
    }
    assert(woken <= t.allocated, 'woke known groups only');
  }

  // ---------------------------------------------------------------------------------------
  // Replica creation.

  private allocate(rangeId: number): number {
    if (this.replicaCount >= this.config.replicasMax) {
      throw new StoreFullError(this.config.replicasMax);
    }
    const id = this.table.allocate(rangeId);
    this.groupOfRange.set(rangeId, id);
    this.stats.replicasCreated++;
    return id;
  }

  /** A replica for an unknown group, empty until its snapshot arrives; it does not tick. */
  private createUninitialized(rangeId: number): number {
    checkRangeId(rangeId);
    const id = this.allocate(rangeId);
    const storage = new MemoryStorage();
    this.table.storages[id] = storage;
    this.table.nodes[id] = this.newRawNode(storage, 0);
    this.ticker.add(id as GroupId);
    this.ticker.quiesce(id as GroupId);
    this.stats.replicasCreatedLazily++;
    this.log?.debug({ rangeId }, 'created uninitialized replica');
    return id;
  }

  private newRawNode(storage: MemoryStorage, applied: number): RawNode {
    const c = this.config;
    return new RawNode({
      id: this.nodeId,
      storage,
      applied,
      electionTick: c.electionTimeoutTicks,
      heartbeatTick: c.heartbeatIntervalTicks,
      checkQuorum: c.checkQuorum,
      preVote: c.preVote,
      maxSizePerMsg: c.maxSizePerMsgBytes,
      maxInflightMsgs: c.maxInflightMsgs,
      random: c.random,
    });
  }

  /** The bootstrap snapshot of a configuration, one object shared by all its ranges. */
  private bootstrapSnapshot(voters: readonly number[], learners: readonly number[]): Snapshot {
    const confState: ConfState = {
      voters: [...voters].sort((a, b) => a - b),
      learners: [...learners].sort((a, b) => a - b),
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    return this.internSnapshot({
      data: EMPTY_BYTES,
      metadata: { confState, index: RANGE_INITIAL_INDEX, term: RANGE_INITIAL_TERM },
    });
  }

  /**
   * Returns the shared copy of an empty-data snapshot with the same index, term and
   * configuration (snapshots are immutable once handed to storage), or `snapshot` itself.
   */
  private internSnapshot(snapshot: Snapshot): Snapshot {
    const { metadata: md, data } = snapshot;
    const cs = md.confState;
    if (data.length !== 0 || cs.votersOutgoing.length !== 0 || cs.learnersNext.length !== 0 ||
      cs.autoLeave) return snapshot;
    const key = `${md.index}/${md.term}/${cs.voters.join(',')}/${cs.learners.join(',')}`;
    const shared = this.internedSnapshots.get(key);
    if (shared !== undefined) return shared;
    if (this.internedSnapshots.size < 4096) this.internedSnapshots.set(key, snapshot);
    return snapshot;
  }

  private initializedGroup(rangeId: number): number {
    this.checkOpen();
    const id = this.groupOfRange.get(rangeId);
    if (id === undefined) throw new RangeNotFoundError(rangeId);
    if ((this.table.flags[id]! & ReplicaFlag.Initialized) === 0) {
      throw new RangeNotInitializedError(rangeId);
    }
    return id;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

function checkRangeId(rangeId: number): void {
  assert(Number.isInteger(rangeId) && rangeId > 0 && rangeId < 2 ** 32,
    'range ids are integers in [1, 2^32)');
}
