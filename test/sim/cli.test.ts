/**
 * The command line, end to end: a replayed seed prints the same trace hash as the in-process
 * run, and a failing run prints the seed and a replay command that reproduces the failure.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSeed } from './run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sim(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/sim/cli.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('npm run sim', () => {
  it('replays a seed with the same trace hash as the in-process run', () => {
    const { code, out } = sim(['--seed', '3']);
    expect(out).toContain(`trace hash ${runSeed(3, {}).traceHash}`);
    expect(out).toContain('ok: no invariant violated');
    expect(code).toBe(0);
  }, 60_000);

  it('prints a failing seed with a command that replays it exactly', () => {
    const run = sim(['--seeds', '20', '--bug', 'truncate-committed', '--jobs', '1']);
    expect(run.code).toBe(1);
    const fail = /FAIL seed (\d+): (\S+) at (\d+)ms \(step (\d+)\)/.exec(run.out);
    expect(fail, run.out).not.toBeNull();
    const replay = /replay: npm run sim -- (.*)/.exec(run.out)![1]!.split(' ');
    expect(replay).toEqual(['--seed', fail![1]!, '--bug', 'truncate-committed']);
    const again = sim(replay);
    expect(again.code).toBe(1);
    expect(again.out).toContain(fail![0]);
    expect(run.out).toMatch(/20 seeds run in|\d+ seeds run in .* 1 failed/);
  }, 60_000);
});
