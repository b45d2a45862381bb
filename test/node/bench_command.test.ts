/**
 * `flotilla bench`: the list of benchmarks, a refused name (one line, exit code 2), and the
 * SVG writer's charts (a point per result, axes and legend labelled).
 */
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
