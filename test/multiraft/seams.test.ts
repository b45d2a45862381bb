/**
 * The store's seams: its storage comes from the engine it is given, each scheduler batch
 * commits at most one engine batch and sends in one `send` and one `flush`, and the Raft
 * core's log lines reach pino with the range id.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Store, type StoreOptions } from '../../src/multiraft/index.js';
import {
  MemoryEngine,
  type EngineBatch,
  type ReplicaStorage,
} from '../../src/storage/index.js';
import {
  LoopbackNetwork,
  type Envelope,
  type Transport,
  type TransportHandler,
} from '../../src/transport/index.js';
import { SeededRandom, VirtualClock } from '../../src/util/index.js';
import { bytes } from './_helpers.js';

/** A memory engine that counts what the store asks of it. */
class CountingEngine extends MemoryEngine {
  created: number[] = [];
  commits = 0;
  emptyCommits = 0;

  override createReplica(rangeId: number): ReplicaStorage {
    this.created.push(rangeId);
    return super.createReplica(rangeId);
  }

  override commit(batch: EngineBatch, done: (error: Error | null) => void): void {
    this.commits++;
    if (batch.groupCount === 0) this.emptyCommits++;
    super.commit(batch, done);
  }
}

/** A transport that counts `send` and `flush` calls around the real one. */
class CountingTransport implements Transport {
  sends = 0;
  flushes = 0;
  constructor(private readonly inner: Transport) {}
  get nodeId(): number {
    return this.inner.nodeId;
  }
  setHandler(handler: TransportHandler): void {
    this.inner.setHandler(handler);
  }
  send(envelopes: readonly Envelope[]): void {
    this.sends++;
    this.inner.send(envelopes);
  }
  flush(): void {
    this.flushes++;
    this.inner.flush();
  }
  stats() {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function twoStores(extra: Partial<StoreOptions> = {}) {
  const clock = new VirtualClock();
  const network = new LoopbackNetwork({ clock });
  const random = new SeededRandom(3);
  const engines = [new CountingEngine(), new CountingEngine()];
  const transports = [1, 2].map((nodeId) =>
    new CountingTransport(network.createTransport({ nodeId, autoFlush: false })));
  const stores = [0, 1].map((i) => new Store({
    nodeId: i + 1, transport: transports[i]!, random, clock, storageEngine: engines[i]!,
    stateMachine: { apply() {}, applySnapshot() {} }, ...extra,
  }));
  const settle = (): void => {
    for (let round = 0; round < 50; round++) {
      let work = 0;
      for (const store of stores) work += store.runUntilIdle();
      work += clock.runDue();
      if (work === 0) return;
    }
    expect.fail('did not settle');
  };
  return { engines, transports, stores, settle };
}

describe('store seams', () => {
  it('takes every replica storage from its engine, one commit per batch at most', () => {
    const { engines, stores, settle } = twoStores();
    for (const rangeId of [1, 2]) {
      for (const store of stores) store.createRange(rangeId, { voters: [1, 2] });
      stores[0]!.campaign(rangeId);
    }
    settle();
    for (let i = 0; i < 10; i++) stores[0]!.propose(1, bytes(`w${i}`));
    settle();
    for (const [i, engine] of engines.entries()) {
      expect(engine.created).toEqual([1, 2]);
      const stats = stores[i]!.stats;
      expect(engine.commits).toBeGreaterThan(0);
      expect(stats.storageCommits).toBeLessThanOrEqual(stats.batches);
      expect(engine.commits).toBe(stats.storageCommits + stats.appliedCommits);
      expect(engine.emptyCommits).toBe(0);
    }
    expect(stores[1]!.stats.entriesApplied).toBe(10);
  });

  it('sends each batch in one send and one flush', () => {
    const { transports, stores, settle } = twoStores();
    stores[0]!.createRange(1, { voters: [1, 2] });
    stores[1]!.createRange(1, { voters: [1, 2] });
    stores[0]!.campaign(1);
    settle();
    for (let i = 0; i < 5; i++) stores[0]!.propose(1, bytes(`w${i}`));
    settle();
    for (const [i, transport] of transports.entries()) {
      expect(transport.sends).toBeGreaterThan(0);
      expect(transport.flushes).toBe(transport.sends);
      expect(transport.sends).toBeLessThanOrEqual(stores[i]!.stats.batches);
    }
  });

  it("writes the core's log lines to pino with the range id, one level down", () => {
    const lines: { rangeId?: number; msg: string; storeNodeId?: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) {
          if (line !== '') lines.push(JSON.parse(line));
        }
        callback();
      },
    });
    // The core's Info lines are pino's debug: a store of many ranges stays quiet at info.
    const logger = pino({ level: 'debug' }, sink);
    const { stores, settle } = twoStores({ logger });
    stores[0]!.createRange(7, { voters: [1, 2] });
    stores[1]!.createRange(7, { voters: [1, 2] });
    stores[0]!.campaign(7);
    settle();
    const elected = lines.find((l) => l.msg.includes('became leader at term'));
    expect(elected).toMatchObject({ rangeId: 7, storeNodeId: 1 });
    expect(lines.some((l) => l.storeNodeId === 2 && l.rangeId === 7 &&
      l.msg.includes('became follower'))).toBe(true);
    expect(lines.filter((l) => l.msg.includes('became')).every((l) =>
      (l as { level?: number }).level === 20)).toBe(true);
  });

  it('formats nothing for the core when the level is off', () => {
    let written = 0;
    const sink = new Writable({ write(_c, _e, callback) { written++; callback(); } });
    const { stores, settle } = twoStores({ logger: pino({ level: 'info' }, sink) });
    stores[0]!.createRange(7, { voters: [1, 2] });
    stores[1]!.createRange(7, { voters: [1, 2] });
    stores[0]!.campaign(7);
    settle();
    expect(stores[0]!.stats.leadershipsAcquired).toBe(1);
    expect(written).toBe(0);
  });
});

describe('store clock', () => {
  it('start() ticks on the store clock and stop() ends it', async () => {
    const { stores } = twoStores();
    const clock = stores[0]!.config.clock as VirtualClock;
    const store = stores[0]!;
    store.createRange(1, { voters: [1] });
    store.start();
    const subTickMs = store.ticker.subTickIntervalMs;
    // A lone voter elects itself within two election timeouts of ticks (15 to 30), with
    // nothing but the clock driving ticks and batches; then it stays leader.
    clock.advance(subTickMs * store.ticker.config.tickSpreadSlots * 31);
    expect(store.stats.leadershipsAcquired).toBe(1);
    await store.stop();
    const ticks = store.stats.ticks;
    clock.advance(subTickMs * 100);
    expect(store.stats.ticks).toBe(ticks);
  });
});
