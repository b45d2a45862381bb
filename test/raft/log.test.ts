import { describe, expect, it } from 'vitest';
import { captureLogger, ents, snap } from './_log_fixtures.js';
import { ErrCompacted, ErrUnavailable } from '../../src/raft/errors.js';
import { LogSlice, RaftLog, newLog, newLogWithSize } from '../../src/raft/log.js';
import { RaftPanicError, silentLogger, type RaftLogger } from '../../src/raft/logger.js';
import {
  EMPTY_BYTES,
  EntryType,
  type Entry,
} from '../../src/raft/raftpb.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { NO_LIMIT, entrySize, entsSize } from '../../src/raft/util.js';

/** Entries first..to-1 whose term equals their index (etcd's termRange). */
function termRange(first: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let i = first; i < to; i++) {
    out.push({ term: i, index: i, type: EntryType.EntryNormal, data: EMPTY_BYTES });
  }
  return out;
}

const ids = (e: readonly Entry[]): number[][] => e.map((x) => [x.index, x.term]);

function logWith(previous: Entry[], logger: RaftLogger = silentLogger): RaftLog {
  const l = newLog(new MemoryStorage(), logger);
  l.append(previous);
  return l;
}

/** A log over a storage holding snapshot (3, term 1) and entry 4, with 4..6 appended. */
function applyingLog(maxSize = NO_LIMIT): RaftLog {
  const e = ents(4, 1, 1, 1);
  const storage = new MemoryStorage();
  storage.applySnapshot(snap(3, 1));
  storage.append(e.slice(0, 1));
  const l = newLogWithSize(storage, silentLogger, maxSize);
  l.append(e);
  l.stableTo({ term: 1, index: 4 });
  l.maybeCommit({ term: 1, index: 5 });
  return l;
}

describe('RaftLog.findConflict', () => {
  it.each([
    [[], 0],
    [ents(1, 1, 2, 3), 0],
    [ents(2, 2, 3), 0],
    [ents(3, 3), 0],
    [ents(1, 1, 2, 3, 4, 4), 4],
    [ents(2, 2, 3, 4, 5), 4],
    [ents(3, 3, 4, 4), 4],
    [ents(4, 4, 4), 4],
    [ents(1, 4, 4), 1],
    [ents(2, 1, 4, 4), 2],
    [ents(3, 1, 2, 4, 4), 3],
  ])('%#', (e, want) => {
    expect(logWith(ents(1, 1, 2, 3)).findConflict(e)).toBe(want);
  });

  it('logs a conflict with an existing entry, not a new entry', () => {
    const log = captureLogger();
    const l = logWith(ents(1, 1, 2, 3), log);
    log.lines.length = 0;
    l.findConflict(ents(2, 2, 4));
    l.findConflict(ents(4, 4));
    expect(log.lines).toEqual([
      'INFO found conflict at index 3 [existing term: 3, conflicting term: 4]',
    ]);
  });
});

describe('RaftLog.findConflictByTerm', () => {
  it.each([
    // The log starts at index 1.
    [ents(0, 0, 2, 2, 5, 5, 5), 100, 2, 100], // ErrUnavailable
    [ents(0, 0, 2, 2, 5, 5, 5), 5, 6, 5],
    [ents(0, 0, 2, 2, 5, 5, 5), 5, 5, 5],
    [ents(0, 0, 2, 2, 5, 5, 5), 5, 4, 2],
    [ents(0, 0, 2, 2, 5, 5, 5), 5, 2, 2],
    [ents(0, 0, 2, 2, 5, 5, 5), 5, 1, 0],
    [ents(0, 0, 2, 2, 5, 5, 5), 1, 2, 1],
    [ents(0, 0, 2, 2, 5, 5, 5), 1, 1, 0],
    [ents(0, 0, 2, 2, 5, 5, 5), 0, 0, 0],
    // A log with compacted entries.
    [ents(10, 3, 3, 3, 4, 4, 4), 30, 3, 30], // ErrUnavailable
    [ents(10, 3, 3, 3, 4, 4, 4), 14, 9, 14],
    [ents(10, 3, 3, 3, 4, 4, 4), 14, 4, 14],
    [ents(10, 3, 3, 3, 4, 4, 4), 14, 3, 12],
    [ents(10, 3, 3, 3, 4, 4, 4), 14, 2, 9],
    [ents(10, 3, 3, 3, 4, 4, 4), 11, 5, 11],
    [ents(10, 3, 3, 3, 4, 4, 4), 10, 5, 10],
    [ents(10, 3, 3, 3, 4, 4, 4), 10, 3, 10],
    [ents(10, 3, 3, 3, 4, 4, 4), 10, 2, 9],
    [ents(10, 3, 3, 3, 4, 4, 4), 9, 2, 9], // ErrCompacted
    [ents(10, 3, 3, 3, 4, 4, 4), 4, 2, 4], // ErrCompacted
    [ents(10, 3, 3, 3, 4, 4, 4), 0, 0, 0], // ErrCompacted
  ])('%#: (%d, %d)', (e, index, term, want) => {
    const st = new MemoryStorage();
    st.applySnapshot(snap(e[0]!.index, e[0]!.term));
    const l = newLog(st, silentLogger);
    l.append(e.slice(1));
    const got = l.findConflictByTerm(index, term);
    expect(got.index).toBe(want);
    expect(got.term).toBe(l.zeroTermOnOutOfBounds(l.term(want)));
  });
});

