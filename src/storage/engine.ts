/**
 * The storage seam of a store: one `StorageEngine` per store, one `ReplicaStorage` per
 * replica on it. The store never constructs a storage nor reaches into one; it goes through
 * these two interfaces only, so the in-memory engine and the LevelDB engine are
 * interchangeable (and pass one contract suite, test/storage/contract.ts).
 *
 * VISIBILITY AND DURABILITY. A write is staged into an `EngineBatch` and is visible to the
 * replica's reads (Raft's `Storage` methods, `hardState()`, `appliedState()`) as soon as it
 * is staged: the Raft core reads its own log back before the batch is synced, exactly as it
 * does with `MemoryStorage` today. It is durable only when `commit` reports success. The
 * store therefore holds every message that promises durability (a vote, an append response,
 * a leader counting its own entries) and every apply until the commit of the batch that
 * staged what they depend on has completed.
 *
 * ORDER. Batches commit in the order `commit` is called; a later batch's completion implies
 * every earlier one's. A failed commit fails every batch after it too (the engine is then
 * broken: its in-memory view is ahead of the disk and must not be trusted further).
 * At most one batch is open (staged into, not yet committed) at a time.
 *
 * SNAPSHOTS. `snapshot()` serves the last snapshot applied with `applySnapshot` while the log
 * still holds every entry after it. Once the log is compacted past it, it serves the applied
 * point instead: index and ConfState of `appliedState()`, the term of that index, and the
 * descriptor as its data (a range's user data travels separately, read with `readSpan`).
 * While that applied state is staged but not yet durable it answers
 * `ErrSnapshotTemporarilyUnavailable` (Raft asks again later).
 *
 * USER DATA. The ranges layer keeps its key-value data in the engine, under user keys that
 * are stored once per store across all ranges: a range owns the span `[start, end)` its
 * descriptor names, so a split or merge moves no data. `putUser` / `deleteUser` stage into
 * the same batch as the Raft writes (so applying entries writes the data, the applied index
 * and the ConfState atomically, see `setApplied`); `getUser`, `scanUser` and `readSpan` see
 * staged writes at once. `readSpan` fixes its point in time when called: taken in the same
 * synchronous turn as `appliedState()`, the pair is a consistent snapshot of a range.
 * Keys are 1 to `USER_KEY_BYTES_MAX` (4096) bytes, in byte order; keys and values handed to
 * the engine must not be mutated afterwards.
 */
import type {
  ConfState,
  Entry,
  HardState,
  Snapshot,
  Storage,
  StorageError,
} from '../raft/index.js';
import type { ReplicaCorruptError } from './errors.js';

/**
 * What a replica has applied, persisted atomically with the state-machine writes of the same
 * entries (etcd's consistent index): after a crash the store replays from `index` exactly.
 */
export interface AppliedState {
  /** The index of the last applied entry. */
  index: number;
  /** The configuration as of `index` (the last applied membership change). */
  confState: ConfState;
  /**
   * The application's range descriptor as of `index`, opaque to the storage layer (the
   * ranges layer encodes it); empty when the application keeps none.
   */
  descriptor: Uint8Array;
}

/** A user key and its value. */
export interface UserEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * A point-in-time read of the user keys in one span: later writes are not seen. Close it
 * when done (it pins a LevelDB snapshot).
 */
export interface SpanReader {
  /** The next up to `limit` entries in key order; an empty array once the span is done. */
  next(limit: number): Promise<UserEntry[]>;
  /** Releases the reader. */
  close(): void;
}

/** Counters of an engine (monotonic unless noted). */
export interface EngineStats {
  /** Batches whose commit completed successfully. */
  batchesCommitted: number;
  /** Synced writes issued to the disk (several batches may share one). */
  writesSynced: number;
  /** Groups summed over committed batches (divide by `writesSynced`: groups per sync). */
  groupsCommitted: number;
  /** Bytes of keys and values in committed batches. */
  bytesCommitted: number;
  /** Replicas refused for bad records (load or read). */
  replicasRefused: number;
  /** Bytes the shared entry cache holds now (a gauge). */
  entryCacheBytes: number;
}

/** An open set of staged writes, committed as one unit with one sync. */
export interface EngineBatch {
  /** Groups (replicas) that staged at least one write into this batch. */
  readonly groupCount: number;
  /** Bytes staged so far (keys and values as the engine will write them). */
  readonly byteCount: number;
}

/**
 * Raft's `Storage` for one replica plus the writers the store needs. Every writer stages into
 * a batch of the same engine and is visible to reads at once (see the file header).
 */
