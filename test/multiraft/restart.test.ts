/**
 * `Store.open`: a store restarts from its engine with its replicas dormant (no storage
 * object, no node), and every range serves again once a request or message wakes it; on the
 * memory engine and on LevelDB, after a whole-cluster restart and after one store's.
 */
import { describe, expect, it } from 'vitest';
import {
  NotLeaderError,
  newReplicaStatus,
  newStoreSummary,
  type OpenProgress,
} from '../../src/multiraft/index.js';
import { tempDirs } from '../storage/_engines.js';
import { RestartCluster, type EngineKind } from './_restart_cluster.js';

const RANGES = 6;
const ranges = Array.from({ length: RANGES }, (_, i) => i + 1);

async function startedCluster(kind: EngineKind, dir: () => string): Promise<RestartCluster> {
  const dirs = new Map<number, string>();
  const c = new RestartCluster(kind, (nodeId) => {
    if (!dirs.has(nodeId)) dirs.set(nodeId, dir());
    return dirs.get(nodeId)!;
  });
  await c.openAll();
  for (const store of c.running) for (const r of ranges) store.createRange(r, { voters: [1, 2, 3] });
  // Leaders spread over the stores, so that a restart of one store loses some of them.
  for (const r of ranges) c.store(1 + (r % 3)).campaign(r);
  for (const r of ranges) await c.write(r, `a${r}`);
  return c;
}

/** Applied index of every range on every store, by node id. */
function appliedIndexes(c: RestartCluster): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const s = newReplicaStatus();
  for (const store of c.running) {
    out.set(store.nodeId, ranges.map((r) => (store.readStatus(r, s), s.applied)));
  }
  return out;
}

for (const kind of ['memory', 'level'] as const) {
  describe(`Store.open on the ${kind} engine`, () => {
    const dir = tempDirs();

    it('whole cluster: reopened dormant, serves again, nothing applied twice', async () => {
      const c = await startedCluster(kind, dir);
      await c.until(() => c.running.every((s) => s.summary(newStoreSummary()).quiesced === RANGES),
        'quiesced');
      const before = appliedIndexes(c);
      await c.closeAll();

      const reports: OpenProgress[] = [];
      await c.openAll({ progressEvery: 4, onProgress: (p) => reports.push({ ...p }) });
      for (const [k, store] of c.running.entries()) {
        const sum = store.summary(newStoreSummary());
        expect(sum.replicas).toBe(RANGES);
        expect(sum.dormant).toBe(RANGES);
        expect(store.stats.replicasLoaded).toBe(0);
        expect(store.ticker.awakeCount).toBe(0);
        const opened = c.machineOf(k).opened;
        expect(ranges.map((r) => opened.get(r))).toEqual(before.get(store.nodeId));
      }
      // One report after 4 replicas and a final one, per store.
      expect(reports.map((p) => [p.replicasListed, p.done])).toEqual(
        [[4, false], [RANGES, true], [4, false], [RANGES, true], [4, false], [RANGES, true]]);
      expect(reports.at(-1)!.replicasDormant).toBe(RANGES);

      // A request on a range wakes it with no leader known; the group elects one.
      const woken = c.store(1);
      expect(() => woken.propose(1, new TextEncoder().encode('x'))).toThrow(NotLeaderError);
      expect(woken.stats.replicasLoaded).toBe(1);
      for (const r of ranges) await c.write(r, `b${r}`);
      for (const k of [0, 1, 2]) {
        for (const r of ranges) {
          // Entries applied before the restart are not applied again; `x` may have been lost.
          expect(c.machineOf(k).of(r).filter((p) => p !== 'x')).toEqual([`b${r}`]);
        }
      }
      // And a linearizable read on each range is answered.
      for (const r of ranges) {
        const leader = c.running.find((s) => {
          const st = newReplicaStatus();
          s.readStatus(r, st);
          return st.lead === s.nodeId;
        })!;
        leader.readIndex(r, new Uint8Array([r]));
      }
      await c.until(() => c.running.reduce((n, _, k) => n + c.machineOf(k).reads.length, 0) ===
        RANGES, 'reads answered');
      await c.closeAll();
    });

    it('one store restarts while the others run', async () => {
      const c = await startedCluster(kind, dir);
      await c.close(2);
      // The survivors keep serving (ranges led by store 2 elect a new leader).
      for (const r of ranges) await c.write(r, `c${r}`, 400);
      await c.open(2);
      expect(c.store(2).summary(newStoreSummary()).dormant).toBe(RANGES);
      for (const r of ranges) await c.write(r, `d${r}`, 400);
      for (const r of ranges) {
        // The reopened store caught up on what was written while it was down, in order.
        const seen = c.machines[1]!.of(r);
        expect(seen.indexOf(`c${r}`)).toBeGreaterThanOrEqual(0);
        expect(seen.indexOf(`c${r}`)).toBeLessThan(seen.indexOf(`d${r}`));
        expect(seen).not.toContain(`a${r}`);
      }
      await c.closeAll();
    });
  });
}
