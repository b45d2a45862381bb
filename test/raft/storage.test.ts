import { describe, expect, it } from 'vitest';
import {
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrUnavailable,
  isStorageError,
} from '../../src/raft/errors.js';
import { RaftPanicError } from '../../src/raft/logger.js';
import {
  EMPTY_BYTES,
  EntryType,
  emptyConfState,
  type ConfState,
  type Entry,
  type Snapshot,
} from '../../src/raft/raftpb.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { NO_LIMIT, entrySize } from '../../src/raft/util.js';

/** Entries with consecutive indexes from `first`, with the given terms. */
function ents(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => ({
    term, index: first + i, type: EntryType.EntryNormal, data: EMPTY_BYTES,
  }));
}

/** A MemoryStorage whose array holds `e` (ents[0] is the dummy entry). */
function storageWith(e: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.ents = e.slice();
  return s;
}

function snap(index: number, term: number, cs: ConfState = emptyConfState()): Snapshot {
  return { data: new TextEncoder().encode('data'), metadata: { confState: cs, index, term } };
}

const ids = (e: readonly Entry[]): number[][] => e.map((x) => [x.index, x.term]);

describe('MemoryStorage.term', () => {
  it.each([
    [2, ErrCompacted],
    [3, 3],
    [4, 4],
    [5, 5],
    [6, ErrUnavailable],
  ])('term(%d)', (i, want) => {
    const s = storageWith(ents(3, 3, 4, 5));
    expect(s.term(i)).toBe(want);
  });
});

describe('MemoryStorage.entries', () => {
  const e = ents(3, 3, 4, 5, 6);
  const size = (k: number) => entrySize(e[k]!);
  it.each([
    [2, 6, NO_LIMIT, ErrCompacted],
    [3, 4, NO_LIMIT, ErrCompacted],
    [4, 5, NO_LIMIT, ents(4, 4)],
    [4, 6, NO_LIMIT, ents(4, 4, 5)],
    [4, 7, NO_LIMIT, ents(4, 4, 5, 6)],
    // Even with no room the first entry is returned.
    [4, 7, 0, ents(4, 4)],
    [4, 7, size(1) + size(2), ents(4, 4, 5)],
    [4, 7, size(1) + size(2) + size(3) / 2, ents(4, 4, 5)],
    [4, 7, size(1) + size(2) + size(3) - 1, ents(4, 4, 5)],
    [4, 7, size(1) + size(2) + size(3), ents(4, 4, 5, 6)],
  ])('entries(%d, %d, %d)', (lo, hi, maxSize, want) => {
    const s = storageWith(e);
    const got = s.entries(lo, hi, maxSize);
    if (isStorageError(want)) expect(got).toBe(want);
    else expect(ids(got as Entry[])).toEqual(ids(want));
  });

  it('returns an array the caller may extend without touching the storage', () => {
    const s = storageWith(e);
    const got = s.entries(4, 6, NO_LIMIT) as Entry[];
    got.push(...ents(99, 9));
    expect(ids(s.entries(4, 7, NO_LIMIT) as Entry[])).toEqual(ids(ents(4, 4, 5, 6)));
  });

  it('panics past the last index, and reports unavailable with only the dummy entry', () => {
    expect(() => storageWith(e).entries(4, 8, NO_LIMIT)).toThrow(
      new RaftPanicError("entries' hi(8) is out of bound lastindex(6)"),
    );
    expect(storageWith(ents(3, 3)).entries(4, 4, NO_LIMIT)).toBe(ErrUnavailable);
  });
});

describe('MemoryStorage indexes', () => {
  it('lastIndex follows appends', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    expect(s.lastIndex()).toBe(5);
    s.append(ents(6, 5));
    expect(s.lastIndex()).toBe(6);
  });

  it('firstIndex follows compaction', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    expect(s.firstIndex()).toBe(4);
    expect(s.compact(4)).toBeNull();
    expect(s.firstIndex()).toBe(5);
  });

  it('a new storage holds only the dummy entry at 0', () => {
    const s = new MemoryStorage();
    expect([s.firstIndex(), s.lastIndex(), s.term(0)]).toEqual([1, 0, 0]);
    expect(s.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
  });
});

describe('MemoryStorage.compact', () => {
  it.each([
    [2, ErrCompacted, 3, 3, 3],
    [3, ErrCompacted, 3, 3, 3],
    [4, null, 4, 4, 2],
    [5, null, 5, 5, 1],
  ])('compact(%d)', (i, werr, windex, wterm, wlen) => {
    const s = storageWith(ents(3, 3, 4, 5));
    expect(s.compact(i)).toBe(werr);
    expect(s.ents[0]!.index).toBe(windex);
    expect(s.ents[0]!.term).toBe(wterm);
    expect(s.ents.length).toBe(wlen);
  });

  it('panics beyond the last index', () => {
    expect(() => storageWith(ents(3, 3, 4, 5)).compact(6)).toThrow(
      new RaftPanicError('compact 6 is out of bound lastindex(5)'),
    );
  });

  it('does not disturb arrays handed out before', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    const before = s.entries(4, 6, NO_LIMIT) as Entry[];
    s.compact(5);
    expect(ids(before)).toEqual(ids(ents(4, 4, 5)));
  });
});

