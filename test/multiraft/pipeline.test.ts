/**
 * The pipelined batch end on a durable engine (the crash model: its syncs complete when the
 * test says): the scheduler keeps running batches while a sync is in flight; messages that
 * depend on a batch's writes leave only after its sync; entries are applied only after it;
 * the applied point is persisted; a failed write stops the store without acknowledging.
 */
import { describe, expect, it } from 'vitest';
import { NO_LIMIT } from '../../src/raft/index.js';
import { Store } from '../../src/multiraft/index.js';
import { CrashModelEngine } from '../../src/storage/index.js';
import { LoopbackNetwork } from '../../src/transport/index.js';
import { SeededRandom, VirtualClock } from '../../src/util/index.js';
import { bytes } from './_helpers.js';

async function twoDurableStores() {
  const clock = new VirtualClock();
  const network = new LoopbackNetwork({ clock });
  const random = new SeededRandom(5);
  const engines = [1, 2].map((storeId) => new CrashModelEngine({ storeId, clusterId: 'p' }));
  for (const engine of engines) await engine.open();
  const applied: number[][] = [[], []];
  const stores = [0, 1].map((i) => new Store({
    nodeId: i + 1, transport: network.createTransport({ nodeId: i + 1, autoFlush: false }),
    random, clock, storageEngine: engines[i]!,
    stateMachine: { apply: (_r, e) => void applied[i]!.push(e.index), applySnapshot() {} },
  }));
  /** Runs everything, syncs included, until nothing moves. */
  const settle = async (): Promise<void> => {
    for (let round = 0; round < 200; round++) {
      let work = 0;
      for (const store of stores) work += store.runUntilIdle();
      for (const engine of engines) work += engine.completeAll();
      await Promise.resolve();
      work += clock.runDue();
      if (work === 0) return;
    }
    expect.fail('did not settle');
  };
  return { engines, stores, applied, settle, clock };
}

describe('pipelined batch end', () => {
  it('sends and applies only after the sync, while other batches keep running', async () => {
    const { engines, stores, applied, settle } = await twoDurableStores();
    for (const store of stores) store.createRange(1, { voters: [1, 2] });
    stores[0]!.campaign(1);
    await settle();
    const received = stores[1]!.stats.messagesReceived;
    stores[0]!.propose(1, bytes('a'));
    stores[0]!.runUntilIdle();
    expect(engines[0]!.pendingWrites).toBe(1);
    // The leader's append is not durable yet: nothing about it has left.
    stores[1]!.runUntilIdle();
    expect(stores[1]!.stats.messagesReceived).toBe(received);
    // The scheduler still takes other work: a proposal on the same store queues behind.
    stores[0]!.propose(1, bytes('b'));
    stores[0]!.runUntilIdle();
    expect(applied[0]).toEqual([]);
    await settle();
    expect(stores[1]!.stats.messagesReceived).toBeGreaterThan(received);
    expect(applied[0]!.length).toBe(2);
    expect(applied[1]!.length).toBe(2);
    for (const engine of engines) {
      const storage = engine.crash();
      await storage.open();
      const replica = storage.loadReplica(1);
      expect(replica.appliedState().index).toBe(applied[0]!.at(-1));
      expect(replica.appliedState().confState.voters).toEqual([1, 2]);
      expect(replica.hardState().commit).toBeGreaterThanOrEqual(replica.appliedState().index);
      expect((replica.entries(replica.firstIndex(), replica.lastIndex() + 1, NO_LIMIT) as
        unknown[]).length).toBeGreaterThan(0);
    }
  });

  it('a failed write stops the store: nothing of that batch is sent or applied', async () => {
    const { engines, stores, applied, settle } = await twoDurableStores();
    for (const store of stores) store.createRange(1, { voters: [1, 2] });
    stores[0]!.campaign(1);
    await settle();
    const sent = stores[0]!.stats.messagesSent;
    engines[0]!.failNextWrite(new Error('EIO'));
    stores[0]!.propose(1, bytes('lost'));
    await settle();
    expect(stores[0]!.stats.storageFailures).toBe(1);
    expect(stores[0]!.stats.messagesSent).toBe(sent);
    expect(applied[0]).toEqual([]);
    expect(applied[1]).toEqual([]);
  });

  it('tells the storage commit observer of each commit: groups, bytes, seconds to durable',
    async () => {
      const { engines, stores, settle, clock } = await twoDurableStores();
      for (const store of stores) store.createRange(1, { voters: [1, 2] });
      stores[0]!.campaign(1);
      await settle();
      const seen: [number, number, number][] = [];
      stores[0]!.observeStorageCommits((g, b, s) => void seen.push([g, b, s]));
      const commitsBefore = stores[0]!.stats.storageCommits + stores[0]!.stats.appliedCommits;
      stores[0]!.propose(1, bytes('payload'));
      stores[0]!.runUntilIdle();
      expect(engines[0]!.pendingWrites).toBe(1);
      expect(seen).toEqual([]);
      clock.advance(7);
      engines[0]!.completeAll();
      // The leader's append: one group, the entry's bytes and more, durable 7 ms later.
      expect(seen).toHaveLength(1);
      expect(seen[0]![0]).toBe(1);
      expect(seen[0]![1]).toBeGreaterThan('payload'.length);
      expect(seen[0]![2]).toBeCloseTo(0.007, 9);
      await settle();
      expect(seen.length).toBe(
        stores[0]!.stats.storageCommits + stores[0]!.stats.appliedCommits - commitsBefore);
      // Removed, it hears of no further commit.
      const count = seen.length;
      stores[0]!.observeStorageCommits(null);
      stores[0]!.propose(1, bytes('more'));
      await settle();
      expect(stores[0]!.stats.storageCommits + stores[0]!.stats.appliedCommits)
        .toBeGreaterThan(commitsBefore + count);
      expect(seen).toHaveLength(count);
    });
});
