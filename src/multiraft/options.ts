/**
 * Options of a `Store`: every limit is named, documented with its unit and default, and
 * validated once at construction. A bad value throws `ConfigError`, never later.
 */
import type { Logger } from 'pino';
import { assert, ConfigError } from '../util/index.js';
import type { RandomSource, Entry, Snapshot } from '../raft/index.js';
import type { SchedulerOptions, TickerOptions } from '../scheduler/index.js';
import type { Transport } from '../transport/index.js';

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
   */
  apply(rangeId: number, entry: Entry): void;
  /** Replaces the range's state with a snapshot's (a lazily created replica catching up). */
  applySnapshot(rangeId: number, snapshot: Snapshot): void;
  /**
   * Optional: whether an UNINITIALIZED replica may take this snapshot (CockroachDB's
   * `canApplySnapshot`). The ranges layer refuses the empty initial snapshot of a range born
   * of a split that has not applied on this store yet: the split will initialize the
   * replica, and a replica initialized earlier would apply the new range's entries before
   * the left range's last ones. A refused MsgSnap is dropped (and counted); the leader sends
   * it again later. Called in the replica's turn; must not call back into the store.
   * @default every snapshot is accepted
   */
  acceptsSnapshot?(rangeId: number, snapshot: Snapshot): boolean;
  /**
   * Optional: a `Store.readIndex` request of this replica completed: once the replica has
   * applied `index`, a read of its state is linearizable (etcd's ReadState). Called in the
   * replica's turn, before the turn's entries are applied; must not call back into the
   * store except to `propose` or `readIndex`.
   * @default read states are dropped
   */
  readIndexDone?(rangeId: number, index: number, context: Uint8Array): void;
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
  /** Scheduler options (the store supplies `onBatchEnd`). @default scheduler defaults */
  scheduler?: Omit<SchedulerOptions, 'onBatchEnd'>;
  /** Ticker options (tick interval, spread, slept-ticks cap). @default ticker defaults */
  ticker?: TickerOptions;
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
  maxSizePerMsgBytes: number;
  maxInflightMsgs: number;
  replicasMax: number;
  inboxMessagesMax: number;
  scheduler: Omit<SchedulerOptions, 'onBatchEnd'>;
  ticker: TickerOptions;
}

const KEYS = [
  'nodeId', 'transport', 'stateMachine', 'random', 'logger', 'electionTimeoutTicks',
  'heartbeatIntervalTicks', 'preVote', 'checkQuorum', 'quiescence', 'quiesceAfterTicks',
  'releaseQuiescedNodes', 'livenessIntervalTicks', 'livenessTimeoutTicks',
  'maxSizePerMsgBytes', 'maxInflightMsgs', 'replicasMax', 'inboxMessagesMax', 'scheduler',
  'ticker',
] as const;

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`${name} must be a boolean`);
  return value;
}

function required<T>(name: string, value: T | undefined, method?: string): T {
  if (value === undefined || value === null) throw new ConfigError(`${name} is required`);
  if (method !== undefined && typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw new ConfigError(`${name} must have a ${method}() method`);
  }
  return value;
}

/** Applies defaults to `options` and validates them; throws `ConfigError` on a bad value. */
export function resolveStoreOptions(options: StoreOptions): StoreConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('store options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`unknown store option: ${key}`);
    }
  }
  const electionTimeoutTicks = integerIn('electionTimeoutTicks',
    options.electionTimeoutTicks ?? 15, 2, 10_000);
  const heartbeatIntervalTicks = integerIn('heartbeatIntervalTicks',
    options.heartbeatIntervalTicks ?? 5, 1, electionTimeoutTicks - 1);
  const config: StoreConfig = {
    nodeId: integerIn('nodeId', options.nodeId, 1, Number.MAX_SAFE_INTEGER - 2),
    transport: required('transport', options.transport, 'send'),
    stateMachine: required('stateMachine', options.stateMachine, 'apply'),
    random: required('random', options.random, 'intn'),
    logger: options.logger ?? null,
    electionTimeoutTicks,
    heartbeatIntervalTicks,
    preVote: bool('preVote', options.preVote, true),
    checkQuorum: bool('checkQuorum', options.checkQuorum, true),
    quiescence: bool('quiescence', options.quiescence, true),
    quiesceAfterTicks: integerIn('quiesceAfterTicks', options.quiesceAfterTicks ?? 3, 1, 255),
    releaseQuiescedNodes: bool('releaseQuiescedNodes', options.releaseQuiescedNodes, true),
    livenessIntervalTicks: integerIn('livenessIntervalTicks',
      options.livenessIntervalTicks ?? 1, 1, 10_000),
    livenessTimeoutTicks: integerIn('livenessTimeoutTicks',
      options.livenessTimeoutTicks ?? 12, 2, 100_000),
    maxSizePerMsgBytes: integerIn('maxSizePerMsgBytes',
      options.maxSizePerMsgBytes ?? 1 << 20, 1, 1 << 30),
    maxInflightMsgs: integerIn('maxInflightMsgs', options.maxInflightMsgs ?? 64, 1, 1 << 16),
    replicasMax: integerIn('replicasMax', options.replicasMax ?? 1 << 24, 1, 1 << 30),
    inboxMessagesMax: integerIn('inboxMessagesMax', options.inboxMessagesMax ?? 4096, 1,
      1 << 24),
    scheduler: options.scheduler ?? {},
    ticker: options.ticker ?? {},
  };
  required('stateMachine.applySnapshot', config.stateMachine, 'applySnapshot');
  if (config.livenessTimeoutTicks <= config.livenessIntervalTicks) {
    throw new ConfigError('livenessTimeoutTicks must exceed livenessIntervalTicks');
  }
  assert(config.heartbeatIntervalTicks < config.electionTimeoutTicks, 'heartbeat < election');
  return config;
}
