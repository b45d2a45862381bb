/**
 * What the durable engines add to the contract: the identity check at open, refusal of bad
 * records per replica, the group-commit pipeline, write failures, the bounded entry cache.
 * Each test runs on LevelDB and on the crash model (the same engine code on a simulated
 * disk) through a "reopen with the disk edited" helper.
 */
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { NO_LIMIT, type Entry } from '../../src/raft/index.js';
import {
  CrashModelEngine,
  LevelEngine,
  ReplicaCorruptError,
  StorageIdentityError,
  StorageVersionError,
  type DurableEngine,
  type DurableEngineOptions,
} from '../../src/storage/index.js';
import { IDENTITY_KEY, KeyBuilder, META_END, MetaKind } from '../../src/storage/_keys.js';
import { ENGINE_FORMAT_VERSION, RecordCodec } from '../../src/storage/_records.js';
import { b, ents, write, type EngineHarness } from './contract.js';
import { IDENTITY, crashModelHarness, levelHarness, tempDirs } from './_engines.js';

type Edit = [key: Uint8Array, value: Uint8Array | null];

/** An engine kind: a harness plus "close, edit the raw keyspace, make an unopened engine". */
interface Kind {
  h: EngineHarness;
  edited(engine: DurableEngine, edits: Edit[], options?: Partial<DurableEngineOptions>):
    Promise<DurableEngine>;
}

const dirs = tempDirs();

const level: Kind = {
  h: { ...levelHarness(), make: async () => {
    const e = new LevelEngine({ ...IDENTITY, location: dirs() });
    await e.open();
    return e;
  } },
  async edited(engine, edits, options = {}) {
    const location = (engine as LevelEngine).location;
    await engine.close();
    const raw = new ClassicLevel<Uint8Array, Uint8Array>(location,
      { keyEncoding: 'view', valueEncoding: 'view' });
    await raw.open();
    for (const [key, value] of edits) {
      if (value === null) await raw.del(key);
      else await raw.put(key, value);
    }
    await raw.close();
    return new LevelEngine({ ...IDENTITY, ...options, location });
  },
};

const crashModel: Kind = {
  h: crashModelHarness(),
  async edited(engine, edits, options = {}) {
    const model = engine as CrashModelEngine;
    model.completeAll();
    const next = model.crash({ ...IDENTITY, ...options });
    for (const [key, value] of edits) next.disk.poke(key, value);
    return next;
  },
};

const keys = new KeyBuilder();
const metaKey = (rangeId: number, kind: number) => keys.metaKey(rangeId, kind).slice();
const logKey = (rangeId: number, index: number) => keys.logKey(rangeId, index).slice();

async function twoReplicas(k: Kind): Promise<DurableEngine> {
  const e = (await k.h.make()) as DurableEngine;
  const r1 = e.createReplica(1);
  const r2 = e.createReplica(2);
  await write(k.h, e, (batch) => {
    for (const r of [r1, r2]) {
      r.append(ents(1, 1, 1, 1), batch);
      r.setHardState({ term: 1, vote: 1, commit: 3 }, batch);
      r.append(ents(4, 1), batch);
    }
  });
  return e;
}

