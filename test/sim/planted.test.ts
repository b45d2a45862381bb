/**
 * The checkers can fail: each test plants one bug in the same simulation loop that the real
 * core passes, finds the first seed that exposes it, and shows that the failure names the
 * broken invariant, carries a replay command, and replays identically from the seed alone.
 */
import { describe, expect, it } from 'vitest';
import { runBatch, runSeed } from './run.js';
import type { PlantedBug } from './scenario.js';

const cases: { bug: PlantedBug; caughtBy: string[]; seedsMax: number }[] = [
  // The second grant goes out on the wire while the recorded vote looks unchanged.
  {
    bug: 'double-vote',
    caughtBy: ['vote-once', 'election-safety', 'hardstate-monotonic'],
    seedsMax: 200,
  },
  // Raft's Figure 8: a later leader lacks the entry committed by counting.
  {
    bug: 'commit-old-term',
    caughtBy: ['leader-completeness', 'committed-stable', 'state-machine-safety'],
    seedsMax: 1500,
  },
  { bug: 'truncate-committed', caughtBy: ['committed-stable'], seedsMax: 50 },
  { bug: 'stale-read', caughtBy: ['linearizability'], seedsMax: 50 },
];

describe('planted bugs are caught, with their seed', () => {
  for (const { bug, caughtBy, seedsMax } of cases) {
    it(`catches ${bug}`, () => {
      const batch = runBatch(1, seedsMax, { bug }, true);
      expect(batch.failures.length, `no seed in 1..${seedsMax} exposed ${bug}`).toBe(1);
      const f = batch.failures[0]!;
      expect(caughtBy).toContain(f.invariant);
      expect(f.replay).toBe(`npm run sim -- --seed ${f.seed} --bug ${bug}`);
      // The seed alone replays the failure exactly.
      const again = runSeed(f.seed, { bug });
      const first = runSeed(f.seed, { bug });
      expect(again.failure).toEqual(first.failure);
      expect(again.traceHash).toBe(first.traceHash);
      expect(again.failure?.invariant).toBe(f.invariant);
      expect(again.failure?.message).toBe(f.message);
      if (bug === 'stale-read') {
        // The report is the minimal failing sub-history: a write, then a read that missed it.
        expect(f.message).toContain('minimal failing sub-history');
        expect(f.message).toMatch(/get\(k\d+\) -> /);
      }
    }, 60_000);
  }
});
