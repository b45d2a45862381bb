/**
 * Private: the parts of one store that its jobs share, and the small helpers they all use.
 * The jobs are free functions over a `StoreContext`, one file per job:
 *
 * - `_replicas.ts`: creating replicas and their Raft nodes, rebuilding dormant ones;
 * - `_messages.ts`: inbound envelopes, inboxes, stepping messages (the transport side);
 * - `_tick.ts`: the per-group tick (deferred ticks are the table's rules);
 * - `_ready.ts`: taking Readies and the batch end (persist, send, apply, advance);
 * - `_quiescer.ts`: quiescing, releasing and waking groups;
 * - `_liveness_driver.ts`: the store's own clock, peer pings and liveness changes;
 * - `_status_reads.ts`: status of one replica and of the whole store.
 *
 * Per-replica state lives in the `ReplicaTable` (the only writer of its flags); what one
 * scheduler batch staged lives in `BatchStaging`. Every function runs to completion
 * synchronously (one scheduler turn or one batch end).
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import {
  MessageType,
  newNodeFacts,
  newPeerFacts,
  silentLogger,
  type HardState,
  type RawNode,
  type RaftLogger,
  type Snapshot,
} from '../raft/index.js';
import { Scheduler, Ticker, type GroupId, type GroupProcessor } from '../scheduler/index.js';
import type { StorageEngine } from '../storage/index.js';
import type { Envelope } from '../transport/index.js';
import { RangeNotFoundError, RangeNotInitializedError, StoreClosedError } from './errors.js';
import { NodeLiveness, type LivenessChange } from './liveness.js';
import { resolveStoreOptions, type StoreConfig, type StoreOptions } from './options.js';
import { newFollowerQuiesceView, newLeaderQuiesceView } from './quiesce.js';
import { RANGE_INITIAL_INDEX, RANGE_INITIAL_TERM } from './range_config.js';
import { newStoreStats, type StorageCommitObserver, type StoreStats } from './stats.js';
import { newReplicaStatus } from './status.js';
import { PinoRaftLogger } from './_raft_logger.js';
import { BatchPipeline } from './_pipeline.js';
import { BatchStaging } from './_staging.js';
import { ReplicaTable } from './_table.js';
import { WakeSchedule } from './_wake_schedule.js';
import { newMessageCheckView } from './message_check.js';
import { checkRangeId } from './api_check.js';
import { ReplicaBrokenError } from './input_errors.js';
import { REFUSAL_LOG_INTERVAL_TICKS, RefusalLog } from './_refusals.js';
import { UninitializedReplicas } from './_uninitialized.js';
import { HeartbeatRows } from './_heartbeat_rows.js';
import { Tombstones } from './_tombstones.js';
import { ColdRecords } from './_cold.js';
import type { SnapshotStreams } from './_snapshots.js';

/** Why a group wakes; decides whether a follower must wake its leader. */
export const WakeReason = {
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
export type WakeReason = (typeof WakeReason)[keyof typeof WakeReason];

/** Message types that create a replica for an unknown group (the others are dropped). */
export function createsReplica(type: number): boolean {
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
export const NO_LAGGING: readonly number[] = Object.freeze([]);

/** The HardState every created range starts from (with the bootstrap snapshot). */
export const BOOTSTRAP_HARD_STATE: HardState = Object.freeze({
  term: RANGE_INITIAL_TERM,
  vote: 0,
  commit: RANGE_INITIAL_INDEX,
});

/** Objects the jobs fill and reuse instead of allocating per call (one store, one turn). */
export class Scratch {
  readonly leaderView = newLeaderQuiesceView();
  readonly followerView = newFollowerQuiesceView();
  readonly lagging: number[] = [];
  readonly livenessChanges: LivenessChange[] = [];
  readonly status = newReplicaStatus();
  readonly dueWakes: GroupId[] = [];
  readonly facts = newNodeFacts();
  readonly peers = newPeerFacts();
}

/** The parts of one store (see the file comment). */
export class StoreContext {
  readonly config: Readonly<StoreConfig>;
  readonly nodeId: number;
  readonly scheduler: Scheduler;
  readonly ticker: Ticker;
  readonly engine: StorageEngine;
  readonly stats: StoreStats = newStoreStats();
  readonly table: ReplicaTable;
  readonly staging: BatchStaging;
  /** Scheduler batches whose writes are in flight (_pipeline.ts). */
  readonly pipeline = new BatchPipeline();
  readonly liveness: NodeLiveness;
  readonly scratch = new Scratch();
  readonly log: Logger | null;
  /** The logger every RawNode of this store writes to (one object for all of them). */
  readonly raftLogger: RaftLogger;
  /** Leaders quiesced with followers left behind (sparse: only such groups). */
  readonly laggingByGroup = new Map<GroupId, number[]>();
  /** Leaders released after serving reads: their read-queue position (sparse). */
  readonly readPositionByGroup = new Map<GroupId, number>();
  /** Snapshots shared by every range created with the same configuration. */
  readonly internedSnapshots = new Map<string, Snapshot>();
  /** Followers of dead leaders waiting for their jittered wake-up (see _wake_schedule.ts). */
  readonly leaderDownWakes: WakeSchedule;
  /** Emptied inboxes, reused. */
  readonly inboxPool: Envelope[][] = [];
  /** Heartbeat rows waiting for their group's turn, without a message each. */
  readonly rows: HeartbeatRows;
  /** Election clock cap on wake-up while the leader is live (see `wake`). */
  readonly wakeElectionElapsedMax: number;
  quiescence: boolean;
  /** Ticks of the store's own clock (liveness time). */
  storeTicks = 0;
  /** Set when `close` begins: from then on every call is refused. */
  closed = false;
  /** The view every inbound message is checked against (refilled per message). */
  readonly checkView = newMessageCheckView();
  readonly refusals: RefusalLog;
  readonly uninitialized: UninitializedReplicas;
  /** Last term and vote of destroyed replicas (_destroy.ts). */
  readonly tombstones = new Tombstones();
  /** Vote and last index of the dormant replicas seated at open (_open.ts). */
  readonly cold = new ColdRecords();
  /** Told of every storage commit (`Store.observeStorageCommits`); null: no clock read. */
  storageCommitObserver: StorageCommitObserver | null = null;
  /** Range snapshot streams, when the transport carries chunks (set by the store). */
  snapshots: SnapshotStreams | null = null;
  private readonly pinoRaftLogger: PinoRaftLogger | null;

  /**
   * @param processor the store, which the scheduler calls for each group's turn.
   * @param onBatchEnd the batch end (`finishBatch`), called after each batch's turns.
   */
  constructor(options: StoreOptions, processor: GroupProcessor, onBatchEnd: () => void) {
    this.config = resolveStoreOptions(options);
    this.nodeId = this.config.nodeId;
    this.engine = this.config.storageEngine;
    this.quiescence = this.config.quiescence;
    this.wakeElectionElapsedMax = Math.max(0,
      this.config.electionTimeoutTicks - 2 * this.config.heartbeatIntervalTicks);
    this.log = this.config.logger?.child({ storeNodeId: this.nodeId }) ?? null;
    this.pinoRaftLogger = this.log === null ? null : new PinoRaftLogger(this.log);
    this.raftLogger = this.pinoRaftLogger ?? silentLogger;
    this.scheduler = new Scheduler(processor, {
      clock: this.config.clock,
      ...this.config.scheduler,
      groupIdsMax: this.config.replicasMax,
      onBatchEnd,
    });
    this.ticker = new Ticker(this.scheduler, {
      ...this.config.ticker,
      groupIdsMax: this.config.replicasMax,
    });
    this.table = new ReplicaTable(Math.min(1024, this.config.replicasMax),
      this.config.replicasMax);
    this.staging = new BatchStaging(this.engine, this.config.maxSizePerMsgBytes);
    this.rows = new HeartbeatRows(this.nodeId, this.table.capacity);
    this.liveness = new NodeLiveness(this.nodeId, this.config.livenessTimeoutTicks);
    this.leaderDownWakes = new WakeSchedule(this.config.leaderDownWakeSpreadTicks);
    this.refusals = new RefusalLog(this.stats.messagesRefused, this.log,
      REFUSAL_LOG_INTERVAL_TICKS);
    this.uninitialized = new UninitializedReplicas(this.config.uninitializedReplicasMax,
      this.config.uninitializedReplicaTimeoutTicks);
    assert(this.config.transport.nodeId === this.nodeId, 'transport of another node');
  }

  /** Number of replicas on this store. */
  get replicaCount(): number {
    return this.table.size;
  }

  /**
   * The settled node of `gid` (deferred ticks paid, see `ReplicaTable.settledNode`), with
   * the core's log lines pointed at its range: every job touches a node through here.
   */
  settled(gid: number): RawNode {
    this.enterRange(gid);
    return this.table.settledNode(gid);
  }

  /** Points the core's log lines at `gid`'s range (before creating or calling its node). */
  enterRange(gid: number): void {
    if (this.pinoRaftLogger !== null) this.pinoRaftLogger.rangeId = this.table.rangeIds[gid]!;
  }

  /** Sends the envelopes in one `send` and one `flush` (after the batch's writes). */
  sendOutbox(outbox: Envelope[] = this.staging.outbox): void {
    if (outbox.length === 0) return;
    this.stats.messagesSent += outbox.length;
    this.config.transport.send(outbox);
    outbox.length = 0;
    this.config.transport.flush();
  }

  /** The slot of an initialized replica of `rangeId`; throws the typed errors if none. */
  initializedGroup(rangeId: number): GroupId {
    this.checkOpen();
    const id = this.table.slotOfRange.get(checkRangeId(rangeId));
    if (id === undefined) throw new RangeNotFoundError(rangeId);
    if (this.table.isBroken(id)) throw new ReplicaBrokenError(rangeId);
    if (!this.table.isInitialized(id)) throw new RangeNotInitializedError(rangeId);
    return id;
  }

  /** @throws StoreClosedError after `Store.close`. */
  checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}
