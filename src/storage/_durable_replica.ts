/**
 * A replica's storage on the durable engine. In memory it keeps a fixed few fields (the
 * HardState, the applied state, the log bounds, the last applied snapshot) and a run of
 * recent entries in the store's shared entry cache; everything else is read from the
 * backend with `getSync`. Writers stage records into the open batch and update the fields
 * at once, so reads see staged writes (see engine.ts). The RaftState and Applied records are
 * written once per batch, when it is sealed at commit, however many writers touched them.
 *
 * Invariant: `ents` is the contiguous run `[lastIndex - ents.length + 1, lastIndex]`, and
 * every entry at or above `pinFrom` is in it (those are not durable yet: the backend may
 * not hold them, or may still hold what they replaced).
 */
import { assert } from '../util/index.js';
import {
  EMPTY_BYTES,
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrSnapshotTemporarilyUnavailable,
  ErrUnavailable,
  RaftPanicError,
  emptyHardState,
  emptySnapshot,
  entrySize,
  type Entry,
  type HardState,
  type InitialState,
  type Snapshot,
  type StorageError,
} from '../raft/index.js';
import type { DurableBatch, EngineCore, StagingReplica } from './_durable_core.js';
import { ENTRY_OVERHEAD_BYTES, scaledLogBytes, type CachedRun } from './_entry_cache.js';
import { LOG_BLOCK_ENTRIES, MetaKind, blockLastOf, keyHex } from './_keys.js';
import { decodeLogBlock, decodeSnapshot, type LogBlock, type LogState } from './_records.js';
import type { AppliedState, EngineBatch, ReplicaStorage } from './engine.js';
import { ReplicaCorruptError } from './errors.js';

/** What a replica starts from: defaults for a new one, decoded records for a loaded one. */
export interface ReplicaState {
  hardState: HardState;
  log: LogState;
  applied: AppliedState;
  snapshot: Snapshot;
}

/** The state of a replica never written. */
export function emptyReplicaState(): ReplicaState {
  const snapshot = emptySnapshot();
  return {
    hardState: emptyHardState(),
    log: { truncatedIndex: 0, truncatedTerm: 0, lastIndex: 0 },
    applied: { index: 0, confState: snapshot.metadata.confState, descriptor: EMPTY_BYTES },
    snapshot,
  };
}

const cost = (e: Entry): number => e.data.length + ENTRY_OVERHEAD_BYTES;

/** `ReplicaStorage` on a durable engine. */
export class DurableReplica implements ReplicaStorage, StagingReplica, CachedRun {
  stagedSeq = 0;
  destroyed = false;
  private hs: HardState;
  private applied: AppliedState;
  /** The batch that staged `applied`, while not durable; 0 once durable. */
  private appliedSeq = 0;
  /** The last applied snapshot; null once released (re-read from the engine on demand). */
  private snap: Snapshot | null;
  /** Its index (kept while `snap` is released). */
  private snapIndex: number;
  /** The batch that staged `snap`, while not durable; 0 once durable. */
  private snapSeq = 0;
  /** The snapshot served at the applied point (see `snapshot`), built on demand. */
  private appliedSnap: Snapshot | null = null;
  private truncatedIndex: number;
  private truncatedTerm: number;
  private last: number;
  private ents: Entry[] = [];
  private entsBytes = 0;
  private pinFrom = Infinity;
  private pinSeq = 0;
  /** The RaftState / Applied record must be written when the open batch is sealed. */
  private raftStateDirty = false;
  private appliedDirty = false;
  private logBytesEstimate = 0;

  constructor(readonly rangeId: number, private readonly core: EngineCore, s: ReplicaState) {
    this.hs = s.hardState;
    this.applied = s.applied;
    this.snap = s.snapshot;
    this.snapIndex = s.snapshot.metadata.index;
    this.truncatedIndex = s.log.truncatedIndex;
    this.truncatedTerm = s.log.truncatedTerm;
    this.last = s.log.lastIndex;
    assert(this.last >= this.truncatedIndex, 'the log ends at or after its truncation');
  }