describe('RaftLog.isUpToDate', () => {
  const l = logWith(ents(1, 1, 2, 3));
  const last = l.lastIndex();
  it.each([
    [last - 1, 4, true],
    [last, 4, true],
    [last + 1, 4, true],
    [last - 1, 2, false],
    [last, 2, false],
    [last + 1, 2, false],
    [last - 1, 3, false],
    [last, 3, true],
    [last + 1, 3, true],
  ])('(%d, %d)', (index, term, want) => {
    expect(l.isUpToDate({ term, index })).toBe(want);
  });
});

describe('RaftLog.append', () => {
  it.each([
    [[], 2, ents(1, 1, 2), 3],
    [ents(3, 2), 3, ents(1, 1, 2, 2), 3],
    [ents(1, 2), 1, ents(1, 2), 1], // conflicts with index 1
    [ents(2, 3, 3), 3, ents(1, 1, 3, 3), 2], // conflicts with index 2
  ])('%#', (e, windex, want, wunstable) => {
    const storage = new MemoryStorage();
    storage.append(ents(1, 1, 2));
    const l = newLog(storage, silentLogger);
    expect(l.append(e)).toBe(windex);
    expect(ids(l.entries(1, NO_LIMIT) as Entry[])).toEqual(ids(want));
    expect(l.unstable.offset).toBe(wunstable);
  });

  it('panics when appending below the commit index', () => {
    const l = logWith(ents(1, 1, 2, 3));
    l.committed = 2;
    expect(() => l.append(ents(2, 4))).toThrow(
      new RaftPanicError('after(1) is out of range [committed(2)]'),
    );
  });
});

