/**
 * Rebalancing end to end on the range test cluster (memory data, virtual time): a range
 * moved to a fourth store, a store's replicas all moved away, a change that would lose
 * quorum refused with nothing changed, a learner that cannot catch up rolled back, replica
 * GC after removals and merges; every acknowledged write reads back afterwards from every
 * store holding the range.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  isJoint,
  OpType,
  RangeErrorCode,
  RangeState,
  ReplicaType,
  scanMeta,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { META_RANGE_ID } from '../../src/range/range_node.js';
import { MemoryKv } from '../../src/range/kv_store.js';
import { MemoryEngine } from '../../src/storage/index.js';
import { encodeRangeSnapshot } from '../../src/range/_snapshot_stopgap.js';
import { RangeCluster } from './_cluster.js';

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
let rc: RangeCluster | undefined;

afterEach(async () => {
  await rc?.close();
  rc = undefined;
});

/** Writes `n` keys through the client; returns what was acknowledged. */
async function writeKeys(c: RangeCluster, prefix: string, n: number): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const key = `${prefix}${String(i).padStart(3, '0')}`;
    await c.run(c.client.batch([{ type: OpType.Put, key: k(key), value: k(`v${i}`) }]));
    acked.set(key, `v${i}`);
  }
  return acked;
}

/** Reads every acknowledged key on every node holding its range, through that node. */
async function readBackEverywhere(c: RangeCluster, acked: Map<string, string>): Promise<number> {
  let reads = 0;
  for (const [key, value] of acked) {
    for (const node of c.nodes.values()) {
      const desc = node.localRangeFor(k(key));
      if (desc === undefined) continue;
      const got = await c.run(node.execute([{ type: OpType.Get, key: k(key) }],
        { rangeId: desc.rangeId }));
      expect(got.kind === 'kv' && got.results[0]).toMatchObject({ value: k(value) });
      reads++;
    }
  }
  return reads;
}

async function leaderOf(c: RangeCluster, rangeId: number) {
  for (let i = 0; i < 200; i++) {
    const l = c.leaderOf(rangeId);
    if (l !== undefined) return l;
    await c.run(c.waitTicks(1));
  }
  throw new Error(`no leader of ${rangeId}`);
}

const nodesOf = (d: RangeDescriptor) => d.replicas.map((r) => r.nodeId).sort();

