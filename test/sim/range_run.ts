/**
 * Running many seeds of the range layer: the shared loop of the command line (and its worker
 * processes) and the tests, the one-line replay command of a failure, and totals.
 */
import {
  emptyRangeStats,
  runRangeSimulation,
  type RangeBug,
  type RangeSimOptions,
  type RangeSimResult,
  type RangeSimStats,
} from './range_world.js';

/** What every seed of a batch shares (the seed itself varies). */
export interface RangeBatchOptions {
  steps?: number;
  bug?: RangeBug;
  /** The classic layout (range_world.ts). */
  classic?: boolean;
}

/** A failed seed, as printed. */
export interface RangeSeedFailure {
  seed: number;
  invariant: string;
  message: string;
  tick: number;
  replay: string;
}

/** Sums over a batch. */
export interface RangeBatchTotals {
  seeds: number;
  failures: RangeSeedFailure[];
  stats: RangeSimStats;
}

/** The command that replays `seed` of the range layer exactly. */
export function rangeReplayCommand(seed: number, o: RangeBatchOptions): string {
  let cmd = `npm run sim -- --layer range --seed ${seed}`;
  if (o.steps !== undefined) cmd += ` --steps ${o.steps}`;
  if (o.bug !== undefined) cmd += ` --bug ${o.bug}`;
  if (o.classic === true) cmd += ' --classic';
  return cmd;
}

/** Runs one seed with the batch's options. */
export function runRangeSeed(seed: number, o: RangeBatchOptions,
  extra: Partial<RangeSimOptions> = {}): Promise<RangeSimResult> {
  return runRangeSimulation({ seed, ...o, ...extra });
}

/** The failure of a result, with its replay command, or null. */
export function rangeFailureOf(r: RangeSimResult, o: RangeBatchOptions): RangeSeedFailure | null {
  if (r.failure === null) return null;
  return { seed: r.seed, ...r.failure, replay: rangeReplayCommand(r.seed, o) };
}

/** Adds `b` into `a` (maxima for the max fields). */
export function addRangeStats(a: RangeSimStats, b: RangeSimStats): void {
  for (const k of Object.keys(a) as (keyof RangeSimStats)[]) {
    a[k] = k.startsWith('max') ? Math.max(a[k], b[k]) : a[k] + b[k];
  }
}

/** Runs seeds `first, first+1, ...` (`count` of them), stopping at the first failure if asked. */
export async function runRangeBatch(first: number, count: number, o: RangeBatchOptions,
  stopAtFailure: boolean): Promise<RangeBatchTotals> {
  const totals: RangeBatchTotals = { seeds: 0, failures: [], stats: emptyRangeStats() };
  for (let seed = first; seed < first + count; seed++) {
    const r = await runRangeSeed(seed, o);
    totals.seeds++;
    addRangeStats(totals.stats, r.stats);
    const f = rangeFailureOf(r, o);
    if (f !== null) {
      totals.failures.push(f);
      if (stopAtFailure) break;
    }
  }
  return totals;
}
