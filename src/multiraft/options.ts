/**
 * Options of a `Store`: every limit is named, documented with its unit and default, and
 * validated once at construction. A bad value throws `ConfigError`, never later.
 */
import type { Logger } from 'pino';
import {
  assert,
  booleanOr,
  ConfigError,
  integerIn,
  rejectUnknownKeys,
  requiredObject,
  systemClock,
  type Clock,
} from '../util/index.js';
import type { ConfState, RandomSource, Entry, Snapshot } from '../raft/index.js';
import type { SchedulerOptions, TickerOptions } from '../scheduler/index.js';
import { MemoryEngine, type EngineBatch, type StorageEngine } from '../storage/index.js';
import type { Transport } from '../transport/index.js';
import {
  resolveSnapshotOptions, type SnapshotConfig, type SnapshotOptions,
} from './snapshot_options.js';

/**
 * What the store replicates: the application's side of every replica. Called synchronously
 * from the store's batch end, in log order per range; it must not call back into the store
 * except to `propose` (which only queues work).
 */
export interface StateMachine {
  /**
   * Applies one committed normal entry with a non-empty payload. Empty entries (a new
   * leader's entry, the entry a waking follower proposes to wake its leader) and membership
   * changes are handled by the store and never reach the state machine.
   *
   * `batch` is the engine batch that also records the replica's applied point (index
   * `entry.index` or later, and the ConfState): state-machine writes staged into it through
   * the engine (`putUser`/`deleteUser`) are atomic with that point, so after a crash the
   * replica replays from exactly where its state stands. A state machine that keeps its
   * state elsewhere persists `entry.index` with its own writes instead.
   */
  apply(rangeId: number, entry: Entry, batch: EngineBatch): void;
  /**
   * A snapshot was applied to the replica (a lazily created replica or a lagging follower
   * catching up). With a chunk-capable transport the store has already replaced, in the
   * snapshot's engine batch, the user data of the span and the range-local keys with the
   * snapshot's, and the applied state with its index, ConfState and descriptor: the
   * application reloads its in-memory view of the range from the engine. `batch` is that
   * engine batch: writes staged into it commit atomically with the snapshot.
   */
  applySnapshot(rangeId: number, snapshot: Snapshot, batch?: EngineBatch): void;
  /**
   * Optional: the user-key span `[start, end)` (`end` null: unbounded) whose data a snapshot
   * of the range carries, as of the replica's applied state; null or absent: none. Called
   * when a leader builds a snapshot, in the range's turn; must not call back into the store.
   * @default no user data travels in snapshots (range-local keys always do)
   */
  userSpan?(rangeId: number): { start: Uint8Array; end: Uint8Array | null } | null;
  /**
   * Optional: whether a replica (initialized or not) may take this snapshot (CockroachDB's
   * `canApplySnapshot`). The ranges layer refuses a snapshot of a range born of a split that
   * has not applied on this store yet (the split will initialize the replica, and a replica
   * initialized earlier would apply the new range's entries before the left range's last
   * ones), and one whose span overlaps another replica here. A refused MsgSnap is dropped
   * (and counted); the leader sends it again later. Called in the replica's turn; must not
   * call back into the store.
   * @default every snapshot is accepted
   */
  acceptsSnapshot?(rangeId: number, snapshot: Snapshot): boolean;
  /**
   * Optional: `Store.open` seated the range's replica from the engine; the store replays its
   * log from `appliedIndex + 1` (the applied point persisted with the last applied batch).
   * A state machine that keeps its state elsewhere compares it with the index it persisted
   * with its own writes (`apply`'s `entry.index`): entries up to its own index that are
   * applied again must be skipped, and an own index below `appliedIndex` means its writes
   * were lost. Called once per replica during the open, before any entry is applied; must
   * not call into the store.
   * @default nothing is told
   */
  replicaOpened?(rangeId: number, appliedIndex: number): void;
  /**
   * Optional: a `Store.readIndex` request of this replica completed: once the replica has
   * applied `index`, a read of its state is linearizable (etcd's ReadState). Called in the
   * replica's turn, before the turn's entries are applied; must not call back into the
   * store except to `propose` or `readIndex`.
   * @default read states are dropped
   */
  readIndexDone?(rangeId: number, index: number, context: Uint8Array): void;
  /**
   * Optional: a membership change applied on this replica at entry `index`; `confState` is
   * the configuration from then on. Called in log order with the entries (after the ones
   * before it, before the ones after it); `batch` is the apply's engine batch (as in
   * `apply`). Must not call back into the store except to `propose`.
   * @default membership changes are not reported
   */
  confChanged?(rangeId: number, confState: ConfState, index: number, batch: EngineBatch): void;
  /**
   * Optional, STOP-GAP until the engine's range snapshots: the state of the range as of its
   * applied index, to send in a snapshot to a peer that is behind (a new learner). Called
   * on the leader in the replica's turn; must not call back into the store. The receiver's
   * `applySnapshot` gets it as `snapshot.data`.
   * @default snapshots carry no application data
   */
  snapshotData?(rangeId: number, snapshot: Snapshot): Uint8Array;
}

