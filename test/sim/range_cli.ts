/**
 * `npm run sim -- --layer range --seeds N [--seed S] [--steps T] [--bug B] [--jobs J]
 *  [--keep-going] [--trace]`
 *
 * The range layer's command line, reached through `cli.ts` (which passes the wall clock: the
 * simulation files themselves read no clock). Runs N seeds from S on J worker processes and
 * prints, for every failure, its seed, invariant, message and replay command; `--seed S`
 * alone replays one seed (scenario, outcome; `--trace` prints its events).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeRangeScenario, RANGE_BUGS, type RangeBug } from './range_world.js';
import {
  addRangeStats,
  rangeFailureOf,
  runRangeBatch,
  runRangeSeed,
  type RangeBatchOptions,
  type RangeBatchTotals,
  type RangeSeedFailure,
} from './range_run.js';
import { emptyRangeStats } from './range_world.js';
import { runSeedPool } from './seed_pool.js';
import { exitUsage, parseOrExit } from '../../src/node/cli_args.js';

interface RangeCliArgs {
  seeds: number | null;
  seed: number | null;
  jobs: number;
  trace: boolean;
  keepGoing: boolean;
  batch: RangeBatchOptions;
}

const COMMAND = {
  name: 'npm run sim -- --layer range',
  summary: 'Deterministic simulation of the range layer: four stores with range nodes on ' +
    'crash-model engines, ranges of three replicas, random splits, merges and rebalances ' +
    'under message faults, partitions, pauses and crashes; every tick the ranges must tile ' +
    'the key space, and every seed\'s KV history must be linearizable.',
  flags: {
    layer: { kind: 'string', choices: ['range'], default: 'range',
      description: 'the layer (this command line is the range layer\'s)' },
    seeds: { kind: 'integer', min: 1, description: 'seeds to run (default 100)' },
    seed: { kind: 'integer', min: 0,
      description: 'first seed; alone, replays that one seed in detail (default 1)' },
    steps: { kind: 'integer', min: 1, description: 'ticks of chaos per seed (default: drawn)' },
    bug: { kind: 'string', choices: RANGE_BUGS, description: 'plant a bug to be caught' },
    classic: { kind: 'boolean', description: 'three stores holding every range, no crashes, ' +
      'no rebalances: replays the seeds of this layer before those came' },
    jobs: { kind: 'integer', min: 1, max: 64,
      description: 'worker processes (default: up to 2)' },
    'keep-going': { kind: 'boolean', description: 'do not stop at the first failure' },
    trace: { kind: 'boolean', description: 'print every event of a replayed seed' },
  },
} as const;

function parseRangeArgs(argv: readonly string[]): RangeCliArgs {
  const v = parseOrExit(COMMAND, argv).values;
  const batch: RangeBatchOptions = {};
  if (v.steps !== undefined) batch.steps = v.steps;
  if (v.bug !== undefined) batch.bug = v.bug as RangeBug;
  if (v.classic) batch.classic = true;
  return {
    seeds: v.seeds ?? null, seed: v.seed ?? null,
    jobs: v.jobs ?? Math.max(1, Math.min(2, availableParallelism())),
    trace: v.trace, keepGoing: v['keep-going'], batch,
  };
}

function printFailure(f: RangeSeedFailure): void {
  console.log(`\nFAIL seed ${f.seed}: ${f.invariant} at tick ${f.tick}`);
  console.log(`  ${f.message.split('\n').join('\n  ')}`);
  console.log(`  replay: ${f.replay}`);
}

async function replayOne(seed: number, args: RangeCliArgs, nowMs: () => number):
  Promise<number> {
  const started = nowMs();
  const trace = args.trace ? (line: string) => console.log(line) : undefined;
  const r = await runRangeSeed(seed, args.batch, trace ? { trace } : {});
  console.log(`seed ${seed} (range layer): ${describeRangeScenario(r.scenario)}`);
  console.log(`${r.stats.ticks} ticks, ${(nowMs() - started).toFixed(0)}ms real`);
  console.log(`stats ${JSON.stringify(r.stats)}`);
  const f = rangeFailureOf(r, args.batch);
  if (f === null) {
    console.log('ok: ranges tiled the key space at every tick, history linearizable');
    return 0;
  }
  printFailure(f);
  return 1;
}

async function runMany(first: number, count: number, args: RangeCliArgs,
  nowMs: () => number): Promise<number> {
  const started = nowMs();
  console.log(`range layer: running ${count} seeds from ${first} on ${args.jobs} process(es)` +
    (args.batch.bug ? ` with planted bug ${args.batch.bug}` : ''));
  const totals = await runSeedPool({
    first, count, jobs: args.jobs, maxChunk: 50, keepGoing: args.keepGoing,
    options: args.batch, runBatch: runRangeBatch,
    worker: { path: fileURLToPath(new URL('./range_worker.ts', import.meta.url)), args: [] },
    stats: emptyRangeStats(), addStats: addRangeStats, onFailure: printFailure,
    progress: (t, s, rate): void => {
      console.log(`[${s.toFixed(1).padStart(7)}s] ${t.seeds}/${count} seeds, ` +
        `${rate.toFixed(1)} seeds/s, ${t.failures.length} failures`);
    },
    progressMs: 10_000, nowMs, started,
  });
  return summarize(totals, count, args, (nowMs() - started) / 1000);
}

function summarize(t: RangeBatchTotals, count: number, args: RangeCliArgs,
  seconds: number): number {
  const s = t.stats;
  console.log(`faults injected: ${s.partitions} partitions, ${s.pauses} pauses, ` +
    `${s.crashes} crashes (${s.restarts} restarts from the crash-model disk), ` +
    `${s.diskStalls} disk stalls`);
  console.log(`workload: ${s.puts} puts (${s.putsAcked} acked), ${s.gets} gets ` +
    `(${s.getsServed} served), ${s.splitsDone}/${s.splitsStarted} splits, ` +
    `${s.mergesDone}/${s.mergesStarted} merges, ${s.rebalancesDone}/${s.rebalancesStarted} ` +
    `rebalances, up to ${s.maxRanges} user ranges on a store`);
  console.log(`checked: tiling at each of ${s.tilingChecks} ticks, linearizability of every ` +
    'seed\'s history');
  if (t.failures.length > 0) {
    console.log('failing seeds (replay each with its command):');
    for (const f of t.failures) console.log(`  ${f.invariant.padEnd(18)} ${f.replay}`);
  }
  if (t.seeds < count && t.failures.length > 0) console.log('(stopped at the first failure)');
  console.log(`${t.seeds} seeds run in ${seconds.toFixed(1)}s ` +
    `(${(t.seeds / Math.max(seconds, 1e-3)).toFixed(1)} seeds/s, ${args.jobs} process(es)); ` +
    `${t.failures.length} failed`);
  return t.failures.length > 0 ? 1 : 0;
}

/** The range layer's command line; `nowMs` is the wall clock (progress and runtime only). */
export async function rangeCliMain(argv: readonly string[], nowMs: () => number):
  Promise<number> {
  const args = parseRangeArgs(argv);
  if (args.seed !== null && args.seeds === null) return replayOne(args.seed, args, nowMs);
  if (args.trace) exitUsage(COMMAND.name, '--trace needs a single --seed');
  return runMany(args.seed ?? 1, args.seeds ?? 100, args, nowMs);
}
