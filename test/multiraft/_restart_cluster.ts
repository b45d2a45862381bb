/**
 * A three-store cluster whose stores can be closed and opened again on their engines
 * (`Store.open`), on virtual time, with the memory engine or the LevelDB engine. LevelDB's
 * syncs complete on real time: driving yields to the event loop until nothing moves.
 */
import { expect } from 'vitest';
import {
  NotLeaderError,
  Store,
  newReplicaStatus,
  type StateMachine,
  type StoreOpenOptions,
} from '../../src/multiraft/index.js';
import type { Entry } from '../../src/raft/index.js';
import { LevelEngine, MemoryEngine, type StorageEngine } from '../../src/storage/index.js';
import { LoopbackNetwork } from '../../src/transport/index.js';
import { SeededRandom, VirtualClock } from '../../src/util/index.js';
import { TEST_STORE_OPTIONS } from './_helpers.js';

/** Records applied payloads, read states and what `replicaOpened` told it. */
export class RestartStateMachine implements StateMachine {
  readonly applied = new Map<number, string[]>();
  readonly opened = new Map<number, number>();
  readonly reads: { rangeId: number; index: number }[] = [];

  apply(rangeId: number, entry: Entry): void {
    let list = this.applied.get(rangeId);
    if (list === undefined) this.applied.set(rangeId, (list = []));
    list.push(new TextDecoder().decode(entry.data));
  }
  applySnapshot(): void {}
  replicaOpened(rangeId: number, appliedIndex: number): void {
    expect(this.opened.has(rangeId)).toBe(false);
    this.opened.set(rangeId, appliedIndex);
  }
  readIndexDone(rangeId: number, index: number): void {
    this.reads.push({ rangeId, index });
  }
  of(rangeId: number): string[] {
    return this.applied.get(rangeId) ?? [];
  }
}

/** Which engine the stores run on. */
export type EngineKind = 'memory' | 'level';

/** Three stores (node ids 1, 2, 3) that survive `restart`. */
export class RestartCluster {
  readonly clock = new VirtualClock();
  readonly network = new LoopbackNetwork({ clock: this.clock, seed: 7 });
  readonly random = new SeededRandom(7);
  readonly nodeIds = [1, 2, 3] as const;
  readonly stores: (Store | null)[] = [null, null, null];
  readonly machines: RestartStateMachine[] = [];
  private readonly engines: StorageEngine[] = [];

  constructor(readonly kind: EngineKind, private readonly dir: (nodeId: number) => string) {}

  /** Opens every store (on fresh engines the first time). */
  async openAll(options: StoreOpenOptions = {}): Promise<void> {
    for (const nodeId of this.nodeIds) await this.open(nodeId, options);
  }

  /** Opens the store of `nodeId` on its engine, with a new state machine. */
  async open(nodeId: number, options: StoreOpenOptions = {}): Promise<Store> {
    const i = nodeId - 1;
    expect(this.stores[i]).toBeNull();
    const engine = this.kind === 'memory'
      ? (this.engines[i] ??= new MemoryEngine())
      : new LevelEngine({ storeId: nodeId, clusterId: 'restart', location: this.dir(nodeId) });
    this.engines[i] = engine;
    const machine = new RestartStateMachine();
    this.machines[i] = machine;
    const store = await Store.open({
      ...TEST_STORE_OPTIONS, nodeId, stateMachine: machine, random: this.random,
      clock: this.clock, storageEngine: engine,
      transport: this.network.createTransport({ nodeId, autoFlush: true }),
    }, options);
    this.stores[i] = store;
    return store;
  }

  /** Closes the store of `nodeId` (and a LevelDB engine: the next open is a new process's). */
  async close(nodeId: number): Promise<void> {
    const store = this.store(nodeId);
    await store.close();
    await store.config.transport.close();
    if (this.kind === 'level') await this.engines[nodeId - 1]!.close();
    this.stores[nodeId - 1] = null;
  }

  async closeAll(): Promise<void> {
    for (const nodeId of this.nodeIds) {
      if (this.stores[nodeId - 1] !== null) await this.close(nodeId);
    }
  }

  store(nodeId: number): Store {
    const store = this.stores[nodeId - 1];
    expect(store).not.toBeNull();
    return store!;
  }

  get running(): Store[] {
    return this.stores.filter((s): s is Store => s !== null);
  }

  /** Runs batches and due deliveries, yielding for syncs, until nothing moves. */
  async drive(): Promise<void> {
    let quiet = 0;
    for (let round = 0; round < 2000 && quiet < 3; round++) {
      let work = this.clock.runDue();
      for (const store of this.running) work += store.runUntilIdle();
      // LevelDB's syncs complete on the thread pool: give them real time.
      await new Promise((resolve) =>
        (this.kind === 'level' ? setTimeout(resolve, 1) : setImmediate(resolve)));
      // Not quiet while a sync is pending: a loaded machine may take longer than a round.
      const syncing = this.engines.some((e) => e instanceof LevelEngine && e.writing);
      quiet = work === 0 && !syncing ? quiet + 1 : 0;
    }
  }

  /** One full tick interval on every open store. */
  async tick(): Promise<void> {
    const first = this.running[0]!;
    for (let s = 0; s < first.ticker.config.tickSpreadSlots; s++) {
      this.clock.advance(first.ticker.subTickIntervalMs);
      for (const store of this.running) store.tick();
      await this.drive();
    }
  }

  /** Ticks until `done()`; fails after `ticksMax`. @returns the ticks it took. */
  async until(done: () => boolean, what: string, ticksMax = 200): Promise<number> {
    await this.drive();
    for (let t = 0; t <= ticksMax; t++) {
      if (done()) return t;
      await this.tick();
    }
    expect.fail(`not ${what} after ${ticksMax} ticks`);
  }

  /**
   * Proposes `payload` on `rangeId` through whichever open store takes it (none may know a
   * leader right after a restart: the woken replicas elect one), ticking between tries,
   * until every open store applied it.
   */
  async write(rangeId: number, payload: string, ticksMax = 200): Promise<void> {
    const data = new TextEncoder().encode(payload);
    let proposed = false;
    let sinceProposed = 0;
    await this.until(() => {
      // A proposal a leader change drops is made again (the checks allow duplicates).
      if (proposed && ++sinceProposed > 40) proposed = false;
      if (!proposed) {
        proposed = this.tryPropose(rangeId, data);
        sinceProposed = 0;
      }
      return this.running.every((_, k) => this.machineOf(k).of(rangeId).includes(payload));
    }, `applied ${payload} everywhere`, ticksMax);
  }

  /** The machine of the k-th open store. */
  machineOf(k: number): RestartStateMachine {
    const store = this.running[k]!;
    return this.machines[store.nodeId - 1]!;
  }

  private tryPropose(rangeId: number, data: Uint8Array): boolean {
    const status = newReplicaStatus();
    for (const store of this.running) {
      store.readStatus(rangeId, status);
      if (status.lead !== store.nodeId && status.lead !== 0) continue;
      try {
        store.propose(rangeId, data);
        if (status.lead === store.nodeId) return true;
      } catch (error) {
        if (!(error instanceof NotLeaderError)) throw error;
      }
    }
    return false;
  }
}
