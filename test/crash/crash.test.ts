/** kill -9 of real processes writing to LevelDB: nothing acknowledged is lost (CI-sized). */
import { describe, expect, it } from 'vitest';
import { runCrash } from './crash.js';

describe('crash (kill -9, LevelDB)', () => {
  it('loses and duplicates nothing acknowledged over a few kill points', async () => {
    const outcome = await runCrash({ points: 2, seed: 7, killAfterMsMin: 100 });
    expect(outcome.violations).toEqual([]);
    expect(outcome.points).toBe(2);
    expect(outcome.acknowledged).toBeGreaterThan(0);
  });

  it('catches a writer that acknowledges before the sync', async () => {
    const outcome = await runCrash({ points: 1, seed: 7, killAfterMsMin: 100,
      bug: 'ack-before-sync' });
    expect(outcome.lost).toBeGreaterThan(0);
  });
});
