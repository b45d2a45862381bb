/**
 * `npm run sim -- --seeds N [--seed S] [--nodes K] [--bug B] [--jobs J] [--trace]`
 *
 * Runs N seeds starting at S (default 1) across J worker processes, prints progress and, for
 * every failure, its seed, the violated invariant and the one-line command that replays it.
 * `--seed S` alone replays one seed in detail (scenario, outcome, trace hash; with `--trace`
 * every event). Exits with 1 if any seed failed. `--layer store` runs the store layer instead
 * (many groups on several stores; `--ranges R`; see store_cli.ts); `--layer range` the range
 * layer (splits, merges and rebalances of a KV on four stores, with crashes; see range_cli.ts).
 *
 * Wall-clock time is read here only, for progress and runtime; the simulation itself runs on
 * virtual time.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeScenario, PLANTED_BUGS, type PlantedBug } from './scenario.js';
import {
  addStats,
  emptyStats,
  failureOf,
  runBatch,
  runSeed,
  type BatchOptions,
  type BatchTotals,
  type SeedFailure,
} from './run.js';
import { runSeedPool, serveSeedBatches } from './seed_pool.js';
import { exitUsage, parseOrExit } from '../../src/node/cli_args.js';

interface CliArgs {
  seeds: number | null;
  seed: number | null;
  jobs: number;
  trace: boolean;
  keepGoing: boolean;
  batch: BatchOptions;
  worker: boolean;
}

const COMMAND = {
  name: 'npm run sim --',
  summary: 'Deterministic whole-cluster simulation of raw Raft groups: runs seeds, checks ' +
    'every invariant, prints a replay command per failure. `--layer store` runs the store ' +
    'layer (see its --help).',
  flags: {
    seeds: { kind: 'integer', min: 1, description: 'seeds to run (default 100)' },
    seed: { kind: 'integer', min: 0,
      description: 'first seed; alone, replays that one seed in detail (default 1)' },
    nodes: { kind: 'integer', min: 1, max: 7, description: 'nodes per cluster (default: drawn)' },
    bug: { kind: 'string', choices: PLANTED_BUGS, description: 'plant a bug to be caught' },
    'chaos-ms': { kind: 'integer', min: 0, description: 'virtual ms of faults per seed' },
    jobs: { kind: 'integer', min: 1, max: 64,
      description: 'worker processes (default: up to 2)' },
    'keep-going': { kind: 'boolean', description: 'do not stop at the first failure' },
    trace: { kind: 'boolean', description: 'print every event of a replayed seed' },
    layer: { kind: 'string', choices: ['raft', 'store', 'range'], default: 'raft',
      description: 'which layer to simulate' },
    worker: { kind: 'boolean', hidden: true, description: 'serve seed batches (internal)' },
  },
} as const;

function parseCliArgs(argv: readonly string[]): CliArgs {
  const v = parseOrExit(COMMAND, argv).values;
  const batch: BatchOptions = {};
  if (v.nodes !== undefined) batch.nodes = v.nodes;
  if (v['chaos-ms'] !== undefined) batch.chaosMs = v['chaos-ms'];
  if (v.bug !== undefined) batch.bug = v.bug as PlantedBug;
  return {
    seeds: v.seeds ?? null, seed: v.seed ?? null,
    jobs: v.jobs ?? Math.max(1, Math.min(2, availableParallelism())),
    trace: v.trace, keepGoing: v['keep-going'], batch, worker: v.worker,
  };
}

function fail(text: string): never {
  exitUsage(COMMAND.name, text);
}

function printFailure(f: SeedFailure): void {
  console.log(`\nFAIL seed ${f.seed}: ${f.invariant} at ${f.timeMs}ms (step ${f.step})`);
  console.log(`  ${f.message.split('\n').join('\n  ')}`);
  console.log(`  replay: ${f.replay}`);
}

/** Replays one seed in detail. */
function replayOne(seed: number, args: CliArgs): number {
  const started = performance.now();
  const trace = args.trace ? (line: string) => console.log(line) : undefined;
  const r = runSeed(seed, args.batch, trace ? { trace } : {});
  console.log(`seed ${seed}: ${describeScenario(r.scenario)}`);
  const realMs = (performance.now() - started).toFixed(0);
  console.log(`trace hash ${r.traceHash}; ${r.stats.steps} steps, ` +
    `${r.stats.virtualMs}ms virtual, ${realMs}ms real`);
  console.log(`stats ${JSON.stringify(r.stats)}`);
  const f = failureOf(r, args.batch);
  if (f === null) {
    console.log('ok: no invariant violated, liveness held, history linearizable');
    return 0;
  }
  printFailure(f);
  return 1;
}

