/**
 * `flotilla bench`: the list of benchmarks, a refused name (one line, exit code 2), a tiny
 * real density sweep charted with one point per swept value, and the SVG writer's charts (a
 * point per result, axes and legend labelled).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChart } from '../../src/node/svg_chart.js';
import { expectRefusal, runScript } from './_process.js';

describe('flotilla bench', () => {
  it('lists the benchmarks and refuses an unknown one with exit code 2', async () => {
    const [list, unknown] = await Promise.all([
      runScript('src/node/cli.ts', ['bench', '--list']),
      runScript('src/node/cli.ts', ['bench', 'nosuch']),
    ]);
    expect(list.code, list.err).toBe(0);
    expect(list.out.split('\n')).toEqual(expect.arrayContaining(['density', 'ranges']));
    expectRefusal(unknown, "no benchmark 'nosuch'");
  }, 60_000);

  it('runs a sweep and charts heap bytes and idle CPU against ranges, a point per value',
    async () => {
      const out = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
      try {
        const [run, bad] = await Promise.all([
          runScript('src/node/cli.ts', ['bench', 'density', '--out', out,
            '--sweep', 'ranges=20,60', '--', '--idle-s', '0.2', '--idle-warmup-s', '0.1']),
          runScript('src/node/cli.ts', ['bench', 'density', '--sweep', 'ranges=20']),
        ]);
        expect(run.code, run.err).toBe(0);
        expect(run.out).toContain('sweep: --ranges 20');
        expect(run.out).toContain('sweep: --ranges 60');
        const lines = readFileSync(join(out, 'density.json'), 'utf8').trim().split('\n');
        const quiesced = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((r) => r['name'] === 'density_quiesced');
        expect(quiesced.map((r) => r['ranges'])).toEqual([20, 60]);
        const charts = readdirSync(out).filter((f) => f.endsWith('.svg'));
        expect(charts).toEqual(expect.arrayContaining([
          'density_quiesced__heap_bytes_per_replica.svg',
          'density_quiesced__idle_cpu_percent_of_core.svg']));
        for (const chart of charts) {
          const svg = readFileSync(join(out, chart), 'utf8');
          expect(svg.match(/<circle /g), chart).toHaveLength(2);
          expect(svg).toContain('against ranges');
        }
        expectRefusal(bad, '--sweep takes KEY=A,B,...');
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }, 120_000);

  it('draws one point per result on labelled axes, log-scaled over decades', () => {
    const svg = renderChart({ title: 'density_quiesced: heap against ranges', xLabel: 'ranges',
      yLabel: 'heap_bytes_per_replica', xLog: true, series: [{ label: 'density_quiesced',
        points: [{ x: 1000, y: 700 }, { x: 10_000, y: 657 }, { x: 100_000, y: 562 }] }] });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg).toContain('ranges (log scale)');
    expect(svg).toContain('>heap_bytes_per_replica</text>');
    // Larger x lies further right: the points come out in x order.
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(new Set(xs).size).toBe(3);
  });
});
