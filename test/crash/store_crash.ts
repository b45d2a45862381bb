/**
 * The kill -9 check through stores with real processes: runs the child (store_child.ts:
 * three `Store`s on three LevelDB directories under a write load of unique values proposed
 * through the Store API), kills it with SIGKILL a short random time after it is ready, and
 * starts it again on the same directories. Every start reopens the stores from their engines,
 * lets them replay, and checks the previous kill (store_child.ts lists what): every write
 * acknowledged before any kill applied exactly once on its store, nothing applied twice,
 * HardState never back, commit <= last index. The acknowledgements the parent collected are
 * appended to `<dir>/acked` before the next start reads them. One last start checks the
 * last kill. A point costs one process start, an open of three stores and the kill delay.
 *
 * Seeded (`seed`): the kill delays come from the seed; the interleaving of the child is the
 * OS's and is not replayed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../../src/util/index.js';
import type { StartCheck } from './store_child.js';
import type { CrashOptions, CrashOutcome } from './crash.js';
import { killArmer, type KillAt } from './_kill.js';
import { forEachLine } from './_lines.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
// This very node binary with tsx as a loader (the tsx wrapper would spawn a grandchild that
// SIGKILL does not reach).
const TSX_ARGS = ['--import', 'tsx', join(here, 'store_child.ts')];

/**
 * Transpiles the child and everything it imports into `into` (TypeScript's own compiler,
 * no type check: `npm test` checks types), so that a point starts plain JavaScript instead
 * of paying tsx's loader in every process (about 1 s of CPU per start on this machine).
 * Returns the node arguments that start the child.
 */
function compileChild(into: string): string[] {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '--outDir', into, '--rootDir', root,
    '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--skipLibCheck', '--noCheck', '--types', 'node', join(here, 'store_child.ts')],
  { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling the child failed: ${r.stdout}${r.stderr}`);
  // The package's "type": "module" and its dependencies, as the sources see them.
  copyFileSync(join(root, 'package.json'), join(into, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(into, 'node_modules'));
  return [join(into, 'test', 'crash', 'store_child.js')];
}

interface Run {
  check: StartCheck;
  acked: string[];
}

/**
 * Starts the child, kills it `kill.ms` after `ready` and its `kill.acks`-th acknowledgement;
 * its start check and its acks.
 */
function startAndKill(args: readonly string[], dir: string, firstId: number, ranges: number,
  kill: KillAt, bug: string | undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, dir, String(firstId), String(ranges)],
      { stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, FLOTILLA_CRASH_BUG: bug ?? '' } });
    const acked: string[] = [];
    let check: StartCheck | null = null;
    let stderr = '';
    let killed = false;
    const armer = killArmer(kill, () => {
      killed = true;
      child.kill('SIGKILL');
    });
    forEachLine(child.stdout, (line) => {
      if (line.startsWith('ack ')) {
        acked.push(line.slice(4));
        armer.acked();
      } else if (line.startsWith('check ')) {
        check = JSON.parse(line.slice(6)) as StartCheck;
      } else if (line === 'ready') {
        armer.ready();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('exit', () => {
      if (!killed || check === null) {
        reject(new Error(`the child exited before the kill: ${stderr}`));
      } else {
        resolve({ check, acked });
      }
    });
  });
}

/** Runs `points` kill points against one set of three stores. */
export async function runStoreCrash(options: CrashOptions): Promise<CrashOutcome> {
  const ranges = options.ranges ?? 8;
  const random = new SeededRandom(options.seed ?? 1);
  const killMax = options.killAfterMsMax ?? 300;
  const killMin = options.killAfterMsMin ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-crash-stores-'));
  const build = mkdtempSync(join(tmpdir(), 'flotilla-crash-build-'));
  const outcome: CrashOutcome = { points: 0, acknowledged: 0, lost: 0, duplicated: 0,
    violations: [] };
  try {
    const args = options.compiled === true ? compileChild(build) : TSX_ARGS;
    let lastAcked = 0;
    for (let p = 0; p <= options.points; p++) {
      // The extra start at the end only checks the last kill: kill it at once.
      const killAfterMs = p === options.points ? 0 :
        killMin + Math.floor(random.float() * (killMax - killMin));
      const acks = p === options.points ? 0 : options.killAfterAcks ?? 0;
      const run = await startAndKill(args, dir, (p + 1) * 10_000_000, ranges,
        { ms: killAfterMs, acks }, options.bug);
      if (p > 0) {
        outcome.points++;
        outcome.lost = run.check.lost;
        outcome.duplicated = run.check.duplicated;
        outcome.acknowledged = run.check.acknowledged;
        outcome.violations.push(...run.check.violations.map((v) => `point ${p}: ${v}`));
        options.onProgress?.(`point ${p}: ${lastAcked} acknowledged before the kill ` +
          `(${run.check.acknowledged} in all), ${outcome.violations.length} violations`);
      }
      if (p < options.points && run.acked.length > 0) {
        appendFileSync(join(dir, 'acked'), `${run.acked.join('\n')}\n`);
      }
      lastAcked = run.acked.length;
      if (outcome.violations.length > 0) return outcome;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  }
  return outcome;
}