for (const [name, k] of [['LevelEngine', level], ['CrashModelEngine', crashModel]] as const) {
  describe(`${name}: identity`, () => {
    it('refuses the directory of another store or cluster, and opens its own', async () => {
      const e = await twoReplicas(k);
      const other = await k.edited(e, [], { storeId: 2 });
      await expect(other.open()).rejects.toBeInstanceOf(StorageIdentityError);
      const stranger = await k.edited(other, [], { clusterId: 'other' });
      await expect(stranger.open()).rejects.toThrow(/cluster 'test-cluster'/);
      const own = await k.edited(stranger, []);
      expect(await own.open()).toEqual([1, 2]);
      await own.close();
    });

    it('refuses an unknown format version and data without identity', async () => {
      const e = await twoReplicas(k);
      const codec = new RecordCodec();
      const future = codec.identity(IDENTITY_KEY, { formatVersion: 99, ...IDENTITY }).slice();
      const v99 = await k.edited(e, [[IDENTITY_KEY, future]]);
      await expect(v99.open()).rejects.toBeInstanceOf(StorageVersionError);
      const bare = await k.edited(v99, [[IDENTITY_KEY, null]]);
      await expect(bare.open()).rejects.toThrow(/no engine identity/);
      const original = codec.identity(IDENTITY_KEY,
        { formatVersion: ENGINE_FORMAT_VERSION, ...IDENTITY }).slice();
      const fixed = await k.edited(bare, [[IDENTITY_KEY, original]]);
      expect(await fixed.open()).toEqual([1, 2]);
      await fixed.close();
    });
  });

  describe(`${name}: bad records refuse one replica`, () => {
    const cases: [string, (value: Uint8Array | undefined) => Edit, RegExp][] = [
      ['a flipped byte in an entry', (v) => [logKey(1, 2), flip(v!)], /checksum/],
      ['a truncated entry record', (v) => [logKey(1, 2), v!.slice(0, 3)], /truncated/],
      // Entries 1-4 share one log block: the first one the load misses is 1.
      ['a missing block of entries', () => [logKey(1, 2), null], /missing log entry 1/],
      ['a HardState committing past the last index', () => {
        const key = metaKey(1, MetaKind.RaftState);
        const log = { truncatedIndex: 0, truncatedTerm: 0, lastIndex: 4 };
        const hs = { term: 1, vote: 1, commit: 9 };
        return [key, new RecordCodec().raftState(key, hs, log).slice()];
      }, /commit 9 exceeds the last index 4/],
    ];
    it('a damaged range-local record refuses its range at load; the other keeps its keys',
      async () => {
        const e = await twoReplicas(k);
        await write(k.h, e, (batch) => {
          e.putLocal(1, b('desc'), b('d1'), batch);
          e.putLocal(2, b('desc'), b('d2'), batch);
        });
        const key = keys.localKey(1, b('desc')).slice();
        const next = await k.edited(e, [[key, flip(new Uint8Array(rawValue(e, key)!))]]);
        expect(await next.open()).toEqual([1, 2]);
        expect(() => next.loadReplica(1)).toThrow(ReplicaCorruptError);
        expect(() => next.loadReplica(1)).toThrow(Buffer.from(key).toString('hex'));
        expect(next.stats().replicasRefused).toBe(2);
        next.loadReplica(2);
        expect(new TextDecoder().decode(next.getLocal(2, b('desc'))!)).toBe('d2');
        await next.close();
      });

    for (const [what, edit, message] of cases) {
      it(`${what}: that range is refused, naming range and key; the other serves`, async () => {
        const e = await twoReplicas(k);
        const stored = rawValue(e, logKey(1, 2));
        const value = stored === undefined ? undefined : new Uint8Array(stored);
        const [key] = edit(value);
        const next = await k.edited(e, [edit(value)]);
        expect(await next.open()).toEqual([1, 2]);
        let error: unknown;
        try {
          next.loadReplica(1);
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(ReplicaCorruptError);
        expect((error as ReplicaCorruptError).rangeId).toBe(1);
        expect((error as ReplicaCorruptError).keyHex).toBe(Buffer.from(key).toString('hex'));
        expect((error as Error).message).toMatch(message);
        expect(next.stats().replicasRefused).toBe(1);
        const good = next.loadReplica(2);
        expect((good.entries(1, 5, NO_LIMIT) as Entry[]).length).toBe(4);
        await next.close();
      });
    }
  });

  describe(`${name}: the snapshot record`, () => {
    it('lies outside the open scan; damaged, it refuses its replica at load', async () => {
      const e = (await k.h.make()) as DurableEngine;
      const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [],
        autoLeave: false };
      const snapshot = { data: b('state'), metadata: { index: 5, term: 2, confState } };
      await write(k.h, e, (batch) => {
        e.createReplica(1).applySnapshot(snapshot, b('d1'), batch);
        e.createReplica(2).append(ents(1, 1, 1), batch);
      });
      const key = keys.snapshotKey(1).slice();
      expect(Buffer.compare(key, META_END)).toBeGreaterThanOrEqual(0);
      const next = await k.edited(e, [[key, flip(rawValue(e, key)!)]]);
      expect(await next.open()).toEqual([1, 2]);
      expect(() => next.loadReplica(1)).toThrow(ReplicaCorruptError);
      try {
        next.loadReplica(1);
      } catch (error) {
        expect((error as ReplicaCorruptError).keyHex).toBe(Buffer.from(key).toString('hex'));
      }
      expect((next.loadReplica(2).entries(1, 3, NO_LIMIT) as Entry[]).length).toBe(2);
      await next.close();
    });
  });

  describe(`${name}: entry cache`, () => {
    it('stays within its budget; evicted entries are read back from the disk', async () => {
      const e = await k.edited((await k.h.make()) as DurableEngine, [],
        { entryCacheBytesMax: 4096 });
      await e.open();
      const replicas = Array.from({ length: 20 }, (_, i) => e.createReplica(i + 1));
      for (let round = 0; round < 5; round++) {
        await write(k.h, e, (batch) => {
          for (const r of replicas) r.append(ents(round * 4 + 1, 1, 1, 1, 1), batch);
        });
        expect(e.stats().entryCacheBytes).toBeLessThanOrEqual(4096);
      }
      for (const r of replicas) {
        const all = r.entries(1, 21, NO_LIMIT) as Entry[];
        expect(all.map((x) => x.index)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      }
      for (const r of replicas) r.release();
      expect(e.stats().entryCacheBytes).toBe(0);
      await e.close();
    });
  });
}

describe('CrashModelEngine: durability and group commit', () => {
  it('a crash keeps completed batches and loses every batch not yet synced', async () => {
    const e = new CrashModelEngine(IDENTITY);
    await e.open();
    const r = e.createReplica(1);
    const results: (Error | null)[] = [];
    for (let k = 1; k <= 3; k++) {
      const batch = e.batch();
      r.append(ents(k, 1), batch);
      e.putUser(b(`k${k}`), b(`v${k}`), batch);
      e.putLocal(1, b(`k${k}`), b(`v${k}`), batch);
      e.commit(batch, (error) => results.push(error));
    }
    expect(e.pendingWrites).toBe(1);
    expect(e.completeWrite()).toBe(true);
    expect(results).toEqual([null]);
    // Batches 2 and 3 were committed while batch 1 synced: one write covers both.
    expect(e.pendingWrites).toBe(1);
    const after = e.crash();
    expect(await after.open()).toEqual([1]);
    const back = after.loadReplica(1);
    expect(back.lastIndex()).toBe(1);
    expect(after.getUser(b('k1'))).toBeDefined();
    expect(after.getUser(b('k2'))).toBeUndefined();
    expect(after.scanLocal(1, b('k'), null, 10).map((x) => x.key)).toEqual([b('k1')]);
    e.completeWrite();
    expect(results).toEqual([null, null, null]);
    expect(e.stats().writesSynced).toBe(2);
    expect(e.stats().batchesCommitted).toBe(3);
  });

  it('entries not yet durable stay cached whatever the budget, and are read from disk after',
    async () => {
      const e = new CrashModelEngine({ ...IDENTITY, entryCacheBytesMax: 0 });
      await e.open();
      const r = e.createReplica(1);
      const first = e.batch();
      r.append(ents(1, 1, 1), first);
      let done = false;
      e.commit(first, () => { done = true; });
      const second = e.batch();
      r.append(ents(2, 2, 2), second);
      e.commit(second, () => undefined);
      expect(e.stats().entryCacheBytes).toBeGreaterThan(0);
      const terms = () => (r.entries(1, 4, NO_LIMIT) as Entry[]).map((x) => x.term);
      expect(terms()).toEqual([1, 2, 2]);
      e.completeWrite();
      expect(done).toBe(true);
      // Entry 2 of the first write was replaced by the second, still in flight: all cached.
      expect(terms()).toEqual([1, 2, 2]);
      e.completeWrite();
      expect(e.stats().entryCacheBytes).toBe(0);
      expect(terms()).toEqual([1, 2, 2]);
    });

  it('a failed write fails its batches and every later one; nothing more is written',
    async () => {
      const e = new CrashModelEngine(IDENTITY);
      await e.open();
      const r = e.createReplica(1);
      const results: string[] = [];
      const commit = (k: number) => {
        const batch = e.batch();
        r.append(ents(k, 1), batch);
        e.commit(batch, (error) => results.push(`${k}:${error?.constructor.name ?? 'ok'}`));
      };
      commit(1);
      e.completeWrite();
      e.failNextWrite(new Error('ENOSPC'));
      commit(2);
      commit(3);
      e.completeAll();
      commit(4);
      await Promise.resolve();
      expect(results).toEqual(['1:ok', '2:StorageWriteError', '3:StorageWriteError',
        '4:StorageWriteError']);
      const after = e.crash();
      await after.open();
      expect(after.loadReplica(1).lastIndex()).toBe(1);
    });
});

function flip(value: Uint8Array): Uint8Array {
  const copy = new Uint8Array(value);
  const last = copy.length - 1;
  copy[last] = (copy[last] ?? 0) ^ 0xff;
  return copy;
}

/** A raw stored value (through the backend the engine reads with). */
function rawValue(e: DurableEngine, key: Uint8Array): Uint8Array | undefined {
  return (e as unknown as { core: { backend: { getSync(k: Uint8Array): Uint8Array } } })
    .core.backend.getSync(key);
}