  // --- Raft's Storage ---

  initialState(): InitialState {
    return { hardState: this.hs, confState: this.applied.confState };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] | StorageError {
    this.live();
    if (lo <= this.truncatedIndex) return ErrCompacted;
    if (hi > this.last + 1) {
      throw new RaftPanicError(`entries' hi(${hi}) is out of bound lastindex(${this.last})`);
    }
    if (this.last === this.truncatedIndex) return ErrUnavailable;
    const out: Entry[] = [];
    let size = 0;
    const cacheLo = this.last - this.ents.length + 1;
    // Entries below the cache come a block at a time (one read for up to 16 of them).
    let block: LogBlock | null = null;
    for (let i = lo; i < hi; i++) {
      let e: Entry;
      if (i >= cacheLo) {
        e = this.ents[i - cacheLo]!;
      } else {
        if (block === null || i >= block.first + block.entries.length) block = this.readBlock(i);
        e = block.entries[i - block.first]!;
      }
      size += entrySize(e);
      if (out.length > 0 && size > maxSize) break;
      out.push(e);
    }
    assert(out.length === 0 || out[0]!.index === lo, 'entries start at lo');
    return out;
  }

  term(i: number): number | StorageError {
    this.live();
    if (i < this.truncatedIndex) return ErrCompacted;
    if (i > this.last) return ErrUnavailable;
    if (i === this.truncatedIndex) return this.truncatedTerm;
    return this.entryAt(i).term;
  }

  lastIndex(): number {
    return this.last;
  }

  firstIndex(): number {
    return this.truncatedIndex + 1;
  }

  snapshot(): Snapshot | StorageError {
    this.live();
    if (this.snapIndex >= this.truncatedIndex) return this.snap ?? this.readSnapshot();
    if (this.appliedSeq !== 0) return ErrSnapshotTemporarilyUnavailable;
    if (this.appliedSnap === null || this.appliedSnap.metadata.index !== this.applied.index) {
      const term = this.term(this.applied.index);
      assert(typeof term === 'number', 'the applied index is never compacted away');
      this.appliedSnap = {
        data: this.applied.descriptor,
        metadata: { index: this.applied.index, term, confState: this.applied.confState },
      };
    }
    return this.appliedSnap;
  }

  hardState(): HardState {
    return this.hs;
  }

  appliedState(): AppliedState {
    return this.applied;
  }

  // --- writers ---

  append(entries: readonly Entry[], batch: EngineBatch): void {
    this.live();
    if (entries.length === 0) return;
    const b = this.core.asOpen(batch);
    const first = this.truncatedIndex + 1;
    const lastNew = entries[0]!.index + entries.length - 1;
    if (lastNew < first) return;
    const from = Math.max(0, first - entries[0]!.index);
    const start = entries[from]!.index;
    if (start > this.last + 1) {
      throw new RaftPanicError(`missing log entry [last: ${this.last}, append at: ${start}]`);
    }
    this.core.touch(b, this);
    this.stageBlocks(b, entries, from, lastNew);
    for (let k = from; k < entries.length; k++) this.logBytesEstimate += cost(entries[k]!);
    this.cacheAppend(entries, from, start);
    this.last = lastNew;
    this.pinFrom = Math.min(this.pinFrom, start);
    this.pinSeq = b.seq;
    this.stageLogState(b);
    assert(this.ents[this.ents.length - 1] === entries[entries.length - 1], 'cached to the end');
  }

  setHardState(hardState: HardState, batch: EngineBatch): void {
    this.live();
    const b = this.core.asOpen(batch);
    this.core.touch(b, this);
    this.hs = hardState;
    this.raftStateDirty = true;
  }

