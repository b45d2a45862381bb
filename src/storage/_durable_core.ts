/**
 * The shared state of a durable engine and its group-commit pipeline.
 *
 * PIPELINE. Every `EngineBatch` stages its puts and deletes straight into the backend write
 * being assembled (`assembling`). `commit` hands the batch to that write; if no write is in
 * flight the write is issued at once, otherwise it keeps absorbing the batches committed
 * while the disk syncs, and is issued the moment the previous write completes. So at most
 * one write is in flight, writes complete in issue order, and every batch completes in
 * commit order: a later batch's success implies every earlier one's. Under load this is
 * group commit: one sync covers every batch that arrived while the previous sync ran.
 *
 * Invariant: a logical batch never spans two backend writes (at most one batch is open, it
 * stages only into `assembling`, and `assembling` is issued only while no batch is open).
 *
 * FAILURE. A failed write fails its batches and breaks the engine: every batch committed
 * later fails too (`StorageWriteError`), since the in-memory view is ahead of the disk.
 *
 * STAGED DATA. Until a batch completes, what it staged exists only in memory: log entries
 * stay pinned in their replica's cache run, the HardState and applied state are fields of
 * the replica, user writes sit in `overlay`. Completion releases them (by batch sequence
 * number, so a key or entry restaged by a later batch stays).
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import type { Entry } from '../raft/index.js';
import type { Backend, BackendWrite } from './_backend.js';
import { EntryCache } from './_entry_cache.js';
import { KeyBuilder } from './_keys.js';
import { RecordCodec } from './_records.js';
import type { EngineBatch, EngineStats } from './engine.js';
import { StorageWriteError } from './errors.js';

/** What the pipeline needs of a replica that staged into a batch. */
export interface StagingReplica {
  readonly rangeId: number;
  /** The sequence number of the last batch this replica staged into (0: none). */
  stagedSeq: number;
  /** Batch `seq` completed: release what was staged up to it. */
  durableUpTo(seq: number): void;
  /** The batch is being committed: stage the records written once per batch. */
  seal(batch: DurableBatch): void;
}

/** A staged user write. */
export interface OverlayEntry {
  /** The value, or null for a deletion. */
  value: Uint8Array | null;
  /** The batch that staged it. */
  seq: number;
}

/** A batch of a durable engine. */
export class DurableBatch implements EngineBatch {
  groupCount = 0;
  byteCount = 0;
  /** Replicas that staged into this batch (each once). */
  readonly replicas: StagingReplica[] = [];
  /** User keys (latin1) this batch staged. */
  readonly userKeys: string[] = [];
  open = true;

  constructor(readonly seq: number, readonly core: EngineCore) {}
}

type Waiter = { batch: DurableBatch; done: (error: Error | null) => void };

