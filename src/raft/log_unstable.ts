/**
 * The unstable part of the Raft log (etcd's log_unstable.go): entries and possibly a snapshot
 * that have not been written to stable storage yet. It holds them until they are handed out
 * in a Ready, and keeps them after that (as "in progress") so that the log still sees them
 * until the write is confirmed by stableTo / stableSnapTo.
 *
 * `entries[i]` has log index `i + offset`. `offset` may be at or below the last index in
 * storage: the next storage write then truncates the stored log first.
 *
 * Ownership: `entries` is owned by this object and mutated in place (appends, truncations);
 * every array handed out (`nextEntries`, `slice`) is a fresh copy, and arrays handed in are
 * copied when adopted, so no caller ever aliases it. Entry objects themselves are shared and
 * immutable.
 *
 * "Maybe" results (Go's `(value, ok)`): `-1` means "not known" (indexes and terms are never
 * negative), so the calls allocate nothing.
 */

import { assert } from '../util/index.js';
import { LogLevel, type RaftLogger } from './logger.js';
import { EMPTY_ENTRIES, type Entry, type Snapshot } from './raftpb.js';

/** Identifies a log entry: the term of the leader that created it and its index. */
export interface EntryID {
  term: number;
  index: number;
}

/** The ID of an entry (etcd's `pbEntryID`). */
export function pbEntryID(e: Entry): EntryID {
  return { term: e.term, index: e.index };
}

/** The not-in-the-unstable-log result of the `maybe*` methods. */
export const NOT_FOUND = -1;

/** Entries and snapshot not yet written to stable storage (etcd's `unstable`). */
export class Unstable {
  /** The incoming snapshot, if any. */
  snapshot: Snapshot | null = null;
  /** All entries not yet written to storage; `entries[i]` has index `i + offset`. */
  entries: Entry[] = [];
  /**
   * The largest length `entries` had since it was last empty: whether its backing store is
   * still small enough to keep when it empties (see dropFront).
   */
  private entriesLengthPeak = 0;
  /** The index of `entries[0]` (or of the next entry when there are none). */
  offset: number;
  /** Whether the snapshot is being written to storage. */
  snapshotInProgress = false;
  /**
   * `entries[0 .. offsetInProgress-offset)` are being written to storage. Exclusive, like
   * offset. Invariant: offset <= offsetInProgress <= offset + entries.length.
   */
  offsetInProgress: number;
  logger: RaftLogger;

  constructor(offset: number, logger: RaftLogger) {
    this.offset = offset;
    this.offsetInProgress = offset;
    this.logger = logger;
  }

  /** The index of the first possible entry if there is a snapshot, else -1. */
  maybeFirstIndex(): number {
    return this.snapshot !== null ? this.snapshot.metadata.index + 1 : NOT_FOUND;
  }

  /** The last index if there is an unstable entry or snapshot, else -1. */
  maybeLastIndex(): number {
    const n = this.entries.length;
    if (n !== 0) return this.offset + n - 1;
    return this.snapshot !== null ? this.snapshot.metadata.index : NOT_FOUND;
  }

  /** The term of the entry at index `i` if the unstable log knows it, else -1. */
  maybeTerm(i: number): number {
    if (i < this.offset) {
      const s = this.snapshot;
      return s !== null && s.metadata.index === i ? s.metadata.term : NOT_FOUND;
    }
    const last = this.maybeLastIndex();
    if (last === NOT_FOUND || i > last) return NOT_FOUND;
    return this.entries[i - this.offset]!.term;
  }

  /** The number of entries not yet handed out for writing. */
  private nextCount(): number {
    return this.entries.length - (this.offsetInProgress - this.offset);
  }

  /** Whether some entries are not yet being written (allocation-free `nextEntries` check). */
  hasNextEntries(): boolean {
    return this.nextCount() > 0;
  }

  /** A copy of the entries that are not already being written to storage. */
  nextEntries(): Entry[] {
    if (this.nextCount() === 0) return EMPTY_ENTRIES;
    return this.entries.slice(this.offsetInProgress - this.offset);
  }

  /** The snapshot, if there is one that is not already being written to storage. */
  nextSnapshot(): Snapshot | null {
    if (this.snapshot === null || this.snapshotInProgress) return null;
    return this.snapshot;
  }

  /**
   * Marks all current entries and the snapshot as being written: they are no longer returned
   * by nextEntries / nextSnapshot (entries added later are).
   */
  acceptInProgress(): void {
    const n = this.entries.length;
    if (n > 0) this.offsetInProgress = this.entries[n - 1]!.index + 1;
    if (this.snapshot !== null) this.snapshotInProgress = true;
    assert(this.offsetInProgress <= this.offset + n, 'unstable: offsetInProgress past the end');
  }