  applySnapshot(snapshot: Snapshot, descriptor: Uint8Array, batch: EngineBatch):
    StorageError | null {
    this.live();
    const md = snapshot.metadata;
    if (this.applied.index !== 0 && this.applied.index >= md.index) return ErrSnapOutOfDate;
    assert(md.index >= this.truncatedIndex, 'a newer snapshot is past the truncation');
    const b = this.core.asOpen(batch);
    this.core.touch(b, this);
    this.deleteLog(b);
    this.dropCache(this.ents.length);
    this.pinFrom = Infinity;
    this.truncatedIndex = md.index;
    this.truncatedTerm = md.term;
    this.last = md.index;
    this.logBytesEstimate = 0;
    this.snap = snapshot;
    this.snapIndex = md.index;
    this.snapSeq = b.seq;
    this.appliedSnap = null;
    const key = this.core.keys.snapshotKey(this.rangeId);
    this.core.put(b, key, this.core.codec.snapshot(key, snapshot));
    this.stageLogState(b);
    this.stageApplied(b, { index: md.index, confState: md.confState, descriptor });
    return null;
  }

  setApplied(applied: AppliedState, batch: EngineBatch): void {
    this.live();
    assert(applied.index >= this.applied.index, 'the applied index never moves back');
    assert(applied.index <= this.last, 'apply only entries the log holds');
    const b = this.core.asOpen(batch);
    this.core.touch(b, this);
    this.stageApplied(b, applied);
  }

  compact(index: number, batch: EngineBatch): StorageError | null {
    this.live();
    if (index <= this.truncatedIndex) return ErrCompacted;
    if (index > this.last) {
      throw new RaftPanicError(`compact ${index} is out of bound lastindex(${this.last})`);
    }
    assert(index <= this.applied.index, 'compact only what was applied');
    const b = this.core.asOpen(batch);
    this.core.touch(b, this);
    const term = this.entryAt(index).term;
    // The blocks wholly at or below `index`; the one holding it stays while it holds more.
    const lastGone = blockLastOf(index + 1) - LOG_BLOCK_ENTRIES;
    this.deleteBlocks(b, blockLastOf(this.truncatedIndex + 1), lastGone);
    this.logBytesEstimate = scaledLogBytes(this.logBytesEstimate,
      this.last - this.truncatedIndex, this.last - index);
    const cacheLo = this.last - this.ents.length + 1;
    if (index >= cacheLo) this.dropCache(index - cacheLo + 1);
    this.truncatedIndex = index;
    this.truncatedTerm = term;
    this.stageLogState(b);
    assert(this.firstIndex() === index + 1, 'compaction moves the first index');
    return null;
  }

  logBytes(): number {
    return this.logBytesEstimate;
  }

  /**
   * Dormant: keeps the fixed fields only. Durable cached entries are dropped (the pinned,
   * not yet durable ones cannot be: the backend may not hold them), as are the snapshot
   * built at the applied point and a durable snapshot with data (both re-read on demand).
   */
  release(): void {
    this.evictDurable();
    this.appliedSnap = null;
    if (this.snap !== null && this.snap.data.length > 0 && this.snapSeq === 0) this.snap = null;
    assert(this.snap !== null || this.snapSeq === 0, 'a staged snapshot stays in memory');
  }

  // --- engine side ---

  /** Batch `seq` completed: what it and earlier batches staged is durable. */
  durableUpTo(seq: number): void {
    if (this.pinSeq !== 0 && this.pinSeq <= seq) {
      this.pinFrom = Infinity;
      this.pinSeq = 0;
    }
    if (this.appliedSeq !== 0 && this.appliedSeq <= seq) this.appliedSeq = 0;
    if (this.snapSeq !== 0 && this.snapSeq <= seq) this.snapSeq = 0;
  }

