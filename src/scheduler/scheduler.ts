/**
 * `Scheduler`: which groups have work, and running that work in batches on the event loop.
 * See `index.ts` for the contract; this file holds the mechanism.
 */
import { assert, type TimerHandle } from '../util/index.js';
import type { GroupId } from './group_id.js';
import { assertGroup } from './_assert.js';
import { growTo, IdRing } from './_ring.js';
import { resolveSchedulerOptions } from './options.js';
import type { SchedulerConfig, SchedulerOptions } from './options.js';

/**
 * The kinds of work a group can have, as bit flags for `Scheduler.enqueue`. Combine with `|`.
 * However many flags arrive, a group sits in the queue at most once; only `Tick` counts.
 */
export const WorkFlag = {
  /** Inbound Raft messages are waiting in the store's per-group inbox. */
  Message: 1,
  /** One tick of the group's logical clock is due (counted, up to `tickDebtMax`). */
  Tick: 2,
  /** The group may have a `Ready` to handle (a proposal, a storage or apply completion). */
  Ready: 4,
} as const;

/** A combination of `WorkFlag` bits; never zero when enqueued. */
export type WorkFlags = number;

const MESSAGE = WorkFlag.Message;
const TICK = WorkFlag.Tick;
const READY = WorkFlag.Ready;
const WORK_MASK = MESSAGE | TICK | READY;
/** The group is in a lane, or is being processed (and will be re-pushed if it has work). */
const QUEUED = 8;
/** The group runs from the priority lane (a system range). Persistent, not work. */
const PRIORITY = 16;

/**
 * What the store implements so the scheduler can run a group. Called only from inside a
 * batch, one group at a time, in the order messages → ticks → ready (see `Scheduler`).
 * A processor may call `Scheduler.enqueue` for any group, itself included; it must not
 * start a batch. An exception thrown here is a programmer error and leaves the scheduler
 * unusable.
 */
export interface GroupProcessor {
  /**
   * Steps the group's pending inbound messages into its Raft node.
   * @returns true if the group should now handle a `Ready` (it will, in this same turn).
   */
  processMessages(id: GroupId): boolean;
  /**
   * Advances the group's logical clock by one tick. Called once per owed tick.
   * @returns true if the group should now handle a `Ready` (it will, in this same turn).
   */
  processTick(id: GroupId): boolean;
  /** Handles the group's `Ready`: stage its writes into this batch, queue its messages. */
  processReady(id: GroupId): void;
}

/** Why the last batch ended. */
export const BatchStop = {
  /** The queue ran empty. */
  Idle: 0,
  /** `batchBudgetMs` elapsed. */
  Budget: 1,
  /** `batchGroupsMax` (or the `groupsMax` argument) groups ran. */
  GroupsMax: 2,
} as const;

/** One of the `BatchStop` values. */
export type BatchStopReason = (typeof BatchStop)[keyof typeof BatchStop];

/** Counters the scheduler keeps; one object, updated in place (no allocation per batch). */
export interface SchedulerStats {
  /** Batches that processed at least one group. */
  batches: number;
  /** Groups processed (one per pop from a lane). */
  groupsProcessed: number;
  /** Groups pushed back because work arrived while they were being processed. */
  requeues: number;
  /** Ticks dropped because the group already owed `tickDebtMax` ticks. */
  ticksDropped: number;
  /** Batches ended by `batchBudgetMs`. */
  batchesStoppedByBudget: number;
  /** Batches ended by the group count limit. */
  batchesStoppedByGroupsMax: number;
  /** Why the most recent batch ended. */
  lastBatchStop: BatchStopReason;
}

/**
 * Groups processed between two reads of the clock for the batch budget (a power of two). A
 * batch overruns its budget by at most this many groups' cost (plus the first group's).
 */
export const BUDGET_CHECK_GROUPS = 16;
assert((BUDGET_CHECK_GROUPS & (BUDGET_CHECK_GROUPS - 1)) === 0, 'a power of two');

function isPromiseLike(value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === 'function';
}

