/**
 * The stores of one range seed: per node a `Store` with its `RangeNode`, its data on a
 * crash-model engine (`EngineKv` over `CrashModelEngine`) and its loopback transport, and
 * what happens to them: pauses, crashes and restarts.
 *
 * A PAUSE stops a store and its range node (no ticks, no batches, no disk completions) and
 * cuts it from the network; it resumes with its memory.
 *
 * A CRASH is a power cut: the disk keeps only the writes whose sync completed (the engine's
 * crash model, `CrashModelEngine.crash`), everything in memory is gone, the transport is
 * closed and whatever callers awaited on the node fails (range_handles.ts). A RESTART opens
 * the store the way the node does (src/node/node.ts): `Store.open` on the crashed disk's
 * image, `EngineKv.open` over it, a new `RangeNode` that `restore`s its replicas' state from
 * their rows; the replicas are seated dormant and catch up from their peers.
 *
 * Nothing here decides when: the world draws that (range_world.ts).
 */
import { assert, type VirtualClock } from '../../src/util/index.js';
import { SeededRandom } from '../../src/raft/index.js';
import type { LoopbackNetwork, LoopbackTransport } from '../../src/transport/index.js';
import { Store, type StoreOptions } from '../../src/multiraft/index.js';
import { CrashModelEngine } from '../../src/storage/index.js';
import {
  EngineKv,
  RangeNode,
  type KvStore,
  type RangeIdAllocator,
} from '../../src/range/index.js';
import { DeferredKv } from '../../src/node/deferred_kv.js';
import { asRangeNodes, NodeHandle } from './range_handles.js';
import { SplitLosesWritesKv } from './range_bug.js';
import type { RangeBug } from './range_world.js';

/**
 * A snapshot stream with no answer fails after this (virtual) time and Raft probes again.
 * Scaled to this network like the election timeout (10 ticks): chunks of a few KB cross it
 * in at most 2 ms, but one the network drops is silent, and the store's default (30 s, 150
 * ticks, sized for big snapshots on real links) outlasts the read-back after the heal: seed
 * 1716 lost the chunk of a split-born range's snapshot to a follower whose split had not
 * applied yet, and that follower sat out the range's next merges until the heal's reads
 * gave up.
 */
const SNAPSHOT_SEND_TIMEOUT_MS = 2_000;

/**
 * Meta scans for stale replicas, every this many ticks: scaled to the read-back's 30
 * attempts a tick apart (seed 8710: a removed replica's stale span answered the reader's
 * requests for a key of a range split from it until the reader gave up, before the scan at
 * the default 50 ticks came).
 */
const STALE_SCAN_TICKS = 10;

/** How a store is down. */
export type DownKind = 'pause' | 'crash';

/** What the stores of a seed share. */
export interface SimStoresOptions {
  seed: number;
  nodeIds: readonly number[];
  clock: VirtualClock;
  network: LoopbackNetwork;
  rangeIds: RangeIdAllocator;
  bug?: RangeBug;
  /** The world's sleep (merge coordinators wait across crashes with it). */
  sleep: (ticks: number) => Promise<void>;
  /** The classic layout (no crashes): merge peers and clients reach the nodes directly. */
  classic: boolean;
}

/** See the file header. */
export class SimStores {
  readonly stores = new Map<number, Store>();
  readonly engines = new Map<number, CrashModelEngine>();
  readonly handles = new Map<number, NodeHandle>();
  readonly down = new Map<number, DownKind>();
  private readonly transports = new Map<number, LoopbackTransport>();
  /** What each crashed store's disk held at its crash (its restart opens it). */
  private readonly images = new Map<number, CrashModelEngine>();
  private readonly raftRandom: SeededRandom;
  /** Per node: its restarts (its range node's random source follows them). */
  private readonly incarnations = new Map<number, number>();
  crashes = 0;
  restarts = 0;

  constructor(private readonly o: SimStoresOptions) {
    this.raftRandom = new SeededRandom(o.seed * 7919 + 1);
    for (const id of o.nodeIds) this.handles.set(id, new NodeHandle(id, o.sleep, !o.classic));
  }

