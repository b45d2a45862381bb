/**
 * `Store`: many Raft groups in one process, sharing one scheduler, one tick clock, one
 * random source and one transport. See `index.ts` for the contract. This file is the public
 * face; the mechanism is in the private files `_context.ts` lists, one per job.
 */
import { assert, type TimerHandle } from '../util/index.js';
import type { ConfChangeV2, ConfState, SnapshotStatus } from '../raft/index.js';
import {
  WorkFlag,
  type GroupId,
  type GroupProcessor,
  type Scheduler,
  type Ticker,
} from '../scheduler/index.js';
import type {
  Envelope, HeartbeatCursor, SnapshotChunk, TransportHandler,
} from '../transport/index.js';
import type { EngineBatch } from '../storage/index.js';
import { NotLeaderError } from './errors.js';
import type { StoreConfig, StoreOptions } from './options.js';
import type { RangeConfig } from './range_config.js';
import type { StorageCommitObserver, StoreStats } from './stats.js';
import type { RaftStatus, ReplicaStatus, StoreSummary } from './status.js';
import { StoreContext, WakeReason } from './_context.js';
import { createInitialized, loadDormantStorage } from './_replicas.js';
import { ReplicaBrokenError } from './input_errors.js';
import { openReplicas, type StoreOpenOptions } from './_open.js';
import { checkPayload } from './api_check.js';
import { wake } from './_quiescer.js';
import { processTick } from './_tick.js';
import { tickStore } from './_liveness_driver.js';
import {
  handleBatch,
  handleHeartbeats,
  processMessages,
  reportSnapshot,
  reportUnreachable,
} from './_messages.js';
import { finishBatch, processReady } from './_ready.js';
import { SnapshotStreams } from './_snapshots.js';
import { raftStatus, readStatus, summary } from './_status_reads.js';
import { proposeConfChange, transferLeadership } from './_conf_change.js';
import { destroyReplica } from './_destroy.js';

/**
 * The store: hosts the replicas of many Raft groups (one per range) on one node. It is the
 * scheduler's `GroupProcessor` and the transport's `TransportHandler`.
 */
export class Store implements GroupProcessor, TransportHandler {
  readonly config: Readonly<StoreConfig>;
  readonly nodeId: number;
  readonly scheduler: Scheduler;
  readonly ticker: Ticker;
  readonly stats: StoreStats;
  private readonly core: StoreContext;
  private subTicks = 0;
  /** The pending tick timer while started (`start`), else null. */
  private timer: TimerHandle | null = null;
  private nextTickAtMs = 0;

  /** @param options see `StoreOptions`; invalid values throw `ConfigError`. */
  constructor(options: StoreOptions) {
    const core = new StoreContext(options, this, () => finishBatch(core));
    this.core = core;
    this.config = core.config;
    this.nodeId = core.nodeId;
    this.scheduler = core.scheduler;
    this.ticker = core.ticker;
    this.stats = core.stats;
    core.snapshots = SnapshotStreams.create(core);
    this.config.transport.setHandler(this);
  }

  /**
   * Opens a store on an engine that may already hold replicas (a restart): opens the engine
   * (pass it unopened; a memory engine may have served an earlier, closed store) and seats
   * every replica it holds in one scan of its metadata, dormant where everything committed
   * is applied: no storage object and no Raft node until the first message, proposal, read,
   * campaign or wake (see `_open.ts`). A woken replica knows no leader: a request on it
   * throws `NotLeaderError` until the group has elected one (it does so by itself after an
   * election timeout, or at once with `campaign`), or a message of its live leader came.
   * Each seated replica's applied index is handed to `StateMachine.replicaOpened` first.
   * A replica whose records are corrupt is refused (`ReplicaBrokenError` on every request);
   * every other range serves.
   * @throws ConfigError (options), StoreFullError (more replicas than `replicasMax`),
   *   StorageIdentityError / StorageVersionError (the engine's directory is not this
   *   store's, or of an unknown format; nothing was written)
   */
  static async open(options: StoreOptions, openOptions: StoreOpenOptions = {}):
    Promise<Store> {
    const store = new Store(options);
    // Until every replica is seated the store is not open to anyone: a peer's message
    // arriving meanwhile is refused as to a closed store (counted; Raft sends it again),
    // rather than creating an uninitialized replica of a range the scan has yet to reach.
    store.core.closed = true;
    await openReplicas(store.core, openOptions);
    store.core.closed = false;
    return store;
  }

  // ---------------------------------------------------------------------------------------
  // Ranges and requests.

  /** Number of replicas on this store. */
  get replicaCount(): number {
    return this.core.replicaCount;
  }

