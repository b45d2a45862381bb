/**
 * `npm run sim -- --layer store --seeds N [--seed S] [--nodes K] [--ranges R]
 *  [--chaos-ticks T] [--bug B] [--jobs J] [--keep-going] [--trace]`
 *
 * The store layer's command line, reached through `cli.ts` (which passes the wall clock: the
 * simulation files themselves read no clock). Runs N seeds from S on J worker processes and
 * prints, for every failure, its seed, invariant, message and replay command; `--seed S`
 * alone replays one seed (scenario, trace hash, outcome; `--trace` prints its events).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeStoreScenario, STORE_BUGS, type StoreBug } from './store_world.js';
import {
  addStoreStats,
  emptyStoreStats,
  runStoreBatch,
  runStoreSeed,
  storeFailureOf,
  type StoreBatchOptions,
  type StoreBatchTotals,
  type StoreSeedFailure,
} from './store_run.js';
import { runSeedPool } from './seed_pool.js';
import { exitUsage, parseOrExit } from '../../src/node/cli_args.js';

interface StoreCliArgs {
  seeds: number | null;
  seed: number | null;
  jobs: number;
  trace: boolean;
  keepGoing: boolean;
  batch: StoreBatchOptions;
}

const COMMAND = {
  name: 'npm run sim -- --layer store',
  summary: 'Deterministic simulation of the store layer: several real stores with many ' +
    'ranges each on the faulty loopback network; prints a replay command per failure.',
  flags: {
    layer: { kind: 'string', choices: ['store'], default: 'store',
      description: 'the layer (this command line is the store layer\'s)' },
    seeds: { kind: 'integer', min: 1, description: 'seeds to run (default 100)' },
    seed: { kind: 'integer', min: 0,
      description: 'first seed; alone, replays that one seed in detail (default 1)' },
    nodes: { kind: 'integer', min: 3, max: 7, description: 'stores (default: drawn)' },
    ranges: { kind: 'integer', min: 1, max: 10_000, description: 'ranges (default: drawn)' },
    'chaos-ticks': { kind: 'integer', min: 0, description: 'ticks of faults per seed' },
    bug: { kind: 'string', choices: STORE_BUGS, description: 'plant a bug to be caught' },
    jobs: { kind: 'integer', min: 1, max: 64,
      description: 'worker processes (default: up to 2)' },
    'keep-going': { kind: 'boolean', description: 'do not stop at the first failure' },
    trace: { kind: 'boolean', description: 'print every event of a replayed seed' },
  },
} as const;

function fail(text: string): never {
  exitUsage(COMMAND.name, text);
}

function parseStoreArgs(argv: readonly string[]): StoreCliArgs {
  const v = parseOrExit(COMMAND, argv).values;
  const batch: StoreBatchOptions = {};
  if (v.nodes !== undefined) batch.nodes = v.nodes;
  if (v.ranges !== undefined) batch.ranges = v.ranges;
  if (v['chaos-ticks'] !== undefined) batch.chaosTicks = v['chaos-ticks'];
  if (v.bug !== undefined) batch.bug = v.bug as StoreBug;
  return {
    seeds: v.seeds ?? null, seed: v.seed ?? null,
    jobs: v.jobs ?? Math.max(1, Math.min(2, availableParallelism())),
    trace: v.trace, keepGoing: v['keep-going'], batch,
  };
}

function printFailure(f: StoreSeedFailure): void {
  console.log(`\nFAIL seed ${f.seed}: ${f.invariant} at tick ${f.tick}`);
  console.log(`  ${f.message.split('\n').join('\n  ')}`);
  console.log(`  replay: ${f.replay}`);
}

async function replayOne(seed: number, args: StoreCliArgs, nowMs: () => number):
  Promise<number> {
  const started = nowMs();
  const trace = args.trace ? (line: string) => console.log(line) : undefined;
  const r = await runStoreSeed(seed, args.batch, trace ? { trace } : {});
  console.log(`seed ${seed} (store layer): ${describeStoreScenario(r.scenario)}`);
  console.log(`trace hash ${r.traceHash}; ${r.stats.ticks} ticks, ` +
    `${(nowMs() - started).toFixed(0)}ms real`);
  console.log(`stats ${JSON.stringify(r.stats)}`);
  const f = storeFailureOf(r, args.batch);
  if (f === null) {
    console.log('ok: no invariant violated, liveness held, histories linearizable');
    return 0;
  }
  printFailure(f);
  return 1;
}

async function runMany(first: number, count: number, args: StoreCliArgs,
  nowMs: () => number): Promise<number> {
  const started = nowMs();
  console.log(`store layer: running ${count} seeds from ${first} on ${args.jobs} process(es)` +
    (args.batch.bug ? ` with planted bug ${args.batch.bug}` : ''));
  const totals = await runSeedPool({
    first, count, jobs: args.jobs, maxChunk: 20, keepGoing: args.keepGoing,
    options: args.batch, runBatch: runStoreBatch,
    worker: { path: fileURLToPath(new URL('./store_worker.ts', import.meta.url)), args: [] },
    stats: emptyStoreStats(), addStats: addStoreStats, onFailure: printFailure,
    progress: (t, s, rate): void => {
      console.log(`[${s.toFixed(1).padStart(7)}s] ${t.seeds}/${count} seeds, ` +
        `${rate.toFixed(1)} seeds/s, ${t.failures.length} failures`);
    },
    progressMs: 5000, nowMs, started,
  });
  return summarize(totals, count, args, (nowMs() - started) / 1000);
}

function summarize(t: StoreBatchTotals, count: number, args: StoreCliArgs,
  seconds: number): number {
  const s = t.stats;
  console.log(`\n${t.seeds} seeds run in ${seconds.toFixed(1)}s ` +
    `(${(t.seeds / Math.max(seconds, 1e-3)).toFixed(1)} seeds/s, ${args.jobs} process(es)); ` +
    `${t.failures.length} failed`);
  console.log(`faults injected: ${s.messagesDropped} messages dropped, ${s.messagesDuplicated} ` +
    `duplicated, ${s.partitions} partitions, ${s.oneWayCuts} one-way cuts, ${s.pauses} ` +
    `pauses, ${s.crashes} crashes (${s.crashPoints} at the seed's crash point), ` +
    `${s.campaigns} forced campaigns/wake-ups`);
  console.log(`disks: ${s.diskWrites} synced writes; ${s.imagesChecked} crashed disks ` +
    `reopened and checked, ${s.entriesDurable} applied entries found durable on them`);
  console.log(`workload: ${s.proposals} proposals, ${s.opsAcked} operations acknowledged; ` +
    `${s.quiesces} quiesces, ${s.wakes} wakes, ${s.nodesReleased} nodes released, ` +
    `${s.staleQuiesceRefused} stale quiesce heartbeats refused, ` +
    `${s.replicasCreatedLazily} replicas created lazily, up to ${s.maxQuiescedReplicas} ` +
    'replicas quiesced at once');
  console.log(`checked: ${s.checks} replica checks, ${s.wireChecks} messages, over ${s.ticks} ` +
    'ticks');
  if (t.failures.length > 0) {
    console.log('failing seeds (replay each with its command):');
    for (const f of t.failures) console.log(`  ${f.invariant.padEnd(22)} ${f.replay}`);
  }
  if (t.seeds < count && t.failures.length > 0) console.log('(stopped at the first failure)');
  return t.failures.length > 0 ? 1 : 0;
}

/** The store layer's command line; `nowMs` is the wall clock (progress and runtime only). */
export async function storeCliMain(argv: readonly string[], nowMs: () => number):
  Promise<number> {
  const args = parseStoreArgs(argv);
  if (args.seed !== null && args.seeds === null) return replayOne(args.seed, args, nowMs);
  if (args.trace) fail('--trace needs a single --seed');
  return runMany(args.seed ?? 1, args.seeds ?? 100, args, nowMs);
}
