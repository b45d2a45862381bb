/** The `npm start` demo: its wiring on real time, its view, and a clean stop on SIGINT. */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Demo } from '../../src/node/demo.js';
import { renderLine, renderScreen } from '../../src/node/demo_view.js';

describe('demo', () => {
  it('elects, writes and quiesces a few hundred ranges on real time', async () => {
    const demo = new Demo({ ranges: 300, writesPerSecond: 20 });
    demo.start();
    try {
      // Real time on a shared machine: wait for the state, not for a fixed delay.
      for (let i = 0; i < 600 && demo.sample().total.quiesced <= 800; i++) await sleep(100);
      const s = demo.sample();
      expect(s.total.replicas).toBe(900);
      expect(s.total.leaders).toBe(300);
      expect(s.total.leaderless).toBe(0);
      // Idle ranges are asleep; only the few just written to are awake.
      expect(s.total.quiesced).toBeGreaterThan(800);
      expect(s.stores.map((x) => x.summary.leaders)).toEqual([100, 100, 100]);
      await sleep(1100);
      const next = demo.sample();
      expect(next.commitsPerS).toBeGreaterThan(5);
      expect(renderLine(next)).toContain('replicas=900');
      expect(renderScreen(next).join('\n')).toContain('quiesced');
    } finally {
      await demo.stop();
    }
  });

  it('stops cleanly on SIGINT when run as npm run demo', async () => {
    const cwd = new URL('../..', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', 'demo',
      '--ranges', '200'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // Drained, so that a full pipe never blocks the child's log writes.
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (let i = 0; i < 450 && !out.includes('replicas=600'); i++) await sleep(100);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('replicas=600');
    expect(out).toContain('stopped (SIGINT)');
  });
});
