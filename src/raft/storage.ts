/**
 * The storage contract of the Raft core (etcd's storage.go): the `Storage` interface the log
 * reads stable entries through, and `MemoryStorage`, its in-memory implementation.
 *
 * Results (the Go `(value, error)` pairs): a method that can fail in an expected way returns
 * either its value or one of the shared sentinel errors of errors.ts (`ErrCompacted`,
 * `ErrUnavailable`, `ErrSnapOutOfDate`, `ErrSnapshotTemporarilyUnavailable`), never throws
 * them. Callers test with `typeof t === 'number'` / `Array.isArray(ents)` /
 * `isStorageError(x)` / `x === ErrCompacted`. Returning a preallocated sentinel costs nothing,
 * so the hot path stays allocation-free. Anything else going wrong (I/O failure of a durable
 * store) is thrown: the Raft core treats it as a panic, as etcd does.
 *
 * Immutability: entries and snapshots handed to or returned by a Storage are shared, never
 * mutated, by anyone. Arrays returned by `entries` belong to the caller.
 *
 * Storage calls are synchronous: the Raft core is synchronous, and the durable store serves
 * them from an in-memory cache.
 */

import { assert } from '../util/index.js';
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, type StorageError } from './errors.js';
import { silentLogger, type RaftLogger } from './logger.js';
import {
  EMPTY_BYTES,
  EntryType,
  emptyHardState,
  emptySnapshot,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './raftpb.js';
import { limitSizeEnd } from './util.js';

/** The persisted state a Raft node starts from. */
export interface InitialState {
  /** The last persisted HardState (all zero when none was persisted yet). */
  hardState: HardState;
  /** The configuration of the latest snapshot. */
  confState: ConfState;
}

/**
 * What the Raft log reads from stable storage. If a method throws, the group is broken and
 * must be stopped; the application is responsible for cleanup and recovery.
 */
export interface Storage {
  /** The saved HardState and ConfState. */
  initialState(): InitialState;
  /**
   * The entries in `[lo, hi)`, limited to `maxSize` bytes but at least one entry if any.
   * `ErrCompacted` if `lo` was compacted away, `ErrUnavailable` if an entry in the range is
   * missing. The returned array belongs to the caller; its entries must not be mutated.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[] | StorageError;
  /**
   * The term of entry `i`, which must be in `[firstIndex()-1, lastIndex()]` (the term of the
   * entry before the first one is kept for matching). `ErrCompacted` / `ErrUnavailable`
   * outside that range.
   */
  term(i: number): number | StorageError;
  /** The index of the last entry in the log. */
  lastIndex(): number;
  /** The index of the first entry that may be available through `entries`. */
  firstIndex(): number;
  /**
   * The most recent snapshot, or `ErrSnapshotTemporarilyUnavailable` while one is being
   * prepared (Raft asks again later).
   */
  snapshot(): Snapshot | StorageError;
}

/** How often each Storage method of a MemoryStorage was called (for tests). */
export interface StorageCallStats {
  initialState: number;
  firstIndex: number;
  lastIndex: number;
  entries: number;
  term: number;
  snapshot: number;
}

function dummyEntry(index: number, term: number): Entry {
  return { term, index, type: EntryType.EntryNormal, data: EMPTY_BYTES };
}

/**
 * The dummy entry of each snapshot applied, shared by every storage that applies the same
 * snapshot object (a store creates its ranges from one interned snapshot per configuration):
 * the dummy never leaves the storage (`entries` starts after it) and nothing writes to it,
 * so a million replicas need not hold a million copies.
 */
const DUMMY_OF_SNAPSHOT = new WeakMap<Snapshot, Entry>();

function snapshotDummy(snap: Snapshot): Entry {
  const { index, term } = snap.metadata;
  let dummy = DUMMY_OF_SNAPSHOT.get(snap);
  // A snapshot is a value, but a caller may have edited it since: check what it says now.
  if (dummy === undefined || dummy.index !== index || dummy.term !== term) {
    dummy = dummyEntry(index, term);
    DUMMY_OF_SNAPSHOT.set(snap, dummy);
  }
  assert(dummy.index === index && dummy.term === term && dummy.data.length === 0,
    'the dummy entry of this snapshot');
  return dummy;
}

/** Indexes of `MemoryStorage`'s call counters. */
const Call = {
  InitialState: 0, FirstIndex: 1, LastIndex: 2, Entries: 3, Term: 4, Snapshot: 5,
} as const;
type Call = (typeof Call)[keyof typeof Call];

/**
 * A `Storage` backed by an in-memory array (etcd's `MemoryStorage`). Tests may read and
 * replace `ents`, `hardState` and `snap` directly, and read `callStats` (after `countCalls`).
 */
export class MemoryStorage implements Storage {
  /** The last HardState set. */
  hardState: HardState = emptyHardState();
  /** The latest snapshot (never null; index 0 when there is none). */
  snap: Snapshot = emptySnapshot();
  /**
   * `ents[i]` has log index `i + ents[0].index`. `ents[0]` is a dummy entry holding the
   * index and term of the last compacted entry (or of the snapshot).
   * Invariant: ents.length >= 1 and indexes are contiguous. The array is owned by the storage
   * and mutated in place: a test that assigns one must not keep using it.
   */
  ents: Entry[] = [dummyEntry(0, 0)];
  /**
   * Call counters by `Call`, or null until `countCalls`: six number fields were 48 bytes of
   * every replica of a store that never reads them, and a write to a cold cache line on
   * every `lastIndex` of a leader's heartbeat answer.
   */
  private calls: number[] | null = null;
  /** Where panics are reported (etcd's global logger). */
  logger: RaftLogger;

  constructor(logger: RaftLogger = silentLogger) {
    this.logger = logger;
  }

  /** Starts counting the calls of the Storage methods (`callStats`), from zero. */
  countCalls(): void {
    this.calls = [0, 0, 0, 0, 0, 0];
  }

  /** Call counters of the Storage methods since `countCalls` (all zero before it). */
  get callStats(): StorageCallStats {
    const c = this.calls ?? [0, 0, 0, 0, 0, 0];
    return {
      initialState: c[Call.InitialState]!, firstIndex: c[Call.FirstIndex]!,
      lastIndex: c[Call.LastIndex]!, entries: c[Call.Entries]!, term: c[Call.Term]!,
      snapshot: c[Call.Snapshot]!,
    };
  }

  private count(call: Call): void {
    if (this.calls !== null) this.calls[call]!++;
  }

  initialState(): InitialState {
    this.count(Call.InitialState);
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** Saves the current HardState. */
  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] | StorageError {
    this.count(Call.Entries);
    const offset = this.ents[0]!.index;
    if (lo <= offset) return ErrCompacted;
    if (hi > this.lastIdx() + 1) {
      this.logger.fatal(`entries' hi(${hi}) is out of bound lastindex(${this.lastIdx()})`);
    }
    if (this.ents.length === 1) return ErrUnavailable;
    const end = limitSizeEnd(this.ents, lo - offset, hi - offset, maxSize);
    return this.ents.slice(lo - offset, end);
  }

  term(i: number): number | StorageError {
    this.count(Call.Term);
    const offset = this.ents[0]!.index;
    if (i < offset) return ErrCompacted;
    if (i - offset >= this.ents.length) return ErrUnavailable;
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    this.count(Call.LastIndex);
    return this.lastIdx();
  }

  firstIndex(): number {
    this.count(Call.FirstIndex);
    return this.firstIdx();
  }

  snapshot(): Snapshot | StorageError {
    this.count(Call.Snapshot);
    return this.snap;
  }

  private lastIdx(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  private firstIdx(): number {
    return this.ents[0]!.index + 1;
  }

  /**
   * Replaces the whole contents with the snapshot. `ErrSnapOutOfDate` if the storage already
   * holds a newer or equal non-empty snapshot. A snapshot with index 0 (only a ConfState, as
   * bootstrap may write) is accepted while the storage holds none.
   */
  applySnapshot(snap: Snapshot): StorageError | null {
    const msIndex = this.snap.metadata.index;
    const snapIndex = snap.metadata.index;
    if (msIndex !== 0 && msIndex >= snapIndex) return ErrSnapOutOfDate;
    this.snap = snap;
    this.ents = [snapshotDummy(snap)];
    return null;
  }

  /**
   * Makes a snapshot at index `i` (which must not exceed the last index) that `snapshot()`
   * returns from now on. Pass the ConfState of the last applied configuration change, or null
   * to keep the previous one. `ErrSnapOutOfDate` if `i` is not newer than the snapshot.
   */
  createSnapshot(i: number, cs: ConfState | null, data: Uint8Array): Snapshot | StorageError {
    if (i <= this.snap.metadata.index) return ErrSnapOutOfDate;
    const offset = this.ents[0]!.index;
    if (i > this.lastIdx()) {
      this.logger.fatal(`snapshot ${i} is out of bound lastindex(${this.lastIdx()})`);
    }
    const confState = cs ?? this.snap.metadata.confState;
    this.snap = { data, metadata: { confState, index: i, term: this.ents[i - offset]!.term } };
    return this.snap;
  }

  /**
   * Discards all entries before `compactIndex`, keeping its term as the new dummy entry.
   * `ErrCompacted` if it is already compacted. The application must not compact beyond
   * what it has applied.
   */
  compact(compactIndex: number): StorageError | null {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) return ErrCompacted;
    if (compactIndex > this.lastIdx()) {
      this.logger.fatal(`compact ${compactIndex} is out of bound lastindex(${this.lastIdx()})`);
    }
    const i = compactIndex - offset;
    const kept = this.ents.slice(i);
    kept[0] = dummyEntry(this.ents[i]!.index, this.ents[i]!.term);
    this.ents = kept;
    assert(this.firstIdx() === compactIndex + 1, 'MemoryStorage.compact: wrong first index');
    return null;
  }

  /**
   * Appends entries, replacing any existing entries from the first new index on. Entries at
   * or below the compaction point are skipped; a gap after the last index is a panic.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIdx();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let from = 0;
    if (first > entries[0]!.index) from = first - entries[0]!.index;
    const offset = entries[from]!.index - this.ents[0]!.index;
    if (this.ents.length < offset) {
      this.logger.fatal(
        `missing log entry [last: ${this.lastIdx()}, append at: ${entries[from]!.index}]`,
      );
    }
    const ents = this.ents;
    // V8: a length store is a runtime call even when nothing is cut; appends cut nothing.
    if (ents.length !== offset) ents.length = offset;
    for (let k = from; k < entries.length; k++) ents.push(entries[k]!);
    assert(this.lastIdx() === last, 'MemoryStorage.append: log must end at the last new entry');
  }
}