  /** Whether quiescence is on. */
  get quiescenceEnabled(): boolean {
    return this.core.quiescence;
  }

  /** Whether this store holds a replica of `rangeId`. */
  hasRange(rangeId: number): boolean {
    this.core.checkOpen();
    return this.core.table.slotOfRange.has(rangeId);
  }

  /** Calls `visit` with the range id of every replica, in creation order. */
  forEachRange(visit: (rangeId: number) => void): void {
    this.core.checkOpen();
    const t = this.core.table;
    for (let id = 0; id < t.allocated; id++) {
      if (t.isUsed(id)) visit(t.rangeIds[id]!);
    }
  }

  /**
   * Creates an initialized replica of a new range (a bootstrap, or the right-hand side of a
   * split on every replica of it). The replica is awake and elects a leader by itself after
   * an election timeout, or at once with `campaign`. An UNINITIALIZED replica of the range
   * (created by a peer's message) is initialized in place, keeping its term and vote; that
   * must not happen inside the store's batch end (call it from outside `apply`).
   * Every argument is checked first; a refused call changes nothing.
   * @throws InvalidRangeIdError, InvalidRangeConfigError, RangeExistsError, StoreFullError,
   *   StoreClosedError, RangeBusyError (that uninitialized replica's batch is in flight)
   */
  createRange(rangeId: number, range: RangeConfig): void {
    createInitialized(this.core, rangeId, range);
  }

  /**
   * Proposes a copy of `data` to the range's log. On a follower the proposal is forwarded to
   * the leader. Wakes the group (and, through the forwarded proposal, its leader).
   *
   * AT LEAST ONCE: a forwarded proposal travels as a message, and a network that duplicates
   * messages can make the leader append it twice, so an entry may be applied more than
   * once. Commands must be idempotent (the range layer gives each command an id).
   * @throws InvalidRangeIdError, InvalidPayloadError (not a Uint8Array), PayloadTooLargeError
   *   (above `proposalBytesMax`), RangeNotFoundError, RangeNotInitializedError,
   *   ReplicaBrokenError, NotLeaderError (no leader known), ProposalDroppedError (e.g. during
   *   a leadership transfer), StoreClosedError
   */
  propose(rangeId: number, data: Uint8Array): void {
    const core = this.core;
    const id = core.initializedGroup(rangeId);
    const payload = checkPayload(data, core.config.proposalBytesMax);
    wake(core, id, WakeReason.Proposal);
    const node = core.settled(id);
    if (node.lead === 0) throw new NotLeaderError(rangeId, 0);
    core.table.idleTicks[id] = 0;
    node.propose(payload);
    core.stats.proposals++;
    core.scheduler.enqueue(id, WorkFlag.Ready);
  }

  /**
   * Asks for a read index (etcd's ReadIndex, safe mode: the leader confirms its leadership
   * with a heartbeat round). `context` identifies the request; the state machine's
   * `readIndexDone` receives it with the index, on this replica, once known. On a follower
   * the request is forwarded to the leader. A request may be dropped (leader change): the
   * caller times it out.
   * @throws RangeNotFoundError, RangeNotInitializedError, NotLeaderError (no leader known)
   */
  readIndex(rangeId: number, context: Uint8Array): void {
    const core = this.core;
    const id = core.initializedGroup(rangeId);
    wake(core, id, WakeReason.Proposal);
    const node = core.settled(id);
    if (node.lead === 0) throw new NotLeaderError(rangeId, 0);
    node.readIndex(context);
    core.scheduler.enqueue(id, WorkFlag.Ready);
  }

  // ---------------------------------------------------------------------------------------
  // Membership and replica lifetime (_conf_change.ts, _destroy.ts).

  /**
   * Proposes a membership change (ConfChangeV2; several changes at once go through joint
   * consensus, and `ConfChangeTransitionJointExplicit` stays joint until an empty change
   * leaves it). Only on the range's leader. Checked first against the applied configuration
   * with Raft's rules and for quorum (see _conf_change.ts); a refused call changes nothing.
   * Raft may still ignore an accepted change (another one is unapplied): the outcome is the
   * state machine's `confChanged`, on every replica, when it applies.
   * @throws InvalidRangeIdError, RangeNotFoundError, RangeNotInitializedError,
   *   ReplicaBrokenError, InvalidConfChangeError (malformed, a bad node id),
   *   NotLeaderError (not the leader; names the one it knows), ConfChangeRefusedError,
   *   ConfChangeQuorumError, StoreClosedError
   */
  proposeConfChange(rangeId: number, change: ConfChangeV2): void {
    proposeConfChange(this.core, rangeId, change);
  }

