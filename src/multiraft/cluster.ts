/**
 * `LocalCluster`: several stores in one process joined by the loopback transport. Tests,
 * the density benchmark and the `npm start` demo use it. With the virtual clock (default)
 * it is driven synchronously and deterministically (`settle`, `tick`); with the real clock
 * every store drives itself on the event loop (`start`, `stop`).
 */
import type { Logger } from 'pino';
import { assert, SeededRandom, VirtualClock, systemClock } from '../util/index.js';
import type { Entry } from '../raft/index.js';
import { LoopbackNetwork } from '../transport/index.js';
import type { StorageEngine } from '../storage/index.js';
import type { StateMachine, StoreOptions } from './options.js';
import { Store } from './store.js';
import { addSummary, newStoreSummary, type StoreSummary } from './status.js';

/** A state machine that only counts what it applies (benchmarks, the demo). */
export class CountingStateMachine implements StateMachine {
  entriesApplied = 0;
  bytesApplied = 0;
  snapshotsApplied = 0;

  apply(_rangeId: number, entry: Entry): void {
    this.entriesApplied++;
    this.bytesApplied += entry.data.length;
  }

  applySnapshot(): void {
    this.snapshotsApplied++;
  }
}

/** Store options a cluster passes to each of its stores. */
export type ClusterStoreOptions = Omit<
  StoreOptions,
  'nodeId' | 'transport' | 'stateMachine' | 'random' | 'logger'
>;

/** Options of a `LocalCluster`. */
export interface LocalClusterOptions {
  /** Node ids of the stores. @default [1, 2, 3] */
  nodeIds?: readonly number[];
  /** Seed of the shared random source and of the network's fault injector. @default 1 */
  seed?: number;
  /**
   * Virtual time, driven by `settle`/`tick`, or real time, driven by `start`.
   * @default 'virtual'
   */
  clock?: 'virtual' | 'real';
  /** Whether messages cross the network as encoded frames (as on TCP). @default true */
  encodeFrames?: boolean;
  /** Logger of the stores and transports. @default silent */
  logger?: Logger;
  /** Options of every store. @default store defaults */
  store?: ClusterStoreOptions;
  /** The state machine of each store. @default a new `CountingStateMachine` per store */
  stateMachine?: (nodeId: number) => StateMachine;
  /**
   * The storage engine of each store (overrides `store.storageEngine`), asked for before
   * the store's `stateMachine`. @default none
   */
  storageEngine?: (nodeId: number) => StorageEngine;
}

/** Stores in one process over an in-process network. */
export class LocalCluster {
  readonly stores: Store[] = [];
  readonly stateMachines: StateMachine[] = [];
  readonly network: LoopbackNetwork;
  /** The virtual clock, or null in real-time mode. */
  readonly clock: VirtualClock | null;
  /** The one random source every group of every store shares. */
  readonly random: SeededRandom;
  readonly nodeIds: readonly number[];

  constructor(options: LocalClusterOptions = {}) {
    this.nodeIds = options.nodeIds ?? [1, 2, 3];
    assert(this.nodeIds.length > 0 && this.nodeIds.length <= 64, 'one to 64 stores');
    const seed = options.seed ?? 1;
    this.random = new SeededRandom(seed);
    this.clock = (options.clock ?? 'virtual') === 'virtual' ? new VirtualClock() : null;
    this.network = new LoopbackNetwork({
      seed,
      clock: this.clock ?? systemClock,
      encodeFrames: options.encodeFrames ?? true,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    for (const nodeId of this.nodeIds) {
      const engine = options.storageEngine?.(nodeId);
      const stateMachine = options.stateMachine?.(nodeId) ?? new CountingStateMachine();
      const transport = this.network.createTransport({ nodeId, autoFlush: true });
      this.stateMachines.push(stateMachine);
      this.stores.push(new Store({
        ...options.store,
        ...(engine === undefined ? {} : { storageEngine: engine }),
        nodeId,
        transport,
        stateMachine,
        random: this.random,
        clock: this.clock ?? systemClock,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      }));
    }
  }

  /** The store of `nodeId`. */
  store(nodeId: number): Store {
    const i = this.nodeIds.indexOf(nodeId);
    assert(i >= 0, `no store with node id ${nodeId}`);
    return this.stores[i]!;
  }

  /**
   * Creates a range replicated on every store. `lazy`: only the leader's store creates it;
   * the others create their replicas when its first message arrives and catch up by
   * snapshot. `leaderNodeId`: that store campaigns at once.
   */
  createRange(rangeId: number, options: { leaderNodeId?: number; lazy?: boolean } = {}): void {
    const leader = options.leaderNodeId;
    assert(!options.lazy || leader !== undefined, 'a lazy range needs a leader to create it');
    for (const store of this.stores) {
      if (options.lazy && store.nodeId !== leader) continue;
      store.createRange(rangeId, { voters: this.nodeIds });
    }
    if (leader !== undefined) this.store(leader).campaign(rangeId);
  }

  /**
   * Virtual time: runs every store's scheduler and delivers every message due now, until
   * nothing moves. @returns the rounds it took.
   */
  settle(roundsMax = 100_000): number {
    const clock = this.clock;
    assert(clock !== null, 'settle needs the virtual clock');
    for (let round = 1; round <= roundsMax; round++) {
      let moved = false;
      for (const store of this.stores) {
        if (store.scheduler.hasWork) {
          store.runUntilIdle();
          moved = true;
        }
      }
      if (clock.runDue() > 0) moved = true;
      if (!moved) return round;
    }
    assert(false, `cluster not settled after ${roundsMax} rounds`);
  }

  /**
   * Virtual time: `ticks` full tick intervals (each `tickSpreadSlots` sub-ticks).
   */
  tick(ticks = 1): void {
    const slots = this.stores[0]!.ticker.config.tickSpreadSlots;
    for (let t = 0; t < ticks * slots; t++) this.subTick();
  }

  /**
   * Virtual time: one sub-tick. Advances the clock by one sub-tick interval (delivering
   * delayed messages), ticks every store, then settles.
   */
  subTick(): void {
    const clock = this.clock;
    assert(clock !== null, 'subTick needs the virtual clock');
    clock.advance(this.stores[0]!.ticker.subTickIntervalMs);
    for (const store of this.stores) store.tick();
    this.settle();
  }

  /** The summaries of all stores, added up. */
  summary(): StoreSummary {
    const total = newStoreSummary();
    const one = newStoreSummary();
    for (const store of this.stores) addSummary(total, store.summary(one));
    return total;
  }

  /** Real time: every store starts driving itself. */
  start(): void {
    assert(this.clock === null, 'start needs the real clock');
    for (const store of this.stores) store.start();
  }

  /** Stops every store and closes the transports. */
  async close(): Promise<void> {
    for (const store of this.stores) await store.close();
    for (const store of this.stores) await store.config.transport.close();
  }
}
