/**
 * `runCrash`: the kill -9 check with real processes, through stores (the default,
 * store_crash.ts) or against the durable engine alone (`mode: 'engine'`, this file).
 *
 * ENGINE MODE: runs the child (child.ts:
 * three LevelDB stores under a write load of unique values), kills it with SIGKILL at a
 * random moment, reads the stores back in a fresh process and checks, after every kill:
 *
 * - every write acknowledged before the kill is there exactly once: its id in its range's
 *   log once, at or below the applied index, and its user key naming that range and index;
 * - no id appears twice anywhere (acknowledged or not);
 * - every HardState is at or past the one read back after the previous kill (never moves
 *   back), and commit <= last index; applied = commit (they are written in one batch).
 *
 * Seeded (`--seed`): the kill delays come from the seed; the interleaving of the child is the
 * OS's and is not replayed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreReport } from './child.js';
import { runStoreCrash } from './store_crash.js';
import { SeededRandom } from '../../src/util/index.js';
import { killArmer, type KillAt } from './_kill.js';
import { forEachLine } from './_lines.js';

const here = dirname(fileURLToPath(import.meta.url));
// The child runs in this very node binary with tsx as a loader (not the tsx wrapper, which
// would spawn a grandchild that SIGKILL does not reach).
const NODE_ARGS = ['--import', 'tsx', join(here, 'child.ts')];

/** Options of one crash run. */
export interface CrashOptions {
  /** Kill points. */
  points: number;
  /**
   * 'store': three `Store`s on LevelDB under proposals, restarted by reopening the stores
   * (store_child.ts); 'engine': the durable engine written directly (child.ts).
   * @default 'store'
   */
  mode?: 'store' | 'engine';
  /**
   * Store mode: start the child as JavaScript transpiled once for the run, not through tsx
   * (a cheaper point; the full run uses it).
   * @default false
   */
  compiled?: boolean;
  /** Ranges per store. @default 8 */
  ranges?: number;
  /** Seed of the kill delays. @default 1 */
  seed?: number;
  /** Longest time the child writes before the kill, ms. @default 300 */
  killAfterMsMax?: number;
  /** Shortest time the child writes before the kill, ms. @default 0 */
  killAfterMsMin?: number;
  /**
   * The kill delay starts once the child has acknowledged this many writes (at `ready` when
   * 0), so that a loaded machine's slow start still leaves acknowledged writes to check.
   * @default 0
   */
  killAfterAcks?: number;
  /** A planted bug for the child (see child.ts), to show the check catches it. */
  bug?: 'ack-before-sync' | 'ack-before-commit';
  /** Progress lines. */
  onProgress?: (line: string) => void;
}

/** The outcome of a crash run. */
export interface CrashOutcome {
  points: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  violations: string[];
}

/**
 * Runs a writer, kills it `kill.ms` after it is ready and has acknowledged `kill.acks`
 * writes; its startup read-back and acks.
 */
function writeAndKill(dir: string, firstId: number, ranges: number, kill: KillAt,
  bug: string | undefined): Promise<{ report: StoreReport[]; acked: Set<number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, 'write', dir, String(firstId),
      String(ranges)], { stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FLOTILLA_CRASH_BUG: bug ?? '' } });
    const acked = new Set<number>();
    let report: StoreReport[] | null = null;
    let stderr = '';
    let killed = false;
    const armer = killArmer(kill, () => {
      killed = true;
      child.kill('SIGKILL');
    });
    forEachLine(child.stdout, (line) => {
      if (line.startsWith('report ')) report = JSON.parse(line.slice(7)) as StoreReport[];
      else if (line === 'ready') armer.ready();
      else if (line.startsWith('ack ')) {
        acked.add(Number(line.split(' ')[2]));
        armer.acked();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('exit', () => {
      if (!killed || report === null) {
        reject(new Error(`the writer exited before the kill: ${stderr}`));
      } else {
        resolve({ report, acked });
      }
    });
  });
}

function readBack(dir: string, ranges: number): Promise<StoreReport[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, 'verify', dir, String(ranges)],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`read-back failed (exit ${code}): ${err}`));
      else resolve(JSON.parse(out) as StoreReport[]);
    });
  });
}

type HardStates = Map<string, { term: number; commit: number }>;

function check(reports: StoreReport[], acked: Set<number>, previous: HardStates,
  outcome: CrashOutcome): void {
  const seen = new Map<number, number>();
  for (let s = 0; s < reports.length; s++) {
    const report = reports[s]!;
    for (const [rangeId, r] of Object.entries(report.ranges)) {
      const where = `store ${s + 1} range ${rangeId}`;
      if (r.hardState.commit > r.last) outcome.violations.push(`${where}: commit > last`);
      if (r.applied !== r.hardState.commit) outcome.violations.push(`${where}: applied != commit`);
      const before = previous.get(where);
      if (before !== undefined && (r.hardState.term < before.term ||
        r.hardState.commit < before.commit)) {
        outcome.violations.push(`${where}: HardState moved back`);
      }
      previous.set(where, r.hardState);
      r.ids.forEach((id, k) => {
        seen.set(id, (seen.get(id) ?? 0) + 1);
        const index = r.last - r.ids.length + 1 + k;
        if (report.user[`id${id}`] !== `${rangeId}:${index}`) {
          outcome.violations.push(`${where}: id ${id} at ${index} without its user key`);
        }
      });
    }
  }
  for (const [id, count] of seen) {
    if (count > 1) {
      outcome.duplicated++;
      outcome.violations.push(`id ${id} appears ${count} times`);
    }
  }
  for (const id of acked) {
    if (!seen.has(id)) {
      outcome.lost++;
      outcome.violations.push(`acknowledged id ${id} lost`);
    }
  }
}

function progress(options: CrashOptions, point: number, acked: number, o: CrashOutcome): void {
  options.onProgress?.(`point ${point}: ${acked} acknowledged before the kill, ` +
    `${o.violations.length} violations`);
}

/** Runs `points` kill points against one set of stores. */
export async function runCrash(options: CrashOptions): Promise<CrashOutcome> {
  if ((options.mode ?? 'store') === 'store') return runStoreCrash(options);
  const ranges = options.ranges ?? 8;
  const random = new SeededRandom(options.seed ?? 1);
  const killMax = options.killAfterMsMax ?? 300;
  const killMin = options.killAfterMsMin ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-crash-'));
  const outcome: CrashOutcome = { points: 0, acknowledged: 0, lost: 0, duplicated: 0,
    violations: [] };
  const previous: HardStates = new Map();
  const acked = new Set<number>();
  try {
    // Each writer's startup read-back checks the previous kill; one last read-back checks
    // the final one.
    let lastAcked = 0;
    for (let p = 0; p < options.points; p++) {
      const killAfterMs = killMin + Math.floor(random.float() * (killMax - killMin));
      const run = await writeAndKill(dir, (p + 1) * 10_000_000, ranges,
        { ms: killAfterMs, acks: options.killAfterAcks ?? 0 }, options.bug);
      if (p > 0) {
        check(run.report, acked, previous, outcome);
        outcome.points++;
        progress(options, p, lastAcked, outcome);
      }
      for (const id of run.acked) acked.add(id);
      outcome.acknowledged = acked.size;
      lastAcked = run.acked.size;
      if (outcome.violations.length > 0) return outcome;
    }
    check(await readBack(dir, ranges), acked, previous, outcome);
    outcome.points++;
    progress(options, options.points, lastAcked, outcome);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return outcome;
}
