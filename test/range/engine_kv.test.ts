/**
 * The KV data on the store's storage engine (`EngineKv`): the index agrees with the engine
 * on the memory and LevelDB engines (and after a LevelDB reopen), writes outside an apply are
 * refused, a cluster's data is in its engines, and a crash keeps data and applied index in
 * step: the user data after a crash is exactly the replay of the log up to the applied index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EntryType } from '../../src/raft/index.js';
import {
  CrashModelEngine,
  LevelEngine,
  MemoryEngine,
  USER_KEY_BYTES_MAX,
  type StorageEngine,
} from '../../src/storage/index.js';
import {
  defaultKvLimits,
  EngineKv,
  KEY_BYTES_LIMIT,
  KEY_MAX,
  META_KEY_MIN,
  resolveKvLimits,
  MemoryKv,
  OpType,
  RangeState,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { keyToString, localKey } from '../../src/range/keys.js';
import { DESCRIPTOR_TAG } from '../../src/range/range_state.js';
import { RangeCluster } from './_cluster.js';

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
const IDENTITY = { storeId: 1, clusterId: 'engine-kv' } as const;
const root = mkdtempSync(join(tmpdir(), 'flotilla-engine-kv-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const dir = () => join(root, `db${++dirs}`);

/** Waits for every commit in flight (the LevelDB engine completes them on the event loop). */
async function flushed(engine: StorageEngine): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    engine.commit(engine.batch(), (error) => (error === null ? resolve() : reject(error)));
  });
}

const engines: [string, () => Promise<StorageEngine>][] = [
  ['memory', async () => {
    const e = new MemoryEngine();
    await e.open();
    return e;
  }],
  ['LevelDB', async () => {
    const e = new LevelEngine({ ...IDENTITY, location: dir() });
    await e.open();
    return e;
  }],
];

describe.each(engines)('EngineKv on the %s engine', (_name, make) => {
  it('scans, gets and deletes like MemoryKv, staged into the bound batch', async () => {
    const engine = await make();
    const kv = EngineKv.empty(engine);
    const model = new MemoryKv();
    // A deterministic mix of puts and deletes over a small key set, in several batches.
    for (let round = 0; round < 6; round++) {
      kv.writeAlone(() => {
        for (let i = 0; i < 40; i++) {
          const key = k(`key${(i * 7 + round * 13) % 29}`);
          if ((i + round) % 5 === 0) {
            kv.delete(key);
            model.delete(key);
          } else {
            const value = k(`v${round}.${i}`);
            kv.put(key, value);
            model.put(key, value);
          }
        }
      });
      expect(kv.scan(k('key1'), k('key3'), 7)).toEqual(model.scan(k('key1'), k('key3'), 7));
    }
    expect(kv.size).toBe(model.size);
    expect(kv.scan(k('a'), k('z'), 1000)).toEqual(model.entries());
    expect(engine.getUser(k('key3'))).toEqual(model.get(k('key3')));
    await flushed(engine);
    const fromEngine = await engine.scanUser(k('a'), k('z'), 1000);
    const plain = (es: { key: Uint8Array; value: Uint8Array }[]) =>
      es.map((e) => [keyToString(e.key), keyToString(e.value)]);
    expect(plain(fromEngine)).toEqual(plain(model.entries()));
    await engine.close();
  });

  it('refuses a write with no batch bound', async () => {
    const engine = await make();
    const kv = EngineKv.empty(engine);
    expect(() => kv.put(k('a'), k('1'))).toThrow(/inside an apply/);
    await engine.close();
  });
});

describe('key limits fit the engine', () => {
  it('refuses a keyBytesMax whose meta row would not fit a user key of the engine', () => {
    expect(resolveKvLimits().keyBytesMax).toBe(KEY_BYTES_LIMIT);
    expect(KEY_BYTES_LIMIT + META_KEY_MIN.length).toBe(USER_KEY_BYTES_MAX);
    expect(() => resolveKvLimits({ keyBytesMax: KEY_BYTES_LIMIT + 1 })).toThrow(/at most/);
  });
});

describe('EngineKv reopened', () => {
  it('rebuilds its index from the LevelDB engine (more keys than one open page)', async () => {
    const location = dir();
    const engine = new LevelEngine({ ...IDENTITY, location });
    await engine.open();
    const kv = EngineKv.empty(engine);
    const n = 5000;
    kv.writeAlone(() => {
      for (let i = 0; i < n; i++) kv.put(k(`k${String(i).padStart(5, '0')}`), k(`v${i}`));
      kv.delete(k('k00007'));
    });
    await flushed(engine);
    await engine.close();
    const again = new LevelEngine({ ...IDENTITY, location });
    await again.open();
    const kv2 = await EngineKv.open(again);
    expect(kv2.size).toBe(n - 1);
    expect(kv2.scan(k('k00005'), k('k00010'), 10).map((e) => keyToString(e.key)))
      .toEqual(['k00005', 'k00006', 'k00008', 'k00009']);
    expect(new Uint8Array(kv2.get(k('k04999'))!)).toEqual(k('v4999'));
    await again.close();
  });
});

