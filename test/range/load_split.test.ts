/**
 * Load-based splits wired into `RangeNode`: a range under a load above the decider's
 * threshold splits at a key the sampled requests balance around; under the threshold it
 * does not. Three stores, virtual time (a tick stands for 200 ms).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { compareKeys, OpType, type RangeDescriptor } from '../../src/range/index.js';
import { META_RANGE_ID } from '../../src/range/range_node.js';
import { RangeCluster } from './_cluster.js';

const enc = new TextEncoder();
let rc: RangeCluster | undefined;
afterEach(async () => {
  await rc?.close();
  rc = undefined;
});

const loadSplit = { qpsThreshold: 20, recordDurationMs: 1000, suggestionIntervalMs: 2000,
  sampleSize: 10, minCounter: 10 };

function userRanges(c: RangeCluster, nodeId: number): RangeDescriptor[] {
  return c.nodes.get(nodeId)!.descriptors().filter((d) => d.rangeId !== META_RANGE_ID);
}

/** `writers` clients writing keys k000..k099 in turn for `ticks` ticks. */
async function load(c: RangeCluster, writers: number, ticks: number): Promise<number> {
  let stop = false;
  let puts = 0;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const key = enc.encode(`k${String((i * 37 + w * 11) % 100).padStart(3, '0')}`);
      await c.client.batch([{ type: OpType.Put, key, value: enc.encode(`${w}.${i}`) }])
        .catch(() => undefined);
      puts++;
      await c.waitTicks(1);
    }
  };
  const all = Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  await c.run(c.waitTicks(ticks), ticks + 10);
  stop = true;
  await c.run(all, 200);
  return puts;
}

describe('load-based splits', () => {
  it('splits a range whose load is over the threshold, inside the loaded keys', async () => {
    rc = new RangeCluster(41, { loadSplit });
    // 24 writers, a put each every few ticks (its round trips and a tick's pause): well
    // over 20 requests/s (the count shows it: 60 ticks are 12 s).
    const puts = await load(rc, 24, 60);
    expect(puts / 12).toBeGreaterThan(2 * loadSplit.qpsThreshold);
    const started = [...rc.nodes.values()].reduce((n, x) => n + x.stats.loadSplitsStarted, 0);
    expect(started).toBeGreaterThan(0);
    const ranges = userRanges(rc, 1).sort((a, b) => compareKeys(a.startKey, b.startKey));
    expect(ranges.length).toBeGreaterThan(1);
    // Every split key lies among the written keys (k000..k099), not at the edges.
    for (const d of ranges.slice(1)) {
      expect(compareKeys(d.startKey, enc.encode('k000'))).toBeGreaterThan(0);
      expect(compareKeys(d.startKey, enc.encode('k099'))).toBeLessThanOrEqual(0);
    }
  }, 60_000);

  it('does not split under the threshold', async () => {
    rc = new RangeCluster(42, { loadSplit });
    // 2 writers, a put each every tick at most: at most 10 requests/s, half the threshold.
    const puts = await load(rc, 2, 60);
    expect(puts / 12).toBeLessThan(loadSplit.qpsThreshold / 2 + 1);
    const started = [...rc.nodes.values()].reduce((n, x) => n + x.stats.loadSplitsStarted, 0);
    expect(started).toBe(0);
    expect(userRanges(rc, 1).length).toBe(1);
  }, 60_000);
});
