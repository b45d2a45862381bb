/**
 * Options of the scheduler and the ticker: every limit is named, documented with its unit and
 * default, and validated once at construction. A bad value throws `ConfigError`, never later.
 */
import {
  assert,
  ConfigError,
  integerIn,
  rejectUnknownKeys as rejectUnknown,
  systemClock,
  type Clock,
} from '../util/index.js';
import { GROUP_ID_LIMIT } from './group_id.js';

/** Options shared by `Scheduler` and `Ticker`: how their per-group arrays are sized. */
export interface GroupArrayOptions {
  /**
   * Exclusive upper bound of group ids. Per-group typed arrays grow by doubling up to this
   * many slots; an id at or above it is a programmer error. At the default a full set of
   * arrays costs about 2 bytes (scheduler) + 8 bytes (ticker) per group.
   * @default 16_777_216 (2^24 groups)
   */
  groupIdsMax?: number;
  /**
   * Per-group slots (and queue slots) allocated at construction, before any growth.
   * @default 1024 (groups)
   */
  groupsInitial?: number;
}

/** Called after each batch; see `SchedulerOptions.onBatchEnd`. */
export type BatchEndHook = (groupsProcessed: number) => void | Promise<void>;

/** Options of `Scheduler`. */
export interface SchedulerOptions extends GroupArrayOptions {
  /**
   * Wall-clock time a batch may spend processing groups before it stops and yields to I/O.
   * Checked after the first group and then after every 16th (`BUDGET_CHECK_GROUPS`): a batch
   * overruns it by at most the cost of one slow group, or of 16 ordinary ones.
   * @default 10 (milliseconds)
   */
  batchBudgetMs?: number;
  /**
   * Most groups processed in one batch, whatever the clock says. Bounds the storage write
   * batch and the transport flush that follow a batch.
   * @default 4096 (groups)
   */
  batchGroupsMax?: number;
  /**
   * Most ticks a group may owe before more ticks are dropped (CockroachDB's `maxTicks`).
   * If the loop falls behind, the ticks a group has not yet processed pile up; delivering
   * all of them at once would fire every follower's election timer in the same batch (an
   * election storm across thousands of healthy groups whose heartbeats are still in flight)
   * and would make the backlog's processing time grow with the stall, so the loop falls
   * further behind. Capping makes Raft's logical clock run slow under overload, which only
   * delays elections; code that turns ticks into leases must not assume they are real time.
   * @default 3 (ticks); at most 255
   */
  tickDebtMax?: number;
  /**
   * The clock the time budget is measured with (`nowMs`) and, in async mode, the next
   * batch is scheduled on (`setTimer(0, ...)`, i.e. `setImmediate` on the system clock).
   * Inject a fake clock in tests and in the simulation so batch boundaries are
   * deterministic.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Called once at the end of every batch that processed at least one group, after the last
   * group's ready: the store writes its one storage batch (one sync for all groups) and
   * flushes the transport here. If it returns a promise, the async mode (`start()`) starts
   * no batch until it settles; a rejection is fatal (left unhandled). The synchronous drivers
   * (`runBatch`, `runUntilIdle`) require it to return nothing.
   * @default undefined (no hook)
   */
  onBatchEnd?: BatchEndHook;
}

/** Options of `Ticker`. */
export interface TickerOptions extends GroupArrayOptions {
  /**
   * Real time between two ticks of the same group (Raft's tick). The node layer calls
   * `Ticker.tick()` every `tickIntervalMs / tickSpreadSlots` milliseconds (a sub-tick).
   * @default 200 (milliseconds)
   */
  tickIntervalMs?: number;
  /**
   * Sub-ticks per tick interval. Each awake group ticks on one sub-tick of every interval,
   * its phase derived from its id, so `1 / tickSpreadSlots` of the awake groups tick at a
   * time instead of all of them at once. Must divide `tickIntervalMs`.
   * @default 4 (sub-ticks per tick)
   */
  tickSpreadSlots?: number;
  /**
   * Most slept ticks that `wake()` reports. The store calls `tickQuiesced` once per reported
   * tick; beyond an election timeout more ticks carry no information and would only cost
   * time on wake-up.
   * @default 100 (ticks)
   */
  sleptTicksMax?: number;
}

/** `SchedulerOptions` with every default applied. */
export type SchedulerConfig = Required<Omit<SchedulerOptions, 'onBatchEnd'>> &
  Pick<SchedulerOptions, 'onBatchEnd'>;

