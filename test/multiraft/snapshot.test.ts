/**
 * Log truncation and range snapshots over the loopback network: a follower cut off while its
 * leader truncates catches up by a chunked snapshot built from the engine (user data and
 * range-local keys), a corrupt chunk is refused and counted, and faults that reorder or
 * duplicate chunks are dropped and counted without losing anything.
 */
import { describe, expect, it } from 'vitest';
import { LocalCluster, type Store } from '../../src/multiraft/index.js';
import { MemoryEngine } from '../../src/storage/index.js';
import type { SnapshotChunk } from '../../src/transport/index.js';
import { TEST_STORE_OPTIONS, agreedLeader } from './_helpers.js';
import { EngineKv, b, turn, writes } from './_snapshot_helpers.js';

const RANGE = 1;
const SNAPSHOTS = { raftLogEntriesMax: 30, raftLogTruncateMinEntries: 5 };

function newCluster(seed = 1, chunkBytes = 256, refuseFirst = false):
  { cluster: LocalCluster; kv: EngineKv[] } {
  const kv: EngineKv[] = [];
  const engines = new Map<number, MemoryEngine>();
  const engineOf = (id: number): MemoryEngine => {
    if (!engines.has(id)) engines.set(id, new MemoryEngine());
    return engines.get(id)!;
  };
  const cluster = new LocalCluster({
    seed,
    // With refusals: a refused stream must not wait for its timeout to be asked again.
    store: { ...TEST_STORE_OPTIONS, snapshots: { ...SNAPSHOTS, chunkBytes,
      ...(refuseFirst ? { sendTimeoutMs: 600_000 } : {}) } },
    storageEngine: engineOf,
    stateMachine: (id) => {
      const m = refuseFirst ? new RefusesFirstSnapshot(engineOf(id)) : new EngineKv(engineOf(id));
      kv.push(m);
      return m;
    },
  });
  return { cluster, kv };
}

/** Refuses the first snapshot offered to an uninitialized replica, accepts the others. */
class RefusesFirstSnapshot extends EngineKv {
  offered = 0;

  acceptsSnapshot(): boolean {
    return ++this.offered > 1;
  }
}

/** Ticks (letting async snapshot steps run) until `done`; fails after `ticksMax`. */
async function tickUntil(cluster: LocalCluster, done: () => boolean, what: string,
  ticksMax = 400): Promise<void> {
  for (let t = 0; t < ticksMax && !done(); t++) {
    cluster.tick(1);
    for (let k = 0; k < 5; k++) await turn();
    cluster.settle();
  }
  expect(done(), what).toBe(true);
}

/** Writes `pairs` through the leader of the range and waits until stores 1 and 2 have them. */
async function writeAll(cluster: LocalCluster, kv: EngineKv[], pairs: [string, string][]):
  Promise<Store> {
  const leader = cluster.store(agreedLeaderOf(cluster));
  for (const [k, v] of pairs) leader.propose(RANGE, b(`${k}=${v}`));
  const [last] = pairs[pairs.length - 1]!;
  await tickUntil(cluster, () => kv[0]!.get(last) !== undefined && kv[1]!.get(last) !== undefined,
    'stores 1 and 2 applied every write');
  return leader;
}

function agreedLeaderOf(cluster: LocalCluster): number {
  return cluster.store(1).raftStatus(RANGE)?.lead ?? 0;
}

async function startRange(cluster: LocalCluster): Promise<void> {
  cluster.createRange(RANGE, { leaderNodeId: 1 });
  await tickUntil(cluster, () => agreedLeaderOf(cluster) === 1, 'store 1 leads');
  expect(agreedLeader(cluster, RANGE)).toBe(1);
}

function expectAllReadBack(kv: EngineKv, pairs: [string, string][]): void {
  for (const [k, v] of pairs) expect(kv.get(k), k).toBe(v);
}