  /** The configuration the replica of `rangeId` has applied (a copy). @throws as `propose` */
  confState(rangeId: number): ConfState {
    const core = this.core;
    const id = core.initializedGroup(rangeId);
    if (!loadDormantStorage(core, id)) throw new ReplicaBrokenError(rangeId);
    const cs = core.table.storages[id]!.appliedState().confState;
    return { voters: [...cs.voters], learners: [...cs.learners],
      votersOutgoing: [...cs.votersOutgoing], learnersNext: [...cs.learnersNext],
      autoLeave: cs.autoLeave };
  }

  /**
   * Hands the leadership of `rangeId` to `toNodeId` (Raft's leader transfer; the transferee
   * campaigns once caught up). Only on the leader. A leader that removed itself must do this
   * before it is destroyed: Raft keeps it leading a configuration it is not in.
   * @throws InvalidConfChangeError (not a node id), NotLeaderError, RangeNotFoundError, ...
   */
  transferLeadership(rangeId: number, toNodeId: number): void {
    transferLeadership(this.core, rangeId, toNodeId);
  }

  /**
   * Destroys the replica of `rangeId` (removed from its range, or merged away): its Raft
   * state is deleted in the engine, its table slot freed for the next replica. A later
   * message of the range creates an empty uninitialized replica, never the old state (see
   * _destroy.ts). The application deletes its own range-local rows and data in the same
   * engine batch, staged by `stage` (called once with it, after the Raft state). Not from
   * inside the store's batch end (call it from outside `apply`, as `createRange`).
   * @throws InvalidRangeIdError, RangeNotFoundError, ReplicaBusyError (writes in flight:
   *   retry after the next batch), ReplicaBrokenError (records the engine refuses: isolated,
   *   kept), StoreClosedError
   */
  destroyReplica(rangeId: number, stage?: (batch: EngineBatch) => void): void {
    destroyReplica(this.core, rangeId, stage);
  }

  /** Makes the replica campaign for leadership now (a no-op on a leader). */
  campaign(rangeId: number): void {
    const core = this.core;
    const id = core.initializedGroup(rangeId);
    wake(core, id, WakeReason.Local);
    core.settled(id).campaign();
    core.scheduler.enqueue(id, WorkFlag.Ready);
  }

  /** Wakes a quiesced replica (a follower also wakes its leader). A no-op if awake. */
  wakeRange(rangeId: number): void {
    const core = this.core;
    const id = core.initializedGroup(rangeId);
    wake(core, id, WakeReason.Local);
    core.scheduler.enqueue(id, WorkFlag.Ready);
  }

  /**
   * Sets (or, with null, removes) the observer told of every storage engine commit: groups,
   * bytes and seconds of each (see `StorageCommitObserver`). Unset, the store reads no clock
   * for it. The node's metrics feed their storage histograms from it.
   */
  observeStorageCommits(observer: StorageCommitObserver | null): void {
    assert(observer === null || typeof observer === 'function', 'an observer is a function');
    this.core.storageCommitObserver = observer;
  }

