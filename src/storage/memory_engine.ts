/**
 * The in-memory engine: the `StorageEngine` contract with nothing on disk, for tests,
 * benchmarks and the simulation. A commit completes synchronously; nothing survives the
 * process. User data lives in one ordered map (_sorted_map.ts: O(n) inserts, meant for
 * test-sized data).
 */
import { assert } from '../util/index.js';
import {
  EMPTY_BYTES,
  ErrSnapOutOfDate,
  ErrSnapshotTemporarilyUnavailable,
  MemoryStorage,
  emptyConfState,
  type Entry,
  type HardState,
  type InitialState,
  type Snapshot,
  type StorageError,
} from '../raft/index.js';
import { SortedMap, bytesOfLatin1, latin1Of } from './_sorted_map.js';
import { checkUserKey, checkUserValue } from './_user_data.js';
import type {
  AppliedState, EngineBatch, EngineOpenOptions, EngineStats, ReplicaStorage, ReplicaSummary,
  SpanReader, StorageEngine, UserEntry,
} from './engine.js';

/** A batch of the memory engine: it counts what was staged. */
class MemoryBatch implements EngineBatch {
  groupCount = 0;
  byteCount = 0;
  open = true;
  /** Replicas whose applied state this batch staged (durable at commit). */
  readonly appliedBy: MemoryReplicaStorage[] = [];
  /** The last range that staged a write, to count groups without a set. */
  private lastRangeId = 0;

  constructor(readonly engine: MemoryEngine) {}

  note(rangeId: number, bytes: number): void {
    if (rangeId !== this.lastRangeId) {
      this.groupCount++;
      this.lastRangeId = rangeId;
    }
    this.byteCount += bytes;
  }
}

function asMemoryBatch(batch: EngineBatch): MemoryBatch {
  assert(batch instanceof MemoryBatch, 'a batch of the memory engine');
  assert(batch.open, 'stage only into an open batch');
  return batch;
}

/** A replica's storage on the memory engine: Raft's `MemoryStorage` plus its applied state. */
class MemoryReplicaStorage implements ReplicaStorage {
  readonly rangeId: number;
  private readonly log = new MemoryStorage();
  private applied: AppliedState;
  /** Staged and not yet committed (see `snapshot`). */
  appliedPending = false;
  /** The snapshot served at the applied point once the log is compacted past `log.snap`. */
  private appliedSnap: Snapshot | null = null;
  destroyed = false;

  constructor(rangeId: number) {
    this.rangeId = rangeId;
    const confState = this.log.snap.metadata.confState;
    this.applied = { index: 0, confState, descriptor: EMPTY_BYTES };
  }

  initialState(): InitialState {
    return { hardState: this.log.hardState, confState: this.applied.confState };
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] | StorageError {
    return this.log.entries(lo, hi, maxSize);
  }
  term(i: number): number | StorageError {
    return this.log.term(i);
  }
  lastIndex(): number {
    return this.log.lastIndex();
  }
  firstIndex(): number {
    return this.log.firstIndex();
  }
  snapshot(): Snapshot | StorageError {
    const snap = this.log.snap;
    if (snap.metadata.index >= this.log.ents[0]!.index) return snap;
    if (this.appliedPending) return ErrSnapshotTemporarilyUnavailable;
    const a = this.applied;
    if (this.appliedSnap === null || this.appliedSnap.metadata.index !== a.index) {
      const term = this.log.term(a.index);
      assert(typeof term === 'number', 'the applied index is never compacted away');
      this.appliedSnap = { data: a.descriptor, metadata: { index: a.index, term,
        confState: a.confState } };
    }
    return this.appliedSnap;
  }
  hardState(): HardState {
    return this.log.hardState;
  }
  appliedState(): AppliedState {
    return this.applied;
  }

  append(entries: readonly Entry[], batch: EngineBatch): void {
    if (entries.length === 0) return;
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) bytes += entries[i]!.data.length + 24;
    asMemoryBatch(batch).note(this.rangeId, bytes);
    this.log.append(entries);
  }
  setHardState(hardState: HardState, batch: EngineBatch): void {
    asMemoryBatch(batch).note(this.rangeId, 24);
    this.log.setHardState(hardState);
  }
  applySnapshot(snapshot: Snapshot, descriptor: Uint8Array, batch: EngineBatch):
    StorageError | null {
    const md = snapshot.metadata;
    if (this.applied.index !== 0 && this.applied.index >= md.index) return ErrSnapOutOfDate;
    const b = asMemoryBatch(batch);
    const error = this.log.applySnapshot(snapshot);
    assert(error === null, 'a snapshot newer than the applied index is newer than the log');
    b.note(this.rangeId, snapshot.data.length + descriptor.length + 32);
    this.stageApplied(b, { index: md.index, confState: md.confState, descriptor });
    return null;
  }
  setApplied(applied: AppliedState, batch: EngineBatch): void {
    assert(applied.index >= this.applied.index, 'the applied index never moves back');
    assert(applied.index <= this.log.lastIndex(), 'apply only entries the log holds');
    const b = asMemoryBatch(batch);
    b.note(this.rangeId, applied.descriptor.length + 16);
    this.stageApplied(b, applied);
  }
  private stageApplied(b: MemoryBatch, applied: AppliedState): void {
    this.applied = applied;
    if (!this.appliedPending) b.appliedBy.push(this);
    this.appliedPending = true;
  }
  compact(index: number, batch: EngineBatch): StorageError | null {
    assert(index <= this.applied.index, 'compact only what was applied');
    asMemoryBatch(batch).note(this.rangeId, 16);
    return this.log.compact(index);
  }
  release(): void {
    // The log is the only copy on this engine: it stays, but without spare array capacity.
    this.log.ents = this.log.ents.slice();
  }
}

