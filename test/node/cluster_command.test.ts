/**
 * `npm start` as a user runs it: three node processes come up and elect leaders for every
 * range, the one-line view (stdout is not a terminal here) shows it, and SIGINT stops every
 * child with exit code 0 and removes the temporary data directory. With the workload:
 * ranges split under it, and after it deleted half the keys the emptied ranges merge and
 * leaderships are balanced, all shown by the view.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startScript } from './_process.js';

const RANGES = 3;

/** Whether one view line shows every node with peers live and every range led. */
function settledLine(line: string): boolean {
  const nodes = line.split(' | ');
  if (nodes.length !== 3) return false;
  let leaders = 0;
  for (const n of nodes) {
    const m = /replicas=(\d+) leaders=(\d+) quiesced=\d+ leaderless=(\d+) peers_live=2\/2/.exec(n);
    if (m === null || Number(m[1]) !== RANGES || Number(m[3]) !== 0) return false;
    leaders += Number(m[2]);
  }
  return leaders === RANGES;
}

describe('npm start', () => {
  it('runs three node processes, shows them settled, and stops them all on SIGINT', async () => {
    const run = startScript('src/node/main.ts', ['--ranges', String(RANGES), '--keys', '0',
      '--merge-range-bytes', '0', '--log-level', 'warn'], {}, 80_000);
    let settled = false;
    for (let i = 0; i < 600 && !settled && run.child.exitCode === null; i++) {
      settled = run.output().out.split('\n').some(settledLine);
      if (!settled) await sleep(100);
    }
    const printed = run.output().out;
    expect(settled, printed + run.output().err).toBe(true);
    const dir = /^data directory (.+)$/m.exec(printed)![1]!;
    expect(printed).toMatch(/^n1: status page http:\/\/127\.0\.0\.1:\d+\//m);
    expect(existsSync(dir)).toBe(true);
    run.child.kill('SIGINT');
    const outcome = await run.done;
    expect(outcome.code, outcome.err).toBe(0);
    expect(outcome.out).toContain('stopped (SIGINT): n1 exit 0, n2 exit 0, n3 exit 0');
    expect(existsSync(dir)).toBe(false);
  }, 90_000);

  it('runs a KV workload to its end: every key read back, ranges split and merge', async () => {
    const run = startScript('src/node/main.ts', ['--ranges', String(RANGES), '--keys', '240',
      '--split-range-keys', '40', '--log-level', 'warn'], {}, 150_000);
    let done: string | undefined;
    for (let i = 0; i < 1000 && done === undefined && run.child.exitCode === null; i++) {
      done = run.output().out.split('\n').find((l) => / workload \[#+\] done /.test(l));
      if (done === undefined) await sleep(100);
    }
    expect(done, run.output().out + run.output().err).toBeDefined();
    expect(done).toMatch(/written 240\/240 +read 240\/240 +deleted (\d+)\/\1 +checked 240\/240 .*/);
    expect(done).toMatch(/ errors 0 +mismatches 0 /);
    expect(Number(/ splits=(\d+) /.exec(done!)![1])).toBeGreaterThan(0);
    // The emptied ranges, cold now, merge; the view counts and lists it.
    let merged: string | undefined;
    for (let i = 0; i < 600 && merged === undefined && run.child.exitCode === null; i++) {
      merged = run.output().out.split('\n').find((l) => / merges=[1-9]/.test(l) &&
        / transfers=[1-9]/.test(l));
      if (merged === undefined) await sleep(100);
    }
    expect(merged, run.output().out.slice(-2000)).toBeDefined();
    expect(run.output().out).toMatch(/last event: \S+  merge: r\d+ merged into its left neighbour/);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(0);
  }, 160_000);
});
