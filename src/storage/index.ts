/**
 * The storage layer: one `StorageEngine` per store, holding every replica's Raft state (log
 * entries, HardState, truncated state, applied index with ConfState and descriptor) and, for
 * ranges, the user data; a `ReplicaStorage` per replica is Raft's `Storage` plus the writers
 * the store needs.
 *
 * CONTRACT (engine.ts has the details)
 *
 * 1. Staged writes are visible to reads at once and durable when their batch's `commit`
 *    completes; batches complete in order.
 * 2. One batch per scheduler batch, one sync per batch (group commit).
 * 3. The applied state is written in the batch of the state-machine writes it covers.
 * 4. Nothing outside this folder constructs a storage or reads its internals.
 */
export type { AppliedState, EngineBatch, ReplicaStorage, StorageEngine } from './engine.js';
export { MemoryEngine } from './memory_engine.js';
