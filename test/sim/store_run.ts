/**
 * Running many seeds of the store layer: the shared loop of the command line (and its
 * worker processes) and the tests, the one-line replay command of a failure, and totals.
 */
import {
  emptyStoreStats,
  runStoreSimulation,
  type StoreBug,
  type StoreSimOptions,
  type StoreSimResult,
  type StoreSimStats,
} from './store_world.js';

/** What every seed of a batch shares (the seed itself varies). */
export interface StoreBatchOptions {
  nodes?: number;
  ranges?: number;
  chaosTicks?: number;
  bug?: StoreBug;
}

/** A failed seed, as printed. */
export interface StoreSeedFailure {
  seed: number;
  invariant: string;
  message: string;
  tick: number;
  replay: string;
}

/** Sums over a batch. */
export interface StoreBatchTotals {
  seeds: number;
  failures: StoreSeedFailure[];
  stats: StoreSimStats;
}

/** The command that replays `seed` of the store layer exactly. */
export function storeReplayCommand(seed: number, o: StoreBatchOptions): string {
  let cmd = `npm run sim -- --layer store --seed ${seed}`;
  if (o.nodes !== undefined) cmd += ` --nodes ${o.nodes}`;
  if (o.ranges !== undefined) cmd += ` --ranges ${o.ranges}`;
  if (o.chaosTicks !== undefined) cmd += ` --chaos-ticks ${o.chaosTicks}`;
  if (o.bug !== undefined) cmd += ` --bug ${o.bug}`;
  return cmd;
}

/** Runs one seed with the batch's options. */
export function runStoreSeed(
  seed: number,
  o: StoreBatchOptions,
  extra: Partial<StoreSimOptions> = {},
): Promise<StoreSimResult> {
  return runStoreSimulation({ seed, ...o, ...extra });
}

/** The failure of a result, with its replay command, or null. */
export function storeFailureOf(r: StoreSimResult, o: StoreBatchOptions): StoreSeedFailure | null {
  if (r.failure === null) return null;
  return { seed: r.seed, ...r.failure, replay: storeReplayCommand(r.seed, o) };
}

/** Adds `b` into `a` (maxima for the max fields). */
export function addStoreStats(a: StoreSimStats, b: StoreSimStats): void {
  for (const k of Object.keys(a) as (keyof StoreSimStats)[]) {
    a[k] = k.startsWith('max') ? Math.max(a[k], b[k]) : a[k] + b[k];
  }
}

/** Runs seeds `first, first+1, ...` (`count` of them), stopping at the first failure if asked. */
export async function runStoreBatch(
  first: number,
  count: number,
  o: StoreBatchOptions,
  stopAtFailure: boolean,
): Promise<StoreBatchTotals> {
  const totals: StoreBatchTotals = { seeds: 0, failures: [], stats: emptyStoreStats() };
  for (let seed = first; seed < first + count; seed++) {
    const r = await runStoreSeed(seed, o);
    totals.seeds++;
    addStoreStats(totals.stats, r.stats);
    const f = storeFailureOf(r, o);
    if (f !== null) {
      totals.failures.push(f);
      if (stopAtFailure) break;
    }
  }
  return totals;
}

export { emptyStoreStats };