/**
 * The per-store Raft scheduler. Holds, per group, one byte of flags and one byte of owed
 * ticks in typed arrays indexed by group id, and two FIFO rings of group ids: the priority
 * lane and the normal lane. Drive it synchronously (`runBatch`, `runUntilIdle`: tests and
 * the simulation) or let it drive itself on the event loop (`start`/`stop`: real nodes).
 */
export class Scheduler {
  /** Resolved options (defaults applied, validated). */
  readonly config: Readonly<SchedulerConfig>;
  /** Live counters; read them, do not write them. */
  readonly stats: SchedulerStats = {
    batches: 0,
    groupsProcessed: 0,
    requeues: 0,
    ticksDropped: 0,
    batchesStoppedByBudget: 0,
    batchesStoppedByGroupsMax: 0,
    lastBatchStop: BatchStop.Idle,
  };

  /** Per group: WORK bits | QUEUED | PRIORITY. */
  private flags: Uint8Array;
  /** Per group: ticks owed. Invariant: ticks[id] > 0 iff flags[id] has TICK. */
  private ticks: Uint8Array;
  private readonly priorityLane: IdRing;
  private readonly normalLane: IdRing;
  /** Priority pops still owed to the ids that were in the priority lane at batch start. */
  private priorityQuota = 0;
  /** The group being processed, or -1. */
  private processingId = -1;
  /** A batch (or its onBatchEnd hook) is running. */
  private running = false;
  private hookResult: void | Promise<void> = undefined;
  /** Async mode state. */
  private started = false;
  /** The pending "run soon" timer of async mode (`clock.setTimer(0)`), or null. */
  private immediate: TimerHandle | null = null;
  private hookPending: Promise<void> | null = null;

  /**
   * @param processor the store's side: runs a group's messages, ticks and ready.
   * @param options limits and hooks; invalid values throw `ConfigError`.
   */
  constructor(
    private readonly processor: GroupProcessor,
    options: SchedulerOptions = {},
  ) {
    this.config = resolveSchedulerOptions(options);
    assert(processor !== null && typeof processor === 'object', 'processor must be an object');
    const { groupsInitial, groupIdsMax } = this.config;
    this.flags = new Uint8Array(groupsInitial);
    this.ticks = new Uint8Array(groupsInitial);
    this.priorityLane = new IdRing(Math.min(groupsInitial, 64), groupIdsMax);
    this.normalLane = new IdRing(groupsInitial, groupIdsMax);
  }

  /**
   * Marks `id` as having `flags` work and queues it unless it is already queued or being
   * processed (then the flags are merged and it runs again after the current turn). A
   * `Tick` adds one owed tick, up to `tickDebtMax`. O(1); allocates only to grow arrays.
   */
  enqueue(id: GroupId, flags: WorkFlags): void {
    // Messages that name a value are built only on failure: a template literal passed to
    // `assert` would format a string on every call of this hot path.
    assertGroup(id >= 0 && (id | 0) === id, id, 'not a non-negative int32 id');
    if (flags === 0 || (flags & ~WORK_MASK) !== 0) assert(false, `bad work flags ${flags}`);
    if (id >= this.flags.length) this.grow(id);
    const prev = this.flags[id]!;
    if ((flags & TICK) !== 0) {
      const owed = this.ticks[id]!;
      if (owed < this.config.tickDebtMax) this.ticks[id] = owed + 1;
      else this.stats.ticksDropped++;
    }
    if ((prev & QUEUED) !== 0) {
      // Already in a lane, or being processed: `finishGroup` re-pushes it (no lost wake-up).
      this.flags[id] = prev | flags;
      return;
    }
    this.flags[id] = prev | flags | QUEUED;
    if ((prev & PRIORITY) !== 0) this.priorityLane.push(id);
    else this.normalLane.push(id);
    if (this.started) this.scheduleSoon();
  }

  /**
   * Puts `id` in (or takes it out of) the priority lane for system ranges. Takes effect the
   * next time the group is queued; a group already waiting in the normal lane stays there.
   */
  setPriority(id: GroupId, priority: boolean): void {
    assertGroup(id >= 0 && (id | 0) === id, id, 'not a non-negative int32 id');
    if (id >= this.flags.length) this.grow(id);
    const prev = this.flags[id]!;
    this.flags[id] = priority ? prev | PRIORITY : prev & ~PRIORITY;
    assert(((this.flags[id] & PRIORITY) !== 0) === priority, 'priority bit set');
  }