/** Splits the seeds into chunks pulled by worker processes (or run here with one job). */
async function runMany(first: number, count: number, args: CliArgs): Promise<number> {
  const started = performance.now();
  console.log(`running ${count} seeds from ${first} on ${args.jobs} process(es)` +
    (args.batch.bug ? ` with planted bug ${args.batch.bug}` : ''));
  const totals = await runSeedPool({
    first, count, jobs: args.jobs, maxChunk: 200, keepGoing: args.keepGoing,
    options: args.batch, runBatch,
    worker: { path: fileURLToPath(import.meta.url), args: ['--worker'] },
    stats: emptyStats(), addStats, onFailure: printFailure,
    progress: (t, s, rate): void => {
      const eta = (count - t.seeds) / Math.max(rate, 1e-9);
      console.log(`[${s.toFixed(1).padStart(7)}s] ${t.seeds}/${count} seeds, ` +
        `${rate.toFixed(0)} seeds/s, ${t.failures.length} failures, eta ${eta.toFixed(0)}s`);
    },
    progressMs: 2000, nowMs: () => performance.now(), started,
  });
  return summarize(totals, count, args, (performance.now() - started) / 1000);
}

function summarize(t: BatchTotals, count: number, args: CliArgs, seconds: number): number {
  const s = t.stats;
  console.log(`\n${t.seeds} seeds run in ${seconds.toFixed(1)}s ` +
    `(${(t.seeds / Math.max(seconds, 1e-3)).toFixed(0)} seeds/s, ${args.jobs} process(es)); ` +
    `${t.failures.length} failed`);
  console.log(`faults injected: ${s.messagesDropped} messages dropped, ${s.messagesDuplicated} ` +
    `duplicated, ${s.partitions} partitions, ${s.crashes} crashes, ${s.diskStalls} disk stalls`);
  console.log(`workload: ${s.proposals} proposals (${s.putsAcked} acked), ${s.reads} reads ` +
    `(${s.readsServed} served), ${s.confChanges} conf changes, ${s.transfers} transfers, ` +
    `${s.forgetLeaders} forgetLeader, ${s.campaigns} campaigns, ${s.compactions} compactions, ` +
    `${s.snapshotsApplied} snapshots applied`);
  console.log(`checked: ${s.checks} node checks over ${s.steps} steps, ` +
    `${(s.virtualMs / 1000).toFixed(0)}s of virtual time`);
  if (t.failures.length > 0) {
    console.log('failing seeds (replay each with its command):');
    for (const f of t.failures) console.log(`  ${f.invariant.padEnd(22)} ${f.replay}`);
  }
  if (t.seeds < count && t.failures.length > 0) console.log('(stopped at the first failure)');
  return t.failures.length > 0 ? 1 : 0;
}

/** `--layer L` or `--layer=L` anywhere: that layer's command line takes over. */
function layerAsked(argv: readonly string[], layer: string): boolean {
  return argv.some((a, i) => a === `--layer=${layer}` || (a === '--layer' && argv[i + 1] === layer));
}

async function main(): Promise<void> {
  if (layerAsked(process.argv.slice(2), 'range')) {
    const { rangeCliMain } = await import('./range_cli.js');
    process.exitCode = await rangeCliMain(process.argv.slice(2), () => performance.now());
    return;
  }
  if (layerAsked(process.argv.slice(2), 'store')) {
    // The store layer has flags of its own (store_cli.ts parses them all, --layer included).
    const { storeCliMain } = await import('./store_cli.js');
    process.exitCode = await storeCliMain(process.argv.slice(2), () => performance.now());
    return;
  }
  const args = parseCliArgs(process.argv.slice(2));
  if (args.worker) return serveSeedBatches(runBatch);
  if (args.seed !== null && args.seeds === null) {
    process.exitCode = replayOne(args.seed, args);
    return;
  }
  const count = args.seeds ?? 100;
  const first = args.seed ?? 1;
  if (args.trace) fail('--trace needs a single --seed');
  process.exitCode = await runMany(first, count, args);
}

await main();

