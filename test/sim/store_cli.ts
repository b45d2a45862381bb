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

interface StoreCliArgs {
  seeds: number | null;
  seed: number | null;
  jobs: number;
  trace: boolean;
  keepGoing: boolean;
  batch: StoreBatchOptions;
}

const USAGE = 'usage: npm run sim -- --layer store --seeds N [--seed S] [--nodes K] ' +
  `[--ranges R] [--chaos-ticks T] [--bug ${STORE_BUGS.join('|')}] [--jobs J] [--keep-going] ` +
  '[--trace]';

function fail(text: string): never {
  console.error(text);
  process.exit(2);
}

function parseStoreArgs(argv: readonly string[]): StoreCliArgs {
  const a: StoreCliArgs = { seeds: null, seed: null,
    jobs: Math.max(1, Math.min(2, availableParallelism())), trace: false, keepGoing: false,
    batch: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) fail(`${flag} needs a non-negative integer`);
      return v;
    };
    switch (flag) {
      case '--layer': if (argv[++i] !== 'store') fail(`--layer must be store\n${USAGE}`); break;
      case '--seeds':
        a.seeds = value();
        if (a.seeds === 0) fail('--seeds needs a positive integer');
        break;
      case '--seed': a.seed = value(); break;
      case '--nodes': a.batch.nodes = value(); break;
      case '--ranges': a.batch.ranges = value(); break;
      case '--chaos-ticks': a.batch.chaosTicks = value(); break;
      case '--jobs': a.jobs = Math.max(1, value()); break;
      case '--trace': a.trace = true; break;
      case '--keep-going': a.keepGoing = true; break;
      case '--bug': {
        const b = argv[++i] as StoreBug;
        if (!STORE_BUGS.includes(b)) fail(`--bug must be one of ${STORE_BUGS.join(', ')}`);
        a.batch.bug = b;
        break;
      }
      case '--help': console.log(USAGE); process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default: fail(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  const n = a.batch.nodes;
  if (n !== undefined && (n < 3 || n > 7)) fail('--nodes must be in [3, 7] for the store layer');
  const r = a.batch.ranges;
  if (r !== undefined && (r < 1 || r > 10_000)) fail('--ranges must be in [1, 10000]');
  return a;
}

function printFailure(f: StoreSeedFailure): void {
  console.log(`\nFAIL seed ${f.seed}: ${f.invariant} at tick ${f.tick}`);
  console.log(`  ${f.message.split('\n').join('\n  ')}`);
  console.log(`  replay: ${f.replay}`);
}

function replayOne(seed: number, args: StoreCliArgs, nowMs: () => number): number {
  const started = nowMs();
  const trace = args.trace ? (line: string) => console.log(line) : undefined;
  const r = runStoreSeed(seed, args.batch, trace ? { trace } : {});
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
    `pauses, ${s.crashes} crashes, ${s.campaigns} forced campaigns/wake-ups`);
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