export interface ReplicaStorage extends Storage {
  /** The range this storage belongs to. */
  readonly rangeId: number;
  /** The last HardState staged (all zero when none was). */
  hardState(): HardState;
  /** The last applied state staged. */
  appliedState(): AppliedState;
  /**
   * Stages entries, replacing any existing entries from the first new index on; entries at
   * or below the compaction point are skipped. A gap after the last index is a panic.
   */
  append(entries: readonly Entry[], batch: EngineBatch): void;
  /** Stages a HardState. */
  setHardState(hardState: HardState, batch: EngineBatch): void;
  /**
   * Stages a snapshot: the replica's log is replaced by the snapshot's index and term, and its
   * applied state becomes the snapshot's (index, ConfState; the descriptor is given by the
   * caller, who decoded it from the snapshot's data). `ErrSnapOutOfDate` if the storage
   * already holds a newer or equal one; nothing is staged then.
   */
  applySnapshot(snapshot: Snapshot, descriptor: Uint8Array, batch: EngineBatch):
    StorageError | null;
  /** Stages the applied state (with the state machine's writes for the same entries). */
  setApplied(applied: AppliedState, batch: EngineBatch): void;
  /**
   * Stages the removal of every entry before `index`, keeping its term for matching.
   * `ErrCompacted` if already compacted; `index` must not exceed the applied index.
   */
  compact(index: number, batch: EngineBatch): StorageError | null;
  /**
   * The replica went dormant: drop what it holds in memory beyond a fixed few fields. Reads
   * stay correct afterwards (they may go to the engine).
   */
  release(): void;
}

/**
 * One replica as the open scan found it, without loading it (no storage object, no log
 * read): what a store needs to seat it dormant. The engine reuses one object for every
 * replica of a scan; copy what you keep.
 */
export interface ReplicaSummary {
  rangeId: number;
  /** The persisted HardState (all zero when none was written). */
  term: number;
  vote: number;
  commit: number;
  /** The last index of its log (the truncated index when the log is empty). */
  lastIndex: number;
  /** The applied index (0: nothing applied, the replica is uninitialized). */
  appliedIndex: number;
  /** The configuration as of `appliedIndex` (shared with the engine: do not mutate). */
  confState: ConfState;
  /**
   * Set when the replica's records are corrupt or inconsistent (the other fields are then
   * meaningless): it is refused, counted in `replicasRefused` and logged by the engine.
   */
  error: ReplicaCorruptError | null;
}

/** Options of `StorageEngine.open`. */
export interface EngineOpenOptions {
  /**
   * Called for every replica the engine holds, in range id order, as the one scan of the
   * metadata finds it (see `ReplicaSummary`). Without it the scan reads keys only.
   */
  onReplica?: (summary: ReplicaSummary) => void;
  /** Called every `progressEvery` replicas listed, with the count so far. */
  onProgress?: (replicasListed: number) => void;
  /** Replicas between two `onProgress` calls. @default 100000 */
  progressEvery?: number;
}

/** One engine per store: every replica's Raft state (and, for ranges, its user data). */
export interface StorageEngine {
  /**
   * Opens the engine and returns the range ids of the replicas it holds, reading each
   * replica's metadata once, in one scan, when `options.onReplica` asks for it. The memory
   * engine may be opened again (by the next store on it); a durable engine once.
   */
  open(options?: EngineOpenOptions): Promise<readonly number[]>;
  /** A new, empty replica storage for `rangeId` (its first writes are staged later). */
  createReplica(rangeId: number): ReplicaStorage;
  /** The storage of a replica `open` listed, read back from the engine. */
  loadReplica(rangeId: number): ReplicaStorage;
  /** Stages the deletion of everything the replica holds; its storage is unusable after. */
  destroyReplica(storage: ReplicaStorage, batch: EngineBatch): void;
  /** A new batch for the writes of one scheduler batch. */
  batch(): EngineBatch;
  /**
   * Writes `batch` with one sync and calls `done` when it is durable (or with the error).
   * The memory engine may call `done` synchronously; the LevelDB engine never does.
   */
  commit(batch: EngineBatch, done: (error: Error | null) => void): void;
  /** Waits for every commit in flight, then closes. */
  close(): Promise<void>;
  /** The value of user key `key` (staged writes included), or undefined. */
  getUser(key: Uint8Array): Uint8Array | undefined;
  /** Stages `key = value`. `StorageArgumentError` for an empty or oversized key. */
  putUser(key: Uint8Array, value: Uint8Array, batch: EngineBatch): void;
  /** Stages the deletion of `key` (a no-op if absent). */
  deleteUser(key: Uint8Array, batch: EngineBatch): void;
  /**
   * Up to `limit` entries with `start <= key < end` in key order (`end` null: no upper
   * bound), as of the call: staged writes included, later ones not.
   */
  scanUser(start: Uint8Array, end: Uint8Array | null, limit: number): Promise<UserEntry[]>;
  /** A point-in-time reader of `[start, end)` (see the file header). */
  readSpan(start: Uint8Array, end: Uint8Array | null): SpanReader;
  /** The engine's counters. */
  stats(): EngineStats;
}
