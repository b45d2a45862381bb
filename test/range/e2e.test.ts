/**
 * End to end on three stores in one process (memory data, virtual time): writes through the
 * client, splits under write load behind the split-delay helper, and every acknowledged
 * write read back afterwards from every store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  compareKeys,
  inProcessMergeWaiter,
  MergeWaitTimeoutError,
  OpType,
  scanMeta,
  tilingProblem,
  type MergeWaiter,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { keyToString } from '../../src/range/keys.js';
import { META_RANGE_ID } from '../../src/range/range_node.js';
import { RangeCluster } from './_cluster.js';

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
let rc: RangeCluster | undefined;

afterEach(async () => {
  await rc?.close();
  rc = undefined;
});

/** User ranges held by a node, in key order. */
function userRanges(rc: RangeCluster, nodeId: number): RangeDescriptor[] {
  return rc.nodes.get(nodeId)!.descriptors().filter((d) => d.rangeId !== META_RANGE_ID)
    .sort((a, b) => compareKeys(a.startKey, b.startKey));
}

describe('ranges end to end', () => {
  it('writes and reads back through the client', async () => {
    rc = new RangeCluster(11);
    const c = rc.client;
    await rc.run(c.batch([{ type: OpType.Put, key: k('a'), value: k('1') }]));
    const got = await rc.run(c.batch([{ type: OpType.Get, key: k('a') }]));
    expect(got.kind === 'kv' && got.results[0]).toMatchObject({ value: k('1') });
    const cput = rc.run(c.batch([{ type: OpType.ConditionalPut, key: k('a'), value: k('2'),
      expected: k('0') }]));
    await expect(cput).rejects.toMatchObject({ code: 'ERR_CONDITION_FAILED' });
  });

  it('splits under write load; every acknowledged write reads back from every store',
    async () => {
      rc = new RangeCluster(12);
      const cluster = rc;
      const acked = new Map<string, string>();
      const ackTicks: number[] = [];
      const splitTicks: number[] = [];
      const writers = 4;
      const writesPerWriter = 40;
      const writer = async (w: number) => {
        for (let i = 0; i < writesPerWriter; i++) {
          // Keys spread over the alphabet; each writer owns its keys, so the last
          // acknowledged value of a key is the one every store must hold.
          const key = `${String.fromCharCode(97 + ((i * 7 + w * 5) % 26))}${w}-${i % 10}`;
          const value = `${w}:${i}`;
          await cluster.client.batch([{ type: OpType.Put, key: k(key), value: k(value) }]);
          acked.set(key, value);
          ackTicks.push(cluster.ticks);
        }
      };
      const splitter = async () => {
        for (const at of ['m', 'f', 't', 'c', 'w']) {
          await cluster.waitTicks(3);
          const holder = [...cluster.nodes.values()][0]!.localRangeFor(k(at))!;
          let leader = cluster.leaderOf(holder.rangeId);
          while (leader === undefined) {
            await cluster.waitTicks(1);
            leader = cluster.leaderOf(holder.rangeId);
          }
          const { right, delay } = await leader.split(holder.rangeId, k(at));
          expect(compareKeys(right.startKey, k(at))).toBe(0);
          expect(delay.delayedTicks).toBeLessThanOrEqual(20);
          splitTicks.push(cluster.ticks);
        }
      };
      const work = Promise.all([...Array.from({ length: writers }, (_, w) => writer(w)),
        splitter()]);
      await rc.run(work, 20_000);
      await rc.run(rc.waitTicks(5));

      expect(acked.size).toBeGreaterThan(0);
      // The splits happened while writes were being acknowledged.
      const during = ackTicks.filter((t) => t > splitTicks[0]! && t < splitTicks[4]!);
      expect(during.length).toBeGreaterThan(10);
      for (const [nodeId, node] of rc.nodes) {
        const ranges = userRanges(rc, nodeId);
        expect(ranges.length).toBe(6);
        expect(tilingProblem(ranges)).toBeNull();
        expect(tilingProblem(scanMeta(node.kv, 100))).toBeNull();
        for (const [key, value] of acked) {
          expect(keyToString(node.kv.get(k(key)) ?? new Uint8Array())).toBe(value);
        }
        expect(node.stats.splitsApplied).toBe(5);
        // Every store holds an initialized replica of every range, those created by a peer's
        // message before the split applied here included (initialized in place).
        for (const d of ranges) {
          expect(rc.cluster.store(nodeId).raftStatus(d.rangeId)!.initialized).toBe(true);
        }
        expect(node.stats.snapshotsWithoutState).toBe(0);
      }
      // Statistics divided by the splits still add up to the data.
      const n1 = rc.nodes.get(1)!;
      const keys = userRanges(rc, 1).reduce((s, d) => s + n1.rangeStats(d.rangeId)!.keyCount, 0);
      expect(keys).toBe(acked.size);
      // And linearizably (ReadIndex) through every node, followers included.
      for (const node of rc.nodes.values()) {
        for (const [key, value] of [...acked].slice(0, 12)) {
          const got = await rc.run(node.execute([{ type: OpType.Get, key: k(key) }]));
          expect(got.kind === 'kv' && keyToString((got.results[0] as { value: Uint8Array })
            .value)).toBe(value);
        }
      }
    });
});

