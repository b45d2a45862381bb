/**
 * The scheduler layer: which Raft groups have work, and when that work runs. It knows
 * nothing about Raft; it moves small integer group ids around and calls back into the store.
 *
 * CONTRACT
 *
 * 1. Ids. Groups are dense, non-negative `GroupId`s assigned by the store. Per-group state
 *    lives in typed arrays indexed by id that grow by doubling up to `groupIdsMax` and never
 *    shrink: `Scheduler` keeps 2 bytes per group (+4 per queue slot, grown to the most groups
 *    ever queued at once), `Ticker` 8 (+4 per awake-set slot). No Maps, no per-group objects,
 *    no allocation on the hot path except array growth. A queued id stays queued when the
 *    store destroys its group: the processor must treat an unknown id as a no-op, and the
 *    store clears `setPriority` and calls `Ticker.remove` before it reuses an id.
 * 2. Queueing. `Scheduler.enqueue(id, WorkFlag.Message | Tick | Ready)` merges flags into
 *    the group's byte and puts the id in a FIFO ring at most once, however many flags
 *    arrive. Groups marked with `setPriority` wait in a priority lane; the groups queued there
 *    when a batch begins run before the normal lane.
 * 3. Order. One turn of a group calls `GroupProcessor.processMessages`, then `processTick`
 *    once per owed tick, then `processReady` if any of them (or a `Ready` flag) asked for it.
 *    Never reorder: messages (a quiesce heartbeat, a leader's heartbeat) must be seen before
 *    ticks can start an election, and the ready must collect the whole turn.
 * 4. No lost wake-ups. Flags that arrive while a group runs are kept; the group is pushed
 *    to the back of its lane when its turn ends, so it runs again and, being at the back,
 *    cannot starve the groups queued before it: every queued group runs within one pass.
 * 5. Batches. A batch runs groups until the queue is empty, `batchGroupsMax` groups ran or
 *    `batchBudgetMs` elapsed on the injected clock, then calls `onBatchEnd` once (the store
 *    writes one storage batch and flushes the transport there). `runBatch` / `runUntilIdle`
 *    drive batches synchronously (tests, simulation); `start` / `stop` let the scheduler
 *    drive itself, one batch per setImmediate callback so I/O runs between batches, and
 *    with nothing scheduled while idle.
 * 6. Ticks. `Ticker.tick()` is called every `subTickIntervalMs` by the node layer (directly
 *    in tests) and enqueues a `Tick` for the awake groups of one phase: each awake group ticks
 *    once per `tickIntervalMs`, at a phase hashed from its id, so groups do not tick in
 *    lockstep. Quiesced groups are outside the awake set and cost nothing per tick; `wake`
 *    returns the ticks slept through (capped by `sleptTicksMax`). Owed ticks are capped per
 *    group at `tickDebtMax` when the loop falls behind, so under overload Raft's logical
 *    clock runs slow, which delays elections but never fires them early. For the same
 *    reason the node layer calls `tick()` once per timer callback and does not replay
 *    sub-ticks missed during a stall.
 * 7. Errors. Invalid options throw `ConfigError`; misuse (bad ids, re-entrant batches, a
 *    broken invariant) fails an assertion, which is a bug and is never caught.
 */
export { GROUP_ID_LIMIT, toGroupId } from './group_id.js';
export type { GroupId } from './group_id.js';
export { TICK_DEBT_LIMIT, resolveSchedulerOptions, resolveTickerOptions } from './options.js';
export type {
  BatchEndHook,
  GroupArrayOptions,
  SchedulerConfig,
  SchedulerOptions,
  TickerConfig,
  TickerOptions,
} from './options.js';
export { BUDGET_CHECK_GROUPS, BatchStop, Scheduler, WorkFlag } from './scheduler.js';
export type { BatchStopReason, GroupProcessor, SchedulerStats, WorkFlags } from './scheduler.js';
export { Ticker } from './ticker.js';
export type { TickTarget } from './ticker.js';
