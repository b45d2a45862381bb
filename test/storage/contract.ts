/**
 * The one contract suite of `StorageEngine` (house rule 13): every engine runs these tests
 * through an `EngineHarness`. What an engine cannot do (the memory engine cannot reopen) it
 * declares, and those tests are skipped for it.
 */
import { describe, expect, it } from 'vitest';
import {
  EMPTY_BYTES,
  EntryType,
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrSnapshotTemporarilyUnavailable,
  ErrUnavailable,
  NO_LIMIT,
  entrySize,
  type ConfState,
  type Entry,
  type Snapshot,
} from '../../src/raft/index.js';
import {
  LOCAL_VALUE_BYTES_MAX,
  StorageArgumentError,
  type AppliedState,
  type EngineBatch,
  type ReplicaStorage,
  type StorageEngine,
} from '../../src/storage/index.js';

/** How the suite drives one engine. */
export interface EngineHarness {
  /** The engine's name in test titles. */
  name: string;
  /** A fresh, opened, empty engine. */
  make(): Promise<StorageEngine>;
  /** Lets the engine's writes complete (the crash model completes its disk writes). */
  drive(engine: StorageEngine): void;
  /**
   * Closes `engine` after its commits and opens the same data again (null: the engine
   * cannot); returns the reopened engine and the replicas `open` listed.
   */
  reopen: ((engine: StorageEngine) => Promise<[StorageEngine, readonly number[]]>) | null;
}

const enc = new TextEncoder();
/** Bytes of a string. */
export const b = (s: string): Uint8Array => enc.encode(s);
const str = (u: Uint8Array): string => new TextDecoder().decode(u);

/** Entries from `first` on, one per term, with data `e<index>`. */
export function ents(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => ({
    term, index: first + i, type: EntryType.EntryNormal, data: b(`e${first + i}`),
  }));
}

const cs = (...voters: number[]): ConfState =>
  ({ voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });

function snapAt(index: number, term: number, voters = [1, 2, 3]): Snapshot {
  return { data: b(`snap${index}`), metadata: { index, term, confState: cs(...voters) } };
}

const applied = (index: number, descriptor = EMPTY_BYTES, voters = [1, 2, 3]): AppliedState =>
  ({ index, confState: cs(...voters), descriptor });

const ids = (e: Entry[] | Error): [number, number][] | Error =>
  Array.isArray(e) ? e.map((x) => [x.index, x.term]) : e;

/** Commits `batch`, drives the engine and resolves with the commit's result. */
export function commitNow(h: EngineHarness, engine: StorageEngine, batch: EngineBatch):
  Promise<Error | null> {
  const done = new Promise<Error | null>((resolve) => engine.commit(batch, resolve));
  h.drive(engine);
  return done;
}

/** Stages `stage` into a new batch and commits it. */
export async function write(h: EngineHarness, engine: StorageEngine,
  stage: (batch: EngineBatch) => void): Promise<void> {
  const batch = engine.batch();
  stage(batch);
  expect(await commitNow(h, engine, batch)).toBeNull();
}

/** A replica with entries 1..n of term 1 and HardState commit n, committed. */
async function filled(h: EngineHarness, engine: StorageEngine, rangeId: number, n: number):
  Promise<ReplicaStorage> {
  const r = engine.createReplica(rangeId);
  await write(h, engine, (batch) => {
    r.append(ents(1, ...Array<number>(n).fill(1)), batch);
    r.setHardState({ term: 1, vote: 1, commit: n }, batch);
  });
  return r;
}

/** Registers the contract tests for one engine. */
export function describeContract(h: EngineHarness): void {
  describe(`${h.name}: Raft Storage semantics`, () => raftSemantics(h));
  describe(`${h.name}: writers and batches`, () => writers(h));
  describe(`${h.name}: snapshots, compaction, applied state`, () => snapshots(h));
  describe(`${h.name}: user data`, () => userData(h));
  describe(`${h.name}: range-local keys`, () => localKeys(h));
  describe(`${h.name}: log size`, () => logBytes(h));
  describe.skipIf(h.reopen === null)(`${h.name}: reopen and read back`, () => reopen(h));
}