  /**
   * Turns quiescence on or off. Turning it off wakes every quiesced group, which then ticks
   * and heartbeats forever (the baseline the density benchmark measures).
   */
  setQuiescence(enabled: boolean): void {
    const core = this.core;
    core.checkOpen();
    core.quiescence = enabled;
    const t = core.table;
    if (enabled) {
      // Leaders must check for quiescence on every tick again: pay their deferred ticks.
      t.settleAll();
      return;
    }
    for (let i = 0; i < t.allocated; i++) {
      if (t.isQuiesced(i)) wake(core, t.slotAt(i), WakeReason.Message);
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
    this.core.checkOpen();
    this.ticker.tick();
    this.subTicks++;
    if (this.subTicks % this.ticker.config.tickSpreadSlots === 0) tickStore(this.core);
  }

  /** Runs batches until no group has work (synchronous drivers: tests, benchmarks). */
  runUntilIdle(): number {
    this.core.checkOpen();
    return this.scheduler.runUntilIdle();
  }

  /**
   * Drives itself on its clock (`StoreOptions.clock`): one timer per sub-tick, re-armed
   * against the schedule so that it does not drift, and batches as the scheduler runs them.
   */
  start(): void {
    this.core.checkOpen();
    assert(this.timer === null, 'store already started');
    this.scheduler.start();
    this.nextTickAtMs = this.config.clock.nowMs();
    this.armTick();
  }

  /** Stops driving itself; resolves once the current batch has finished. */
  async stop(): Promise<void> {
    if (this.timer === null) return;
    this.config.clock.clearTimer(this.timer);
    this.timer = null;
    await this.scheduler.stop();
  }

  private armTick(): void {
    const clock = this.config.clock;
    this.nextTickAtMs += this.ticker.subTickIntervalMs;
    // Behind schedule (a long batch): tick at once rather than in a burst of catch-ups;
    // the ticker's debt cap absorbs what was missed.
    const delayMs = Math.max(0, this.nextTickAtMs - clock.nowMs());
    if (delayMs === 0) this.nextTickAtMs = clock.nowMs();
    this.timer = clock.setTimer(delayMs, this.onTickTimer);
  }

  private readonly onTickTimer = (): void => {
    // A tick must never throw out of a timer: a closing store is not ticked.
    if (this.timer === null || this.core.closed) return;
    this.tick();
    this.armTick();
  };

  /**
   * Stops the store for good. From the call on (not only once it resolves) every method
   * throws `StoreClosedError` and inbound messages are refused and counted; resolves once the
   * current batch has finished. Idempotent.
   */
  async close(): Promise<void> {
    this.core.closed = true;
    await this.stop();
    // Writes in flight complete (their messages and applies follow) before the engine closes.
    await this.core.pipeline.whenIdle();
    await this.core.snapshots?.close();
  }

  // ---------------------------------------------------------------------------------------
  // GroupProcessor (the scheduler's calls, one group's turn at a time).

  /** Steps the group's inbox into its node, handling quiesce heartbeats. */
  processMessages(gid: GroupId): boolean {
    return processMessages(this.core, gid);
  }

  /** One tick (deferred when it would only advance the clocks; see `_tick.ts`). */
  processTick(gid: GroupId): boolean {
    // A broken replica has no node, a collected one no slot; the scheduler may still hold
    // work queued for either.
    if (!this.core.table.isServing(gid)) return false;
    return processTick(this.core, gid);
  }

  /** Takes the group's Ready; its writes, sends and applies happen at the batch end. */
  processReady(gid: GroupId): void {
    if (this.core.table.isServing(gid)) processReady(this.core, gid);
  }

  // ---------------------------------------------------------------------------------------
  // TransportHandler.

  /** Queues each envelope in its group's inbox, creating replicas of unknown groups. */
  handleBatch(fromNodeId: number, envelopes: Envelope[]): void {
    handleBatch(this.core, fromNodeId, envelopes);
  }

  /** Fans in a frame's coalesced heartbeats without a message object per row. */
  handleHeartbeats(fromNodeId: number, rows: HeartbeatCursor): void {
    handleHeartbeats(this.core, fromNodeId, rows);
  }

  /** Awake groups whose messages to `toNodeId` were dropped go back to probing it. */
  reportUnreachable(toNodeId: number, rangeIds: readonly number[]): void {
    reportUnreachable(this.core, toNodeId, rangeIds);
  }

  /** Tells an awake leader how its snapshot to `toNodeId` ended. */
  reportSnapshot(rangeId: number, toNodeId: number, status: SnapshotStatus): void {
    reportSnapshot(this.core, rangeId, toNodeId, status);
  }

  /** A range snapshot chunk (or its receiver's answer) from `fromNodeId`. */
  handleSnapshotChunk(fromNodeId: number, chunk: SnapshotChunk): void {
    if (!this.core.closed) this.core.snapshots?.onChunk(fromNodeId, chunk);
  }

  // ---------------------------------------------------------------------------------------
  // Status.

  /**
   * Fills `out` with the basic status of the range's replica without allocating and without
   * waking it. @returns false if the store has no replica of `rangeId`.
   */
  readStatus(rangeId: number, out: ReplicaStatus): boolean {
    this.core.checkOpen();
    return readStatus(this.core, rangeId, out);
  }

  /**
   * The full status, with every peer's progress on a leader (allocates; for on-demand use).
   * A dormant replica is rebuilt for the occasion (and released again), not woken.
   */
  raftStatus(rangeId: number): RaftStatus | undefined {
    this.core.checkOpen();
    return raftStatus(this.core, rangeId);
  }

  /** Folds every replica into `out` (which it zeroes first). O(replicas), no allocation. */
  summary(out: StoreSummary): StoreSummary {
    this.core.checkOpen();
    return summary(this.core, out);
  }

  /** Bytes held by the store's per-replica arrays (typed arrays and pointer slots). */
  get tableBytes(): number {
    return this.core.table.memoryBytes + this.core.rows.memoryBytes +
      this.scheduler.memoryBytes + this.ticker.memoryBytes;
  }

  /** Whether `nodeId` is live as this store sees it. */
  isNodeLive(nodeId: number): boolean {
    this.core.checkOpen();
    return this.core.liveness.isLive(nodeId);
  }
}