describe('RaftLog.maybeAppend', () => {
  const lastindex = 3;
  const lastterm = 3;
  const commit = 1;
  it.each([
    // No match: the term differs, or the index is past the end.
    [{ term: lastterm - 1, index: lastindex }, lastindex, ents(4, 4), -1, commit, false],
    [{ term: lastterm, index: lastindex + 1 }, lastindex, ents(5, 4), -1, commit, false],
    // Matches the last entry.
    [{ term: lastterm, index: lastindex }, lastindex, [], lastindex, lastindex, false],
    [{ term: lastterm, index: lastindex }, lastindex + 1, [], lastindex, lastindex, false],
    [{ term: lastterm, index: lastindex }, lastindex - 1, [], lastindex, lastindex - 1, false],
    [{ term: lastterm, index: lastindex }, 0, [], lastindex, commit, false],
    [{ term: 0, index: 0 }, lastindex, [], 0, commit, false],
    [{ term: lastterm, index: lastindex }, lastindex, ents(4, 4), 4, lastindex, false],
    [{ term: lastterm, index: lastindex }, lastindex + 1, ents(4, 4), 4, 4, false],
    [{ term: lastterm, index: lastindex }, lastindex + 2, ents(4, 4), 4, 4, false],
    [{ term: lastterm, index: lastindex }, lastindex + 2, ents(4, 4, 4), 5, 5, false],
    // Matches an entry in the middle.
    [{ term: lastterm - 1, index: lastindex - 1 }, lastindex, ents(3, 4), 3, 3, false],
    [{ term: lastterm - 2, index: lastindex - 2 }, lastindex, ents(2, 4), 2, 2, false],
    [{ term: lastterm - 3, index: lastindex - 3 }, lastindex, ents(1, 4), 1, 1, true],
    [{ term: lastterm - 2, index: lastindex - 2 }, lastindex, ents(2, 4, 4), 3, 3, false],
  ])('%#', (prev, committed, e, wlasti, wcommit, wpanic) => {
    const a = new LogSlice(100, prev, e);
    expect(a.valid()).toBeNull();
    const l = logWith(ents(1, 1, 2, 3));
    l.committed = commit;
    if (wpanic) {
      expect(() => l.maybeAppend(a, committed)).toThrow(
        new RaftPanicError('entry 1 conflict with committed entry [committed(1)]'),
      );
      return;
    }
    expect(l.maybeAppend(a, committed)).toBe(wlasti);
    expect(l.committed).toBe(wcommit);
    if (wlasti !== -1 && e.length !== 0) {
      const got = l.slice(l.lastIndex() - e.length + 1, l.lastIndex() + 1, NO_LIMIT);
      expect(ids(got as Entry[])).toEqual(ids(e));
    }
  });

  it('does not keep the message entries array', () => {
    const l = logWith(ents(1, 1, 2, 3));
    const e = ents(3, 4, 4);
    l.maybeAppend(new LogSlice(4, { term: 2, index: 2 }, e), 0);
    l.append(ents(5, 4));
    expect(e.length).toBe(2);
  });
});

describe('LogSlice', () => {
  it('reports its last entry and validity', () => {
    const s = new LogSlice(5, { term: 2, index: 4 }, ents(5, 3, 5));
    expect(s.lastIndex()).toBe(6);
    expect(s.lastEntryID()).toEqual({ term: 5, index: 6 });
    expect(s.valid()).toBeNull();
    expect(new LogSlice(5, { term: 2, index: 4 }, []).lastEntryID()).toEqual({ term: 2, index: 4 });
    expect(new LogSlice(5, { term: 2, index: 4 }, ents(6, 3)).valid()).not.toBeNull();
    expect(new LogSlice(5, { term: 4, index: 4 }, ents(5, 3)).valid()).not.toBeNull();
    expect(new LogSlice(2, { term: 2, index: 4 }, ents(5, 3)).valid()).not.toBeNull();
  });
});

describe('RaftLog after compaction', () => {
  it('keeps working across stable and unstable entries', () => {
    const storage = new MemoryStorage();
    storage.append(termRange(1, 751));
    const l = newLog(storage, silentLogger);
    l.append(termRange(751, 1001));
    expect(l.maybeCommit(l.lastEntryID())).toBe(true);
    l.appliedTo(l.committed, 0);
    expect(storage.compact(500)).toBeNull();
    expect(l.lastIndex()).toBe(1000);
    for (let j = 500; j <= 1000; j++) {
      expect(l.term(j)).toBe(j);
      expect(l.matchTerm({ term: j, index: j })).toBe(true);
    }
    const unstable = l.nextUnstableEnts();
    expect(unstable.length).toBe(250);
    expect(unstable[0]!.index).toBe(751);
    l.append(termRange(1001, 1002));
    expect(l.lastIndex()).toBe(1001);
    expect((l.entries(1001, NO_LIMIT) as Entry[]).length).toBe(1);
  });

  it.each([
    [1000, [1001], [-1], false],
    [1000, [300, 500, 800, 900], [700, 500, 200, 100], true],
    [1000, [300, 299], [700, -1], false],
  ])('compaction %#', (lastIndex, compact, wleft, wallow) => {
    const storage = new MemoryStorage();
    storage.append(termRange(1, lastIndex + 1));
    const l = newLog(storage, silentLogger);
    l.maybeCommit({ term: 0, index: lastIndex }); // term 0 never commits
    l.appliedTo(l.committed, 0);
    for (let j = 0; j < compact.length; j++) {
      let err: unknown = null;
      try {
        err = storage.compact(compact[j]!);
      } catch (e) {
        err = e;
      }
      if (err !== null) {
        expect(wallow).toBe(false);
        continue;
      }
      expect(l.allEntries().length).toBe(wleft[j]);
    }
  });
});