/** The engine-wide state shared by the engine and its replicas. */
export class EngineCore {
  readonly keys = new KeyBuilder();
  readonly codec = new RecordCodec();
  readonly cache: EntryCache;
  readonly overlay = new Map<string, OverlayEntry>();
  /** Scratch of a replica's append: the entries of the log block being encoded. */
  readonly blockRun: Entry[] = [];
  readonly counters: EngineStats = {
    batchesCommitted: 0, writesSynced: 0, groupsCommitted: 0, bytesCommitted: 0,
    replicasRefused: 0, entryCacheBytes: 0,
  };
  private assembling: BackendWrite | null = null;
  private waiting: Waiter[] = [];
  private inFlight = false;
  private openBatch: DurableBatch | null = null;
  private seq = 0;
  private broken: StorageWriteError | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly backend: Backend, cacheBytesMax: number, readonly logger: Logger) {
    this.cache = new EntryCache(cacheBytesMax);
  }

  /** A new batch; at most one is open at a time. */
  batch(): DurableBatch {
    assert(this.openBatch === null, 'one batch open at a time: commit it first');
    const batch = new DurableBatch(++this.seq, this);
    this.openBatch = batch;
    return batch;
  }

  /** `batch` as this engine's open batch. */
  asOpen(batch: EngineBatch): DurableBatch {
    assert(batch instanceof DurableBatch && batch.core === this, 'a batch of this engine');
    assert(batch.open && batch === this.openBatch, 'stage only into the open batch');
    return batch;
  }

  /** Notes that `replica` stages into `batch` (counts the group once). */
  touch(batch: DurableBatch, replica: StagingReplica): void {
    if (replica.stagedSeq === batch.seq) return;
    replica.stagedSeq = batch.seq;
    batch.replicas.push(replica);
    batch.groupCount++;
  }

  /** Stages a put (`key` and `value` may be scratch buffers: the backend copies). */
  put(batch: DurableBatch, key: Uint8Array, value: Uint8Array): void {
    this.assembling ??= this.backend.newWrite();
    this.assembling.put(key, value);
    batch.byteCount += key.length + value.length;
  }

  /** Stages a delete. */
  del(batch: DurableBatch, key: Uint8Array): void {
    this.assembling ??= this.backend.newWrite();
    this.assembling.del(key);
    batch.byteCount += key.length;
  }

  /** Commits `batch` (see the file header); `done` is never called synchronously. */
  commit(batch: EngineBatch, done: (error: Error | null) => void): void {
    const b = this.asOpen(batch);
    for (const replica of b.replicas) replica.seal(b);
    b.open = false;
    this.openBatch = null;
    if (this.broken !== null) {
      const cause = this.broken;
      queueMicrotask(() => done(new StorageWriteError(
        'the engine is broken by an earlier failed write; nothing was written', { cause })));
      return;
    }
    this.waiting.push({ batch: b, done });
    if (!this.inFlight) this.issue();
  }

  private issue(): void {
    assert(!this.inFlight && this.waiting.length > 0, 'issue a write only when idle');
    assert(this.openBatch === null, 'never issue a write an open batch has staged into');
    const write = this.assembling;
    const waiters = this.waiting;
    this.assembling = null;
    this.waiting = [];
    this.inFlight = true;
    if (write === null || write.opCount === 0) {
      // Nothing to make durable: complete in order without a sync.
      queueMicrotask(() => this.written(waiters, null, false));
      return;
    }
    this.backend.write(write, (error) => this.written(waiters, error, true));
  }

  private written(waiters: Waiter[], error: Error | null, synced: boolean): void {
    assert(this.inFlight, 'a completion matches the write in flight');
    this.inFlight = false;
    if (error !== null) {
      this.fail(waiters, error);
      return;
    }
    if (synced) this.counters.writesSynced++;
    for (const { batch, done } of waiters) {
      this.complete(batch);
      done(null);
    }
    this.cache.evict();
    // A `done` above may have committed again, and so issued the next write already. An open
    // batch has staged into `assembling`: then the write waits for its commit.
    if (this.inFlight) return;
    if (this.waiting.length > 0 && this.openBatch === null) this.issue();
    else if (this.waiting.length === 0) this.notifyIdle();
  }

  private complete(batch: DurableBatch): void {
    for (const replica of batch.replicas) replica.durableUpTo(batch.seq);
    for (const key of batch.userKeys) {
      const staged = this.overlay.get(key);
      if (staged !== undefined && staged.seq <= batch.seq) this.overlay.delete(key);
    }
    this.counters.batchesCommitted++;
    this.counters.groupsCommitted += batch.groupCount;
    this.counters.bytesCommitted += batch.byteCount;
  }

  private fail(waiters: Waiter[], error: Error): void {
    const broken = new StorageWriteError(
      `a write of ${waiters.length} batches failed: ${error.message}`, { cause: error });
    this.broken = broken;
    this.logger.error({ err: error, batches: waiters.length }, 'storage write failed');
    const all = waiters.concat(this.waiting);
    this.waiting = [];
    this.assembling = null;
    for (const { done } of all) done(broken);
    this.notifyIdle();
  }

  /** Whether a write failed (the engine refuses every later commit). */
  get isBroken(): boolean {
    return this.broken !== null;
  }

  /** Resolves once no write is in flight and none is waiting. */
  idle(): Promise<void> {
    if (!this.inFlight && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Whether a write is in flight or a committed batch waits for one. */
  get writing(): boolean {
    return this.inFlight || this.waiting.length > 0;
  }

  /** Whether a batch is open. */
  get hasOpenBatch(): boolean {
    return this.openBatch !== null;
  }
}