describe('ranges end to end, with a store cut off and by size', () => {
  it('splits past a cut-off store, which catches up on every split and write when it returns',
    async () => {
      rc = new RangeCluster(13);
      const cluster = rc;
      const acked = new Map<string, string>();
      const put = async (key: string, value: string) => {
        await cluster.client.batch([{ type: OpType.Put, key: k(key), value: k(value) }]);
        acked.set(key, value);
      };
      await rc.run(put('a0', 'before'));
      rc.cluster.network.isolate(3);
      await rc.run((async () => {
        for (let i = 0; i < 10; i++) await put(`${String.fromCharCode(98 + i)}1`, `v${i}`);
        for (const at of ['d', 'h']) {
          const holder = cluster.nodes.get(1)!.localRangeFor(k(at))!;
          let leader = cluster.leaderOf(holder.rangeId);
          while (leader === undefined || leader.nodeId === 3) {
            await cluster.waitTicks(1);
            leader = cluster.leaderOf(holder.rangeId);
          }
          const { delay } = await leader.split(holder.rangeId, k(at));
          // Node 3 is unreachable: named in the report (inactive, or not caught up), and the
          // split went ahead within the bound.
          expect(delay.delayedTicks).toBeLessThanOrEqual(20);
          expect(delay.message).toMatch(/node 3/);
        }
        for (let i = 0; i < 10; i++) await put(`${String.fromCharCode(98 + i)}2`, `w${i}`);
      })(), 20_000);
      expect(rc.nodes.get(3)!.stats.splitsApplied).toBe(0);
      rc.cluster.network.heal();
      await rc.run(rc.waitTicks(60));
      for (const [nodeId, node] of rc.nodes) {
        // Node 3 applies both splits from the log, or a range's snapshot (of its leader's
        // applied state) carries it past the second one, whose right side then comes by its
        // own snapshot.
        if (nodeId !== 3) expect(node.stats.splitsApplied).toBe(2);
        expect(node.stats.splitsApplied + node.membershipStats.snapshotsInstalled)
          .toBeGreaterThanOrEqual(2);
        expect(userRanges(rc, nodeId)).toEqual(userRanges(rc, 1));
        expect(tilingProblem(userRanges(rc, nodeId))).toBeNull();
        for (const [key, value] of acked) {
          expect(keyToString(node.kv.get(k(key)) ?? new Uint8Array())).toBe(value);
        }
      }
    });

  it('splits a range that outgrows its size threshold, repeatedly', async () => {
    rc = new RangeCluster(14, { sizeSplit: { rangeBytesMax: 600, rangeKeysMax: 1000 } });
    const cluster = rc;
    const value = new Uint8Array(40);
    await rc.run((async () => {
      for (let i = 0; i < 60; i++) {
        const key = `key${String(i).padStart(3, '0')}`;
        await cluster.client.batch([{ type: OpType.Put, key: k(key), value }]);
      }
    })(), 20_000);
    await rc.run(rc.waitTicks(30));
    const ranges = userRanges(rc, 1);
    // 60 × 46 bytes = 2760 bytes: at most 600 per range after the splits settle.
    expect(ranges.length).toBeGreaterThanOrEqual(5);
    expect(tilingProblem(ranges)).toBeNull();
    const n1 = rc.nodes.get(1)!;
    for (const d of ranges) expect(n1.rangeStats(d.rangeId)!.byteCount).toBeLessThanOrEqual(600);
    const keys = ranges.reduce((s, d) => s + n1.rangeStats(d.rangeId)!.keyCount, 0);
    expect(keys).toBe(60);
  });
});

