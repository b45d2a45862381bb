import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBatch, runSeed } from './run.js';

/** Seeds every CI run checks in-process (the CLI runs many more). */
const CI_SEEDS = 2000;

describe('deterministic simulation', () => {
  it('replays a seed exactly: same trace hash, same trace, same outcome', () => {
    for (const seed of [1, 42, 7777]) {
      const linesA: string[] = [];
      const linesB: string[] = [];
      const a = runSeed(seed, {}, { trace: (l) => linesA.push(l) });
      const b = runSeed(seed, {}, { trace: (l) => linesB.push(l) });
      const c = runSeed(seed, {});
      expect(a.traceHash).toBe(b.traceHash);
      expect(c.traceHash).toBe(a.traceHash); // tracing does not perturb the run
      expect(linesA).toEqual(linesB);
      expect(a.stats).toEqual(c.stats);
      expect(a.failure).toEqual(c.failure);
      expect(a.stats.steps).toBeGreaterThan(100);
    }
  });

  it('different seeds give different runs', () => {
    const hashes = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) hashes.add(runSeed(seed, {}).traceHash);
    expect(hashes.size).toBe(20);
  });

  it(`the real Raft core passes ${CI_SEEDS} seeds with every fault injected`, () => {
    const t = runBatch(1, CI_SEEDS, {}, false);
    expect(t.failures.map((f) => `${f.invariant}: ${f.replay}\n${f.message}`)).toEqual([]);
    expect(t.seeds).toBe(CI_SEEDS);
    // Every kind of fault and request actually happened.
    const s = t.stats;
    for (const k of [
      'messagesDropped', 'messagesDuplicated', 'partitions', 'crashes', 'restarts', 'diskStalls',
      'confChanges', 'transfers', 'forgetLeaders', 'campaigns', 'compactions', 'snapshotsApplied',
      'putsAcked', 'readsServed',
    ] as const) {
      expect(s[k], k).toBeGreaterThan(0);
    }
  }, 300_000);

  it('uses no clock and no ambient randomness inside the simulation', () => {
    const dir = dirname(fileURLToPath(import.meta.url));
    const loopFiles = readdirSync(dir).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'cli.ts',
    );
    expect(loopFiles).toContain('world.ts');
    for (const f of loopFiles) {
      const text = readFileSync(join(dir, f), 'utf8');
      const ambient = /Date\.now|new Date\b|Math\.random|performance\.now|setTimeout|setImmediate/;
      expect(text, f).not.toMatch(ambient);
    }
  });
});