describe('MemoryStorage.createSnapshot', () => {
  const cs: ConfState = { ...emptyConfState(), voters: [1, 2, 3] };
  const data = new TextEncoder().encode('data');
  it.each([4, 5])('at %d', (i) => {
    const s = storageWith(ents(3, 3, 4, 5));
    const got = s.createSnapshot(i, cs, data);
    expect(got).toEqual({ data, metadata: { confState: cs, index: i, term: i } });
    expect(s.snapshot()).toEqual(got);
    expect(s.initialState().confState).toEqual(cs);
  });

  it('rejects an index not newer than the snapshot, panics past the end', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    expect(s.createSnapshot(4, cs, data)).not.toBe(ErrSnapOutOfDate);
    expect(s.createSnapshot(4, cs, data)).toBe(ErrSnapOutOfDate);
    expect(() => s.createSnapshot(6, null, data)).toThrow(
      new RaftPanicError('snapshot 6 is out of bound lastindex(5)'),
    );
  });

  it('keeps the previous ConfState when given none', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    s.createSnapshot(4, cs, data);
    const got = s.createSnapshot(5, null, EMPTY_BYTES) as Snapshot;
    expect(got.metadata.confState).toEqual(cs);
  });
});

describe('MemoryStorage.append', () => {
  it.each([
    ['all compacted', ents(1, 1, 2), ents(3, 3, 4, 5)],
    ['identical', ents(3, 3, 4, 5), ents(3, 3, 4, 5)],
    ['replaces a suffix', ents(3, 3, 6, 6), ents(3, 3, 6, 6)],
    ['extends', ents(3, 3, 4, 5, 5), ents(3, 3, 4, 5, 5)],
    ['skips compacted, truncates, appends', ents(2, 3, 3, 5), ents(3, 3, 5)],
    ['truncates and appends', ents(4, 5), ents(3, 3, 5)],
    ['appends directly', ents(6, 5), ents(3, 3, 4, 5, 5)],
  ])('%s', (_name, toAppend, want) => {
    const s = storageWith(ents(3, 3, 4, 5));
    s.append(toAppend);
    expect(ids(s.ents)).toEqual(ids(want));
  });

  it('panics on a gap', () => {
    expect(() => storageWith(ents(3, 3, 4, 5)).append(ents(7, 5))).toThrow(
      new RaftPanicError('missing log entry [last: 5, append at: 7]'),
    );
  });

  it('ignores an empty append', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    s.append([]);
    expect(s.lastIndex()).toBe(5);
  });
});

describe('MemoryStorage.applySnapshot', () => {
  const cs: ConfState = { ...emptyConfState(), voters: [1, 2, 3] };
  it('applies a snapshot and resets the log to it', () => {
    const s = new MemoryStorage();
    expect(s.applySnapshot(snap(4, 4, cs))).toBeNull();
    expect([s.firstIndex(), s.lastIndex(), s.term(4)]).toEqual([5, 4, 4]);
    expect(s.initialState().confState).toEqual(cs);
  });

  it('rejects an older snapshot', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snap(4, 4, cs));
    expect(s.applySnapshot(snap(3, 3, cs))).toBe(ErrSnapOutOfDate);
    expect(s.applySnapshot(snap(4, 4, cs))).toBe(ErrSnapOutOfDate);
  });

  it('accepts a bootstrap snapshot with only a ConfState', () => {
    const s = new MemoryStorage();
    expect(s.applySnapshot(snap(0, 0, cs))).toBeNull();
    expect(s.initialState().confState).toEqual(cs);
    expect(s.applySnapshot(snap(0, 0, cs))).toBeNull();
  });
});

describe('MemoryStorage call stats and hard state', () => {
  it('counts calls of the Storage methods', () => {
    const s = storageWith(ents(3, 3, 4, 5));
    s.lastIndex();
    expect(s.callStats.lastIndex).toBe(0); // not counting yet
    s.countCalls();
    s.term(4);
    s.term(4);
    s.entries(4, 5, NO_LIMIT);
    s.firstIndex();
    s.lastIndex();
    s.snapshot();
    s.initialState();
    expect(s.callStats).toEqual({
      initialState: 1, firstIndex: 1, lastIndex: 1, entries: 1, term: 2, snapshot: 1,
    });
  });

  it('returns the HardState last set', () => {
    const s = new MemoryStorage();
    s.setHardState({ term: 3, vote: 2, commit: 1 });
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 1 });
  });
});