  /** Whether `id` is in the priority lane's class. */
  isPriority(id: GroupId): boolean {
    return id < this.flags.length && (this.flags[id]! & PRIORITY) !== 0;
  }

  /** The work flags `id` has pending (0 if none). */
  pendingFlags(id: GroupId): WorkFlags {
    return id < this.flags.length ? this.flags[id]! & WORK_MASK : 0;
  }

  /** The ticks `id` owes and has not processed yet (the tick debt), at most `tickDebtMax`. */
  pendingTicks(id: GroupId): number {
    return id < this.ticks.length ? this.ticks[id]! : 0;
  }

  /** Whether `id` is waiting in a lane (or being processed and due to run again). */
  isQueued(id: GroupId): boolean {
    return id < this.flags.length && (this.flags[id]! & QUEUED) !== 0;
  }

  /** Groups waiting in both lanes. */
  get queuedCount(): number {
    return this.priorityLane.length + this.normalLane.length;
  }

  /** Whether any group waits to run. */
  get hasWork(): boolean {
    return this.priorityLane.length + this.normalLane.length > 0;
  }

  /** Whether async mode has a batch scheduled with setImmediate (false whenever idle). */
  get isScheduled(): boolean {
    return this.immediate !== null;
  }

  /** Bytes held by per-group arrays and lanes (for density accounting). */
  get memoryBytes(): number {
    return (
      this.flags.byteLength +
      this.ticks.byteLength +
      this.priorityLane.bytes +
      this.normalLane.bytes
    );
  }

  /**
   * Runs one batch synchronously: processes groups until the queue is empty, `groupsMax`
   * groups ran or `batchBudgetMs` elapsed, then calls `onBatchEnd` (which must not return a
   * promise here). Not allowed in async mode or from inside a batch.
   * @returns the number of groups processed.
   */
  runBatch(groupsMax: number = this.config.batchGroupsMax): number {
    assert(!this.started, 'runBatch in async mode: the scheduler drives itself');
    assert(Number.isInteger(groupsMax) && groupsMax >= 1, `bad groupsMax ${groupsMax}`);
    const processed = this.runBatchAndHook(groupsMax);
    const result = this.hookResult;
    this.hookResult = undefined;
    assert(!isPromiseLike(result), 'onBatchEnd returned a promise: drive with start()');
    return processed;
  }

  /**
   * Runs batches until no group waits. A group that re-enqueues itself forever is a bug in
   * the store (a livelock), caught by the `batchesMax` bound.
   * @returns the number of groups processed.
   */
  runUntilIdle(batchesMax = 1_000_000): number {
    assert(Number.isInteger(batchesMax) && batchesMax >= 1, `bad batchesMax ${batchesMax}`);
    let processed = 0;
    for (let batch = 0; this.hasWork; batch++) {
      if (batch >= batchesMax) assert(false, `not idle after ${batchesMax} batches: livelock`);
      processed += this.runBatch();
    }
    assert(!this.hasWork, 'idle after runUntilIdle');
    return processed;
  }

  /**
   * Async mode: from now on the scheduler runs batches by itself, each in its own
   * setImmediate callback, so I/O callbacks run between batches. It schedules a callback
   * only when a group is queued: an idle scheduler holds no timer and no immediate.
   */
  start(): void {
    assert(!this.started, 'scheduler already started');
    assert(!this.running, 'start from inside a batch');
    this.started = true;
    if (this.hasWork) this.scheduleSoon();
  }

  /**
   * Leaves async mode. Resolves once a pending `onBatchEnd` promise has settled (rejects
   * with its error); queued groups stay queued.
   */
  stop(): Promise<void> {
    assert(this.started, 'scheduler not started');
    this.started = false;
    if (this.immediate !== null) this.config.clock.clearTimer(this.immediate);
    this.immediate = null;
    return this.hookPending ?? Promise.resolve();
  }