  /** The nodes as clients and merge coordinators see them (crash-aware handles). */
  get nodes(): ReadonlyMap<number, RangeNode> {
    return asRangeNodes(this.handles);
  }

  /** Starts every store on a new, empty disk. */
  async open(): Promise<void> {
    for (const id of this.o.nodeIds) {
      const engine = new CrashModelEngine({ storeId: id, clusterId: 'range-sim' });
      await engine.open();
      const node = this.newNode(id, this.withBug(EngineKv.empty(engine)));
      const store = new Store(this.storeOptions(id, node, engine));
      node.attach(store);
      this.seat(id, store, node, engine);
    }
  }

  /** The running range node of `id`, or undefined while it is down. */
  node(id: number): RangeNode | undefined {
    return this.down.has(id) ? undefined : this.handles.get(id)!.node ?? undefined;
  }

  /** The range node of `id` unless it crashed (a paused one is there, only stopped). */
  alive(id: number): RangeNode | undefined {
    return this.handles.get(id)!.node ?? undefined;
  }

  /** The running range nodes, by node id. */
  *running(): Generator<[number, RangeNode, Store]> {
    for (const id of this.o.nodeIds) {
      const node = this.node(id);
      if (node !== undefined) yield [id, node, this.stores.get(id)!];
    }
  }

  /** Pauses a store (see the file header). */
  pause(id: number): void {
    assert(!this.down.has(id), 'pause a running store');
    this.down.set(id, 'pause');
    this.o.network.isolate(id);
  }

  /** Crashes a store (see the file header): its disk keeps only completed writes. */
  crash(id: number): number {
    assert(!this.down.has(id), 'crash a running store');
    this.down.set(id, 'crash');
    this.crashes++;
    const lost = this.engines.get(id)!.pendingWrites;
    this.images.set(id, this.engines.get(id)!.crash());
    this.handles.get(id)!.crash();
    void this.transports.get(id)!.close();
    return lost;
  }

  /** Resumes every paused store and restarts every crashed one (the network healed). */
  async resumeAll(): Promise<void> {
    for (const [id, kind] of [...this.down]) {
      if (kind === 'crash') await this.restart(id);
      this.down.delete(id);
    }
  }

  private async restart(id: number): Promise<void> {
    const engine = this.images.get(id);
    assert(engine !== undefined, 'a crashed store has its disk image');
    this.images.delete(id);
    const data = new DeferredKv();
    const node = this.newNode(id, this.withBug(data));
    const store = await Store.open(this.storeOptions(id, node, engine));
    data.set(await EngineKv.open(engine));
    node.attach(store);
    node.restore();
    this.seat(id, store, node, engine);
    this.restarts++;
  }

  private seat(id: number, store: Store, node: RangeNode, engine: CrashModelEngine): void {
    this.stores.set(id, store);
    this.engines.set(id, engine);
    this.handles.get(id)!.seat(node);
  }

  private withBug(kv: KvStore): KvStore {
    return this.o.bug === 'split-loses-writes' ? new SplitLosesWritesKv(kv) : kv;
  }

  private newNode(id: number, kv: KvStore): RangeNode {
    const incarnation = this.incarnations.get(id) ?? 0;
    this.incarnations.set(id, incarnation + 1);
    const peers = this.o.classic ? (peer: number) => this.alive(peer)
      : (peer: number) => this.nodes.get(peer);
    return new RangeNode({ nodeId: id, random: new SeededRandom(this.o.seed + id +
      1000 * incarnation), rangeIds: this.o.rangeIds, kv, peers, proposalTimeoutTicks: 20,
      splitDelay: { maxDelayTicks: 10 }, staleScanTicks: STALE_SCAN_TICKS });
  }

  private storeOptions(id: number, node: RangeNode, engine: CrashModelEngine): StoreOptions {
    const transport = this.o.network.createTransport({ nodeId: id, autoFlush: true });
    this.transports.set(id, transport);
    return { nodeId: id, random: this.raftRandom, stateMachine: node, transport,
      storageEngine: engine, electionTimeoutTicks: 10, heartbeatIntervalTicks: 2,
      clock: this.o.clock, scheduler: { clock: this.o.clock },
      snapshots: { sendTimeoutMs: SNAPSHOT_SEND_TIMEOUT_MS } };
  }
}
