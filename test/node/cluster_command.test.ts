/**
 * `npm start` as a user runs it: three node processes come up and elect leaders for every
 * range, the one-line view (stdout is not a terminal here) shows it, and SIGINT stops every
 * child with exit code 0 and removes the temporary data directory.
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
      '--log-level', 'warn'], {}, 80_000);
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

  it('runs a KV workload to its end: every key read back, ranges split under it', async () => {
    const run = startScript('src/node/main.ts', ['--ranges', String(RANGES), '--keys', '240',
      '--split-range-keys', '40', '--log-level', 'warn'], {}, 110_000);
    let done: string | undefined;
    for (let i = 0; i < 1000 && done === undefined && run.child.exitCode === null; i++) {
      done = run.output().out.split('\n').find((l) => / workload \[#+\] done /.test(l));
      if (done === undefined) await sleep(100);
    }
    expect(done, run.output().out + run.output().err).toBeDefined();
    expect(done).toMatch(/written 240\/240 +read 240\/240 .* errors 0 +mismatches 0 /);
    // Splits made ranges: every node holds more than it was bootstrapped with.
    const replicas = [...done!.matchAll(/replicas=(\d+)/g)].map((m) => Number(m[1]));
    expect(replicas).toHaveLength(3);
    for (const r of replicas) expect(r).toBeGreaterThan(RANGES);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(0);
  }, 120_000);
});