  /**
   * Checks every invariant by a full scan: O(groups). For tests and the simulation only.
   * INVARIANTS: a group is in at most one lane, at most once; every id in a lane has QUEUED;
   * every group with QUEUED is in a lane or is being processed; every group with work has
   * QUEUED; TICK is set iff ticks are owed, and never more than `tickDebtMax`.
   */
  assertInvariants(): void {
    const seen = new Uint8Array(this.flags.length);
    for (const lane of [this.priorityLane, this.normalLane]) {
      for (let i = 0; i < lane.length; i++) {
        const id = lane.at(i);
        assertGroup(seen[id] === 0, id, 'queued twice');
        assertGroup((this.flags[id]! & QUEUED) !== 0, id, 'in a lane without QUEUED');
        seen[id] = 1;
      }
    }
    for (let id = 0; id < this.flags.length; id++) {
      const flags = this.flags[id]!;
      const queued = (flags & QUEUED) !== 0;
      assertGroup(!queued || seen[id] === 1 || id === this.processingId, id, 'lost');
      assertGroup((flags & WORK_MASK) === 0 || queued, id, 'has work but is not queued');
      assertGroup(((flags & TICK) !== 0) === (this.ticks[id]! > 0), id, 'tick bit/count');
      assertGroup(this.ticks[id]! <= this.config.tickDebtMax, id, 'over tick debt');
    }
  }

  private grow(id: number): void {
    assert(id < this.config.groupIdsMax, `group id ${id} >= groupIdsMax`);
    assert(this.flags.length === this.ticks.length, 'per-group arrays in step');
    this.flags = growTo(this.flags, id + 1, this.config.groupIdsMax);
    this.ticks = growTo(this.ticks, id + 1, this.config.groupIdsMax);
  }

  /** Runs a batch, then the hook; leaves the hook's return value in `hookResult`. */
  private runBatchAndHook(groupsMax: number): number {
    assert(!this.running, 'batch started from inside a batch');
    assert(this.processingId === -1, 'no group is being processed between batches');
    this.running = true;
    const processed = this.processBatch(groupsMax);
    if (processed > 0 && this.config.onBatchEnd !== undefined) {
      this.hookResult = this.config.onBatchEnd(processed);
    }
    this.running = false;
    return processed;
  }

  private processBatch(groupsMax: number): number {
    assert(groupsMax >= 1 && this.running, 'processBatch runs inside a batch');
    const { clock, batchBudgetMs } = this.config;
    const startMs = clock.nowMs();
    // Only groups already in the priority lane get to jump the normal lane in this batch:
    // a priority group that re-enqueues itself on every run then runs once per batch, not
    // forever ahead of everything else.
    this.priorityQuota = this.priorityLane.length;
    let processed = 0;
    let stop: BatchStopReason = BatchStop.Idle;
    while (this.hasWork) {
      if (processed >= groupsMax) {
        stop = BatchStop.GroupsMax;
        break;
      }
      // The clock is read after the first group (one slow group ends the batch at once) and
      // then after every BUDGET_CHECK_GROUPS groups: reading it after each one cost ~4% of an
      // awake tick, whose groups take about a microsecond each.
      if ((processed === 1 || (processed & (BUDGET_CHECK_GROUPS - 1)) === 0) &&
        processed > 0 && clock.nowMs() - startMs >= batchBudgetMs) {
        stop = BatchStop.Budget;
        break;
      }
      this.processGroup(this.popNext());
      processed++;
    }
    assert(processed <= groupsMax, 'batch within its group limit');
    this.recordBatch(processed, stop);
    return processed;
  }

  private recordBatch(processed: number, stop: BatchStopReason): void {
    assert(processed > 0 || stop === BatchStop.Idle, 'only an idle queue ends an empty batch');
    assert(stop !== BatchStop.Idle || !this.hasWork, 'an idle stop leaves no work');
    this.stats.lastBatchStop = stop;
    if (processed === 0) return;
    this.stats.batches++;
    this.stats.groupsProcessed += processed;
    if (stop === BatchStop.Budget) this.stats.batchesStoppedByBudget++;
    if (stop === BatchStop.GroupsMax) this.stats.batchesStoppedByGroupsMax++;
  }