let rc: RangeCluster | undefined;
afterEach(async () => {
  await rc?.close();
  rc = undefined;
});

describe('a range cluster on storage engines', () => {
  it.each(engines)('keeps its data in each store\'s %s engine, across a split',
    async (_name, make) => {
      const made = new Map<number, StorageEngine>();
      for (const id of [1, 2, 3]) made.set(id, await make());
      rc = new RangeCluster(31, {}, [1, 2, 3], (id) => made.get(id)!);
      // Virtual time waits a little for the disk (LevelDB completes commits on the loop).
      if (_name === 'LevelDB') rc.drive = () => new Promise((r) => setTimeout(r, 1));
      const c = rc.client;
      for (const key of ['b', 'm', 'x']) {
        await rc.run(c.batch([{ type: OpType.Put, key: k(key), value: k(`v-${key}`) }]));
      }
      const leader = rc.leaderOf(2)!;
      const split = await rc.run(leader.split(2, k('k')));
      await rc.run(c.batch([{ type: OpType.Put, key: k('z'), value: k('v-z') }]));
      const got = await rc.run(c.batch([{ type: OpType.Scan, start: k('a'),
        end: k('zz'), limit: 10 }]), 2000).catch((e: unknown) => e);
      // The scan crosses the split: the client reads the left range up to its end.
      expect(got).toMatchObject({ kind: 'kv' });
      // Every store applies the last write (the acknowledgement needed only a quorum).
      await rc.until(() => [...made.values()].every((e) => e.getUser(k('z')) !== undefined));
      for (const [id, engine] of made) {
        for (const key of ['b', 'm', 'x', 'z']) {
          const value = engine.getUser(k(key));
          expect(value && new Uint8Array(value), `store ${id} key ${key}`).toEqual(k(`v-${key}`));
        }
        const kv = rc.nodes.get(id)!.kv;
        expect(RangeState.storedDescriptor(kv, split.right.rangeId)).toEqual(split.right);
        // The range-local rows are the engine's range-local keys of their range (they travel
        // in its snapshots), not user keys.
        const row = localKey(split.right.rangeId, DESCRIPTOR_TAG, new Uint8Array(0));
        expect(engine.getUser(row)).toBeUndefined();
        expect(engine.getLocal(split.right.rangeId, Uint8Array.of(DESCRIPTOR_TAG)))
          .toBeDefined();
      }
    });
});

describe('a crash keeps the data and the applied index in step', () => {
  it('the user data after a crash is the replay of the log up to the applied index',
    async () => {
      const made = new Map<number, CrashModelEngine>();
      for (const id of [1, 2, 3]) {
        const e = new CrashModelEngine({ ...IDENTITY, storeId: id });
        await e.open();
        made.set(id, e);
      }
      rc = new RangeCluster(32, {}, [1, 2, 3], (id) => made.get(id)!);
      // Each tick completes one write per disk: commits lag behind, as on a slow disk.
      rc.drive = () => {
        for (const e of made.values()) e.completeWrite();
      };
      const c = rc.client;
      for (let i = 0; i < 30; i++) {
        await rc.run(c.batch([{ type: OpType.Put, key: k(`k${i % 7}`), value: k(`v${i}`) },
          { type: OpType.Delete, key: k(`k${(i + 3) % 7}`) }]));
      }
      let checked = 0;
      for (const engine of made.values()) {
        const after = engine.crash();
        const ranges = await after.open();
        expect(ranges).toContain(2);
        const storage = after.loadReplica(2);
        const applied = storage.appliedState().index;
        const replay = new MemoryKv();
        const desc: RangeDescriptor = { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX,
          generation: 0, replicas: [1, 2, 3].map((id) => ({ nodeId: id, replicaId: id,
            type: ReplicaType.Voter })) };
        const state = new RangeState(desc, defaultKvLimits);
        const entries = storage.entries(storage.firstIndex(), applied + 1, Infinity);
        if (!Array.isArray(entries)) throw new Error('log readable');
        for (const e of entries) {
          if (e.type === EntryType.EntryNormal && e.data.length > 0) state.apply(e.index, e.data,
            replay);
        }
        const kv = await EngineKv.open(after);
        const plain = (es: { key: Uint8Array; value: Uint8Array }[]) =>
          es.map((e) => [keyToString(e.key), keyToString(e.value)]);
        expect(plain(kv.scan(USER_KEY_MIN, KEY_MAX, 100)))
          .toEqual(plain(replay.scan(USER_KEY_MIN, KEY_MAX, 100)));
        expect(loadedStats(kv)).toEqual(state.stats);
        checked += applied > 0 ? 1 : 0;
        await after.close();
      }
      expect(checked).toBe(3);
      // The crashed engines are gone (their writes in flight never complete): not closed.
      rc = undefined;
    });
});

/** The statistics row as a restart reads it. */
function loadedStats(kv: EngineKv): { keyCount: number; byteCount: number } {
  const s = new RangeState({ rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX,
    generation: 0, replicas: [] }, defaultKvLimits);
  s.load(kv);
  return { ...s.stats };
}