/** Options of a `Store`. */
export interface StoreOptions {
  /** This store's node id, which is also the Raft id of all its replicas. Positive integer. */
  nodeId: number;
  /** Where the store sends messages; the store installs itself as its handler. */
  transport: Transport;
  /** The application's side of every replica. */
  stateMachine: StateMachine;
  /** The one random source of the process (election timeouts of every group). */
  random: RandomSource;
  /**
   * Structured logger; the store adds `{ storeNodeId }` and logs each range as `rangeId`.
   * No replica holds a logger of its own.
   * @default silent
   */
  logger?: Logger;
  /**
   * Ticks without hearing from a leader before a follower campaigns (randomized up to twice
   * this). Must exceed `heartbeatIntervalTicks`.
   * @default 15 (ticks: 3 s at a 200 ms tick)
   */
  electionTimeoutTicks?: number;
  /** Ticks between a leader's heartbeats. @default 5 (ticks: 1 s at a 200 ms tick) */
  heartbeatIntervalTicks?: number;
  /** Run a pre-vote round before an election (needed to quiesce safely). @default true */
  preVote?: boolean;
  /** Leaders step down without a recently active quorum. @default true */
  checkQuorum?: boolean;
  /**
   * Whether idle groups quiesce. Off, every group ticks and heartbeats forever (the baseline
   * the density benchmark compares with). Can be changed later with `setQuiescence`.
   * @default true
   */
  quiescence?: boolean;
  /**
   * Ticks a leader waits after the group's last proposal before it quiesces the group (and a
   * follower refuses a quiesce heartbeat within this many ticks of its own proposal, which
   * may still be on its way to the leader).
   * @default 3 (ticks); at most 255
   */
  quiesceAfterTicks?: number;
  /**
   * Whether a quiesced replica releases its `RawNode` and keeps only a compact record (term,
   * leader, applied index; the rest is in its storage), rebuilding the node when it wakes.
   * @default true
   */
  releaseQuiescedNodes?: boolean;
  /**
   * Ticks between two liveness pings to every peer node (one coalesced heartbeat per node
   * pair, not per group): quiesced groups exchange nothing else.
   * @default 1 (tick)
   */
  livenessIntervalTicks?: number;
  /**
   * Ticks without hearing from a node before it is considered down: quiesced followers of its
   * leaders wake (and elect a new leader), and it stops keeping groups awake (lagging set).
   * @default 12 (ticks)
   */
  livenessTimeoutTicks?: number;
  /**
   * Store ticks over which the quiesced followers of a leader whose node went down wake:
   * each wakes after a jitter drawn from `random` in [0, this), so that they do not all
   * campaign at once and split the first vote (the first to wake usually wins and wakes the
   * others with its messages). 1 wakes them all at once. Two followers of a range wake in
   * the same tick with probability 1/this, so a window of an election timeout keeps split
   * votes rare (bench:wake measures elections per range); the median failover is shorter
   * than without it, since a split costs a whole randomized election timeout.
   * @default electionTimeoutTicks (ticks); at most 255
   */
  leaderDownWakeSpreadTicks?: number;
  /** Bytes per append message. @default 1048576 (bytes: 1 MiB) */
  maxSizePerMsgBytes?: number;
  /** Append messages in flight to one follower. @default 64 (messages) */
  maxInflightMsgs?: number;
  /** Replicas the store may hold. @default 16777216 (replicas: 2^24) */
  replicasMax?: number;
  /**
   * Messages waiting in one replica's inbox between two of its turns; more are dropped (Raft
   * retransmits) and counted.
   * @default 4096 (messages)
   */
  inboxMessagesMax?: number;
  /**
   * Largest payload `propose` accepts. Keep it below the transport's `frameBytesMax` less
   * the framing of one append (a larger entry could never leave the leader).
   * @default 16711680 (bytes: 16 MiB, the transports' default frame limit, less 64 KiB)
   */
  proposalBytesMax?: number;
  /**
   * Replicas created by messages of unknown ranges and not yet initialized by a snapshot;
   * messages that would create more are refused and counted.
   * @default 4096 (replicas)
   */
  uninitializedReplicasMax?: number;
  /**
   * Store ticks an uninitialized replica waits for its snapshot before it is collected
   * (unless it voted). A later message re-creates it.
   * @default 300 (ticks: 60 s at a 200 ms tick)
   */
  uninitializedReplicaTimeoutTicks?: number;
  /**
   * The storage engine every replica's Raft state lives in (one per store). The store
   * creates each replica's storage on it and commits one engine batch per scheduler batch.
   * @default a new `MemoryEngine` (nothing survives the process)
   */
  storageEngine?: StorageEngine;
  /**
   * The clock `start()` drives the store's ticks with (and the scheduler's batches, unless
   * `scheduler.clock` says otherwise).
   * @default systemClock (real time)
   */
  clock?: Clock;
  /** Scheduler options (the store supplies `onBatchEnd`). @default scheduler defaults */
  scheduler?: Omit<SchedulerOptions, 'onBatchEnd'>;
  /** Ticker options (tick interval, spread, slept-ticks cap). @default ticker defaults */
  ticker?: TickerOptions;
  /** Log truncation and snapshot streaming (snapshot_options.ts). @default see there */
  snapshots?: SnapshotOptions;
}