  /**
   * Marks the entries up to `id` as written to stable storage, and drops them. Ignored when
   * the entry is not in the unstable log or was replaced (its term differs) meanwhile.
   */
  stableTo(id: EntryID): void {
    this.stableToAt(id.index, id.term);
  }

  /** `stableTo({ index, term })` without the object. */
  stableToAt(index: number, term: number): void {
    const gt = this.maybeTerm(index);
    if (gt === NOT_FOUND) {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(`entry at index ${index} missing from unstable log; ignoring`);
      }
      return;
    }
    if (index < this.offset) {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(`entry at index ${index} matched unstable snapshot; ignoring`);
      }
      return;
    }
    if (gt !== term) {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `entry at (index,term)=(${index},${term}) mismatched with ` +
            `entry at (${index},${gt}) in unstable log; ignoring`,
        );
      }
      return;
    }
    const num = index + 1 - this.offset;
    dropFront(this.entries, num, this.entriesLengthPeak <= KEEP_BACKING_LENGTH_MAX);
    if (this.entries.length === 0) this.entriesLengthPeak = 0;
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
    this.shrinkEntriesArray();
  }

  /**
   * etcd releases the backing array of an empty slice here. Our `entries` is mutated in place
   * and never aliased; dropFront releases its backing store only after a burst (see
   * KEEP_BACKING_LENGTH_MAX), so nothing is left to do; kept for parity with etcd's structure.
   */
  shrinkEntriesArray(): void {
    assert(this.offset <= this.offsetInProgress, 'unstable: offsetInProgress below offset');
  }

  /** Drops the snapshot once the snapshot with index `i` is written to storage. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** Replaces everything with the snapshot `s`. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries.length = 0;
    this.entriesLengthPeak = 0;
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  /**
   * Appends `ents[from..]` (contiguous indexes), first truncating any unstable entries at or
   * after the first new index. `ents` is not retained.
   */
  truncateAndAppend(ents: readonly Entry[], from = 0): void {
    assert(from < ents.length, 'truncateAndAppend: nothing to append');
    const fromIndex = ents[from]!.index;
    if (fromIndex === this.offset + this.entries.length) {
      pushFrom(this.entries, ents, from);
    } else if (fromIndex <= this.offset) {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(`replace the unstable entries from index ${fromIndex}`);
      }
      this.entries.length = 0;
      pushFrom(this.entries, ents, from);
      this.offset = fromIndex;
      this.offsetInProgress = this.offset;
    } else {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(`truncate the unstable entries before index ${fromIndex}`);
      }
      this.mustCheckOutOfBounds(this.offset, fromIndex);
      this.entries.length = fromIndex - this.offset;
      pushFrom(this.entries, ents, from);
      this.offsetInProgress = Math.min(this.offsetInProgress, fromIndex);
    }
    if (this.entries.length > this.entriesLengthPeak) this.entriesLengthPeak = this.entries.length;
    assert(
      this.offset <= this.offsetInProgress &&
        this.offsetInProgress <= this.offset + this.entries.length,
      'unstable: offsetInProgress out of [offset, offset+len]',
    );
  }

  /**
   * A copy of the entries with indexes in `[lo, hi)`, which must all be in the unstable log
   * (else a panic).
   */
  slice(lo: number, hi: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return EMPTY_ENTRIES;
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  /** Panics unless offset <= lo <= hi <= offset + entries.length. */
  mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) this.logger.fatal(`invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper) {
      this.logger.fatal(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
  }
}

/**
 * Up to this many entries, an emptied `entries` array keeps its backing store. V8 frees the
 * backing store of an array whose length is set to 0, so the next push allocates a new one
 * (17 slots): once per Ready on a busy group. Popping keeps it. After a larger burst the store
 * is released, so an idle group never holds a big one.
 */
const KEEP_BACKING_LENGTH_MAX = 16;

/**
 * Removes the first `num` entries of `ents` in place. With `keepBacking`, without setting
 * `length` (V8: pop never shrinks the backing store; a length store does, and frees it at 0).
 */
function dropFront(ents: Entry[], num: number, keepBacking: boolean): void {
  const n = ents.length;
  assert(num >= 0 && num <= n, 'unstable: dropping more entries than held');
  if (!keepBacking) {
    ents.copyWithin(0, num);
    ents.length = n - num;
    return;
  }
  for (let k = num; k < n; k++) ents[k - num] = ents[k]!;
  for (let k = 0; k < num; k++) ents.pop();
}

function pushFrom(dst: Entry[], src: readonly Entry[], from: number): void {
  for (let k = from; k < src.length; k++) dst.push(src[k]!);
}