function raftSemantics(h: EngineHarness): void {
  it('a new replica is empty: first 1, last 0, term(0) = 0, nothing else', async () => {
    const e = await h.make();
    const r = e.createReplica(7);
    expect(r.rangeId).toBe(7);
    expect([r.firstIndex(), r.lastIndex(), r.term(0)]).toEqual([1, 0, 0]);
    expect(r.term(1)).toBe(ErrUnavailable);
    expect(r.entries(1, 1, NO_LIMIT)).toBe(ErrUnavailable);
    expect(r.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
    expect(r.appliedState().index).toBe(0);
    await e.close();
  });

  it('term: ErrCompacted below the truncation, its term at it, ErrUnavailable past last',
    async () => {
      const e = await h.make();
      const r = await filled(h, e, 1, 5);
      await write(h, e, (batch) => r.setApplied(applied(3), batch));
      await write(h, e, (batch) => expect(r.compact(3, batch)).toBeNull());
      expect(r.term(2)).toBe(ErrCompacted);
      expect(r.term(3)).toBe(1);
      expect(r.term(5)).toBe(1);
      expect(r.term(6)).toBe(ErrUnavailable);
      expect([r.firstIndex(), r.lastIndex()]).toEqual([4, 5]);
      await e.close();
    });

  it('entries: ErrCompacted at or below the truncation, a panic past last + 1', async () => {
    const e = await h.make();
    const r = await filled(h, e, 1, 5);
    await write(h, e, (batch) => r.setApplied(applied(2), batch));
    await write(h, e, (batch) => expect(r.compact(2, batch)).toBeNull());
    expect(r.entries(2, 4, NO_LIMIT)).toBe(ErrCompacted);
    expect(r.entries(1, 4, NO_LIMIT)).toBe(ErrCompacted);
    expect(ids(r.entries(3, 6, NO_LIMIT) as Entry[])).toEqual([[3, 1], [4, 1], [5, 1]]);
    expect(r.entries(4, 4, NO_LIMIT)).toEqual([]);
    expect(() => r.entries(3, 7, NO_LIMIT)).toThrow();
    await e.close();
  });

  it('entries: limited by size, but at least one entry', async () => {
    const e = await h.make();
    const r = await filled(h, e, 1, 6);
    const all = r.entries(1, 7, NO_LIMIT) as Entry[];
    const size = entrySize(all[0]!);
    expect(all.map((x) => str(x.data))).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    expect((r.entries(1, 7, 0) as Entry[]).length).toBe(1);
    expect((r.entries(1, 7, size) as Entry[]).length).toBe(1);
    expect((r.entries(1, 7, 3 * size) as Entry[]).length).toBe(3);
    expect((r.entries(1, 7, 3 * size + size - 1) as Entry[]).length).toBe(3);
    expect((r.entries(2, 7, 100 * size) as Entry[]).length).toBe(5);
    await e.close();
  });

  it('append replaces the suffix from the first new index and skips the compacted part',
    async () => {
      const e = await h.make();
      const r = await filled(h, e, 1, 5);
      await write(h, e, (batch) => r.append(ents(3, 2, 2), batch));
      expect(ids(r.entries(1, 5, NO_LIMIT) as Entry[])).toEqual([[1, 1], [2, 1], [3, 2], [4, 2]]);
      expect(r.lastIndex()).toBe(4);
      await write(h, e, (batch) => r.setApplied(applied(3), batch));
      await write(h, e, (batch) => r.compact(3, batch));
      await write(h, e, (batch) => r.append(ents(2, 1, 2, 3, 3), batch));
      expect(ids(r.entries(4, 6, NO_LIMIT) as Entry[])).toEqual([[4, 3], [5, 3]]);
      expect(r.term(3)).toBe(2);
      const batch = e.batch();
      expect(() => r.append(ents(7, 3), batch)).toThrow();
      expect(await commitNow(h, e, batch)).toBeNull();
      await e.close();
    });

  it('initialState gives the staged HardState and the applied ConfState', async () => {
    const e = await h.make();
    const r = await filled(h, e, 1, 3);
    await write(h, e, (batch) => r.setApplied(applied(2, EMPTY_BYTES, [1, 2]), batch));
    const st = r.initialState();
    expect(st.hardState).toEqual({ term: 1, vote: 1, commit: 3 });
    expect(st.confState.voters).toEqual([1, 2]);
    await e.close();
  });
}

function writers(h: EngineHarness): void {
  it('staged writes are visible before the commit completes', async () => {
    const e = await h.make();
    const r = e.createReplica(3);
    const batch = e.batch();
    r.append(ents(1, 1, 1), batch);
    r.setHardState({ term: 1, vote: 2, commit: 1 }, batch);
    e.putUser(b('k'), b('v'), batch);
    expect(r.lastIndex()).toBe(2);
    expect(ids(r.entries(1, 3, NO_LIMIT) as Entry[])).toEqual([[1, 1], [2, 1]]);
    expect(r.hardState()).toEqual({ term: 1, vote: 2, commit: 1 });
    expect(str(e.getUser(b('k'))!)).toBe('v');
    expect(batch.groupCount).toBe(1);
    expect(batch.byteCount).toBeGreaterThan(0);
    expect(await commitNow(h, e, batch)).toBeNull();
    expect(ids(r.entries(1, 3, NO_LIMIT) as Entry[])).toEqual([[1, 1], [2, 1]]);
    await e.close();
  });

  it('commits complete in order, each exactly once', async () => {
    const e = await h.make();
    const replicas = [1, 2, 3].map((id) => e.createReplica(id));
    const order: number[] = [];
    const all: Promise<void>[] = [];
    for (let k = 0; k < 6; k++) {
      const batch = e.batch();
      for (const r of replicas) r.append(ents(k + 1, 1), batch);
      expect(batch.groupCount).toBe(3);
      all.push(new Promise((resolve) => e.commit(batch, (error) => {
        expect(error).toBeNull();
        order.push(k);
        resolve();
      })));
    }
    h.drive(e);
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(e.stats().batchesCommitted).toBe(6);
    expect(e.stats().groupsCommitted).toBe(18);
    await e.close();
  });

  it('batches committed from inside done callbacks complete in commit order', async () => {
    const e = await h.make();
    const r = e.createReplica(1);
    const called: string[] = [];
    const order: string[] = [];
    const commit = (name: string, index: number, then: () => void = () => undefined) => {
      const batch = e.batch();
      r.append(ents(index, 1), batch);
      called.push(name);
      e.commit(batch, (error) => {
        expect(error).toBeNull();
        order.push(name);
        then();
      });
    };
    commit('first', 1, () => {
      commit('second', 2);
      commit('third', 3);
    });
    commit('other', 2, () => commit('fourth', 3));
    for (let i = 0; i < 1000 && order.length < 5; i++) {
      h.drive(e);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(order.length).toBe(5);
    expect(order).toEqual(called);
    expect(r.lastIndex()).toBe(3);
    await e.close();
  });

  it('one batch is open at a time', async () => {
    const e = await h.make();
    const batch = e.batch();
    expect(() => e.batch()).toThrow();
    expect(await commitNow(h, e, batch)).toBeNull();
    expect(() => e.batch()).not.toThrow();
    await e.close().catch(() => undefined);
  });

  it('destroyReplica removes the replica; the range id can be created again', async () => {
    const e = await h.make();
    const r = await filled(h, e, 9, 3);
    await write(h, e, (batch) => e.destroyReplica(r, batch));
    const again = e.createReplica(9);
    expect([again.firstIndex(), again.lastIndex()]).toEqual([1, 0]);
    await e.close();
  });

  it('release() keeps every read correct', async () => {
    const e = await h.make();
    const r = await filled(h, e, 4, 8);
    await write(h, e, (batch) => r.setApplied(applied(4), batch));
    await write(h, e, (batch) => r.compact(2, batch));
    const before = ids(r.entries(3, 9, NO_LIMIT) as Entry[]);
    r.release();
    expect(ids(r.entries(3, 9, NO_LIMIT) as Entry[])).toEqual(before);
    expect([r.term(2), r.term(8), r.firstIndex(), r.lastIndex()]).toEqual([1, 1, 3, 8]);
    expect(r.hardState().commit).toBe(8);
    await write(h, e, (batch) => r.append(ents(9, 2), batch));
    expect(r.term(9)).toBe(2);
    await e.close();
  });
}

function snapshots(h: EngineHarness): void {
  it('applySnapshot replaces the log and the applied state; older ones are out of date',
    async () => {
      const e = await h.make();
      const r = await filled(h, e, 1, 3);
      await write(h, e, (batch) => {
        expect(r.applySnapshot(snapAt(10, 4), b('d10'), batch)).toBeNull();
      });
      expect([r.firstIndex(), r.lastIndex(), r.term(10)]).toEqual([11, 10, 4]);
      expect(r.term(9)).toBe(ErrCompacted);
      expect(r.appliedState().index).toBe(10);
      expect(str(r.appliedState().descriptor)).toBe('d10');
      expect((r.snapshot() as Snapshot).metadata.index).toBe(10);
      const batch = e.batch();
      expect(r.applySnapshot(snapAt(10, 4), b('x'), batch)).toBe(ErrSnapOutOfDate);
      expect(r.applySnapshot(snapAt(8, 4), b('x'), batch)).toBe(ErrSnapOutOfDate);
      expect(await commitNow(h, e, batch)).toBeNull();
      await write(h, e, (bt) => r.append(ents(11, 4, 4), bt));
      expect(ids(r.entries(11, 13, NO_LIMIT) as Entry[])).toEqual([[11, 4], [12, 4]]);
      await e.close();
    });

  it('compact: ErrCompacted when already compacted, never past the applied index',
    async () => {
      const e = await h.make();
      const r = await filled(h, e, 1, 6);
      await write(h, e, (batch) => r.setApplied(applied(4), batch));
      const batch = e.batch();
      expect(() => r.compact(5, batch)).toThrow();
      expect(r.compact(4, batch)).toBeNull();
      expect(r.compact(4, batch)).toBe(ErrCompacted);
      expect(r.compact(2, batch)).toBe(ErrCompacted);
      expect(await commitNow(h, e, batch)).toBeNull();
      expect([r.firstIndex(), r.term(4)]).toEqual([5, 1]);
      await e.close();
    });

  it('snapshot: the applied point once compacted past the last snapshot; temporarily ' +
    'unavailable while that applied state is not durable', async () => {
    const e = await h.make();
    const r = await filled(h, e, 1, 6);
    expect((r.snapshot() as Snapshot).metadata.index).toBe(0);
    const batch = e.batch();
    r.setApplied(applied(5, b('desc5')), batch);
    r.compact(4, batch);
    expect(r.snapshot()).toBe(ErrSnapshotTemporarilyUnavailable);
    expect(await commitNow(h, e, batch)).toBeNull();
    const s = r.snapshot() as Snapshot;
    expect(s.metadata.index).toBe(5);
    expect(s.metadata.term).toBe(1);
    expect(s.metadata.confState.voters).toEqual([1, 2, 3]);
    expect(str(s.data)).toBe('desc5');
    await e.close();
  });

  it('the applied index never moves back', async () => {
    const e = await h.make();
    const r = await filled(h, e, 1, 4);
    await write(h, e, (batch) => r.setApplied(applied(3), batch));
    const batch = e.batch();
    expect(() => r.setApplied(applied(2), batch)).toThrow();
    expect(() => r.setApplied(applied(9), batch)).toThrow();
    expect(await commitNow(h, e, batch)).toBeNull();
    expect(r.appliedState().index).toBe(3);
    await e.close();
  });
}

function userData(h: EngineHarness): void {
  it('get, put, delete, staged and visible at once', async () => {
    const e = await h.make();
    expect(e.getUser(b('a'))).toBeUndefined();
    await write(h, e, (batch) => {
      e.putUser(b('a'), b('1'), batch);
      e.putUser(b('b'), b('2'), batch);
      e.deleteUser(b('b'), batch);
      expect(e.getUser(b('b'))).toBeUndefined();
    });
    expect(str(e.getUser(b('a'))!)).toBe('1');
    expect(e.getUser(b('b'))).toBeUndefined();
    await write(h, e, (batch) => e.putUser(b('a'), b('3'), batch));
    expect(str(e.getUser(b('a'))!)).toBe('3');
    await e.close();
  });

  it('scan: [start, end) in byte order, with a limit, staged writes included', async () => {
    const e = await h.make();
    await write(h, e, (batch) => {
      for (const k of ['b', 'a', 'c', 'ab', 'd', 'e']) e.putUser(b(k), b(`v${k}`), batch);
    });
    const batch = e.batch();
    e.deleteUser(b('c'), batch);
    e.putUser(b('bb'), b('vbb'), batch);
    const keys = async (s: string, end: string | null, limit: number) =>
      (await e.scanUser(b(s), end === null ? null : b(end), limit)).map((x) => str(x.key));
    expect(await keys('a', 'd', 100)).toEqual(['a', 'ab', 'b', 'bb']);
    expect(await keys('ab', null, 3)).toEqual(['ab', 'b', 'bb']);
    expect(await keys('b', null, 100)).toEqual(['b', 'bb', 'd', 'e']);
    expect(await keys('x', null, 100)).toEqual([]);
    expect(await commitNow(h, e, batch)).toBeNull();
    const rows = await e.scanUser(b('a'), null, 100);
    expect(rows.map((x) => `${str(x.key)}=${str(x.value)}`))
      .toEqual(['a=va', 'ab=vab', 'b=vb', 'bb=vbb', 'd=vd', 'e=ve']);
    await e.close();
  });

  it('readSpan is a point in time: later writes are not seen', async () => {
    const e = await h.make();
    await write(h, e, (batch) => {
      for (let i = 0; i < 150; i++) e.putUser(b(`k${String(i).padStart(3, '0')}`), b(`${i}`), batch);
    });
    const reader = e.readSpan(b('k050'), b('k120'));
    await write(h, e, (batch) => {
      e.deleteUser(b('k060'), batch);
      e.putUser(b('k100'), b('changed'), batch);
      e.putUser(b('k0605'), b('new'), batch);
    });
    const seen: string[] = [];
    for (let rows = await reader.next(16); rows.length > 0; rows = await reader.next(16)) {
      for (const row of rows) seen.push(`${str(row.key)}=${str(row.value)}`);
    }
    reader.close();
    expect(seen.length).toBe(70);
    expect(seen).toContain('k060=60');
    expect(seen).toContain('k100=100');
    expect(seen.some((s) => s.startsWith('k0605'))).toBe(false);
    await e.close();
  });

  it('refuses empty and oversized keys with a typed error', async () => {
    const e = await h.make();
    const batch = e.batch();
    expect(() => e.putUser(EMPTY_BYTES, b('v'), batch)).toThrow(StorageArgumentError);
    expect(() => e.putUser(new Uint8Array(5000), b('v'), batch)).toThrow(StorageArgumentError);
    expect(() => e.getUser(EMPTY_BYTES)).toThrow(StorageArgumentError);
    expect(await commitNow(h, e, batch)).toBeNull();
    await e.close();
  });
}

const localRows = (e: StorageEngine, rangeId: number, start = 'a', end: string | null = null,
  limit = 100): string[] =>
  e.scanLocal(rangeId, b(start), end === null ? null : b(end), limit)
    .map((x) => `${str(x.key)}=${str(x.value)}`);

function logBytes(h: EngineHarness): void {
  it('logBytes counts appended payloads, scales on compaction, is 0 after a snapshot',
    async () => {
      const e = await h.make();
      const r = e.createReplica(3);
      expect(r.logBytes()).toBe(0);
      const big = (index: number): Entry =>
        ({ term: 1, index, type: EntryType.EntryNormal, data: new Uint8Array(1000) });
      await write(h, e, (batch) => r.append([1, 2, 3, 4].map(big), batch));
      const four = r.logBytes();
      expect(four).toBeGreaterThanOrEqual(4000);
      await write(h, e, (batch) => {
        r.setApplied(applied(2), batch);
        expect(r.compact(2, batch)).toBeNull();
      });
      expect(r.logBytes()).toBe(four / 2);
      await write(h, e, (batch) => r.applySnapshot(snapAt(10, 2), EMPTY_BYTES, batch));
      expect(r.logBytes()).toBe(0);
      await e.close();
    });
}

function localKeys(h: EngineHarness): void {
  it('get/put/delete/scan are synchronous, per range, and see staged writes', async () => {
    const e = await h.make();
    const batch = e.batch();
    for (const k of ['c', 'a', 'b', 'ab']) e.putLocal(1, b(k), b(`1${k}`), batch);
    e.putLocal(2, b('a'), b('2a'), batch);
    e.putUser(b('a'), b('user'), batch);
    expect(str(e.getLocal(1, b('a'))!)).toBe('1a');
    expect(str(e.getLocal(2, b('a'))!)).toBe('2a');
    expect(e.getLocal(3, b('a'))).toBeUndefined();
    expect(localRows(e, 1)).toEqual(['a=1a', 'ab=1ab', 'b=1b', 'c=1c']);
    expect(localRows(e, 1, 'ab', 'c')).toEqual(['ab=1ab', 'b=1b']);
    expect(localRows(e, 1, 'a', null, 2)).toEqual(['a=1a', 'ab=1ab']);
    e.deleteLocal(1, b('ab'), batch);
    e.deleteLocal(1, b('zz'), batch);
    expect(e.getLocal(1, b('ab'))).toBeUndefined();
    expect(await commitNow(h, e, batch)).toBeNull();
    expect(localRows(e, 1)).toEqual(['a=1a', 'b=1b', 'c=1c']);
    expect(localRows(e, 2)).toEqual(['a=2a']);
    expect(str(e.getUser(b('a'))!)).toBe('user');
    await e.close();
  });

  it('clearLocal and destroyReplica delete a range\'s keys and no other range\'s', async () => {
    const e = await h.make();
    const r = await filled(h, e, 4, 2);
    await write(h, e, (batch) => {
      for (const id of [3, 4, 5]) e.putLocal(id, b('desc'), b(`d${id}`), batch);
      e.putLocal(4, b('dedupe/1'), b('x'), batch);
    });
    await write(h, e, (batch) => {
      e.destroyReplica(r, batch);
      e.clearLocal(5, batch);
    });
    expect(localRows(e, 4)).toEqual([]);
    expect(localRows(e, 5)).toEqual([]);
    expect(localRows(e, 3)).toEqual(['desc=d3']);
    await e.close();
  });

  it('refuses bad range ids, keys, values and limits with a typed error', async () => {
    const e = await h.make();
    const batch = e.batch();
    expect(() => e.putLocal(0, b('k'), b('v'), batch)).toThrow(StorageArgumentError);
    expect(() => e.putLocal(1.5, b('k'), b('v'), batch)).toThrow(StorageArgumentError);
    expect(() => e.putLocal(1, EMPTY_BYTES, b('v'), batch)).toThrow(StorageArgumentError);
    expect(() => e.putLocal(1, new Uint8Array(5000), b('v'), batch))
      .toThrow(StorageArgumentError);
    expect(() => e.putLocal(1, b('k'), new Uint8Array(LOCAL_VALUE_BYTES_MAX + 1), batch))
      .toThrow(StorageArgumentError);
    expect(() => e.getLocal(-1, b('k'))).toThrow(StorageArgumentError);
    expect(() => e.scanLocal(1, b('a'), null, 0)).toThrow(StorageArgumentError);
    expect(() => e.scanLocal(1, EMPTY_BYTES, null, 1)).toThrow(StorageArgumentError);
    expect(e.getLocal(1, b('k'))).toBeUndefined();
    expect(await commitNow(h, e, batch)).toBeNull();
    await e.close();
  });
}

function reopen(h: EngineHarness): void {
  it('range-local keys are durable at commit and a destroyed range\'s stay gone', async () => {
    let e = await h.make();
    const r = await filled(h, e, 8, 1);
    await write(h, e, (batch) => {
      e.putLocal(8, b('desc'), b('d8'), batch);
      e.putLocal(9, b('desc'), b('d9'), batch);
      e.putLocal(9, b('dedupe'), b('t9'), batch);
    });
    await write(h, e, (batch) => {
      e.destroyReplica(r, batch);
      e.deleteLocal(9, b('dedupe'), batch);
    });
    [e] = await h.reopen!(e);
    expect(localRows(e, 8)).toEqual([]);
    expect(localRows(e, 9)).toEqual(['desc=d9']);
    await e.close();
  });

  it('reads back every record after a reopen', async () => {
    let e = await h.make();
    const r = await filled(h, e, 5, 6);
    const other = await filled(h, e, 6, 2);
    await write(h, e, (batch) => {
      r.setApplied(applied(4, b('desc'), [1, 2]), batch);
      r.compact(2, batch);
      r.append(ents(6, 2, 2), batch);
      r.setHardState({ term: 2, vote: 3, commit: 6 }, batch);
      e.putUser(b('user'), b('data'), batch);
      e.destroyReplica(other, batch);
    });
    const [reopened, listed] = await h.reopen!(e);
    e = reopened;
    expect(listed).toEqual([5]);
    const back = e.loadReplica(5);
    expect([back.firstIndex(), back.lastIndex(), back.term(2), back.term(7)]).toEqual([3, 7, 1, 2]);
    expect(ids(back.entries(3, 8, NO_LIMIT) as Entry[]))
      .toEqual([[3, 1], [4, 1], [5, 1], [6, 2], [7, 2]]);
    expect((back.entries(3, 4, NO_LIMIT) as Entry[]).map((x) => str(x.data))).toEqual(['e3']);
    expect(back.hardState()).toEqual({ term: 2, vote: 3, commit: 6 });
    expect(back.appliedState().index).toBe(4);
    expect(back.appliedState().confState.voters).toEqual([1, 2]);
    expect(str(back.appliedState().descriptor)).toBe('desc');
    expect((back.snapshot() as Snapshot).metadata.index).toBe(4);
    expect(str(e.getUser(b('user'))!)).toBe('data');
    await e.close();
  });

  it('reads back a snapshot applied to the replica', async () => {
    let e = await h.make();
    const r = e.createReplica(2);
    await write(h, e, (batch) => r.applySnapshot(snapAt(20, 3, [4, 5]), b('d'), batch));
    [e] = await h.reopen!(e);
    const back = e.loadReplica(2);
    const s = back.snapshot() as Snapshot;
    expect([s.metadata.index, s.metadata.term, str(s.data)]).toEqual([20, 3, 'snap20']);
    expect(s.metadata.confState.voters).toEqual([4, 5]);
    expect([back.firstIndex(), back.lastIndex(), back.term(20)]).toEqual([21, 20, 3]);
    expect(back.initialState().confState.voters).toEqual([4, 5]);
    await e.close();
  });
}