describe('RaftLog committed entries', () => {
  it.each([
    [3, 3, true, false, false, true, [4, 5]],
    [3, 4, true, false, false, true, [5]],
    [3, 5, true, false, false, false, []],
    [4, 4, true, false, false, true, [5]],
    [4, 5, true, false, false, false, []],
    [5, 5, true, false, false, false, []],
    // Only stable entries.
    [3, 3, false, false, false, true, [4]],
    [3, 4, false, false, false, false, []],
    [3, 5, false, false, false, false, []],
    [4, 4, false, false, false, false, []],
    [4, 5, false, false, false, false, []],
    [5, 5, false, false, false, false, []],
    // Paused.
    [3, 3, true, true, false, false, []],
    // With a snapshot.
    [3, 3, true, false, true, false, []],
  ])('%#', (applied, applying, allowUnstable, paused, withSnap, whasNext, windexes) => {
    const l = applyingLog();
    l.appliedTo(applied, 0);
    l.acceptApplying(applying, 0, allowUnstable);
    l.applyingEntsPaused = paused;
    if (withSnap) l.restore(snap(4, 1));
    expect(l.hasNextCommittedEnts(allowUnstable)).toBe(whasNext);
    expect(l.nextCommittedEnts(allowUnstable).map((e) => e.index)).toEqual(windexes);
  });

  const maxSize = 100;
  it.each([
    [3, true, maxSize - 1, true],
    [3, true, maxSize, true],
    [3, true, maxSize + 1, true],
    [4, true, maxSize - 1, true],
    [4, true, maxSize, true],
    [4, true, maxSize + 1, true],
    [5, true, maxSize - 1, false],
    [5, true, maxSize, true],
    [5, true, maxSize + 1, true],
    [3, false, maxSize - 1, true],
    [3, false, maxSize, true],
    [3, false, maxSize + 1, true],
    [4, false, maxSize - 1, false],
    [4, false, maxSize, true],
    [4, false, maxSize + 1, true],
    [5, false, maxSize - 1, false],
    [5, false, maxSize, true],
    [5, false, maxSize + 1, true],
  ])('acceptApplying(%d, allowUnstable=%s, size %d)', (index, allowUnstable, size, wpaused) => {
    const l = applyingLog(maxSize);
    l.appliedTo(3, 0);
    l.acceptApplying(index, size, allowUnstable);
    expect(l.applyingEntsPaused).toBe(wpaused);
  });

  const overshoot = 5;
  it.each([
    [4, overshoot - 1, maxSize + 1, true],
    [4, overshoot, maxSize, true],
    [4, overshoot + 1, maxSize - 1, false],
    [5, overshoot - 1, maxSize + 1, true],
    [5, overshoot, maxSize, true],
    [5, overshoot + 1, maxSize - 1, false],
    [4, maxSize + overshoot, 0, false],
    [4, maxSize + overshoot + 1, 0, false], // no underflow
  ])('appliedTo(%d, %d)', (index, size, wapplyingSize, wpaused) => {
    const l = applyingLog(maxSize);
    l.appliedTo(3, 0);
    l.acceptApplying(5, maxSize + overshoot, false);
    l.appliedTo(index, size);
    expect([l.applied, l.applying, l.applyingEntsSize]).toEqual([index, 5, wapplyingSize]);
    expect(l.applyingEntsPaused).toBe(wpaused);
  });

  it('limits the size of committed entries handed out', () => {
    const storage = new MemoryStorage();
    storage.append(termRange(1, 11));
    const l = newLogWithSize(storage, silentLogger, entrySize(termRange(1, 2)[0]!) * 3);
    l.commitTo(10);
    expect(l.nextCommittedEnts(true).map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('panics on out-of-range applied and applying indexes', () => {
    const l = applyingLog();
    expect(() => l.appliedTo(6, 0)).toThrow(
      new RaftPanicError('applied(6) is out of range [prevApplied(3), committed(5)]'),
    );
    expect(() => l.acceptApplying(6, 0, true)).toThrow(
      new RaftPanicError('applying(6) is out of range [prevApplying(3), committed(5)]'),
    );
  });
});

describe('RaftLog unstable entries', () => {
  it.each([
    [3, []],
    [1, ents(1, 1, 2)],
  ])('nextUnstableEnts with unstable from %d', (unstableFrom, want) => {
    const previous = ents(1, 1, 2);
    const storage = new MemoryStorage();
    storage.append(previous.slice(0, unstableFrom - 1));
    const l = newLog(storage, silentLogger);
    l.append(previous.slice(unstableFrom - 1));
    const got = l.nextUnstableEnts();
    expect(l.hasNextUnstableEnts()).toBe(got.length > 0);
    if (got.length > 0) {
      const last = got[got.length - 1]!;
      l.stableTo({ term: last.term, index: last.index });
    }
    expect(ids(got)).toEqual(ids(want));
    expect(l.unstable.offset).toBe(3);
  });

  it('accepts unstable entries as in progress', () => {
    const l = logWith(ents(1, 1, 2));
    expect(l.hasNextOrInProgressUnstableEnts()).toBe(true);
    l.acceptUnstable();
    expect(l.hasNextUnstableEnts()).toBe(false);
    expect(l.nextUnstableEnts()).toEqual([]);
    expect(l.hasNextOrInProgressUnstableEnts()).toBe(true);
    l.stableTo({ term: 2, index: 2 });
    expect(l.hasNextOrInProgressUnstableEnts()).toBe(false);
  });

  it.each([
    [1, 1, 2],
    [2, 2, 3],
    [2, 1, 1], // bad term
    [3, 1, 1], // bad index
  ])('stableTo(%d, term %d)', (index, term, wunstable) => {
    const l = logWith(ents(1, 1, 2));
    l.stableTo({ term, index });
    expect(l.unstable.offset).toBe(wunstable);
  });

  const snapi = 5;
  const snapt = 2;
  it.each([
    [snapi + 1, snapt, [], snapi + 1],
    [snapi, snapt, [], snapi + 1],
    [snapi - 1, snapt, [], snapi + 1],
    [snapi + 1, snapt + 1, [], snapi + 1],
    [snapi, snapt + 1, [], snapi + 1],
    [snapi - 1, snapt + 1, [], snapi + 1],
    [snapi + 1, snapt, ents(snapi + 1, snapt), snapi + 2],
    [snapi, snapt, ents(snapi + 1, snapt), snapi + 1],
    [snapi - 1, snapt, ents(snapi + 1, snapt), snapi + 1],
    [snapi + 1, snapt + 1, ents(snapi + 1, snapt), snapi + 1],
    [snapi, snapt + 1, ents(snapi + 1, snapt), snapi + 1],
    [snapi - 1, snapt + 1, ents(snapi + 1, snapt), snapi + 1],
  ])('stableTo(%d, term %d) after a snapshot %#', (index, term, e, wunstable) => {
    const s = new MemoryStorage();
    s.applySnapshot(snap(snapi, snapt));
    const l = newLog(s, silentLogger);
    l.append(e);
    l.stableTo({ term, index });
    expect(l.unstable.offset).toBe(wunstable);
  });
});

describe('RaftLog.commitTo', () => {
  it.each([
    [3, 3],
    [1, 2], // never decrease
  ])('commitTo(%d)', (commit, want) => {
    const l = logWith(ents(1, 1, 2, 3));
    l.committed = 2;
    l.commitTo(commit);
    expect(l.committed).toBe(want);
  });

  it('panics past the last index', () => {
    const l = logWith(ents(1, 1, 2, 3));
    expect(() => l.commitTo(4)).toThrow(
      new RaftPanicError(
        'tocommit(4) is out of range [lastIndex(3)]. Was the raft log corrupted, truncated, or lost?',
      ),
    );
  });
});

describe('RaftLog snapshots', () => {
  it('starts from the storage snapshot', () => {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(1000, 1000));
    const l = newLog(storage, silentLogger);
    expect(l.allEntries().length).toBe(0);
    expect(l.firstIndex()).toBe(1001);
    expect([l.committed, l.applied, l.applying]).toEqual([1000, 1000, 1000]);
    expect(l.unstable.offset).toBe(1001);
    expect(l.term(1000)).toBe(1000);
  });

  it('restores a snapshot, logging the state of the log as etcd does', () => {
    const log = captureLogger();
    const l = logWith(ents(1, 1, 2, 3), log);
    log.lines.length = 0;
    const s = snap(10, 4);
    l.restore(s);
    expect(log.lines).toEqual([
      'INFO log [committed=0, applied=0, applying=0, unstable.offset=1, ' +
        'unstable.offsetInProgress=1, len(unstable.Entries)=3] starts to restore snapshot ' +
        '[index: 10, term: 4]',
    ]);
    expect([l.committed, l.firstIndex(), l.lastIndex(), l.lastTerm()]).toEqual([10, 11, 10, 4]);
    expect(l.snapshot()).toBe(s);
    expect(l.nextUnstableSnapshot()).toBe(s);
    expect(l.hasNextOrInProgressSnapshot()).toBe(true);
    l.acceptUnstable();
    expect(l.hasNextUnstableSnapshot()).toBe(false);
    l.stableSnapTo(10);
    expect(l.hasNextOrInProgressSnapshot()).toBe(false);
  });

  it.each([
    [100, ErrCompacted], // in storage, compacted
    [101, ErrCompacted], // the gap between storage and unstable snapshot
    [104, ErrCompacted],
    [105, 1],
    [106, ErrUnavailable],
  ])('term(%d) with an unstable snapshot', (i, want) => {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(100, 1));
    const l = newLog(storage, silentLogger);
    l.restore(snap(105, 1));
    expect(l.term(i)).toBe(want);
  });
});

describe('RaftLog bounds and slices', () => {
  const offset = 100;
  const num = 100;
  const first = offset + 1;

  function boundedLog(): RaftLog {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 0));
    const l = newLog(storage, silentLogger);
    l.append(termRange(offset + 1, offset + num + 1));
    return l;
  }

  it.each([
    [first - 2, first + 1, false, true],
    [first - 1, first + 1, false, true],
    [first, first, false, false],
    [first + num / 2, first + num / 2, false, false],
    [first + num - 1, first + num - 1, false, false],
    [first + num, first + num, false, false],
    [first + num, first + num + 1, true, false],
    [first + num + 1, first + num + 1, true, false],
  ])('mustCheckOutOfBounds(%d, %d)', (lo, hi, wpanic, wcompacted) => {
    const l = boundedLog();
    if (wpanic) {
      expect(() => l.mustCheckOutOfBounds(lo, hi)).toThrow(RaftPanicError);
      return;
    }
    expect(l.mustCheckOutOfBounds(lo, hi)).toBe(wcompacted ? ErrCompacted : null);
  });

  it.each([
    [offset - 1, ErrCompacted],
    [offset, 1],
    [offset + num / 2, num / 2],
    [offset + num - 1, num - 1],
    [offset + num, ErrUnavailable],
  ])('term(%d)', (i, want) => {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 1));
    const l = newLog(storage, silentLogger);
    const e: Entry[] = [];
    for (let t = 1; t < num; t++) {
      e.push({ term: t, index: offset + t, type: EntryType.EntryNormal, data: EMPTY_BYTES });
    }
    l.append(e);
    expect(l.term(i)).toBe(want);
  });

  // Indexes and terms from 200 on encode in 2 bytes each, so every entry has the same size.
  const sliceOffset = 200;
  const last = sliceOffset + num;
  const half = sliceOffset + num / 2;
  const halfe = termRange(half, half + 1)[0]!;
  const size = entrySize(halfe);
  function slicedLog(): RaftLog {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(sliceOffset, 0));
    storage.append(termRange(sliceOffset + 1, half));
    const l = newLog(storage, silentLogger);
    l.append(termRange(half, last));
    return l;
  }

  it.each([
    [sliceOffset - 1, sliceOffset + 1, NO_LIMIT, null],
    [sliceOffset, sliceOffset + 1, NO_LIMIT, null],
    [sliceOffset + 1, sliceOffset + 1, NO_LIMIT, [sliceOffset + 1, sliceOffset + 1]],
    [sliceOffset + 1, half - 1, NO_LIMIT, [sliceOffset + 1, half - 1]],
    [sliceOffset + 1, half, NO_LIMIT, [sliceOffset + 1, half]],
    [sliceOffset + 1, half + 1, NO_LIMIT, [sliceOffset + 1, half + 1]],
    [sliceOffset + 1, last, NO_LIMIT, [sliceOffset + 1, last]],
    [half - 1, half, NO_LIMIT, [half - 1, half]],
    [half - 1, half + 1, NO_LIMIT, [half - 1, half + 1]],
    [half - 1, last, NO_LIMIT, [half - 1, last]],
    [half, half + 1, NO_LIMIT, [half, half + 1]],
    [half, last, NO_LIMIT, [half, last]],
    [last - 1, last, NO_LIMIT, [last - 1, last]],
    // At least one entry.
    [sliceOffset + 1, last, 0, [sliceOffset + 1, sliceOffset + 2]],
    [half - 1, half + 1, 0, [half - 1, half]],
    [half, last, 0, [half, half + 1]],
    [half + 1, last, 0, [half + 1, half + 2]],
    [sliceOffset + 1, last, size - 1, [sliceOffset + 1, sliceOffset + 2]],
    [half - 1, half + 1, size - 1, [half - 1, half]],
    [half, last, size - 1, [half, half + 1]],
    [sliceOffset + 1, last, size, [sliceOffset + 1, sliceOffset + 2]],
    [half - 1, half + 1, size, [half - 1, half]],
    [half, last, size, [half, half + 1]],
    [sliceOffset + 1, last, size + 1, [sliceOffset + 1, sliceOffset + 2]],
    [half - 1, half + 1, size + 1, [half - 1, half]],
    [half, last, size + 1, [half, half + 1]],
    [sliceOffset + 1, last, size * 2, [sliceOffset + 1, sliceOffset + 3]],
    [half - 2, half + 1, size * 2, [half - 2, half]],
    [half - 1, half + 1, size * 2, [half - 1, half + 1]],
    [half, last, size * 2, [half, half + 2]],
    [half - 2, half + 1, size * 3 - 1, [half - 2, half]],
    [half - 1, half + 2, size * 3, [half - 1, half + 2]],
  ])('slice(%d, %d, %d)', (lo, hi, lim, want) => {
    const got = slicedLog().slice(lo, hi, lim);
    if (want === null) {
      expect(got).toBe(ErrCompacted);
      return;
    }
    expect(ids(got as Entry[])).toEqual(ids(termRange(want[0]!, want[1]!)));
  });

  it('panics on inverted or out-of-bound slices', () => {
    const l = slicedLog();
    expect(() => l.slice(half, half - 1, NO_LIMIT)).toThrow(
      new RaftPanicError(`invalid slice ${half} > ${half - 1}`),
    );
    expect(() => l.slice(last, last + 1, NO_LIMIT)).toThrow(
      new RaftPanicError(`slice[${last},${last + 1}) out of bound [${sliceOffset + 1},${last - 1}]`),
    );
  });

  it('scans in pages of the given size', () => {
    const o = 47;
    const n = 20;
    const lst = o + n;
    const hlf = o + n / 2;
    const entSize = entsSize(termRange(hlf, hlf + 1));
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(o, 0));
    storage.append(termRange(o + 1, hlf));
    const l = newLog(storage, silentLogger);
    l.append(termRange(hlf, lst));
    for (let pageSize = 0; pageSize <= 3 * entSize; pageSize++) {
      for (let lo = o + 1; lo < lst; lo++) {
        for (let hi = lo; hi <= lst; hi++) {
          const got: Entry[] = [];
          const err = l.scan(lo, hi, pageSize, (page) => {
            got.push(...page);
            expect(page.length === 1 || entsSize(page) <= pageSize).toBe(true);
          });
          expect(err).toBeNull();
          expect(ids(got)).toEqual(ids(termRange(lo, hi)));
        }
      }
    }
    const stop = new Error('stop');
    let calls = 0;
    expect(l.scan(o + 1, lst, 0, () => (++calls === 3 ? stop : null))).toBe(stop);
    expect(calls).toBe(3);
    expect(l.scan(o, lst, NO_LIMIT, () => null)).toBe(ErrCompacted);
  });
});

describe('RaftLog.toString', () => {
  it('prints etcd String()', () => {
    const l = logWith(ents(1, 1, 2));
    l.acceptUnstable();
    expect(l.toString()).toBe(
      'committed=0, applied=0, applying=0, unstable.offset=1, unstable.offsetInProgress=3, ' +
        'len(unstable.Entries)=2',
    );
  });
});
