/**
 * The checkers can fail: each test plants one bug in the same simulation loop that the real
 * core passes, finds the first seed that exposes it, and shows that the failure names the
 * broken invariant, carries a replay command, and replays identically from the seed alone.
 */
import { describe, expect, it } from 'vitest';
import { runBatch, runSeed } from './run.js';
import type { PlantedBug } from './scenario.js';
import { runStoreBatch, runStoreSeed, storeFailureOf } from './store_run.js';

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

describe('store layer: a planted durability bug is caught, with its seed', () => {
  // The engine reports each commit durable before its sync: the store sends, applies and
  // acknowledges what a crash can still lose. The crash points find it.
  it('catches ack-before-sync (acknowledged-durable)', async () => {
    const o = { bug: 'ack-before-sync' as const };
    const batch = await runStoreBatch(1, 40, o, true);
    expect(batch.failures.length, 'no seed in 1..40 exposed ack-before-sync').toBe(1);
    const f = batch.failures[0]!;
    expect(['acknowledged-durable', 'hardstate-monotonic']).toContain(f.invariant);
    expect(f.replay).toBe(`npm run sim -- --layer store --seed ${f.seed} --bug ack-before-sync`);
    const again = await runStoreSeed(f.seed, o);
    const first = await runStoreSeed(f.seed, o);
    expect(again.traceHash).toBe(first.traceHash);
    expect(storeFailureOf(again, o)).toEqual(f);
  }, 300_000);
});