describe('log truncation and chunked snapshots (loopback)', () => {
  it('a follower cut off while the log is truncated catches up by a chunked snapshot',
    async () => {
      const { cluster, kv } = newCluster();
      await startRange(cluster);
      cluster.network.isolate(3);
      const pairs = writes(100);
      const leader = await writeAll(cluster, kv, pairs);
      expect(leader.stats.snapshots.logTruncations).toBeGreaterThan(0);
      expect(kv[2]!.get('k099')).toBeUndefined();
      cluster.network.heal();
      await tickUntil(cluster, () => kv[2]!.count(RANGE) === 100, 'store 3 caught up');
      const follower = cluster.store(3).stats.snapshots;
      expect(follower.snapshotsApplied).toBeGreaterThanOrEqual(1);
      expect(leader.stats.snapshots.chunksSent).toBeGreaterThan(1);
      expect(Object.values(follower.chunksRefused).every((n) => n === 0)).toBe(true);
      expect(kv[2]!.snapshotsApplied).toBeGreaterThanOrEqual(1);
      expectAllReadBack(kv[2]!, pairs);
      // Writes after the snapshot replicate by the log again.
      const more = writes(10, 'after');
      await writeAll(cluster, kv, more);
      await tickUntil(cluster, () => kv[2]!.count(RANGE) === 110, 'store 3 applies new writes');
      expectAllReadBack(kv[2]!, more);
      await cluster.close();
    });

  it('a snapshot the state machine refuses fails its stream at once; the next one applies',
    async () => {
      const { cluster, kv } = newCluster(3, 256, true);
      // Only store 1 creates the range: the others are created by its messages and get
      // their first state by snapshot, which their state machines refuse once.
      cluster.createRange(RANGE, { leaderNodeId: 1, lazy: true });
      await tickUntil(cluster, () => agreedLeaderOf(cluster) === 1, 'store 1 leads');
      const pairs = writes(20);
      const leader = cluster.store(1);
      for (const [k, v] of pairs) leader.propose(RANGE, b(`${k}=${v}`));
      await tickUntil(cluster, () => kv[2]!.count(RANGE) === 20, 'store 3 caught up', 200);
      expect((kv[2] as RefusesFirstSnapshot).offered).toBeGreaterThanOrEqual(2);
      expect(cluster.store(3).stats.snapshots.snapshotsApplied).toBe(1);
      expectAllReadBack(kv[2]!, pairs);
      await cluster.close();
    });

  it('a corrupt chunk is refused and counted; the retried snapshot applies', async () => {
    const { cluster, kv } = newCluster(2);
    await startRange(cluster);
    cluster.network.isolate(3);
    const pairs = writes(60);
    await writeAll(cluster, kv, pairs);
    const transport = cluster.store(1).config.transport;
    const send = transport.sendSnapshotChunk!.bind(transport);
    let corrupted = 0;
    transport.sendSnapshotChunk = (chunk: SnapshotChunk): boolean => {
      if (corrupted === 0 && chunk.offset > 0 && chunk.data.length > 0) {
        corrupted++;
        const data = chunk.data.slice();
        data[data.length >> 1]! ^= 0x5a;
        return send({ ...chunk, data });
      }
      return send(chunk);
    };
    cluster.network.heal();
    await tickUntil(cluster, () => kv[2]!.count(RANGE) === 60, 'store 3 caught up');
    expect(corrupted).toBe(1);
    const follower = cluster.store(3).stats.snapshots;
    expect(follower.chunksRefused.corrupt).toBe(1);
    expect(follower.snapshotsApplied).toBeGreaterThanOrEqual(1);
    expect(cluster.store(1).stats.snapshots.snapshotsSendFailed).toBeGreaterThanOrEqual(1);
    expectAllReadBack(kv[2]!, pairs);
    await cluster.close();
  });

  it('a transfer cut mid-stream leaves the follower\'s old state; a later one applies',
    async () => {
      const { cluster, kv } = newCluster(4);
      await startRange(cluster);
      await writeAll(cluster, kv, writes(5, 'old'));
      await tickUntil(cluster, () => kv[2]!.count(RANGE) === 5, 'store 3 has the first writes');
      cluster.network.isolate(3);
      const pairs = writes(60, 'new');
      await writeAll(cluster, kv, pairs);
      const transport = cluster.store(1).config.transport;
      const send = transport.sendSnapshotChunk!.bind(transport);
      let cut = true;
      transport.sendSnapshotChunk = (chunk: SnapshotChunk): boolean =>
        cut && chunk.offset > 0 ? true : send(chunk);
      cluster.network.heal();
      await tickUntil(cluster, () => cluster.store(1).stats.snapshots.snapshotsSent > 0,
        'a stream started');
      for (let t = 0; t < 20; t++) cluster.tick(1);
      // Only first chunks arrived: nothing of the snapshot was written.
      expect(cluster.store(3).stats.snapshots.snapshotsReceived).toBe(0);
      expect(kv[2]!.count(RANGE)).toBe(5);
      expect(kv[2]!.get('k000')).toBe(writes(5, 'old')[0]![1]);
      cut = false;
      await tickUntil(cluster, () => kv[2]!.count(RANGE) === 60 + 5, 'store 3 caught up', 2000);
      expectAllReadBack(kv[2]!, pairs);
      await cluster.close();
    });

  it('reordered and duplicated chunks are dropped and counted; nothing is lost', async () => {
    const { cluster, kv } = newCluster(3);
    await startRange(cluster);
    cluster.network.isolate(3);
    const pairs = writes(80);
    await writeAll(cluster, kv, pairs);
    // The first stream: its second chunk is held back and sent after the third.
    const transport = cluster.store(1).config.transport;
    const send = transport.sendSnapshotChunk!.bind(transport);
    let held: SnapshotChunk | null = null;
    let reordered = 0;
    transport.sendSnapshotChunk = (chunk: SnapshotChunk): boolean => {
      if (reordered === 0 && held === null && chunk.offset > 0) {
        held = chunk;
        return true;
      }
      const ok = send(chunk);
      if (held !== null) {
        send(held);
        held = null;
        reordered++;
      }
      return ok;
    };
    cluster.network.heal();
    cluster.network.setFaults({ duplicateRate: 0.5 }, { from: 1, to: 3 });
    await tickUntil(cluster, () => kv[2]!.count(RANGE) === 80, 'store 3 caught up');
    expect(reordered).toBe(1);
    const refused = cluster.store(3).stats.snapshots.chunksRefused;
    expect(refused['out-of-order']).toBeGreaterThanOrEqual(1);
    expect(refused.duplicate).toBeGreaterThan(0);
    expect(cluster.network.stats().envelopesDuplicated).toBeGreaterThan(0);
    expectAllReadBack(kv[2]!, pairs);
    await cluster.close();
  });
});
