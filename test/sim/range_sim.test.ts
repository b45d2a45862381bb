/**
 * The range layer's simulation in CI (small counts; `npm run sim -- --layer range --seeds N`
 * runs the full ones): seeds pass, a seed replays exactly, and the planted split bug is
 * caught by the linearizability check with its seed and replay command.
 */
import { describe, expect, it } from 'vitest';
import { rangeFailureOf, rangeReplayCommand, runRangeBatch, runRangeSeed } from './range_run.js';

describe('range-layer simulation', () => {
  it('passes 20 seeds of splits and merges under faults', async () => {
    const totals = await runRangeBatch(1, 20, {}, false);
    expect(totals.failures).toEqual([]);
    expect(totals.seeds).toBe(20);
    // The seeds did what they are for: splits, merges, faults, and checks at every tick.
    expect(totals.stats.splitsDone).toBeGreaterThan(20);
    expect(totals.stats.mergesDone).toBeGreaterThan(0);
    expect(totals.stats.pauses + totals.stats.partitions).toBeGreaterThan(0);
    expect(totals.stats.tilingChecks).toBe(totals.stats.ticks * 3);
  }, 240_000);

  // Seeds that once failed, each for its root cause: 1716 (a split-born range's snapshot
  // chunk dropped, its follower waiting out the store's 30 s send timeout past the read-back)
  // and 12673 (a put retried after a split applied again on the right side: no dedupe there).
  it.each([1716, 13465, 12673])('passes seed %i (a regression)', async (seed) => {
    expect((await runRangeSeed(seed, {})).failure).toBeNull();
  }, 60_000);

  it('replays a seed exactly', async () => {
    const a = await runRangeSeed(7, {});
    const b = await runRangeSeed(7, {});
    expect(b.stats).toEqual(a.stats);
    expect(b.failure).toEqual(a.failure);
  }, 120_000);

  it('catches the planted split bug (right side created without the writes just before)',
    async () => {
      const o = { bug: 'split-loses-writes' as const };
      const totals = await runRangeBatch(1, 20, o, true);
      expect(totals.failures.length).toBe(1);
      const f = totals.failures[0]!;
      expect(f.invariant).toBe('linearizability');
      expect(f.replay).toBe(rangeReplayCommand(f.seed, o));
      expect(f.replay).toContain(`--seed ${f.seed} --bug split-loses-writes`);
      // The seed replays the failure, and without the bug the same seed passes.
      const again = rangeFailureOf(await runRangeSeed(f.seed, o), o);
      expect(again?.invariant).toBe('linearizability');
      expect((await runRangeSeed(f.seed, {})).failure).toBeNull();
    }, 240_000);
});