describe('rebalancing end to end', () => {
  it('moves a range to a fourth store; the old replica is collected', async () => {
    rc = new RangeCluster(31, {}, [1, 2, 3, 4], undefined, undefined,
      [1, 2, 3]);
    const c = rc;
    const acked = await writeKeys(c, 'k', 30);
    const leader = await leaderOf(c, 2);
    const from = [1, 2, 3].find((n) => n !== leader.nodeId)!;
    const before = leader.descriptor(2)!;
    const after = await c.run(leader.changeReplicas(2, { add: 4, remove: from }));
    expect(nodesOf(after)).toEqual([1, 2, 3, 4].filter((n) => n !== from));
    expect(after.replicas.every((r) => r.type === ReplicaType.Voter)).toBe(true);
    // Learner, joint, left: three changes.
    expect(after.generation).toBe(before.generation + 3);
    await c.run(c.waitTicks(3));
    const gone = c.nodes.get(from)!;
    expect(c.cluster.store(from).hasRange(2)).toBe(false);
    expect(gone.descriptor(2)).toBeUndefined();
    expect(gone.membershipStats.replicasCollected).toBe(1);
    expect(c.nodes.get(4)!.membershipStats.snapshotsInstalled).toBe(1);
    for (const n of after.replicas) {
      expect(c.nodes.get(n.nodeId)!.descriptor(2)).toEqual(after);
    }
    // The meta range knows the new descriptor.
    const metaRows = scanMeta(c.nodes.get(leader.nodeId)!.kv, 100);
    expect(metaRows.find((d) => d.rangeId === 2)).toEqual(after);
    // Every acknowledged write reads back from every store holding the range, and more
    // writes commit on the new configuration.
    for (const [key, v] of await writeKeys(c, 'z', 5)) acked.set(key, v);
    expect(await readBackEverywhere(c, acked)).toBe(acked.size * 3);
  });

  it('removes every replica of a store, the leader and the meta range included', async () => {
    rc = new RangeCluster(32, {}, [1, 2, 3, 4], undefined, undefined,
      [1, 2, 3]);
    const c = rc;
    const acked = await writeKeys(c, 'a', 10);
    const split = await c.run((await leaderOf(c, 2)).split(2, k('a005')));
    for (const [key, v] of await writeKeys(c, 'b', 10)) acked.set(key, v);
    // Store 1 leads the meta range and (normally) the user ranges: move all of them away.
    // The meta range last: a range node updates the meta rows through its own meta replica.
    for (const rangeId of [2, split.right.rangeId, META_RANGE_ID]) {
      let leader = await leaderOf(c, rangeId);
      if (leader.nodeId === 1) {
        // The leader never removes itself: it hands over first.
        await expect(c.run(leader.changeReplicas(rangeId, { add: 4, remove: 1 })))
          .rejects.toMatchObject({ code: 'ERR_INVALID_REPLICA_CHANGE' });
        await c.run(leader.transferLeadership(rangeId, 2));
        leader = c.nodes.get(2)!;
      }
      const desc = await c.run(leader.changeReplicas(rangeId, { add: 4, remove: 1 }));
      expect(nodesOf(desc)).toEqual([2, 3, 4]);
      expect(isJoint(desc)).toBe(false);
    }
    await c.run(c.waitTicks(5));
    expect(c.cluster.store(1).replicaCount).toBe(0);
    expect(c.nodes.get(1)!.descriptors()).toEqual([]);
    // The moved replicas on store 4 serve every acknowledged write.
    expect(await readBackEverywhere(c, acked)).toBe(acked.size * 3);
    const more = await writeKeys(c, 'c', 5);
    expect(await readBackEverywhere(c, more)).toBe(more.size * 3);
  });

  it('refuses a change that would lose quorum, with nothing changed', async () => {
    rc = new RangeCluster(33, {}, [1, 2, 3, 4], undefined, undefined,
      [1, 2, 3]);
    const c = rc;
    await writeKeys(c, 'q', 3);
    const leader = await leaderOf(c, 2);
    const [other, down] = [1, 2, 3].filter((n) => n !== leader.nodeId) as [number, number];
    c.cluster.network.partition([down], [1, 2, 3, 4].filter((n) => n !== down));
    await c.run(c.waitTicks(30));
    const before = leader.descriptor(2)!;
    const confBefore = c.cluster.store(leader.nodeId).confState(2);
    // {leader, down} would have one live voter; with the new one added, the live voter that
    // goes is still needed (only the down one is removable).
    await expect(c.run(leader.changeReplicas(2, { remove: other })))
      .rejects.toMatchObject({ code: RangeErrorCode.QuorumLoss });
    await expect(c.run(leader.changeReplicas(2, { add: 4, remove: other })))
      .rejects.toMatchObject({ code: RangeErrorCode.QuorumLoss });
    expect(leader.descriptor(2)).toEqual(before);
    expect(c.cluster.store(leader.nodeId).confState(2)).toEqual(confBefore);
    expect(c.cluster.store(4).hasRange(2)).toBe(false);
    // Removing the down voter keeps a quorum and is allowed.
    const after = await c.run(leader.changeReplicas(2, { remove: down }));
    expect(nodesOf(after)).toEqual([1, 2, 3].filter((n) => n !== down));
  });

  it('rolls back a learner that does not catch up', async () => {
    rc = new RangeCluster(34, {}, [1, 2, 3, 4], undefined, undefined,
      [1, 2, 3]);
    const c = rc;
    await writeKeys(c, 'r', 3);
    c.cluster.network.partition([4], [1, 2, 3]);
    const leader = await leaderOf(c, 2);
    const before = leader.descriptor(2)!;
    const move = c.run(leader.changeReplicas(2, { add: 4, remove: 3 },
      { learnerTimeoutTicks: 20 }));
    await expect(move).rejects.toMatchObject({ code: 'ERR_LEARNER_TIMEOUT' });
    const after = leader.descriptor(2)!;
    expect(nodesOf(after)).toEqual([1, 2, 3]);
    expect(after.generation).toBe(before.generation + 2);
    expect(c.cluster.store(leader.nodeId).confState(2).learners).toEqual([]);
  });

  it('collects the right-hand replicas of a merge on every store', async () => {
    rc = new RangeCluster(35);
    const c = rc;
    const acked = await writeKeys(c, 'm', 10);
    const split = await c.run((await leaderOf(c, 2)).split(2, k('m005')));
    const right = split.right.rangeId;
    await c.run((await leaderOf(c, 2)).merge(2));
    await c.run(c.waitTicks(5));
    for (const id of [1, 2, 3]) {
      expect(c.cluster.store(id).hasRange(right)).toBe(false);
      expect(c.nodes.get(id)!.membershipStats.replicasCollected).toBe(1);
    }
    expect(await readBackEverywhere(c, acked)).toBe(acked.size * 3);
  });

  it('the rebalancer loop evens replica counts onto a new store', async () => {
    rc = new RangeCluster(36, { rebalance: { nodeIds: [1, 2, 3, 4], intervalTicks: 5 } },
      [1, 2, 3, 4], undefined, undefined,
      [1, 2, 3]);
    const c = rc;
    const acked = await writeKeys(c, 'e', 12);
    for (const at of ['e003', 'e006', 'e009']) {
      const holder = c.nodes.get(1)!.localRangeFor(k(at))!;
      await c.run((await leaderOf(c, holder.rangeId)).split(holder.rangeId, k(at)));
    }
    // Five ranges of three replicas; the loop has been moving some to store 4 meanwhile.
    const counts = () => [1, 2, 3, 4].map((id) => c.cluster.store(id).replicaCount);
    let ticks = 0;
    while (Math.max(...counts()) - Math.min(...counts()) > 1 && ticks < 3000) {
      await c.run(c.waitTicks(10));
      ticks += 10;
    }
    await c.run(c.waitTicks(5));
    expect(counts().sort()).toEqual([3, 4, 4, 4]);
    const moves = [...c.nodes.values()].reduce((n, node) => n + node.rebalancer!.stats.movesDone,
      0);
    expect(moves).toBeGreaterThanOrEqual(3);
    expect(await readBackEverywhere(c, acked)).toBe(acked.size * 3);
  });

  it('collects a replica removed while cut off, which never applied its removal', async () => {
    rc = new RangeCluster(39, {}, [1, 2, 3, 4], undefined, undefined, [1, 2, 3]);
    const c = rc;
    const acked = await writeKeys(c, 'p', 4);
    let leader = await leaderOf(c, 2);
    if (leader.nodeId === 3) {
      await c.run(leader.transferLeadership(2, 1));
      leader = c.nodes.get(1)!;
    }
    c.cluster.network.partition([3], [1, 2, 4]);
    const after = await c.run(leader.changeReplicas(2, { add: 4, remove: 3 }));
    expect(nodesOf(after)).toEqual([1, 2, 4]);
    await c.run(c.waitTicks(20));
    const three = c.nodes.get(3)!;
    // Store 3 never got the change: its replica still names itself, and nothing collects it.
    expect(three.descriptor(2)!.replicas.some((r) => r.nodeId === 3)).toBe(true);
    expect(three.replicasAwaitingGc).toBe(0);
    c.cluster.network.heal();
    for (let i = 0; i < 300 && c.cluster.store(3).hasRange(2); i++) await c.run(c.waitTicks(1));
    expect(c.cluster.store(3).hasRange(2)).toBe(false);
    expect(three.descriptor(2)).toBeUndefined();
    expect(three.membershipStats.replicasCollected).toBe(1);
    expect(three.localRangeFor(k('p000'))).toBeUndefined();
    expect(await readBackEverywhere(c, acked)).toBe(acked.size * 3);
  });

  it('a stale snapshot does not bring a collected replica back', async () => {
    rc = new RangeCluster(37, {}, [1, 2, 3, 4], undefined, undefined,
      [1, 2, 3]);
    const c = rc;
    await writeKeys(c, 's', 3);
    let leader = await leaderOf(c, 2);
    if (leader.nodeId === 3) {
      await c.run(leader.transferLeadership(2, 1));
      leader = c.nodes.get(1)!;
    }
    // A snapshot of the range as it is now, naming node 3.
    const old = leader.snapshotData(2);
    await c.run(leader.changeReplicas(2, { add: 4, remove: 3 }));
    await c.run(c.waitTicks(3));
    const three = c.nodes.get(3)!;
    expect(c.cluster.store(3).hasRange(2)).toBe(false);
    const snap = { data: old, metadata: { index: 20, term: 1, confState: {
      voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } };
    expect(three.acceptsSnapshot(2, snap)).toBe(false);
    expect(three.membershipStats.snapshotsStale).toBe(1);
    // A newer descriptor naming node 3 again (a re-add) is accepted.
    const now = leader.descriptor(2)!;
    const readded = { ...now, generation: now.generation + 1,
      replicas: [...now.replicas, { nodeId: 3, replicaId: 3, type: ReplicaType.Learner }] };
    expect(three.acceptsSnapshot(2, { ...snap, data: encodeRangeSnapshot(readded,
      new MemoryKv()) })).toBe(true);
  });
});

describe('rebalancing with the data on the stores\' engines', () => {
  it('moves a range to a fourth store; data and descriptor rows follow', async () => {
    const made = new Map<number, MemoryEngine>();
    for (const id of [1, 2, 3, 4]) {
      const e = new MemoryEngine();
      await e.open();
      made.set(id, e);
    }
    rc = new RangeCluster(38, {}, [1, 2, 3, 4], (id) => made.get(id)!, undefined, [1, 2, 3]);
    const c = rc;
    const acked = await writeKeys(c, 'g', 12);
    const split = await c.run((await leaderOf(c, 2)).split(2, k('g006')));
    let leader = await leaderOf(c, split.right.rangeId);
    if (leader.nodeId === 3) {
      await c.run(leader.transferLeadership(split.right.rangeId, 1));
      leader = c.nodes.get(1)!;
    }
    const after = await c.run(leader.changeReplicas(split.right.rangeId, { add: 4, remove: 3 }));
    await c.run(c.waitTicks(5));
    for (const id of [1, 2, 4]) {
      expect(RangeState.storedDescriptor(c.nodes.get(id)!.kv, after.rangeId)).toEqual(after);
    }
    // Store 4 holds the moved range's keys (written before the split), store 3 none of them.
    for (const [key, value] of acked) {
      const moved = key >= 'g006';
      expect(made.get(4)!.getUser(k(key)) && new Uint8Array(made.get(4)!.getUser(k(key))!))
        .toEqual(moved ? k(value) : undefined);
      expect(made.get(3)!.getUser(k(key)) === undefined).toBe(moved);
    }
    expect(RangeState.storedDescriptor(c.nodes.get(3)!.kv, after.rangeId)).toBeUndefined();
    expect(await readBackEverywhere(c, acked)).toBe(acked.size * 3);
  });
});
