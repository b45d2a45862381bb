/**
 * Private: the state of a `Store` that its parts share (replica table, batch staging,
 * liveness, counters) and the small helpers they all use. The parts are free functions over
 * a `StoreCore`, one file per job:
 *
 * - `_replicas.ts`: creating replicas and their Raft nodes, rebuilding dormant ones;
 * - `_messages.ts`: inbound envelopes, inboxes, stepping messages (the transport side);
 * - `_tick.ts`: the per-group tick and deferred ticks;
 * - `_ready.ts`: taking Readies and the batch end (persist, send, apply, advance);
 * - `_quiescer.ts`: quiescing, releasing and waking groups;
 * - `_liveness_driver.ts`: the store's own clock, peer pings and liveness changes;
 * - `_status_reads.ts`: status of one replica and of the whole store.
 *
 * Every function runs to completion synchronously (one scheduler turn or one batch end).
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { MessageType, type HardState, type Ready, type Snapshot } from '../raft/index.js';
import { Scheduler, Ticker, type GroupProcessor } from '../scheduler/index.js';
import type { Envelope } from '../transport/index.js';
import { RangeNotFoundError, RangeNotInitializedError, StoreClosedError } from './errors.js';
import { NodeLiveness, type LivenessChange } from './liveness.js';
import { resolveStoreOptions, type StoreConfig, type StoreOptions } from './options.js';
import {
  QUIESCE_REFUSALS,
  newFollowerQuiesceView,
  newLeaderQuiesceView,
  type QuiesceRefusal,
} from './quiesce.js';
import { ReplicaFlag, ReplicaTable } from './_table.js';
import { newReplicaStatus, type ReplicaStatus } from './status.js';

/**
 * Index and term of the snapshot a range is created with (CockroachDB's raftInitialLogIndex
 * and raftInitialLogTerm idea): above zero, so that a replica created empty by a message
 * (index 0) is told apart and gets this snapshot instead of a log replay from index 1.
 */
export const RANGE_INITIAL_INDEX = 5;
export const RANGE_INITIAL_TERM = 5;

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

/** Zeroed counters, one per refusal reason included. */
export function newStoreStats(): StoreStats {
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

export const BOOTSTRAP_HARD_STATE: HardState = Object.freeze({
  term: RANGE_INITIAL_TERM,
  vote: 0,
  commit: RANGE_INITIAL_INDEX,
});

/** The shared state of one store (see the file comment). */
export class StoreCore {
  readonly config: Readonly<StoreConfig>;
  readonly nodeId: number;
  readonly scheduler: Scheduler;
  readonly ticker: Ticker;
  readonly stats: StoreStats = newStoreStats();
  readonly table: ReplicaTable;
  readonly groupOfRange = new Map<number, number>();
  readonly liveness: NodeLiveness;
  readonly log: Logger | null;
  /** Envelopes to send at the end of the batch, after this batch's writes. */
  readonly outbox: Envelope[] = [];
  /** Groups whose Ready was taken in this batch, and those Readies (parallel). */
  readonly stagedGroups: number[] = [];
  readonly stagedReadies: Ready[] = [];
  /** Leaders quiesced with followers left behind (sparse: only such groups). */
  readonly laggingByGroup = new Map<number, number[]>();
  /** Snapshots shared by every range created with the same configuration. */
  readonly internedSnapshots = new Map<string, Snapshot>();
  readonly inboxPool: Envelope[][] = [];
  readonly leaderView = newLeaderQuiesceView();
  readonly followerView = newFollowerQuiesceView();
  readonly laggingScratch: number[] = [];
  readonly livenessChanges: LivenessChange[] = [];
  readonly scratchStatus: ReplicaStatus = newReplicaStatus();
  quiescence: boolean;
  /** Election clock cap on wake-up while the leader is live (see `wake`). */
  readonly wakeElectionElapsedMax: number;
  storeTicks = 0;
  closed = false;

  /**
   * @param processor the store, which the scheduler calls for each group's turn.
   * @param onBatchEnd the batch end (`finishBatch`), called after each batch's turns.
   */
  constructor(options: StoreOptions, processor: GroupProcessor, onBatchEnd: () => void) {
    this.config = resolveStoreOptions(options);
    this.nodeId = this.config.nodeId;
    this.quiescence = this.config.quiescence;
    this.wakeElectionElapsedMax = Math.max(0,
      this.config.electionTimeoutTicks - 2 * this.config.heartbeatIntervalTicks);
    this.log = this.config.logger?.child({ storeNodeId: this.nodeId }) ?? null;
    this.scheduler = new Scheduler(processor, {
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
    this.liveness = new NodeLiveness(this.nodeId, this.config.livenessTimeoutTicks);
    assert(this.config.transport.nodeId === this.nodeId, 'transport of another node');
  }

  /** Number of replicas on this store. */
  get replicaCount(): number {
    return this.groupOfRange.size;
  }

  /** Hands the outbox to the transport and flushes it (only after the batch's writes). */
  flushOutbox(): void {
    if (this.outbox.length === 0) return;
    this.stats.messagesSent += this.outbox.length;
    this.config.transport.send(this.outbox);
    this.outbox.length = 0;
    this.config.transport.flush();
  }

  /** The group id of an initialized replica of `rangeId`; throws the typed errors if none. */
  initializedGroup(rangeId: number): number {
    this.checkOpen();
    const id = this.groupOfRange.get(rangeId);
    if (id === undefined) throw new RangeNotFoundError(rangeId);
    if ((this.table.flags[id]! & ReplicaFlag.Initialized) === 0) {
      throw new RangeNotInitializedError(rangeId);
    }
    return id;
  }

  /** @throws StoreClosedError after `Store.close`. */
  checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}
