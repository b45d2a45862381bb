/**
 * `npm run sim -- --seeds N [--seed S] [--nodes K] [--bug B] [--jobs J] [--trace]`
 *
 * Runs N seeds starting at S (default 1) across J worker processes, prints progress and, for
 * every failure, its seed, the violated invariant and the one-line command that replays it.
 * `--seed S` alone replays one seed in detail (scenario, outcome, trace hash; with `--trace`
 * every event). Exits with 1 if any seed failed. `--layer store` runs the store layer instead
 * (many groups on several stores; `--ranges R`; see store_cli.ts).
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

interface CliArgs {
  seeds: number | null;
  seed: number | null;
  jobs: number;
  trace: boolean;
  keepGoing: boolean;
  batch: BatchOptions;
  worker: boolean;
}

const USAGE =
  'usage: npm run sim -- --seeds N [--seed S] [--nodes K] [--bug ' + PLANTED_BUGS.join('|') +
  '] [--chaos-ms MS] [--jobs J] [--keep-going] [--trace]';

function parseArgs(argv: readonly string[]): CliArgs {
  const a: CliArgs = {
    seeds: null, seed: null, jobs: Math.max(1, Math.min(2, availableParallelism())),
    trace: false, keepGoing: false, batch: {}, worker: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) fail(`${flag} needs a non-negative integer`);
      return v;
    };
    switch (flag) {
      case '--seeds':
        a.seeds = value();
        if (a.seeds === 0) fail('--seeds needs a positive integer');
        break;
      case '--seed': a.seed = value(); break;
      case '--nodes': a.batch.nodes = value(); break;
      case '--chaos-ms': a.batch.chaosMs = value(); break;
      case '--jobs': a.jobs = Math.max(1, value()); break;
      case '--trace': a.trace = true; break;
      case '--keep-going': a.keepGoing = true; break;
      case '--worker': a.worker = true; break;
      case '--bug': {
        const b = argv[++i] as PlantedBug;
        if (!PLANTED_BUGS.includes(b)) fail(`--bug must be one of ${PLANTED_BUGS.join(', ')}`);
        a.batch.bug = b;
        break;
      }
      case '--help': console.log(USAGE); process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default: fail(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  if (a.batch.nodes !== undefined && (a.batch.nodes < 1 || a.batch.nodes > 7)) {
    fail('--nodes must be in [1, 7]');
  }
  return a;
}

function fail(text: string): never {
  console.error(text);
  process.exit(2);
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

async function main(): Promise<void> {
  if (process.argv.includes('--layer')) {
    // The store layer (store_cli.ts); without --layer everything below is unchanged.
    const { storeCliMain } = await import('./store_cli.js');
    process.exitCode = await storeCliMain(process.argv.slice(2), () => performance.now());
    return;
  }
  const args = parseArgs(process.argv.slice(2));
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

