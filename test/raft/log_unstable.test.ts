import { describe, expect, it } from 'vitest';
import { captureLogger, ents, snap } from './_log_fixtures.js';
import { NOT_FOUND, Unstable } from '../../src/raft/log_unstable.js';
import { RaftPanicError, type RaftLogger } from '../../src/raft/logger.js';
import type { Entry, Snapshot } from '../../src/raft/raftpb.js';

interface UnstableInit {
  entries?: Entry[];
  offset: number;
  offsetInProgress?: number;
  snapshot?: Snapshot | null;
  snapshotInProgress?: boolean;
}

function unstable(init: UnstableInit, logger: RaftLogger = captureLogger()): Unstable {
  const u = new Unstable(init.offset, logger);
  u.entries = (init.entries ?? []).slice();
  u.offsetInProgress = init.offsetInProgress ?? init.offset;
  u.snapshot = init.snapshot ?? null;
  u.snapshotInProgress = init.snapshotInProgress ?? false;
  return u;
}

const ids = (e: readonly Entry[]): number[][] => e.map((x) => [x.index, x.term]);

describe('Unstable.maybeFirstIndex / maybeLastIndex', () => {
  it.each([
    ['entries, no snapshot', { entries: ents(5, 1), offset: 5 }, NOT_FOUND, 5],
    ['nothing', { offset: 0 }, NOT_FOUND, NOT_FOUND],
    ['entries and snapshot', { entries: ents(5, 1), offset: 5, snapshot: snap(4, 1) }, 5, 5],
    ['snapshot only', { offset: 5, snapshot: snap(4, 1) }, 5, 4],
  ])('%s', (_n, init, wfirst, wlast) => {
    const u = unstable(init);
    expect(u.maybeFirstIndex()).toBe(wfirst);
    expect(u.maybeLastIndex()).toBe(wlast);
  });
});

describe('Unstable.maybeTerm', () => {
  it.each([
    [{ entries: ents(5, 1), offset: 5 }, 5, 1],
    [{ entries: ents(5, 1), offset: 5 }, 6, NOT_FOUND],
    [{ entries: ents(5, 1), offset: 5 }, 4, NOT_FOUND],
    [{ entries: ents(5, 1), offset: 5, snapshot: snap(4, 1) }, 5, 1],
    [{ entries: ents(5, 1), offset: 5, snapshot: snap(4, 1) }, 6, NOT_FOUND],
    [{ entries: ents(5, 1), offset: 5, snapshot: snap(4, 1) }, 4, 1],
    [{ entries: ents(5, 1), offset: 5, snapshot: snap(4, 1) }, 3, NOT_FOUND],
    [{ offset: 5, snapshot: snap(4, 1) }, 5, NOT_FOUND],
    [{ offset: 5, snapshot: snap(4, 1) }, 4, 1],
    [{ offset: 0 }, 5, NOT_FOUND],
  ])('%o term(%d)', (init, i, want) => {
    expect(unstable(init).maybeTerm(i)).toBe(want);
  });
});

describe('Unstable.restore', () => {
  it('replaces everything with the snapshot', () => {
    const u = unstable({
      entries: ents(5, 1), offset: 5, offsetInProgress: 6, snapshot: snap(4, 1),
      snapshotInProgress: true,
    });
    const s = snap(6, 2);
    u.restore(s);
    expect([u.offset, u.offsetInProgress, u.entries.length]).toEqual([7, 7, 0]);
    expect(u.snapshot).toBe(s);
    expect(u.snapshotInProgress).toBe(false);
  });
});

describe('Unstable.nextEntries / nextSnapshot', () => {
  it.each([
    [ents(5, 1, 1), 5, ents(5, 1, 1)],
    [ents(5, 1, 1), 6, ents(6, 1)],
    [ents(5, 1, 1), 7, []],
  ])('entries from offsetInProgress %#', (e, inProgress, want) => {
    const u = unstable({ entries: e, offset: 5, offsetInProgress: inProgress });
    expect(ids(u.nextEntries())).toEqual(ids(want));
    expect(u.hasNextEntries()).toBe(want.length > 0);
  });

  it('hands out copies', () => {
    const u = unstable({ entries: ents(5, 1, 1), offset: 5 });
    const next = u.nextEntries();
    next.length = 0;
    expect(u.entries.length).toBe(2);
  });

  it.each([
    [null, false, null],
    [snap(4, 1), false, snap(4, 1)],
    [snap(4, 1), true, null],
  ])('snapshot %#', (s, inProgress, want) => {
    const u = unstable({ offset: 5, snapshot: s, snapshotInProgress: inProgress });
    expect(u.nextSnapshot()).toEqual(want);
  });
});

