/**
 * `Store.destroyReplica` on a replica seated dormant by `Store.open` (no storage object yet):
 * its storage is loaded to be deleted, and the next open no longer finds it.
 */
import { describe, expect, it } from 'vitest';
import { newStoreSummary } from '../../src/multiraft/index.js';
import { tempDirs } from '../storage/_engines.js';
import { RestartCluster } from './_restart_cluster.js';

describe('destroyReplica after Store.open', () => {
  const dir = tempDirs();
  for (const kind of ['memory', 'level'] as const) {
    it(`deletes a dormant replica on the ${kind} engine`, async () => {
      const dirs = new Map<number, string>();
      const c = new RestartCluster(kind, (nodeId) => {
        if (!dirs.has(nodeId)) dirs.set(nodeId, dir());
        return dirs.get(nodeId)!;
      });
      await c.openAll();
      for (const store of c.running) {
        for (const r of [1, 2]) store.createRange(r, { voters: [1, 2, 3] });
      }
      c.store(1).campaign(1);
      c.store(1).campaign(2);
      await c.write(1, 'a');
      await c.write(2, 'b');
      await c.until(() => c.running.every((s) => s.summary(newStoreSummary()).quiesced === 2),
        'quiesced');
      await c.closeAll();
      await c.openAll();
      const three = c.store(3);
      expect(three.summary(newStoreSummary()).dormant).toBe(2);
      three.destroyReplica(2);
      expect(three.hasRange(2)).toBe(false);
      expect(three.stats.replicasLoaded).toBe(1);
      await c.until(() => true, 'a batch');
      await c.closeAll();
      await c.openAll();
      const ids: number[] = [];
      c.store(3).forEachRange((r) => ids.push(r));
      expect(ids).toEqual([1]);
      await c.closeAll();
    });
  }
});
