/**
 * The in-memory engine: the `StorageEngine` contract with nothing on disk, for tests,
 * benchmarks and the simulation. A commit completes synchronously; nothing survives the
 * process.
 */
import { assert } from '../util/index.js';
import {
  EMPTY_BYTES,
  MemoryStorage,
  type ConfState,
  type Entry,
  type HardState,
  type InitialState,
  type Snapshot,
  type StorageError,
} from '../raft/index.js';
import type { AppliedState, EngineBatch, ReplicaStorage, StorageEngine } from './engine.js';

/** A batch of the memory engine: it only counts what was staged. */
class MemoryBatch implements EngineBatch {
  groupCount = 0;
  byteCount = 0;
  /** The last range that staged a write, to count groups without a set. */
  private lastRangeId = 0;

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
  return batch;
}

/**
 * A replica's storage on the memory engine: Raft's `MemoryStorage` plus its applied state.
 * The applied state is kept as three fields, not an `AppliedState` object, and built on
 * read: a store holds one of these per replica, asleep or not (density).
 */
class MemoryReplicaStorage implements ReplicaStorage {
  readonly rangeId: number;
  private readonly log = new MemoryStorage();
  private appliedIndex = 0;
  private appliedConfState: ConfState;
  private appliedDescriptor: Uint8Array = EMPTY_BYTES;

  constructor(rangeId: number) {
    this.rangeId = rangeId;
    this.appliedConfState = this.log.snap.metadata.confState;
  }

  initialState(): InitialState {
    return this.log.initialState();
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
    return this.log.snapshot();
  }
  hardState(): HardState {
    return this.log.hardState;
  }
  appliedState(): AppliedState {
    return {
      index: this.appliedIndex,
      confState: this.appliedConfState,
      descriptor: this.appliedDescriptor,
    };
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
    const error = this.log.applySnapshot(snapshot);
    if (error !== null) return error;
    asMemoryBatch(batch).note(this.rangeId, snapshot.data.length + descriptor.length + 32);
    const md = snapshot.metadata;
    this.setAppliedFields(md.index, md.confState, descriptor);
    return null;
  }
  setApplied(applied: AppliedState, batch: EngineBatch): void {
    assert(applied.index >= this.appliedIndex, 'the applied index never moves back');
    asMemoryBatch(batch).note(this.rangeId, applied.descriptor.length + 16);
    this.setAppliedFields(applied.index, applied.confState, applied.descriptor);
  }
  compact(index: number, batch: EngineBatch): StorageError | null {
    assert(index <= this.appliedIndex, 'compact only what was applied');
    asMemoryBatch(batch).note(this.rangeId, 16);
    return this.log.compact(index);
  }
  private setAppliedFields(index: number, confState: ConfState, descriptor: Uint8Array): void {
    assert(Number.isSafeInteger(index) && index >= 0, 'an applied index');
    this.appliedIndex = index;
    this.appliedConfState = confState;
    this.appliedDescriptor = descriptor;
  }

  release(): void {
    // The log is the only copy on this engine: it stays, but without spare array capacity.
    this.log.ents = this.log.ents.slice();
  }
}

/** The in-memory `StorageEngine`. */
export class MemoryEngine implements StorageEngine {
  private readonly replicas = new Map<number, MemoryReplicaStorage>();
  private closed = false;

  open(): Promise<readonly number[]> {
    return Promise.resolve([...this.replicas.keys()]);
  }
  createReplica(rangeId: number): ReplicaStorage {
    assert(!this.closed, 'engine open');
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
    this.replicas.delete(storage.rangeId);
  }
  batch(): EngineBatch {
    return new MemoryBatch();
  }
  commit(batch: EngineBatch, done: (error: Error | null) => void): void {
    assert(!this.closed, 'engine open');
    asMemoryBatch(batch);
    done(null);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