/** A point-in-time copy of a span. */
class CopiedSpanReader implements SpanReader {
  private at = 0;
  constructor(private readonly rows: UserEntry[]) {}
  next(limit: number): Promise<UserEntry[]> {
    assert(Number.isInteger(limit) && limit > 0, 'a positive limit');
    const out = this.rows.slice(this.at, this.at + limit);
    this.at += out.length;
    return Promise.resolve(out);
  }
  close(): void {
    this.at = this.rows.length;
  }
}

/** The in-memory `StorageEngine`. */
export class MemoryEngine implements StorageEngine {
  private readonly replicas = new Map<number, MemoryReplicaStorage>();
  private readonly user = new SortedMap<Uint8Array>();
  private readonly counters: EngineStats = {
    batchesCommitted: 0, writesSynced: 0, groupsCommitted: 0, bytesCommitted: 0,
    replicasRefused: 0, entryCacheBytes: 0,
  };
  private openBatch: MemoryBatch | null = null;
  private closed = false;

  /** Lists (and with `onReplica` summarizes) its replicas; may be called again. */
  open(options: EngineOpenOptions = {}): Promise<readonly number[]> {
    const ids = [...this.replicas.keys()].sort((a, b) => a - b);
    const every = options.progressEvery ?? 100_000;
    assert(Number.isInteger(every) && every > 0, 'a positive progress interval');
    const summary: ReplicaSummary = {
      rangeId: 0, term: 0, vote: 0, commit: 0, lastIndex: 0, appliedIndex: 0,
      confState: emptyConfState(), error: null,
    };
    for (let i = 0; i < ids.length; i++) {
      const storage = this.replicas.get(ids[i]!)!;
      if (options.onReplica !== undefined) {
        const hs = storage.hardState();
        const applied = storage.appliedState();
        summary.rangeId = ids[i]!;
        summary.term = hs.term;
        summary.vote = hs.vote;
        summary.commit = hs.commit;
        summary.lastIndex = storage.lastIndex();
        summary.appliedIndex = applied.index;
        summary.confState = applied.confState;
        options.onReplica(summary);
      }
      if ((i + 1) % every === 0) options.onProgress?.(i + 1);
    }
    return Promise.resolve(ids);
  }
  createReplica(rangeId: number): ReplicaStorage {
    assert(!this.closed, 'engine open');
    assert(Number.isSafeInteger(rangeId) && rangeId > 0, 'a range id');
    assert(!this.replicas.has(rangeId), 'one storage per replica');
    const storage = new MemoryReplicaStorage(rangeId);
    this.replicas.set(rangeId, storage);
    return storage;
  }
  loadReplica(rangeId: number): ReplicaStorage {
    const storage = this.replicas.get(rangeId);
    assert(storage !== undefined, 'load a replica the engine holds');
    return storage;
  }
  destroyReplica(storage: ReplicaStorage, batch: EngineBatch): void {
    assert(this.replicas.get(storage.rangeId) === storage, 'destroy a live replica');
    asMemoryBatch(batch).note(storage.rangeId, 8);
    (storage as MemoryReplicaStorage).destroyed = true;
    this.replicas.delete(storage.rangeId);
  }
  batch(): EngineBatch {
    assert(!this.closed, 'engine open');
    assert(this.openBatch === null, 'one batch open at a time: commit it first');
    this.openBatch = new MemoryBatch(this);
    return this.openBatch;
  }
  commit(batch: EngineBatch, done: (error: Error | null) => void): void {
    assert(!this.closed, 'engine open');
    const b = asMemoryBatch(batch);
    assert(b === this.openBatch, 'commit the open batch');
    b.open = false;
    this.openBatch = null;
    for (const replica of b.appliedBy) replica.appliedPending = false;
    this.counters.batchesCommitted++;
    this.counters.writesSynced++;
    this.counters.groupsCommitted += b.groupCount;
    this.counters.bytesCommitted += b.byteCount;
    done(null);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  getUser(key: Uint8Array): Uint8Array | undefined {
    checkUserKey(key);
    return this.user.get(latin1Of(key));
  }
  putUser(key: Uint8Array, value: Uint8Array, batch: EngineBatch): void {
    checkUserKey(key);
    checkUserValue(value);
    asMemoryBatch(batch).byteCount += key.length + value.length;
    this.user.set(latin1Of(key), value);
  }
  deleteUser(key: Uint8Array, batch: EngineBatch): void {
    checkUserKey(key);
    asMemoryBatch(batch).byteCount += key.length;
    this.user.delete(latin1Of(key));
  }
  scanUser(start: Uint8Array, end: Uint8Array | null, limit: number): Promise<UserEntry[]> {
    assert(Number.isInteger(limit) && limit > 0, 'a positive limit');
    return this.readSpan(start, end).next(limit);
  }
  readSpan(start: Uint8Array, end: Uint8Array | null): SpanReader {
    checkUserKey(start, 'span start');
    if (end !== null) checkUserKey(end, 'span end');
    const rows = this.user.range(latin1Of(start), end === null ? null : latin1Of(end), Infinity);
    return new CopiedSpanReader(rows.map(([k, value]) => ({ key: bytesOfLatin1(k), value })));
  }
  stats(): EngineStats {
    return { ...this.counters };
  }
}
