/**
 * Committed-index computation for 3, 5 and 7 voters, in ns per call.
 *
 * Two AckedIndexers: `map` (a MapAckIndexer, as etcd's BenchmarkMajorityConfig_CommittedIndex
 * uses a map) and `tracker` (ProgressTracker.committed(), the path the Raft core takes).
 * Reference, etcd (Go) on this kind of machine: 65 ns (3 voters), 98 ns (5), 131 ns (7).
 *
 * Prints one JSON object per line, then a table. Run: npm run bench:quorum [-- --voters 3,5]
 */
import { SeededRandom, floatsOf } from '../src/util/index.js';
import { spawnSync } from 'node:child_process';
import { commitId } from './_report.js';
import { exitUsage, parseOrExit } from '../src/node/cli_args.js';
import { fileURLToPath } from 'node:url';
import { JointConfig, MajorityConfig, MapAckIndexer } from '../src/raft/quorum/index.js';
import { Inflights, Progress, ProgressTracker } from '../src/raft/tracker/index.js';

const ETCD_NS_PER_OP: Record<number, number> = { 3: 65, 5: 98, 7: 131 };
const VOTER_COUNTS = [3, 5, 7] as const;
const ITERATIONS_PER_ROUND = 2_000_000;
const ROUNDS = 7;
const WARMUP_ROUNDS = 2;

/** The project's seeded generator as floats in [0, 1), so runs are comparable. */
function prng(seed: number): () => number {
  return floatsOf(new SeededRandom(seed));
}


let sink = 0;

/** Median ns per call of `f` over ROUNDS rounds, after warm-up. */
function measure(f: () => number): number {
  const samples: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS_PER_ROUND; i++) sink += f();
    const ns = Number(process.hrtime.bigint() - t0) / ITERATIONS_PER_ROUND;
    if (round >= WARMUP_ROUNDS) samples.push(ns);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}

function mapCase(voters: number, rand: () => number): () => number {
  const c = new MajorityConfig();
  const l = new MapAckIndexer();
  for (let id = 1; id <= voters; id++) {
    c.add(id);
    l.set(id, Math.floor(rand() * 1e12));
  }
  return () => c.committedIndex(l);
}

function trackerCase(voters: number, rand: () => number): () => number {
  const t = new ProgressTracker(256, 0);
  const ids = Array.from({ length: voters }, (_, i) => i + 1);
  t.config.voters = JointConfig.of(ids);
  for (const id of ids) {
    const match = Math.floor(rand() * 1e12);
    t.progress.set(id, new Progress({ match, next: match + 1, inflights: new Inflights(256, 0) }));
  }
  return () => t.committed();
}

interface Row {
  indexer: string;
  voters: number;
  nsPerOp: number;
}

const CASES = { map: mapCase, tracker: trackerCase } as const;
type CaseName = keyof typeof CASES;

/**
 * Runs one case in this process and prints its ns/op. Each case runs in a fresh process so
 * that the JIT sees one AckedIndexer at the call site, as the Raft core does (only the
 * ProgressMap) and as Go's static dispatch does; otherwise later cases pay for earlier ones.
 */
function runCase(indexer: CaseName, voters: number): void {
  const nsPerOp = measure(CASES[indexer](voters, prng(42 + voters)));
  process.stdout.write(`${nsPerOp}\n`);
  if (sink === 42) process.stdout.write('\n'); // keeps `sink` observable
}

function spawnCase(indexer: CaseName, voters: number): number {
  const self = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, self, '--case', indexer, '--voters', String(voters)];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`case ${indexer}/${voters} failed: ${child.stderr}`);
  return Number(child.stdout.trim());
}

function main(voterCounts: readonly number[]): void {
  const sha = commitId();
  const rows: Row[] = [];
  for (const indexer of Object.keys(CASES) as CaseName[]) {
    for (const voters of voterCounts) {
      const nsPerOp = spawnCase(indexer, voters);
      rows.push({ indexer, voters, nsPerOp });
      const line = {
        name: 'quorum.committedIndex',
        indexer,
        voters,
        ns_per_op: Number(nsPerOp.toFixed(2)),
        etcd_go_ns_per_op: ETCD_NS_PER_OP[voters],
        commit: sha,
        node: process.version,
      };
      process.stdout.write(JSON.stringify(line) + '\n');
    }
  }
  process.stdout.write('\nindexer   voters   ns/op   etcd Go ns/op   speed-up\n');
  for (const r of rows) {
    const go = ETCD_NS_PER_OP[r.voters];
    const ns = r.nsPerOp.toFixed(1).padStart(6);
    const speedUp = go === undefined ? '' : `${(go / r.nsPerOp).toFixed(1)}x`;
    process.stdout.write(
      `${r.indexer.padEnd(8)}  ${String(r.voters).padStart(6)}  ${ns}` +
        `  ${String(go ?? '').padStart(14)}  ${speedUp.padStart(9)}\n`,
    );
  }
}

const COMMAND = {
  name: 'npm run bench:quorum --',
  summary: 'Committed-index computation (MapAckIndexer and ProgressTracker), ns per call.',
  flags: {
    voters: { kind: 'integers', min: 1, max: 64, default: VOTER_COUNTS,
      description: 'voter counts to measure (etcd reference figures exist for 3, 5, 7)' },
    case: { kind: 'string', choices: Object.keys(CASES), hidden: true,
      description: 'run one indexer in this process (the benchmark spawns itself so)' },
  },
} as const;
const args = parseOrExit(COMMAND, process.argv.slice(2)).values;
if (args.case !== undefined) {
  if (args.voters.length !== 1) exitUsage(COMMAND.name, '--case needs exactly one --voters');
  runCase(args.case as CaseName, args.voters[0]!);
} else {
  main(args.voters);
}
