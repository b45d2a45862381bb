/** A three-store range cluster in one process on virtual time, for end-to-end tests. */
import { LocalCluster, type ClusterStoreOptions } from '../../src/multiraft/index.js';
import type { StorageEngine } from '../../src/storage/index.js';
import { SeededRandom } from '../../src/raft/index.js';
import {
  KEY_MAX,
  META_KEY_MAX,
  META_KEY_MIN,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { CounterRangeIdAllocator } from '../../src/range/command_ids.js';
import { EngineKv } from '../../src/range/kv_store.js';
import { RangeClient } from '../../src/range/client.js';
import { META_RANGE_ID, RangeNode, type RangeNodeOptions } from '../../src/range/range_node.js';

/** Stores, their range nodes, a client, and a pump that drives virtual time. */
export class RangeCluster {
  readonly cluster: LocalCluster;
  readonly nodes = new Map<number, RangeNode>();
  readonly client: RangeClient;
  ticks = 0;

  /** Runs between ticks (an engine's writes complete here: a crash model's, LevelDB's). */
  drive: () => void | Promise<void> = () => undefined;

  /**
   * `engines`: each store's (opened, empty) storage engine, its range node's data on it;
   * without, the stores' default memory engines and a `MemoryKv` per range node.
   * `replicaNodeIds`: the stores that hold the first ranges (the others start empty).
   */
  constructor(seed: number, node: Partial<RangeNodeOptions> = {}, nodeIds = [1, 2, 3],
    engines?: (nodeId: number) => StorageEngine, store?: ClusterStoreOptions,
    replicaNodeIds = nodeIds) {
    const rangeIds = new CounterRangeIdAllocator(2);
    const made: RangeNode[] = [];
    const engineOf = new Map<number, StorageEngine>();
    this.cluster = new LocalCluster({
      nodeIds, seed, ...(store === undefined ? {} : { store }),
      ...(engines === undefined ? {} : { storageEngine: (nodeId: number) => {
        const engine = engines(nodeId);
        engineOf.set(nodeId, engine);
        return engine;
      } }),
      stateMachine: (nodeId) => {
        const engine = engineOf.get(nodeId);
        const n = new RangeNode({ nodeId, random: new SeededRandom(seed + nodeId), rangeIds,
          peers: (id) => this.nodes.get(id),
          ...(engine === undefined ? {} : { kv: EngineKv.empty(engine) }), ...node });
        made.push(n);
        return n;
      },
    });
    for (const n of made) {
      n.attach(this.cluster.store(n.nodeId));
      this.nodes.set(n.nodeId, n);
    }
    const replicas = replicaNodeIds.map((id) => ({ nodeId: id, replicaId: id,
      type: ReplicaType.Voter }));
    const meta: RangeDescriptor = { rangeId: META_RANGE_ID, startKey: META_KEY_MIN,
      endKey: META_KEY_MAX, generation: 0, replicas };
    const user: RangeDescriptor = { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX,
      generation: 0, replicas };
    for (const n of made) if (replicaNodeIds.includes(n.nodeId)) n.bootstrap([meta, user]);
    this.cluster.store(replicaNodeIds[0]!).campaign(META_RANGE_ID);
    this.cluster.store(replicaNodeIds[0]!).campaign(2);
    this.client = new RangeClient(this.nodes, { clientId: 1000, random: new SeededRandom(seed),
      backoff: () => this.waitTicks(1) });
  }

  /** One tick of every store and range node, then lets promises run. */
  async tick(): Promise<void> {
    await this.drive();
    this.cluster.tick(1);
    for (const n of this.nodes.values()) n.tick();
    this.ticks++;
    await new Promise((resolve) => setImmediate(resolve));
  }

  private waiters: { at: number; wake: () => void }[] = [];

  /** Resolves after `n` ticks of the pump. */
  waitTicks(n: number): Promise<void> {
    return new Promise((wake) => this.waiters.push({ at: this.ticks + n, wake }));
  }

  /** Runs the pump until `work` settles (bounded by `ticksMax`). */
  async run<T>(work: Promise<T>, ticksMax = 5000): Promise<T> {
    let done = false;
    const result = work.finally(() => {
      done = true;
    });
    // The caller awaits `result` after the pump; mark it handled so that an early rejection
    // is not reported as unhandled in between.
    result.catch(() => undefined);
    for (let i = 0; i < ticksMax && !done; i++) {
      await this.tick();
      const due = this.waiters.filter((w) => w.at <= this.ticks);
      this.waiters = this.waiters.filter((w) => w.at > this.ticks);
      for (const w of due) w.wake();
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (!done) throw new Error(`work not done within ${ticksMax} ticks`);
    return result;
  }

  /**
   * Runs the pump until `done()` holds (bounded by `ticksMax`): followers apply on their own
   * schedule, and on a loaded machine a disk's commit can outlast any fixed number of ticks.
   */
  async until(done: () => boolean, ticksMax = 2000): Promise<void> {
    for (let i = 0; i < ticksMax && !done(); i++) await this.run(this.waitTicks(1));
    if (!done()) throw new Error(`condition not met within ${ticksMax} ticks`);
  }

  /** The node whose store leads `rangeId` now, if any. */
  leaderOf(rangeId: number): RangeNode | undefined {
    for (const n of this.nodes.values()) {
      const s = this.cluster.store(n.nodeId).raftStatus(rangeId);
      if (s !== undefined && s.lead === n.nodeId && s.raftState === 2) return n;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }
}