/** `StoreOptions` with every default applied. */
export interface StoreConfig {
  nodeId: number;
  transport: Transport;
  stateMachine: StateMachine;
  random: RandomSource;
  logger: Logger | null;
  electionTimeoutTicks: number;
  heartbeatIntervalTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  quiescence: boolean;
  quiesceAfterTicks: number;
  releaseQuiescedNodes: boolean;
  livenessIntervalTicks: number;
  livenessTimeoutTicks: number;
  leaderDownWakeSpreadTicks: number;
  maxSizePerMsgBytes: number;
  maxInflightMsgs: number;
  replicasMax: number;
  inboxMessagesMax: number;
  proposalBytesMax: number;
  uninitializedReplicasMax: number;
  uninitializedReplicaTimeoutTicks: number;
  storageEngine: StorageEngine;
  clock: Clock;
  scheduler: Omit<SchedulerOptions, 'onBatchEnd'>;
  ticker: TickerOptions;
  snapshots: SnapshotConfig;
}

const KEYS = [
  'nodeId', 'transport', 'stateMachine', 'random', 'logger', 'electionTimeoutTicks',
  'heartbeatIntervalTicks', 'preVote', 'checkQuorum', 'quiescence', 'quiesceAfterTicks',
  'releaseQuiescedNodes', 'livenessIntervalTicks', 'livenessTimeoutTicks',
  'leaderDownWakeSpreadTicks',
  'maxSizePerMsgBytes', 'maxInflightMsgs', 'replicasMax', 'inboxMessagesMax', 'storageEngine',
  'clock', 'scheduler', 'ticker', 'proposalBytesMax', 'uninitializedReplicasMax',
  'uninitializedReplicaTimeoutTicks', 'snapshots',
] as const;

