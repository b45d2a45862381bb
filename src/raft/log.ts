/**
 * The Raft log (etcd's log.go): stable entries behind the `Storage` interface, unstable ones
 * in `Unstable`, and the committed / applying / applied positions.
 *
 * ## Result convention (how Go's `(value, err)` pairs are ported)
 *
 * - Expected failures are RETURNED, not thrown, as one of the shared sentinel instances of
 *   errors.ts: `term(i): number | StorageError`, `slice(...)`/`entries(...)`:
 *   `Entry[] | StorageError`, `snapshot(): Snapshot | StorageError`,
 *   `mustCheckOutOfBounds(...)`: `StorageError | null`. Test with `typeof t === 'number'`,
 *   `Array.isArray(x)`, `isStorageError(x)` or identity (`x === ErrCompacted`). The sentinels
 *   are preallocated, so these paths allocate nothing. `zeroTermOnOutOfBounds(log.term(i))`
 *   reads exactly like etcd.
 * - `ErrCompacted`/`ErrUnavailable` are recognised with `instanceof` (CompactedError,
 *   UnavailableError), so a custom Storage may return its own instances (etcd's `errors.Is`).
 * - etcd's `Panicf` is `logger.fatal` (throws RaftPanicError); etcd's bare `panic(err)` on an
 *   unexpected storage error rethrows that error. Neither is meant to be caught.
 * - Go's `(value, ok)` pairs: `maybeAppend` returns the new last index, or -1 when the entries
 *   do not match; Unstable's `maybe*` return -1 for "not known".
 * - Returned entry arrays belong to the caller, except the frozen shared `EMPTY_ENTRIES`
 *   (Go's nil), which must be copied before pushing. Entry objects are never mutated.
 *
 * Sizes are numbers; `NO_LIMIT` (Infinity) is etcd's `noLimit`.
 */

import { assert } from '../util/index.js';
import {
  CompactedError,
  ErrCompacted,
  ErrUnavailable,
  UnavailableError,
  isStorageError,
  type StorageError,
} from './errors.js';
import { NOT_FOUND, Unstable, type EntryID } from './log_unstable.js';
import { LogLevel, type RaftLogger } from './logger.js';
import { EMPTY_ENTRIES, type Entry, type Snapshot } from './raftpb.js';
import type { Storage } from './storage.js';
import { NO_LIMIT, entrySize, entsSize, limitSizeEnd } from './util.js';

export { type EntryID, pbEntryID } from './log_unstable.js';

/**
 * A well-formed slice of a leader's log (etcd's `logSlice`): the entries following `prev`,
 * as known at leader term `term`. Well-formed means: `entries[i].index === prev.index+1+i`,
 * terms never decrease from `prev.term` on, and none exceeds `term`. Code that builds one
 * from untrusted input (a received message) checks `valid()`.
 */
export class LogSlice {
  constructor(
    /** The leader term whose log contains these entries. */
    public term: number,
    /** The ID of the entry just before `entries`. */
    public prev: EntryID,
    /** The consecutive entries. */
    public entries: Entry[],
  ) {}

  /** The index of the last entry, or `prev.index` when there are none. */
  lastIndex(): number {
    return this.prev.index + this.entries.length;
  }

  /** The ID of the last entry, or `prev` when there are none. */
  lastEntryID(): EntryID {
    const n = this.entries.length;
    if (n === 0) return this.prev;
    const e = this.entries[n - 1]!;
    return { term: e.term, index: e.index };
  }

  /** Null when the slice is well-formed, else etcd's description of the first defect. */
  valid(): string | null {
    let prevTerm = this.prev.term;
    let prevIndex = this.prev.index;
    for (const e of this.entries) {
      if (e.term < prevTerm || e.index !== prevIndex + 1) {
        return `leader term ${this.term}: entries {term:${prevTerm} index:${prevIndex}} and ` +
          `{term:${e.term} index:${e.index}} not consistent`;
      }
      prevTerm = e.term;
      prevIndex = e.index;
    }
    if (this.term < prevTerm) {
      return `leader term ${this.term}: entry {term:${prevTerm} index:${prevIndex}} ` +
        'has a newer term';
    }
    return null;
  }
}

/** Returns a log over `storage` with no limit on the size of entries being applied. */
export function newLog(storage: Storage, logger: RaftLogger): RaftLog {
  return newLogWithSize(storage, logger, NO_LIMIT);
}

/**
 * Returns a log over `storage`, limiting to `maxApplyingEntsSize` bytes the committed entries
 * handed out for application and not yet acknowledged by appliedTo. The log starts committed
 * and applied up to the last compaction of the storage.
 */