describe('Unstable.acceptInProgress', () => {
  it.each([
    [[], 5, 5, null, false, 5, false],
    [ents(5, 1), 5, 5, null, false, 6, false],
    [ents(5, 1, 1), 5, 5, null, false, 7, false],
    [ents(5, 1, 1), 5, 6, null, false, 7, false],
    [ents(5, 1, 1), 5, 7, null, false, 7, false],
    [[], 5, 5, snap(4, 1), false, 5, true],
    [ents(5, 1), 5, 5, snap(4, 1), false, 6, true],
    [ents(5, 1, 1), 5, 6, snap(4, 1), true, 7, true],
  ] as const)('%#', (e, offset, inProgress, s, snapInProgress, woff, wsnap) => {
    const u = unstable({
      entries: [...e], offset, offsetInProgress: inProgress, snapshot: s,
      snapshotInProgress: snapInProgress,
    });
    u.acceptInProgress();
    expect(u.offsetInProgress).toBe(woff);
    expect(u.snapshotInProgress).toBe(wsnap);
  });
});

describe('Unstable.stableTo', () => {
  it.each([
    [[], 0, 0, null, 5, 1, 0, 0, 0],
    [ents(5, 1), 5, 6, null, 5, 1, 6, 6, 0],
    [ents(5, 1, 1), 5, 6, null, 5, 1, 6, 6, 1],
    [ents(5, 1, 1), 5, 7, null, 5, 1, 6, 7, 1],
    [ents(6, 2), 6, 7, null, 6, 1, 6, 7, 1], // term mismatch
    [ents(5, 1), 5, 6, null, 4, 1, 5, 6, 1], // old entry
    [ents(5, 1), 5, 6, null, 4, 2, 5, 6, 1],
    [ents(5, 1), 5, 6, snap(4, 1), 5, 1, 6, 6, 0],
    [ents(5, 1, 1), 5, 6, snap(4, 1), 5, 1, 6, 6, 1],
    [ents(5, 1, 1), 5, 7, snap(4, 1), 5, 1, 6, 7, 1],
    [ents(6, 2), 6, 7, snap(5, 1), 6, 1, 6, 7, 1],
    [ents(5, 1), 5, 6, snap(4, 1), 4, 1, 5, 6, 1], // the snapshot
    [ents(5, 2), 5, 6, snap(4, 2), 4, 1, 5, 6, 1],
  ])('%#', (e, offset, inProgress, s, index, term, woff, winProgress, wlen) => {
    const u = unstable({ entries: e, offset, offsetInProgress: inProgress, snapshot: s });
    u.stableTo({ index, term });
    expect([u.offset, u.offsetInProgress, u.entries.length]).toEqual([woff, winProgress, wlen]);
  });

  it('logs why it ignores an entry, as etcd does', () => {
    const log = captureLogger();
    unstable({ entries: ents(5, 1), offset: 5 }, log).stableTo({ index: 9, term: 1 });
    unstable({ entries: ents(5, 1), offset: 5, snapshot: snap(4, 1) }, log)
      .stableTo({ index: 4, term: 1 });
    unstable({ entries: ents(5, 1), offset: 5 }, log).stableTo({ index: 5, term: 2 });
    expect(log.lines).toEqual([
      'INFO entry at index 9 missing from unstable log; ignoring',
      'INFO entry at index 4 matched unstable snapshot; ignoring',
      'INFO entry at (index,term)=(5,2) mismatched with entry at (5,1) in unstable log; ignoring',
    ]);
  });

  it('does not disturb entries handed out before', () => {
    const u = unstable({ entries: ents(5, 1, 1, 1), offset: 5 });
    const handed = u.nextEntries();
    u.stableTo({ index: 6, term: 1 });
    expect(ids(handed)).toEqual(ids(ents(5, 1, 1, 1)));
    expect(ids(u.entries)).toEqual(ids(ents(7, 1)));
  });
});