  seal(batch: DurableBatch): void {
    if (this.destroyed) return;
    const { keys, codec } = this.core;
    if (this.raftStateDirty) {
      const key = keys.metaKey(this.rangeId, MetaKind.RaftState);
      const log = { truncatedIndex: this.truncatedIndex, truncatedTerm: this.truncatedTerm,
        lastIndex: this.last };
      this.core.put(batch, key, codec.raftState(key, this.hs, log));
      this.raftStateDirty = false;
    }
    if (this.appliedDirty) {
      const key = keys.metaKey(this.rangeId, MetaKind.Applied);
      this.core.put(batch, key, codec.applied(key, this.applied));
      this.appliedDirty = false;
    }
    assert(!this.raftStateDirty && !this.appliedDirty, 'a sealed batch leaves nothing dirty');
  }

  evictDurable(): number {
    const cacheLo = this.last - this.ents.length + 1;
    const keep = this.pinFrom === Infinity ? 0 : this.last - this.pinFrom + 1;
    const drop = Math.max(0, this.ents.length - keep);
    assert(drop === 0 || cacheLo < this.pinFrom, 'only durable entries are evicted');
    return this.dropCache(drop);
  }

  hasCached(): boolean {
    return this.ents.length > 0;
  }

  /** Stages the deletion of every record of this replica; the storage is dead after. */
  destroy(batch: DurableBatch): void {
    this.live();
    this.core.touch(batch, this);
    this.deleteLog(batch);
    for (const kind of [MetaKind.RaftState, MetaKind.Applied]) {
      this.core.del(batch, this.core.keys.metaKey(this.rangeId, kind));
    }
    this.core.del(batch, this.core.keys.snapshotKey(this.rangeId));
    this.raftStateDirty = false;
    this.appliedDirty = false;
    this.dropCache(this.ents.length);
    this.destroyed = true;
  }

  // --- internals ---

  /**
   * Stages the log blocks `entries[from..]` (from `start`, to `lastNew`) touch, before the
   * cache and `last` move: the first one with the entries before `start` it already holds
   * (read while they still are the log's), and deletes the blocks past `lastNew`'s that only
   * held entries this append replaces.
   */
  private stageBlocks(b: DurableBatch, entries: readonly Entry[], from: number,
    lastNew: number): void {
    const { keys, codec } = this.core;
    const start = entries[from]!.index;
    assert(start >= this.truncatedIndex + 1 && start <= this.last + 1, 'an append in place');
    if (this.last > lastNew) {
      this.deleteBlocks(b, blockLastOf(lastNew) + LOG_BLOCK_ENTRIES, blockLastOf(this.last));
    }
    const run = this.core.blockRun;
    run.length = 0;
    const blockFirst = blockLastOf(start) - LOG_BLOCK_ENTRIES + 1;
    for (let i = Math.max(blockFirst, this.truncatedIndex + 1); i < start; i++) {
      run.push(this.entryAt(i));
    }
    for (let k = from; k < entries.length; k++) {
      const e = entries[k]!;
      run.push(e);
      if (k === entries.length - 1 || e.index % LOG_BLOCK_ENTRIES === LOG_BLOCK_ENTRIES - 1) {
        const key = keys.logKey(this.rangeId, e.index);
        this.core.put(b, key, codec.logBlock(key, run, run.length));
        run.length = 0;
      }
    }
    assert(run.length === 0, 'every block of the append staged');
  }

  /** Stages the deletion of the log blocks ending at `fromLast` to `toLast` (inclusive). */
  private deleteBlocks(b: DurableBatch, fromLast: number, toLast: number): void {
    assert((fromLast + 1) % LOG_BLOCK_ENTRIES === 0, 'a block bound');
    for (let k = fromLast; k <= toLast; k += LOG_BLOCK_ENTRIES) {
      this.core.del(b, this.core.keys.logKey(this.rangeId, k));
    }
  }