describe('merges end to end', () => {
  it('merges two split ranges under writes; every acknowledged write reads back everywhere',
    async () => {
      rc = new RangeCluster(15);
      const cluster = rc;
      const acked = new Map<string, string>();
      const put = async (key: string, value: string) => {
        await cluster.client.batch([{ type: OpType.Put, key: k(key), value: k(value) }]);
        acked.set(key, value);
      };
      const leaderFor = async (key: string) => {
        for (;;) {
          const holder = cluster.nodes.get(1)!.localRangeFor(k(key))!;
          const leader = cluster.leaderOf(holder.rangeId);
          if (leader !== undefined) return { leader, rangeId: holder.rangeId };
          await cluster.waitTicks(1);
        }
      };
      await rc.run((async () => {
        for (let i = 0; i < 10; i++) await put(`a${i}`, `1.${i}`);
        for (let i = 0; i < 10; i++) await put(`t${i}`, `1.${i}`);
        const { leader, rangeId } = await leaderFor('a');
        await leader.split(rangeId, k('m'));
        for (let i = 0; i < 10; i++) await put(`p${i}`, `2.${i}`);
        // Merge while writers keep writing to both sides.
        const writes = (async () => {
          for (let i = 0; i < 20; i++) await put(`${i % 2 === 0 ? 'b' : 'x'}${i}`, `3.${i}`);
        })();
        const left = await leaderFor('a');
        const merged = await left.leader.merge(left.rangeId);
        expect(merged.rangeId).toBe(left.rangeId);
        await writes;
        for (let i = 0; i < 10; i++) await put(`z${i}`, `4.${i}`);
      })(), 20_000);
      await rc.run(rc.waitTicks(10));
      for (const [nodeId, node] of rc.nodes) {
        const ranges = userRanges(rc, nodeId);
        expect(ranges.map((d) => d.rangeId)).toEqual([2]);
        expect(tilingProblem(ranges)).toBeNull();
        expect(tilingProblem(scanMeta(node.kv, 100))).toBeNull();
        expect(node.stats.mergesApplied).toBe(1);
        expect(node.rangeStats(2)!.keyCount).toBe(acked.size);
        for (const [key, value] of acked) {
          expect(keyToString(node.kv.get(k(key)) ?? new Uint8Array())).toBe(value);
        }
      }
    });

  it('a merge whose wait failed leaves the right frozen; merging again resumes it', async () => {
    let failNext = true;
    const inProcess = inProcessMergeWaiter((id) => rc!.nodes.get(id));
    const waiter: MergeWaiter = {
      waitApplied(nodeId, rangeId, index) {
        if (!failNext) return inProcess.waitApplied(nodeId, rangeId, index);
        return Promise.reject(new MergeWaitTimeoutError(nodeId, rangeId, index, 0));
      },
    };
    rc = new RangeCluster(17, { mergeWaiter: waiter });
    const cluster = rc;
    const put = (key: string) =>
      cluster.client.batch([{ type: OpType.Put, key: k(key), value: k(key) }]);
    await rc.run((async () => {
      await put('a');
      await put('x');
      for (;;) {
        const leader = cluster.leaderOf(2);
        if (leader !== undefined && await leader.split(2, k('m')).then(() => true, () => false)) {
          break;
        }
        await cluster.waitTicks(1);
      }
    })(), 5_000);
    const right = rc.nodes.get(1)!.localRangeFor(k('x'))!;
    const leader = (await rc.run((async () => {
      for (;;) {
        const l = cluster.leaderOf(2);
        if (l !== undefined) return l;
        await cluster.waitTicks(1);
      }
    })(), 1_000))!;
    await expect(rc.run(leader.merge(2), 2_000))
      .rejects.toMatchObject({ code: 'ERR_MERGE_WAIT_TIMEOUT' });
    expect(leader.frozenAt(right.rangeId)).toBeGreaterThan(0);
    expect(leader.stats.mergesApplied).toBe(0);
    failNext = false;
    const merged = await rc.run(leader.merge(2), 5_000);
    expect(merged.rangeId).toBe(2);
    await rc.run(rc.waitTicks(10));
    for (const node of rc.nodes.values()) {
      expect(node.stats.mergesApplied).toBe(1);
      expect(keyToString(node.kv.get(k('x')) ?? new Uint8Array())).toBe('x');
      expect(node.localRangeFor(k('x'))!.rangeId).toBe(2);
    }
  });

  it('refuses a merge with no right neighbour, or of a range not held here', async () => {
    rc = new RangeCluster(16);
    const n1 = rc.nodes.get(1)!;
    await rc.run(rc.waitTicks(3));
    // Range 2 is the last range: nothing to its right.
    await expect(rc.run(n1.merge(2))).rejects.toMatchObject({ code: 'ERR_MERGE_NOT_ADJACENT' });
    await expect(rc.run(n1.merge(9))).rejects.toMatchObject({ code: 'ERR_RANGE_UNAVAILABLE' });
  });
});
