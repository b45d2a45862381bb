/**
 * Issue 10, finding 12, end to end: three stores on a loopback network that duplicates
 * messages without encoding them (`encodeFrames: false`), proposals forwarded by followers.
 * Before the fix most seeds died with `RaftPanicError: missing log entry`: the duplicate
 * forwarded proposal reached the leader as the same Entry objects, which it stamped twice.
 */
import { describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/multiraft/index.js';
import { silentLogger } from './_helpers.js';

const SEEDS = Number(process.env.FLOTILLA_LOOPBACK_SEEDS ?? 12);

describe('LocalCluster over a duplicating loopback without frames', () => {
  it(`commits forwarded proposals in every seed (1..${SEEDS})`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const cluster = new LocalCluster({ seed, encodeFrames: false, logger: silentLogger,
        store: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 } });
      try {
        cluster.createRange(1, { leaderNodeId: 1 });
        cluster.tick(5);
        cluster.network.setFaults({ duplicateRate: 0.5 });
        for (let i = 0; i < 20; i++) {
          cluster.store(2 + (i % 2)).propose(1, new Uint8Array([i]));
          cluster.tick(1);
        }
        cluster.network.heal();
        cluster.tick(10);
        const status = cluster.store(1).raftStatus(1)!;
        // Each of the 20 proposals commits at least once (duplicates may commit twice).
        expect(status.commit, `seed ${seed}`).toBeGreaterThanOrEqual(21);
      } finally {
        await cluster.close();
      }
    }
  });
});
