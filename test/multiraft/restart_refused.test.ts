/**
 * `Store.open` with bad records (the crash model's disk, damaged): a replica whose metadata
 * is inconsistent is refused at open, one whose log entry is missing is refused when its
 * first wake loads it; both refuse requests with `ReplicaBrokenError`, the others serve.
 * And a replica with committed entries not yet applied is seated awake and replays them.
 */
import { describe, expect, it } from 'vitest';
import {
  RANGE_INITIAL_INDEX,
  ReplicaBrokenError,
  Store,
  newReplicaStatus,
  newStoreSummary,
} from '../../src/multiraft/index.js';
import type { Entry } from '../../src/raft/index.js';
import { CrashModelEngine } from '../../src/storage/index.js';
import { KeyBuilder, MetaKind } from '../../src/storage/_keys.js';
import { RecordCodec } from '../../src/storage/_records.js';
import { LoopbackNetwork } from '../../src/transport/index.js';
import { SeededRandom, VirtualClock } from '../../src/util/index.js';
import { TEST_STORE_OPTIONS, bytes } from './_helpers.js';

const IDENTITY = { storeId: 1, clusterId: 'refused' };

/** One single-voter store on a crash-model engine. */
async function openStore(engine: CrashModelEngine, applied: string[][], opened?: number[]) {
  const clock = new VirtualClock();
  const network = new LoopbackNetwork({ clock });
  const store = await Store.open({
    ...TEST_STORE_OPTIONS, nodeId: 1, random: new SeededRandom(3), clock,
    transport: network.createTransport({ nodeId: 1, autoFlush: true }), storageEngine: engine,
    stateMachine: {
      apply: (r: number, e: Entry) => void (applied[r] ??= []).push(new TextDecoder()
        .decode(e.data)),
      applySnapshot() {},
      replicaOpened: (r: number, index: number) => void opened?.push(r, index),
    },
  });
  const settle = async (): Promise<void> => {
    for (let round = 0; round < 100; round++) {
      const work = store.runUntilIdle() + engine.completeAll() + clock.runDue();
      await Promise.resolve();
      if (work === 0) return;
    }
    expect.fail('did not settle');
  };
  return { store, settle };
}

/** Three single-voter ranges with one applied write each, then a crash with all synced. */
async function crashedWithThreeRanges(): Promise<CrashModelEngine> {
  const engine = new CrashModelEngine(IDENTITY);
  const applied: string[][] = [];
  const { store, settle } = await openStore(engine, applied);
  for (const r of [1, 2, 3]) {
    store.createRange(r, { voters: [1] });
    store.campaign(r);
  }
  await settle();
  for (const r of [1, 2, 3]) store.propose(r, bytes(`v${r}`));
  await settle();
  expect(applied.slice(1)).toEqual([['v1'], ['v2'], ['v3']]);
  await store.close();
  engine.completeAll();
  return engine.crash();
}

describe('Store.open with bad records', () => {
  it('refuses the damaged replicas only: at open, or at the first wake', async () => {
    const crashed = await crashedWithThreeRanges();
    const keys = new KeyBuilder();
    // Range 2: a HardState committing past its last index (caught by the open scan).
    const hsKey = keys.metaKey(2, MetaKind.RaftState).slice();
    crashed.disk.poke(hsKey, new RecordCodec().raftState(hsKey, { term: 9, vote: 1, commit: 99 },
      { truncatedIndex: RANGE_INITIAL_INDEX, truncatedTerm: 5, lastIndex: 7 }).slice());
    // Range 3: a log entry gone (caught when its first wake loads it).
    crashed.disk.poke(keys.logKey(3, RANGE_INITIAL_INDEX + 1).slice(), null);
    const applied: string[][] = [];
    const { store, settle } = await openStore(crashed, applied);
    expect(store.summary(newStoreSummary())).toMatchObject({ replicas: 3, broken: 1, dormant: 2 });
    expect(crashed.stats().replicasRefused).toBe(1);
    expect(() => store.propose(2, bytes('no'))).toThrow(ReplicaBrokenError);
    expect(() => store.campaign(3)).toThrow(ReplicaBrokenError);
    expect(() => store.propose(3, bytes('no'))).toThrow(ReplicaBrokenError);
    expect(store.summary(newStoreSummary())).toMatchObject({ broken: 2, dormant: 1 });
    const s = newReplicaStatus();
    expect(store.readStatus(3, s) && s.broken).toBe(true);
    // Range 1 serves: woken, it elects itself (one voter) and applies a new write.
    store.campaign(1);
    await settle();
    store.propose(1, bytes('again'));
    await settle();
    expect(applied[1]).toEqual(['again']);
    expect(applied[2]).toBeUndefined();
    await store.close();
  });

  it('a replica with committed entries not applied is seated awake and replays them', async () => {
    const crashed = await crashedWithThreeRanges();
    const keys = new KeyBuilder();
    // Range 1's applied point moved back to its bootstrap: its write is committed, unapplied.
    const appliedKey = keys.metaKey(1, MetaKind.Applied).slice();
    crashed.disk.poke(appliedKey, new RecordCodec().applied(appliedKey, {
      index: RANGE_INITIAL_INDEX, descriptor: new Uint8Array(0),
      confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [],
        autoLeave: false },
    }).slice());
    const applied: string[][] = [];
    const opened: number[] = [];
    const { store, settle } = await openStore(crashed, applied, opened);
    expect(opened.slice(0, 2)).toEqual([1, RANGE_INITIAL_INDEX]);
    expect(store.summary(newStoreSummary())).toMatchObject({ replicas: 3, dormant: 2 });
    await settle();
    expect(applied[1]).toEqual(['v1']);
    expect(applied[2]).toBeUndefined();
    await store.close();
  });
});
