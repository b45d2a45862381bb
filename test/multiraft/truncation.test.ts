/**
 * Log truncation: a leader keeps what a follower still needs while the log is under its
 * bounds (the follower catches up by the log, no snapshot), truncates once every replica has
 * the entries, and truncates past a lagging follower once the count bound is passed.
 */
import { describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/multiraft/index.js';
import { MemoryEngine } from '../../src/storage/index.js';
import { TEST_STORE_OPTIONS } from './_helpers.js';
import { EngineKv, b, turn, writes } from './_snapshot_helpers.js';

function cluster(raftLogEntriesMax: number): { c: LocalCluster; kv: EngineKv[] } {
  const kv: EngineKv[] = [];
  const engines = [1, 2, 3].map(() => new MemoryEngine());
  const c = new LocalCluster({
    store: { ...TEST_STORE_OPTIONS,
      snapshots: { raftLogEntriesMax, raftLogTruncateMinEntries: 5 } },
    storageEngine: (id) => engines[id - 1]!,
    stateMachine: (id) => {
      const m = new EngineKv(engines[id - 1]!);
      kv.push(m);
      return m;
    },
  });
  return { c, kv };
}

async function until(c: LocalCluster, done: () => boolean, what: string): Promise<void> {
  for (let t = 0; t < 300 && !done(); t++) {
    c.tick(1);
    await turn();
  }
  expect(done(), what).toBe(true);
}

async function write(c: LocalCluster, kv: EngineKv[], n: number, tag: string,
  on: number[]): Promise<void> {
  const before = kv[on[0]! - 1]!.count(1);
  for (const [k, v] of writes(n, tag)) c.store(1).propose(1, b(`${k}=${v}`));
  await until(c, () => on.every((id) => kv[id - 1]!.count(1) === before + n), 'applied');
}

async function started(raftLogEntriesMax: number): Promise<{ c: LocalCluster; kv: EngineKv[] }> {
  const r = cluster(raftLogEntriesMax);
  r.c.createRange(1, { leaderNodeId: 1 });
  await until(r.c, () => r.c.store(1).raftStatus(1)?.lead === 1, 'store 1 leads');
  return r;
}

describe('log truncation', () => {
  it('keeps entries a follower needs under the bounds, truncates once all have them',
    async () => {
      const { c, kv } = await started(10_000);
      c.network.isolate(3);
      await write(c, kv, 50, 'a', [1, 2]);
      expect(c.store(1).stats.snapshots.logEntriesTruncated).toBe(0);
      expect(c.store(2).stats.snapshots.logEntriesTruncated).toBe(0);
      c.network.heal();
      await until(c, () => kv[2]!.count(1) === 50, 'store 3 caught up');
      expect(c.store(1).stats.snapshots.snapshotsSent).toBe(0);
      await write(c, kv, 10, 'b', [1, 2, 3]);
      expect(c.store(1).stats.snapshots.logTruncations).toBeGreaterThan(0);
      // Followers know no one's progress: under the bounds they keep their logs.
      expect(c.store(2).stats.snapshots.logTruncations).toBe(0);
      await c.close();
    });

  it('truncates past a lagging follower once the count bound is passed', async () => {
    const { c, kv } = await started(20);
    c.network.isolate(3);
    await write(c, kv, 50, 'a', [1, 2]);
    expect(c.store(1).stats.snapshots.logEntriesTruncated).toBeGreaterThanOrEqual(20);
    expect(c.store(2).stats.snapshots.logEntriesTruncated).toBeGreaterThanOrEqual(20);
    c.network.heal();
    await until(c, () => kv[2]!.count(1) === 50, 'store 3 caught up');
    expect(c.store(1).stats.snapshots.snapshotsSent).toBeGreaterThan(0);
    await c.close();
  });
});
