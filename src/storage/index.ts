/**
 * The storage layer: one `StorageEngine` per store, holding every replica's Raft state (log
 * entries, HardState, truncated state, applied index with ConfState and descriptor) and, for
 * ranges, the user data; a `ReplicaStorage` per replica is Raft's `Storage` plus the writers
 * the store needs.
 *
 * CONTRACT (engine.ts has the details; test/storage/contract.ts checks it on every engine)
 *
 * 1. Staged writes are visible to reads at once and durable when their batch's `commit`
 *    completes; batches complete in order; one batch is open at a time.
 * 2. One batch per scheduler batch, one sync per batch at most (group commit: the durable
 *    engines let one sync cover every batch committed while the previous sync ran).
 * 3. The applied state is written in the batch of the state-machine writes it covers.
 * 4. A failed write fails its batch and every later one with `StorageWriteError`.
 * 5. Nothing outside this folder constructs a storage or reads its internals.
 * 6. `open({ onReplica })` summarizes every replica (HardState, log bounds, applied index,
 *    ConfState) without building its storage: a durable engine reads the manifest its last
 *    clean close wrote (consumed by that open), or else scans the metadata once
 *    (_open_scan.ts, _manifest.ts); `loadReplica` builds and checks a storage later.
 *    `release()` leaves a storage holding no log entry and no snapshot data.
 * 7. Range-local application keys (`getLocal`/`putLocal`/`deleteLocal`/`scanLocal`/
 *    `clearLocal`) are synchronous, per range, staged in the same batch, and deleted by
 *    `destroyReplica`.
 *
 * ENGINES
 * - `MemoryEngine`: nothing on disk, commits complete synchronously.
 * - `LevelEngine`: LevelDB (classic-level), one directory per store, checked identity.
 * - `CrashModelEngine`: the LevelDB engine's code on a simulated disk whose writes complete
 *   when the test says and whose `crash()` keeps only completed writes.
 */
export type {
  AppliedState,
  EngineBatch,
  EngineOpenOptions,
  EngineStats,
  ReplicaSummary,
  ReplicaStorage,
  SpanReader,
  StorageEngine,
  UserEntry,
} from './engine.js';
export { MemoryEngine } from './memory_engine.js';
export { DurableEngine, type DurableEngineOptions } from './durable_engine.js';
export { LevelEngine, type LevelEngineOptions } from './level_engine.js';
export { CrashModelEngine } from './crash_model_engine.js';
export {
  ReplicaCorruptError,
  StorageArgumentError,
  StorageIdentityError,
  StorageVersionError,
  StorageWriteError,
} from './errors.js';
export { USER_KEY_BYTES_MAX } from './_keys.js';
export { ENGINE_FORMAT_VERSION } from './_records.js';
/**
 * The key of a durable engine's manifest header: deleting it (the engine closed) makes the
 * next open scan, as after a crash. For tests and benches.
 */
export { MANIFEST_HEADER_KEY } from './_manifest.js';
export { USER_VALUE_BYTES_MAX } from './_user_data.js';
export { LOCAL_VALUE_BYTES_MAX } from './_local_keys.js';