export function newLogWithSize(
  storage: Storage,
  logger: RaftLogger,
  maxApplyingEntsSize: number,
): RaftLog {
  return new RaftLog(storage, logger, maxApplyingEntsSize);
}

/** The Raft log (etcd's `raftLog`). */
export class RaftLog {
  /** All stable entries since the last snapshot. */
  storage: Storage;
  /** Entries and snapshot not yet stable; they will be saved to storage. */
  unstable: Unstable;
  /** Highest index known to be stable on a quorum. Invariant: applying <= committed. */
  committed: number;
  /**
   * Highest index the application was told to apply (some may still be applying).
   * Invariant: applied <= applying <= committed.
   */
  applying: number;
  /** Highest index the application has applied. Invariant: applied <= committed. */
  applied: number;
  logger: RaftLogger;
  /** Limit on the bytes of entries handed out by nextCommittedEnts and not yet applied. */
  maxApplyingEntsSize: number;
  /** Bytes of entries handed out by nextCommittedEnts and not yet acknowledged. */
  applyingEntsSize = 0;
  /** Whether handing out committed entries is paused until some are acknowledged. */
  applyingEntsPaused = false;

  /** Prefer `newLog` / `newLogWithSize`. */
  constructor(storage: Storage, logger: RaftLogger, maxApplyingEntsSize: number) {
    assert(maxApplyingEntsSize > 0, 'maxApplyingEntsSize must be positive');
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    assert(firstIndex >= 1 && lastIndex >= firstIndex - 1, 'storage has an invalid index range');
    this.storage = storage;
    this.unstable = new Unstable(lastIndex + 1, logger);
    this.maxApplyingEntsSize = maxApplyingEntsSize;
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
    this.logger = logger;
  }

  /** etcd's `String()`, which the conformance corpus prints. */
  toString(): string {
    const u = this.unstable;
    return `committed=${this.committed}, applied=${this.applied}, applying=${this.applying}, ` +
      `unstable.offset=${u.offset}, unstable.offsetInProgress=${u.offsetInProgress}, ` +
      `len(unstable.Entries)=${u.entries.length}`;
  }

  /**
   * Appends the slice `a` if its `prev` matches the log, truncating conflicting entries, and
   * commits up to min(committed, last new index). Returns the last index of the slice, or -1
   * when `prev` does not match (nothing changes).
   */
  maybeAppend(a: LogSlice, committed: number): number {
    return this.maybeAppendAfter(a.prev.index, a.prev.term, a.entries, committed);
  }

