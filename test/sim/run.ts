/**
 * Running many seeds: the shared loop of the CLI (and its worker processes) and the tests,
 * the one-line replay command of a failure, and the totals that the README table reports.
 */
import {
  emptyStats,
  runSimulation,
  type SimOptions,
  type SimResult,
  type SimStats,
} from './world.js';
import type { PlantedBug } from './scenario.js';

/** What every seed of a batch shares (the seed itself varies). */
export interface BatchOptions {
  nodes?: number;
  bug?: PlantedBug;
  chaosMs?: number;
}

/** A failed seed, as printed. */
export interface SeedFailure {
  seed: number;
  invariant: string;
  message: string;
  timeMs: number;
  step: number;
  replay: string;
}

/** Sums over a batch. */
export interface BatchTotals {
  seeds: number;
  failures: SeedFailure[];
  stats: SimStats;
}

/** The command that replays `seed` exactly (same scenario, same trace). */
export function replayCommand(seed: number, o: BatchOptions): string {
  let cmd = `npm run sim -- --seed ${seed}`;
  if (o.nodes !== undefined) cmd += ` --nodes ${o.nodes}`;
  if (o.bug !== undefined) cmd += ` --bug ${o.bug}`;
  if (o.chaosMs !== undefined) cmd += ` --chaos-ms ${o.chaosMs}`;
  return cmd;
}

/** Runs one seed with the batch's options. */
export function runSeed(seed: number, o: BatchOptions, extra: Partial<SimOptions> = {}): SimResult {
  const options: SimOptions = { seed, ...extra };
  if (o.nodes !== undefined) options.nodes = o.nodes;
  if (o.bug !== undefined) options.bug = o.bug;
  if (o.chaosMs !== undefined) options.chaosMs = o.chaosMs;
  return runSimulation(options);
}

/** The failure of a result, with its replay command, or null. */
export function failureOf(r: SimResult, o: BatchOptions): SeedFailure | null {
  if (r.failure === null) return null;
  return { seed: r.seed, ...r.failure, replay: replayCommand(r.seed, o) };
}

export { emptyStats };

/** Adds `b` into `a` (maxima for the max fields). */
export function addStats(a: SimStats, b: SimStats): void {
  for (const k of Object.keys(a) as (keyof SimStats)[]) {
    a[k] = k.startsWith('max') ? Math.max(a[k], b[k]) : a[k] + b[k];
  }
}

/** Runs seeds `first, first+1, ...` (`count` of them), stopping at the first failure if asked. */
export function runBatch(
  first: number,
  count: number,
  o: BatchOptions,
  stopAtFailure: boolean,
): BatchTotals {
  const totals: BatchTotals = { seeds: 0, failures: [], stats: emptyStats() };
  for (let seed = first; seed < first + count; seed++) {
    const r = runSeed(seed, o);
    totals.seeds++;
    addStats(totals.stats, r.stats);
    const f = failureOf(r, o);
    if (f !== null) {
      totals.failures.push(f);
      if (stopAtFailure) break;
    }
  }
  return totals;
}
