/**
 * kill -9 of real processes (CI-sized; `npm run crash -- --points 1000` is the full run):
 * through three stores on LevelDB, and against the LevelDB engine alone.
 */
import { describe, expect, it } from 'vitest';
import { runCrash } from './crash.js';

describe('crash (kill -9, three stores on LevelDB)', () => {
  it('loses and duplicates nothing acknowledged over a few kill points', async () => {
    const outcome = await runCrash({ points: 2, seed: 7, killAfterMsMin: 100, killAfterAcks: 1 });
    expect(outcome.violations).toEqual([]);
    expect(outcome.points).toBe(2);
    expect(outcome.acknowledged).toBeGreaterThan(0);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
  }, 180_000);

  it('catches stores that acknowledge a write before it is committed', async () => {
    const outcome = await runCrash({ points: 3, seed: 7, killAfterMsMin: 100, killAfterAcks: 1,
      bug: 'ack-before-commit' });
    expect(outcome.lost).toBeGreaterThan(0);
    expect(outcome.violations.some((v) => /acknowledged id \d+ lost/.test(v))).toBe(true);
  }, 180_000);
});

describe('crash (kill -9, the LevelDB engine alone)', () => {
  it('loses and duplicates nothing acknowledged', async () => {
    const outcome = await runCrash({ mode: 'engine', points: 1, seed: 7, killAfterMsMin: 100, killAfterAcks: 1 });
    expect(outcome.violations).toEqual([]);
    expect(outcome.acknowledged).toBeGreaterThan(0);
  }, 120_000);

  it('catches a writer that acknowledges before the sync', async () => {
    const outcome = await runCrash({ mode: 'engine', points: 1, seed: 7, killAfterMsMin: 100, killAfterAcks: 1,
      bug: 'ack-before-sync' });
    expect(outcome.lost).toBeGreaterThan(0);
  }, 120_000);
});