  /**
   * `maybeAppend` of the slice of `entries` following the entry (prevIndex, prevTerm), without
   * building the LogSlice: a follower calls it for every MsgApp.
   */
  maybeAppendAfter(
    prevIndex: number,
    prevTerm: number,
    entries: readonly Entry[],
    committed: number,
  ): number {
    if (!this.matchTermAt(prevIndex, prevTerm)) return -1;
    const lastnewi = prevIndex + entries.length;
    const ci = this.findConflict(entries);
    if (ci === 0) {
      // Everything is already in the log.
    } else if (ci <= this.committed) {
      this.logger.fatal(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
    } else {
      const offset = prevIndex + 1;
      if (ci - offset > entries.length) {
        this.logger.fatal(`index, ${ci - offset}, is out of range [${entries.length}]`);
      }
      this.appendFrom(entries, ci - offset);
    }
    this.commitTo(Math.min(committed, lastnewi));
    assert(this.lastIndex() >= lastnewi, 'raftLog: appended entries missing');
    return lastnewi;
  }

  /** Appends entries (truncating any unstable suffix they replace); returns the last index. */
  append(ents: readonly Entry[]): number {
    return this.appendFrom(ents, 0);
  }

  /** `append(ents.slice(from))` without the copy. */
  private appendFrom(ents: readonly Entry[], from: number): number {
    if (from >= ents.length) return this.lastIndex();
    const after = ents[from]!.index - 1;
    if (after < this.committed) {
      this.logger.fatal(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents, from);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` (contiguous, increasing indexes) whose term
   * differs from the log's entry at that index, or that the log does not have; 0 when the log
   * already contains all of them.
   */
  findConflict(ents: readonly Entry[]): number {
    // An indexed loop: for-of allocates an iterator until the function is optimized.
    for (let i = 0; i < ents.length; i++) {
      const ne = ents[i]!;
      if (this.matchTermAt(ne.index, ne.term)) continue;
      if (ne.index <= this.lastIndex() && this.logger.level <= LogLevel.Info) {
        const existing = this.zeroTermOnOutOfBounds(this.term(ne.index));
        this.logger.info(
          `found conflict at index ${ne.index} [existing term: ${existing}, ` +
            `conflicting term: ${ne.term}]`,
        );
      }
      return ne.index;
    }
    return 0;
  }

  /**
   * The best guess where this log stops matching another log of which only the entry
   * (index, term) is known: the largest index <= `index` whose term is <= `term` or unknown
   * (compacted or missing; its term is then reported as 0). Used to resolve rejected appends.
   */
  findConflictByTerm(index: number, term: number): EntryID {
    for (; index > 0; index--) {
      const ourTerm = this.term(index);
      if (typeof ourTerm !== 'number') return { index, term: 0 };
      if (ourTerm <= term) return { index, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  /** A copy of the unstable entries not already being written to storage. */
  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  /** Whether there are unstable entries not already being written (allocation-free). */
  hasNextUnstableEnts(): boolean {
    return this.unstable.hasNextEntries();
  }

  /** Whether there are unstable entries, being written or not. */
  hasNextOrInProgressUnstableEnts(): boolean {
    return this.unstable.entries.length > 0;
  }

  /**
   * The committed entries to hand to the application, not yet handed out; with
   * `allowUnstable`, also committed entries not yet stable locally. Empty while paused or
   * while a snapshot is pending.
   */
  nextCommittedEnts(allowUnstable: boolean): Entry[] {
    if (this.applyingEntsPaused) return EMPTY_ENTRIES;
    if (this.hasNextOrInProgressSnapshot()) return EMPTY_ENTRIES;
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1;
    if (lo >= hi) return EMPTY_ENTRIES;
    const maxSize = this.maxApplyingEntsSize - this.applyingEntsSize;
    if (maxSize <= 0) {
      this.logger.fatal(
        `applying entry size (${this.maxApplyingEntsSize}-${this.applyingEntsSize})=` +
          `${maxSize} not positive`,
      );
    }
    const ents = this.slice(lo, hi, maxSize);
    if (!Array.isArray(ents)) {
      this.logger.fatal(`unexpected error when getting unapplied entries (${ents.message})`);
    }
    return ents;
  }

  /** Whether nextCommittedEnts would return entries (cheap: no slicing). */
  hasNextCommittedEnts(allowUnstable: boolean): boolean {
    if (this.applyingEntsPaused) return false;
    // With a snapshot pending, entries wait: which to apply first would be ambiguous.
    if (this.hasNextOrInProgressSnapshot()) return false;
    return this.applying + 1 < this.maxAppliableIndex(allowUnstable) + 1;
  }

  /** The highest committed index that may be applied (only stable ones unless allowed). */
  maxAppliableIndex(allowUnstable: boolean): number {
    let hi = this.committed;
    if (!allowUnstable) hi = Math.min(hi, this.unstable.offset - 1);
    return hi;
  }

  /** The unstable snapshot, if not already being written to storage. */
  nextUnstableSnapshot(): Snapshot | null {
    return this.unstable.nextSnapshot();
  }

  /** Whether there is an unstable snapshot not already being written. */
  hasNextUnstableSnapshot(): boolean {
    return this.unstable.nextSnapshot() !== null;
  }

  /** Whether a snapshot is waiting to be written or being written. */
  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** The unstable snapshot if any, else the storage's (which may return an error). */
  snapshot(): Snapshot | StorageError {
    if (this.unstable.snapshot !== null) return this.unstable.snapshot;
    return this.storage.snapshot();
  }

  /** The first index of the log (after the snapshot, if any). */
  firstIndex(): number {
    const i = this.unstable.maybeFirstIndex();
    if (i !== NOT_FOUND) return i;
    return this.storage.firstIndex();
  }

  /** The last index of the log. */
  lastIndex(): number {
    const i = this.unstable.maybeLastIndex();
    if (i !== NOT_FOUND) return i;
    return this.storage.lastIndex();
  }

  /** Raises the commit index to `tocommit` (never lowers it); panics past the last index. */
  commitTo(tocommit: number): void {
    if (this.committed >= tocommit) return;
    if (this.lastIndex() < tocommit) {
      this.logger.fatal(
        `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. ` +
          'Was the raft log corrupted, truncated, or lost?',
      );
    }
    this.committed = tocommit;
  }

  /** Records that entries up to `i` (of `size` bytes) were applied. */
  appliedTo(i: number, size: number): void {
    if (this.committed < i || i < this.applied) {
      this.logger.fatal(
        `applied(${i}) is out of range [prevApplied(${this.applied}), ` +
          `committed(${this.committed})]`,
      );
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
    this.applyingEntsSize = this.applyingEntsSize > size ? this.applyingEntsSize - size : 0;
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize;
    this.assertApplyInvariants();
  }

  /** Invariant: applied <= applying <= committed, and the outstanding size is not negative. */
  private assertApplyInvariants(): void {
    assert(this.applied <= this.applying, 'raftLog: applied beyond applying');
    assert(this.applying <= this.committed, 'raftLog: applying beyond committed');
    assert(this.applyingEntsSize >= 0, 'raftLog: negative applying size');
  }

  /**
   * Records that entries up to `i` (of `size` bytes) were handed out for application, and
   * pauses handing out more when the outstanding size reached the limit or the hand-out was
   * cut short by it (`i` below what could have been applied).
   */
  acceptApplying(i: number, size: number, allowUnstable: boolean): void {
    if (this.committed < i) {
      this.logger.fatal(
        `applying(${i}) is out of range [prevApplying(${this.applying}), ` +
          `committed(${this.committed})]`,
      );
    }
    this.applying = i;
    this.applyingEntsSize += size;
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize ||
      i < this.maxAppliableIndex(allowUnstable);
    this.assertApplyInvariants();
  }

  /** Entries up to `id` are stable in storage. */
  stableTo(id: EntryID): void {
    this.unstable.stableToAt(id.index, id.term);
  }

  /** `stableTo({ index, term })` without the object. */
  stableToAt(index: number, term: number): void {
    this.unstable.stableToAt(index, term);
  }

  /** The snapshot with index `i` is stable in storage. */
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** The current unstable entries and snapshot are now being written (not handed out again). */
  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  /** The ID of the last entry of the log. */
  lastEntryID(): EntryID {
    const index = this.lastIndex();
    return { term: this.termOfLast(index), index };
  }

  /** The term of the last entry (`lastEntryID().term` without the allocation). */
  lastTerm(): number {
    return this.termOfLast(this.lastIndex());
  }

  private termOfLast(index: number): number {
    const t = this.term(index);
    if (typeof t !== 'number') {
      this.logger.fatal(`unexpected error when getting the last term at ${index}: ${t.message}`);
    }
    return t;
  }

  /**
   * The term of entry `i`: valid in [firstIndex-1, lastIndex] (the entry just before the first
   * is compacted, but its term is kept for matching). `ErrCompacted` below, `ErrUnavailable`
   * above that range.
   */
  term(i: number): number | StorageError {
    // The unstable log first: a hit there is in range, and needs no storage call.
    const t = this.unstable.maybeTerm(i);
    if (t !== NOT_FOUND) return t;
    if (i + 1 < this.firstIndex()) return ErrCompacted;
    if (i > this.lastIndex()) return ErrUnavailable;
    const st = this.storage.term(i);
    if (typeof st === 'number') return st;
    if (st instanceof CompactedError || st instanceof UnavailableError) return st;
    throw st;
  }

  /** The entries from `i` to the end, limited to `maxSize` bytes (at least one). */
  entries(i: number, maxSize: number): Entry[] | StorageError {
    const last = this.lastIndex();
    if (i > last) return EMPTY_ENTRIES;
    return this.slice(i, last + 1, maxSize);
  }

  /** All entries of the log. */
  allEntries(): Entry[] {
    for (;;) {
      const ents = this.entries(this.firstIndex(), NO_LIMIT);
      if (Array.isArray(ents)) return ents;
      // A compaction raced with the read: try again.
      if (ents instanceof CompactedError) continue;
      throw ents;
    }
  }

  /**
   * Whether a log ending with entry `their` is at least as up to date as this one: a later
   * last term wins, and with equal last terms the longer log wins.
   */
  isUpToDate(their: EntryID): boolean {
    const ourTerm = this.lastTerm();
    return their.term > ourTerm || (their.term === ourTerm && their.index >= this.lastIndex());
  }

  /** Whether the log has entry `id` (its index with its term). */
  matchTerm(id: EntryID): boolean {
    return this.matchTermAt(id.index, id.term);
  }

  /** `matchTerm({index, term})` without the object. */
  matchTermAt(index: number, term: number): boolean {
    const t = this.term(index);
    return typeof t === 'number' && t === term;
  }

  /**
   * Commits up to `at` if it is beyond the commit index and in the log with its term (a
   * leader commits only entries of its own term this way). Term 0 never matches.
   */
  maybeCommit(at: EntryID): boolean {
    return this.maybeCommitAt(at.index, at.term);
  }

  /** `maybeCommit({ index, term })` without the object. */
  maybeCommitAt(index: number, term: number): boolean {
    if (term !== 0 && index > this.committed && this.matchTermAt(index, term)) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Resets the log to the snapshot `s` (committed at its index). */
  restore(s: Snapshot): void {
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(
        `log [${this.toString()}] starts to restore snapshot ` +
          `[index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
    }
    this.committed = s.metadata.index;
    this.unstable.restore(s);
    assert(this.lastIndex() === s.metadata.index, 'raftLog: restore must end at the snapshot');
  }

  /**
   * Visits the entries in [lo, hi) in pages of up to `pageSize` bytes (more for a single
   * larger entry). Stops at, and returns, the first error of the log or of the visitor
   * (a visitor returns an Error to stop early); null when all were visited.
   */
  scan(
    lo: number,
    hi: number,
    pageSize: number,
    visit: (ents: Entry[]) => Error | null | void,
  ): Error | null {
    while (lo < hi) {
      const ents = this.slice(lo, hi, pageSize);
      if (!Array.isArray(ents)) return ents;
      if (ents.length === 0) return new Error(`got 0 entries in [${lo}, ${hi})`);
      const err = visit(ents);
      if (err) return err;
      lo += ents.length;
    }
    return null;
  }

  /**
   * The entries in [lo, hi), limited to `maxSize` bytes but at least one. `ErrCompacted` if
   * `lo` was compacted; a range past the last index is a panic.
   */
  slice(lo: number, hi: number, maxSize: number): Entry[] | StorageError {
    const err = this.mustCheckOutOfBounds(lo, hi);
    if (err !== null) return err;
    if (lo === hi) return EMPTY_ENTRIES;
    const u = this.unstable;
    if (lo >= u.offset) {
      u.mustCheckOutOfBounds(lo, hi);
      const end = limitSizeEnd(u.entries, lo - u.offset, hi - u.offset, maxSize);
      return u.entries.slice(lo - u.offset, end);
    }
    const cut = Math.min(hi, u.offset);
    const ents = this.storageEntries(lo, cut, maxSize);
    if (!Array.isArray(ents)) return ents;
    if (hi <= u.offset) return ents;
    // Storage returned fewer entries than asked: the size limit was reached.
    if (ents.length < cut - lo) return ents;
    const size = entsSize(ents);
    if (size >= maxSize) return ents;
    return this.appendUnstable(ents, hi, maxSize - size);
  }

  /** storage.entries with etcd's handling of its errors (ErrUnavailable is a panic). */
  private storageEntries(lo: number, hi: number, maxSize: number): Entry[] | StorageError {
    const ents = this.storage.entries(lo, hi, maxSize);
    if (Array.isArray(ents)) return ents;
    if (ents instanceof CompactedError) return ents;
    if (ents instanceof UnavailableError) {
      this.logger.fatal(`entries[${lo}:${hi}) is unavailable from storage`);
    }
    throw ents;
  }

  /**
   * Appends to `ents` (owned by the caller, from storage) the unstable entries from
   * `unstable.offset` up to `hi`, within `budget` bytes. A single unstable entry over the
   * budget is left out (unlike limitSize, the result already holds entries).
   */
  private appendUnstable(ents: Entry[], hi: number, budget: number): Entry[] {
    const u = this.unstable;
    u.mustCheckOutOfBounds(u.offset, hi);
    const end = limitSizeEnd(u.entries, 0, hi - u.offset, budget);
    if (end === 1 && entrySize(u.entries[0]!) > budget) return ents;
    for (let k = 0; k < end; k++) ents.push(u.entries[k]!);
    return ents;
  }

  /**
   * Checks firstIndex <= lo <= hi <= lastIndex+1: `ErrCompacted` when lo is compacted, a panic
   * when the range is inverted or runs past the last index, null when in bounds.
   */
  mustCheckOutOfBounds(lo: number, hi: number): StorageError | null {
    if (lo > hi) this.logger.fatal(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) return ErrCompacted;
    const last = this.lastIndex();
    if (hi > last + 1) this.logger.fatal(`slice[${lo},${hi}) out of bound [${fi},${last}]`);
    return null;
  }

  /** The term, or 0 when the result is ErrCompacted/ErrUnavailable; other errors panic. */
  zeroTermOnOutOfBounds(t: number | StorageError): number {
    if (typeof t === 'number') return t;
    if (t instanceof CompactedError || t instanceof UnavailableError) return 0;
    return this.logger.fatal(`unexpected error (${t.message})`);
  }
}

/** Re-exported for callers that test results of the log. */
export { isStorageError };