/** `TickerOptions` with every default applied. */
export type TickerConfig = Required<TickerOptions>;

const GROUP_ARRAY_DEFAULTS: Required<GroupArrayOptions> = {
  groupIdsMax: 1 << 24,
  groupsInitial: 1024,
};

/** Largest value of `tickDebtMax`: pending ticks are counted in a Uint8Array. */
export const TICK_DEBT_LIMIT = 255;

function resolveGroupArrays(options: GroupArrayOptions): Required<GroupArrayOptions> {
  const groupIdsMax = integerIn(
    'groupIdsMax',
    options.groupIdsMax ?? GROUP_ARRAY_DEFAULTS.groupIdsMax,
    1,
    GROUP_ID_LIMIT,
  );
  const groupsInitial = integerIn(
    'groupsInitial',
    options.groupsInitial ?? Math.min(GROUP_ARRAY_DEFAULTS.groupsInitial, groupIdsMax),
    1,
    groupIdsMax,
  );
  return { groupIdsMax, groupsInitial };
}

const SCHEDULER_KEYS = [
  'groupIdsMax',
  'groupsInitial',
  'batchBudgetMs',
  'batchGroupsMax',
  'tickDebtMax',
  'clock',
  'onBatchEnd',
] as const;

/** Applies defaults to `options` and validates them; throws `ConfigError` on a bad value. */
export function resolveSchedulerOptions(options: SchedulerOptions = {}): SchedulerConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('scheduler options must be an object');
  }
  rejectUnknown('scheduler', options, SCHEDULER_KEYS);
  const arrays = resolveGroupArrays(options);
  const batchBudgetMs = options.batchBudgetMs ?? 10;
  if (typeof batchBudgetMs !== 'number' || !(batchBudgetMs > 0 && batchBudgetMs <= 60_000)) {
    throw new ConfigError(`batchBudgetMs must be in (0, 60000], got ${String(batchBudgetMs)}`);
  }
  const batchGroupsMax = integerIn(
    'batchGroupsMax',
    options.batchGroupsMax ?? 4096,
    1,
    GROUP_ID_LIMIT,
  );
  const tickDebtMax = integerIn('tickDebtMax', options.tickDebtMax ?? 3, 1, TICK_DEBT_LIMIT);
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.nowMs !== 'function' ||
    typeof clock.setTimer !== 'function') {
    throw new ConfigError('clock must be a Clock (nowMs, setTimer, clearTimer)');
  }
  const onBatchEnd = options.onBatchEnd;
  if (onBatchEnd !== undefined && typeof onBatchEnd !== 'function') {
    throw new ConfigError('onBatchEnd must be a function');
  }
  const config = { ...arrays, batchBudgetMs, batchGroupsMax, tickDebtMax, clock, onBatchEnd };
  assert(config.groupsInitial <= config.groupIdsMax, 'groupsInitial within groupIdsMax');
  return config;
}

const TICKER_KEYS = [
  'groupIdsMax',
  'groupsInitial',
  'tickIntervalMs',
  'tickSpreadSlots',
  'sleptTicksMax',
] as const;

/** Applies defaults to `options` and validates them; throws `ConfigError` on a bad value. */
export function resolveTickerOptions(options: TickerOptions = {}): TickerConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('ticker options must be an object');
  }
  rejectUnknown('ticker', options, TICKER_KEYS);
  const arrays = resolveGroupArrays(options);
  const tickIntervalMs = integerIn('tickIntervalMs', options.tickIntervalMs ?? 200, 1, 600_000);
  // Phases are computed from 16 hash bits, so more than 2^16 slots could not be filled.
  const tickSpreadSlots = integerIn('tickSpreadSlots', options.tickSpreadSlots ?? 4, 1, 1024);
  if (tickIntervalMs % tickSpreadSlots !== 0) {
    throw new ConfigError(
      `tickSpreadSlots (${tickSpreadSlots}) must divide tickIntervalMs (${tickIntervalMs})`,
    );
  }
  const sleptTicksMax = integerIn('sleptTicksMax', options.sleptTicksMax ?? 100, 0, 1 << 30);
  const config = { ...arrays, tickIntervalMs, tickSpreadSlots, sleptTicksMax };
  assert(config.tickIntervalMs / config.tickSpreadSlots >= 1, 'sub-tick of at least 1 ms');
  return config;
}
