/**
 * Seeded runs of the range layer under message faults (drops, duplicates, delays) and
 * partitions, with random splits under write load. After healing, on every store: the
 * ranges tile the key space, every store applied the same splits, and every acknowledged
 * write reads back. Each failure names its seed. More seeds: RANGE_FAULT_SEEDS=200.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/index.js';
import { compareKeys, OpType, tilingProblem } from '../../src/range/index.js';
import { keyToString } from '../../src/range/keys.js';
import { META_RANGE_ID } from '../../src/range/range_node.js';
import { RangeCluster } from './_cluster.js';

const SEEDS = Number(process.env.RANGE_FAULT_SEEDS ?? 3);
const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
let rc: RangeCluster | undefined;

afterEach(async () => {
  await rc?.close();
  rc = undefined;
});

async function runSeed(seed: number): Promise<void> {
  rc = new RangeCluster(seed, {}, [1, 2, 3]);
  const cluster = rc;
  const rand = new SeededRandom(seed * 7919);
  const acked = new Map<string, string>();
  let writesDone = false;
  let merges = 0;
  cluster.cluster.network.setFaults({ dropRate: 0.05, duplicateRate: 0.05, delayMsMax: 150 });
  const writer = async (w: number) => {
    for (let i = 0; i < 25; i++) {
      const key = `${String.fromCharCode(97 + rand.intn(26))}${w}.${i}`;
      try {
        await cluster.client.batch([{ type: OpType.Put, key: k(key), value: k(`${seed}`) }]);
        acked.set(key, `${seed}`);
      } catch {
        // Not acknowledged (attempts exhausted under faults): not checked.
      }
    }
  };
  const chaos = async () => {
    while (!writesDone) {
      await cluster.waitTicks(2 + rand.intn(6));
      if (rand.intn(4) === 0) {
        const node = 1 + rand.intn(3);
        cluster.cluster.network.isolate(node);
        await cluster.waitTicks(5 + rand.intn(20));
        cluster.cluster.network.heal();
        cluster.cluster.network.setFaults({ dropRate: 0.05, duplicateRate: 0.05,
          delayMsMax: 150 });
        continue;
      }
      if (rand.intn(3) === 0) {
        // Merge a random range with its right neighbour, if it has one.
        const node = cluster.nodes.get(1 + rand.intn(3))!;
        const ranges = node.descriptors().filter((d) => d.rangeId !== META_RANGE_ID);
        const left = ranges[rand.intn(ranges.length)]!;
        const leader = cluster.leaderOf(left.rangeId);
        if (leader !== undefined) {
          if (await leader.merge(left.rangeId).then(() => true, () => false)) merges++;
        }
        continue;
      }
      const at = k(String.fromCharCode(98 + rand.intn(24)) + String(rand.intn(10)));
      const holder = cluster.nodes.get(1 + rand.intn(3))!.localRangeFor(at);
      const leader = holder === undefined ? undefined : cluster.leaderOf(holder.rangeId);
      if (holder === undefined || leader === undefined) continue;
      await leader.split(holder.rangeId, at).catch(() => undefined);
    }
  };
  const writers = Promise.all([0, 1, 2].map(writer)).finally(() => {
    writesDone = true;
  });
  await rc.run(Promise.all([writers, chaos()]), 40_000);
  cluster.cluster.network.heal();
  await rc.run(rc.waitTicks(80));
  const splits = rc.nodes.get(1)!.stats.splitsApplied;
  const mergesApplied = rc.nodes.get(1)!.stats.mergesApplied;
  expect(mergesApplied, `seed ${seed}`).toBeGreaterThanOrEqual(merges);
  for (const [nodeId, node] of rc.nodes) {
    const ranges = node.descriptors().filter((d) => d.rangeId !== META_RANGE_ID)
      .sort((a, b) => compareKeys(a.startKey, b.startKey));
    expect(tilingProblem(ranges), `seed ${seed} node ${nodeId}`).toBeNull();
    expect(node.stats.splitsApplied, `seed ${seed} node ${nodeId} splits`).toBe(splits);
    expect(node.stats.mergesApplied, `seed ${seed} node ${nodeId} merges`).toBe(mergesApplied);
    expect(node.stats.snapshotsWithoutState, `seed ${seed}`).toBe(0);
    for (const [key, value] of acked) {
      expect(keyToString(node.kv.get(k(key)) ?? new Uint8Array()),
        `seed ${seed} node ${nodeId} key ${key}`).toBe(value);
    }
  }
  expect(acked.size, `seed ${seed}`).toBeGreaterThan(0);
  if (process.env.RANGE_FAULT_VERBOSE) {
    console.log(`seed ${seed}: ${acked.size} acked, ${splits} splits, ${mergesApplied} merges`);
  }
}

describe('ranges under faults', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: splits under writes, drops, duplicates, delays and partitions`, async () => {
      await runSeed(seed);
    });
  }
});