/** The transports' default frame limit (16 MiB) less room for one append's framing. */
const PROPOSAL_BYTES_MAX_DEFAULT = 16 * 2 ** 20 - 64 * 2 ** 10;

/** Applies defaults to `options` and validates them; throws `ConfigError` on a bad value. */
export function resolveStoreOptions(options: StoreOptions): StoreConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('store options must be an object');
  }
  rejectUnknownKeys('store', options, KEYS);
  const electionTimeoutTicks = integerIn('electionTimeoutTicks',
    options.electionTimeoutTicks ?? 15, 2, 10_000);
  const heartbeatIntervalTicks = integerIn('heartbeatIntervalTicks',
    options.heartbeatIntervalTicks ?? 5, 1, electionTimeoutTicks - 1);
  const config: StoreConfig = {
    nodeId: integerIn('nodeId', options.nodeId, 1, Number.MAX_SAFE_INTEGER - 2),
    transport: requiredObject('transport', options.transport, 'send'),
    stateMachine: requiredObject('stateMachine', options.stateMachine, 'apply'),
    random: requiredObject('random', options.random, 'intn'),
    logger: options.logger ?? null,
    electionTimeoutTicks,
    heartbeatIntervalTicks,
    preVote: booleanOr('preVote', options.preVote, true),
    checkQuorum: booleanOr('checkQuorum', options.checkQuorum, true),
    quiescence: booleanOr('quiescence', options.quiescence, true),
    quiesceAfterTicks: integerIn('quiesceAfterTicks', options.quiesceAfterTicks ?? 3, 1, 255),
    releaseQuiescedNodes: booleanOr('releaseQuiescedNodes', options.releaseQuiescedNodes, true),
    livenessIntervalTicks: integerIn('livenessIntervalTicks',
      options.livenessIntervalTicks ?? 1, 1, 10_000),
    livenessTimeoutTicks: integerIn('livenessTimeoutTicks',
      options.livenessTimeoutTicks ?? 12, 2, 100_000),
    leaderDownWakeSpreadTicks: integerIn('leaderDownWakeSpreadTicks',
      options.leaderDownWakeSpreadTicks ?? Math.min(255, electionTimeoutTicks), 1, 255),
    maxSizePerMsgBytes: integerIn('maxSizePerMsgBytes',
      options.maxSizePerMsgBytes ?? 1 << 20, 1, 1 << 30),
    maxInflightMsgs: integerIn('maxInflightMsgs', options.maxInflightMsgs ?? 64, 1, 1 << 16),
    replicasMax: integerIn('replicasMax', options.replicasMax ?? 1 << 24, 1, 1 << 30),
    inboxMessagesMax: integerIn('inboxMessagesMax', options.inboxMessagesMax ?? 4096, 1,
      1 << 24),
    proposalBytesMax: integerIn('proposalBytesMax',
      options.proposalBytesMax ?? PROPOSAL_BYTES_MAX_DEFAULT, 0, 2 ** 31),
    uninitializedReplicasMax: integerIn('uninitializedReplicasMax',
      options.uninitializedReplicasMax ?? 4096, 0, 1 << 24),
    uninitializedReplicaTimeoutTicks: integerIn('uninitializedReplicaTimeoutTicks',
      options.uninitializedReplicaTimeoutTicks ?? 300, 1, 1 << 24),
    storageEngine: requiredObject('storageEngine', options.storageEngine ?? new MemoryEngine(),
      'createReplica'),
    clock: requiredObject('clock', options.clock ?? systemClock, 'setTimer'),
    scheduler: options.scheduler ?? {},
    ticker: options.ticker ?? {},
    snapshots: resolveSnapshotOptions(options.snapshots ?? {}),
  };
  requiredObject('stateMachine.applySnapshot', config.stateMachine, 'applySnapshot');
  if (config.livenessTimeoutTicks <= config.livenessIntervalTicks) {
    throw new ConfigError('livenessTimeoutTicks must exceed livenessIntervalTicks');
  }
  assert(config.heartbeatIntervalTicks < config.electionTimeoutTicks, 'heartbeat < election');
  return config;
}