  /** The released snapshot, read back (durable: it was released only then). */
  private readSnapshot(): Snapshot {
    assert(this.snap === null && this.snapSeq === 0, 'only a durable snapshot is released');
    const key = this.core.keys.snapshotKey(this.rangeId);
    const value = this.core.backend.getSync(key);
    if (value === undefined) {
      this.core.counters.replicasRefused++;
      throw new ReplicaCorruptError(this.rangeId, keyHex(key), 'missing snapshot record');
    }
    const snap = decodeSnapshot(this.rangeId, key.slice(), value);
    assert(snap.metadata.index === this.snapIndex, 'the record of the released snapshot');
    return snap;
  }

  private live(): void {
    assert(!this.destroyed, 'a destroyed replica storage is not used');
  }

  /** Entry `i` (`truncatedIndex < i <= last`), from the cache or the backend. */
  private entryAt(i: number): Entry {
    const cacheLo = this.last - this.ents.length + 1;
    if (i >= cacheLo) return this.ents[i - cacheLo]!;
    const block = this.readBlock(i);
    return block.entries[i - block.first]!;
  }

  /** The durable log block holding entry `i`, read from the backend and checked. */
  private readBlock(i: number): LogBlock {
    assert(i < this.pinFrom, 'entries not yet durable are always cached');
    assert(i > this.truncatedIndex && i <= this.last, 'an entry the log holds');
    const key = this.core.keys.logKey(this.rangeId, i);
    const value = this.core.backend.getSync(key);
    let block: LogBlock | null = null;
    try {
      if (value !== undefined) block = decodeLogBlock(this.rangeId, key, value, blockLastOf(i));
    } catch (error) {
      this.core.counters.replicasRefused++;
      throw error;
    }
    if (block === null || i < block.first || i >= block.first + block.entries.length) {
      this.core.counters.replicasRefused++;
      throw new ReplicaCorruptError(this.rangeId, keyHex(key), `missing log entry ${i}`);
    }
    return block;
  }

  private cacheAppend(entries: readonly Entry[], from: number, start: number): void {
    const cacheLo = this.last - this.ents.length + 1;
    if (start >= cacheLo) {
      this.dropTail(this.last - start + 1);
    } else {
      this.dropCache(this.ents.length);
    }
    let bytes = 0;
    for (let k = from; k < entries.length; k++) {
      this.ents.push(entries[k]!);
      bytes += cost(entries[k]!);
    }
    this.entsBytes += bytes;
    this.core.cache.grew(this, bytes);
  }

  /** Drops the last `n` cached entries (replaced by an append). */
  private dropTail(n: number): void {
    if (n <= 0) return;
    let bytes = 0;
    for (let k = this.ents.length - n; k < this.ents.length; k++) bytes += cost(this.ents[k]!);
    this.ents.length -= n;
    this.entsBytes -= bytes;
    this.core.cache.shrank(this, bytes);
  }

  /** Drops the first `n` cached entries; returns the bytes freed. */
  private dropCache(n: number): number {
    if (n <= 0) return 0;
    let bytes = 0;
    for (let k = 0; k < n; k++) bytes += cost(this.ents[k]!);
    this.ents = n === this.ents.length ? [] : this.ents.slice(n);
    this.entsBytes -= bytes;
    assert(this.entsBytes >= 0, 'cache bytes stay non-negative');
    this.core.cache.shrank(this, bytes);
    return bytes;
  }

  /**
   * Stages the deletion of every log block of the replica, the one holding the truncated
   * index included (it may still hold compacted entries).
   */
  private deleteLog(b: DurableBatch): void {
    this.deleteBlocks(b, blockLastOf(Math.max(1, this.truncatedIndex)),
      blockLastOf(Math.max(1, this.last)));
  }

  private stageLogState(b: DurableBatch): void {
    assert(this.stagedSeq === b.seq, 'the replica is listed in the batch it stages into');
    this.raftStateDirty = true;
  }

  private stageApplied(b: DurableBatch, applied: AppliedState): void {
    assert(this.stagedSeq === b.seq, 'the replica is listed in the batch it stages into');
    this.applied = applied;
    this.appliedSeq = b.seq;
    this.appliedDirty = true;
  }
}