describe('Unstable.stableSnapTo', () => {
  it('drops only the matching snapshot', () => {
    const u = unstable({ offset: 5, snapshot: snap(4, 1), snapshotInProgress: true });
    u.stableSnapTo(3);
    expect(u.snapshot).not.toBeNull();
    u.stableSnapTo(4);
    expect(u.snapshot).toBeNull();
    expect(u.snapshotInProgress).toBe(false);
  });
});

describe('Unstable.truncateAndAppend', () => {
  it.each([
    // Append at the end.
    [ents(5, 1), 5, 5, ents(6, 1, 1), 5, 5, ents(5, 1, 1, 1), null],
    [ents(5, 1), 5, 6, ents(6, 1, 1), 5, 6, ents(5, 1, 1, 1), null],
    // Replace the unstable entries.
    [ents(5, 1), 5, 5, ents(5, 2, 2), 5, 5, ents(5, 2, 2), 'replace the unstable entries from index 5'],
    [ents(5, 1), 5, 5, ents(4, 2, 2, 2), 4, 4, ents(4, 2, 2, 2), 'replace the unstable entries from index 4'],
    [ents(5, 1), 5, 6, ents(5, 2, 2), 5, 5, ents(5, 2, 2), 'replace the unstable entries from index 5'],
    // Truncate the existing entries and append.
    [ents(5, 1, 1, 1), 5, 5, ents(6, 2), 5, 5, ents(5, 1, 2), 'truncate the unstable entries before index 6'],
    [ents(5, 1, 1, 1), 5, 5, ents(7, 2, 2), 5, 5, ents(5, 1, 1, 2, 2), 'truncate the unstable entries before index 7'],
    [ents(5, 1, 1, 1), 5, 6, ents(6, 2), 5, 6, ents(5, 1, 2), 'truncate the unstable entries before index 6'],
    [ents(5, 1, 1, 1), 5, 7, ents(6, 2), 5, 6, ents(5, 1, 2), 'truncate the unstable entries before index 6'],
  ])('%#', (e, offset, inProgress, toAppend, woff, winProgress, want, wlog) => {
    const log = captureLogger();
    const u = unstable({ entries: e, offset, offsetInProgress: inProgress }, log);
    u.truncateAndAppend(toAppend);
    expect([u.offset, u.offsetInProgress]).toEqual([woff, winProgress]);
    expect(ids(u.entries)).toEqual(ids(want));
    expect(log.lines).toEqual(wlog === null ? [] : [`INFO ${wlog}`]);
  });

  it('does not keep the caller array', () => {
    const u = unstable({ entries: ents(5, 1), offset: 5 });
    const given = ents(5, 2, 2);
    u.truncateAndAppend(given);
    u.truncateAndAppend(ents(7, 2));
    expect(given.length).toBe(2);
  });
});

describe('Unstable.slice', () => {
  it('returns the range and panics outside it', () => {
    const u = unstable({ entries: ents(5, 1, 2, 3), offset: 5 });
    expect(ids(u.slice(6, 8))).toEqual(ids(ents(6, 2, 3)));
    expect(u.slice(6, 6)).toEqual([]);
    expect(() => u.slice(7, 6)).toThrow(new RaftPanicError('invalid unstable.slice 7 > 6'));
    expect(() => u.slice(4, 6)).toThrow(
      new RaftPanicError('unstable.slice[4,6) out of bound [5,8]'),
    );
    expect(() => u.slice(6, 9)).toThrow(
      new RaftPanicError('unstable.slice[6,9) out of bound [5,8]'),
    );
  });
});

describe('Unstable.stableTo over many cycles', () => {
  it('drops stable entries from the front, for single entries and bursts alike', () => {
    const u = unstable({ offset: 1 });
    let next = 1;
    for (const burst of [1, 1, 3, 40, 1, 17, 2, 100, 1]) {
      u.truncateAndAppend(ents(next, ...new Array<number>(burst).fill(1)));
      next += burst;
      u.acceptInProgress();
      // Half of the burst becomes stable first, then the rest.
      const half = next - 1 - (burst >> 1);
      u.stableTo({ index: half, term: 1 });
      const rest = new Array<number>(next - 1 - half).fill(1);
      expect(ids(u.entries)).toEqual(ids(ents(half + 1, ...rest)));
      u.stableTo({ index: next - 1, term: 1 });
      expect([u.offset, u.offsetInProgress, u.entries.length]).toEqual([next, next, 0]);
    }
  });
});
