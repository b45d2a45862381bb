/**
 * `StoreStats`: the counters of a store, one object updated in place (`Store.stats`).
 */
import { QUIESCE_REFUSALS, type QuiesceRefusal } from './quiesce.js';
import type { MessageRefusal } from './message_check.js';
import { newRefusalCounts } from './_refusals.js';
import { newSnapshotStats, type SnapshotStats } from './snapshot_stats.js';

/**
 * Observes each storage engine commit of a store (`Store.observeStorageCommits`): `groups`
 * and `bytes` are the batch's `EngineBatch.groupCount` and `byteCount` (bytes of keys and
 * values as the engine writes them); `seconds` is the time from `commit` to its completion
 * on the store's clock (with a durable engine: the write and its sync). Called for every
 * successful commit: a scheduler batch's Raft writes and the applied-state batch after it.
 * Runs on the store's hot path: it must be cheap and must not throw.
 */
export type StorageCommitObserver = (groups: number, bytes: number, seconds: number) => void;

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
  /** Storage engine batches committed (at most one per scheduler batch). */
  storageCommits: number;
  /**
   * Engine batches of applied points committed after a batch's completion (the engine folds
   * them into the next sync when one is queued).
   */
  appliedCommits: number;
  /** Storage commits that failed (the first one stops the store's progress). */
  storageFailures: number;
  messagesReceived: number;
  messagesSent: number;
  /** MsgApps merged into the previous append to the same follower (_append_merge.ts). */
  appendsMerged: number;
  /** Inbound messages dropped: full inbox, unknown group, or refused by Raft. */
  messagesDropped: number;
  quiesces: number;
  wakes: number;
  /** Wake-ups of a dead leader's followers deferred by a jitter (`leaderDownWakeSpreadTicks`). */
  wakesDeferred: number;
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
  /** Inbound messages refused at the boundary, by reason (message_check.ts). */
  messagesRefused: Record<MessageRefusal, number>;
  /** Replicas isolated because Raft panicked on a peer's message. */
  replicasBroken: number;
  /** Uninitialized replicas removed because no snapshot came in time. */
  replicasCollected: number;
  /** Uninitialized replicas now (a gauge), at most `uninitializedReplicasMax`. */
  uninitializedReplicasNow: number;
  /** Membership changes handed to Raft by `proposeConfChange` (Raft may still ignore one). */
  confChangesProposed: number;
  /** Membership changes applied by this store's replicas. */
  confChangesApplied: number;
  /** Replicas destroyed by `destroyReplica` (their slots freed for reuse). */
  replicasDestroyed: number;
  /** Replicas seated from the engine by `Store.open` (refused ones included). */
  replicasOpened: number;
  /** Storages of replicas seated dormant at open, loaded from the engine on first wake. */
  replicasLoaded: number;
  /** Log truncation and range snapshots (snapshot_stats.ts). */
  snapshots: SnapshotStats;
}

/** Zeroed counters, one per refusal reason included. */
export function newStoreStats(): StoreStats {
  const quiesceRefusals = {} as Record<QuiesceRefusal, number>;
  for (const reason of QUIESCE_REFUSALS) quiesceRefusals[reason] = 0;
  return {
    proposals: 0, entriesApplied: 0, ticks: 0, batches: 0, storageCommits: 0, appliedCommits: 0, storageFailures: 0,
    messagesReceived: 0, messagesSent: 0, appendsMerged: 0, messagesDropped: 0, quiesces: 0,
    wakes: 0, wakesDeferred: 0, nodesReleased: 0, nodesRebuilt: 0, replicasCreated: 0,
    replicasCreatedLazily: 0, leadershipsAcquired: 0, livenessChanges: 0, quiesceRefusals,
    messagesRefused: newRefusalCounts(), replicasBroken: 0, replicasCollected: 0,
    uninitializedReplicasNow: 0, confChangesProposed: 0, confChangesApplied: 0,
    replicasDestroyed: 0, replicasOpened: 0, replicasLoaded: 0,
    snapshots: newSnapshotStats(),
  };
}