  private popNext(): number {
    assert(this.priorityQuota <= this.priorityLane.length, 'priority quota within its lane');
    if (this.priorityQuota > 0) {
      this.priorityQuota--;
      return this.priorityLane.pop();
    }
    if (this.normalLane.length > 0) return this.normalLane.pop();
    return this.priorityLane.pop();
  }

  /**
   * Runs one group's turn. ORDER: messages, then ticks, then ready. Do not reorder.
   * - Messages before ticks: a quiesce heartbeat and a tick in the same turn must see the
   *   heartbeat first; the other way round the tick can start an election (and the ready
   *   would then un-quiesce the group) although the leader is alive. Likewise, heartbeats
   *   that already arrived must reset the election timer before owed ticks advance it.
   * - Ticks and messages before ready: the ready must collect everything this turn changed,
   *   so the group writes to storage and sends once per turn, inside this batch.
   */
  private processGroup(id: number): void {
    const flags = this.flags[id]!;
    const ticks = this.ticks[id]!;
    assertGroup((flags & QUEUED) !== 0 && (flags & WORK_MASK) !== 0, id, 'popped without work');
    // INVARIANT: the TICK bit is set iff the group owes ticks.
    assertGroup(((flags & TICK) !== 0) === (ticks > 0), id, 'TICK bit disagrees with ticks owed');
    // Clear the work but keep QUEUED: an enqueue while the group runs must not push it a
    // second time; it sets work bits that `finishGroup` finds.
    this.flags[id] = flags & (QUEUED | PRIORITY);
    this.ticks[id] = 0;
    this.processingId = id;
    const group = id as GroupId;
    let ready = (flags & READY) !== 0;
    if ((flags & MESSAGE) !== 0 && this.processor.processMessages(group)) ready = true;
    for (let tick = 0; tick < ticks; tick++) {
      if (this.processor.processTick(group)) ready = true;
    }
    if (ready) this.processor.processReady(group);
    assert(this.processingId === id, 'processor re-entered the scheduler');
    this.processingId = -1;
    this.finishGroup(id);
  }

  private finishGroup(id: number): void {
    const flags = this.flags[id]!;
    assertGroup((flags & QUEUED) !== 0, id, 'lost its queued bit while processed');
    if ((flags & WORK_MASK) === 0) {
      this.flags[id] = flags & ~QUEUED;
      return;
    }
    // INVARIANT: a group with work is queued exactly once. Work that arrived while the group
    // ran found QUEUED set and did not push it; push it now, at the BACK of its lane, so no
    // wake-up is lost and a group that re-enqueues itself on every turn runs once per pass
    // over the queue instead of starving the groups behind it.
    this.stats.requeues++;
    if ((flags & PRIORITY) !== 0) this.priorityLane.push(id);
    else this.normalLane.push(id);
    // Cheap half of the check (the full one is `assertInvariants`): with every id queued at
    // most once, the lanes can never hold more ids than there are group slots.
    assert(this.queuedCount <= this.flags.length, 'more ids queued than groups: a duplicate');
  }

  private scheduleSoon(): void {
    assert(this.started || this.immediate === null, 'no immediate outside async mode');
    if (!this.started || this.immediate !== null) return;
    // A running batch or a pending hook reschedules itself when it ends.
    if (this.running || this.hookPending !== null) return;
    this.immediate = this.config.clock.setTimer(0, this.onImmediate);
  }

  private readonly onImmediate = (): void => {
    assert(!this.running && this.hookPending === null, 'one batch at a time');
    this.immediate = null;
    if (!this.started) return;
    this.runBatchAndHook(this.config.batchGroupsMax);
    const result = this.hookResult;
    this.hookResult = undefined;
    if (isPromiseLike(result)) {
      // The next batch waits for this batch's storage write and transport flush.
      this.hookPending = Promise.resolve(result).then(this.afterHook);
      return;
    }
    if (this.hasWork) this.scheduleSoon();
  };

  private readonly afterHook = (): void => {
    assert(this.hookPending !== null, 'afterHook without a pending hook');
    this.hookPending = null;
    if (this.hasWork) this.scheduleSoon();
  };
}
