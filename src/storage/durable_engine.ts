/**
 * The durable `StorageEngine`: one keyspace per store (layout in _keys.ts, records in
 * _records.ts) on a `Backend`, LevelDB for real (`LevelEngine`) or a simulated disk
 * (`CrashModelEngine`). Group commit as _durable_core.ts describes; replicas as
 * _durable_replica.ts describes; user data as _user_data.ts describes.
 *
 * OPEN. The identity record (format version, store id, cluster id) is checked before
 * anything else; a directory of another store or cluster, one without an identity that holds
 * data, or an unknown format is refused with a typed error and nothing is written. A new,
 * empty directory gets the identity record (synced) first.
 *
 * LISTING. `open` summarizes every replica for the store (`onReplica`) from the manifest the
 * last clean `close` wrote, if it is there and checks out, deleting it before anything else
 * is written; otherwise from one scan of the metadata range (_manifest.ts, _open_scan.ts).
 * The summaries are kept as rows (64 bytes a replica) so that `close` can write the next
 * manifest: rows of replicas never loaded since, the storage's state of loaded ones.
 *
 * LOAD. `loadReplica` reads the replica's two metadata records and its snapshot record (at log
 * index 0, outside the open scan) and walks its log once, a block at a time,
 * checking every checksum, that the entries from the first index to the last are all
 * there with terms that never decrease, and that the HardState's commit and the applied
 * index do not exceed the last index. Any failure refuses that replica with a
 * `ReplicaCorruptError` naming the range and the key, and counts it; other replicas are
 * unaffected.
 */
import pino, { type Logger } from 'pino';
import { assert } from '../util/index.js';
import { emptySnapshot } from '../raft/index.js';
import type { Backend } from './_backend.js';
import { EngineCore } from './_durable_core.js';
import { DurableReplica, emptyReplicaState, type ReplicaState } from './_durable_replica.js';
import {
  IDENTITY_KEY, META_END, META_START, MetaKind, blockLastOf, keyHex, rangeIdOfKey,
} from './_keys.js';
import {
  ENGINE_FORMAT_VERSION, decodeApplied, decodeIdentity, decodeLogBlock, decodeRaftState,
  decodeSnapshot,
} from './_records.js';
import { getUser, readSpan, stageUser } from './_user_data.js';
import { clearLocal, loadLocal, stageLocal } from './_durable_local.js';
import {
  LocalKeys, checkLocalKey, checkLocalScan, checkLocalValue, checkRangeId,
} from './_local_keys.js';
import type {
  EngineBatch, EngineOpenOptions, EngineStats, ReplicaStorage, ReplicaSummary, SpanReader,
  StorageEngine, UserEntry,
} from './engine.js';
import { SummaryScan } from './_open_scan.js';
import { MANIFEST_HEADER_KEY, ReplicaRows, readManifest } from './_manifest.js';
import { ReplicaCorruptError, StorageIdentityError, StorageVersionError } from './errors.js';

/** `readReplica`'s name for the snapshot record (not a metadata kind since format 2). */
const SNAPSHOT = -1;
/** Metadata records per batch of the open scan. */
const SCAN_BATCH_ROWS = 4096;

/** Options of a durable engine. */
export interface DurableEngineOptions {
  /** The store (node) this directory belongs to; checked at open. */
  storeId: number;
  /** The cluster this directory belongs to; checked at open. */
  clusterId: string;
  /** The budget of the shared entry cache, in bytes. @default 64 MiB */
  entryCacheBytesMax?: number;
  /** Structured logger. @default a silent pino logger */
  logger?: Logger;
  /** Called every `progressEvery` replicas listed during `open` (long opens). */
  onOpenProgress?: (replicasListed: number) => void;
  /** How many replicas between two progress calls. @default 100000 */
  progressEvery?: number;
}

/** The durable engine over a backend. */
export class DurableEngine implements StorageEngine {
  /** @internal shared with the replicas */
  protected readonly core: EngineCore;
  private readonly replicas = new Map<number, DurableReplica>();
  private readonly local = new LocalKeys();
  /** Ranges whose range-local records were damaged at open (refused by `loadReplica`). */
  private localRefused = new Map<number, ReplicaCorruptError>();
  private readonly storeId: number;
  private readonly clusterId: string;
  private readonly onOpenProgress: ((n: number) => void) | null;
  private readonly progressEvery: number;
  private opened = false;
  private closed = false;
  /** Every replica's summary as of the open (see _manifest.ts); null before the open. */
  private rows: ReplicaRows | null = null;
  /** Ranges destroyed since the open (their rows are not written back). */
  private readonly destroyed = new Set<number>();
  private manifestEpoch = 0;
  /** Replicas the open scan refused (counted there). */
  private readonly refusedAtOpen = new Set<number>();

  constructor(backend: Backend, options: DurableEngineOptions) {
    assert(Number.isSafeInteger(options.storeId) && options.storeId > 0, 'a store id');
    assert(typeof options.clusterId === 'string', 'a cluster id');
    const cacheBytes = options.entryCacheBytesMax ?? 64 * 1024 * 1024;
    this.core = new EngineCore(backend, cacheBytes, options.logger ?? pino({ level: 'silent' }));
    this.storeId = options.storeId;
    this.clusterId = options.clusterId;
    this.onOpenProgress = options.onOpenProgress ?? null;
    this.progressEvery = options.progressEvery ?? 100_000;
  }

  async open(options: EngineOpenOptions = {}): Promise<readonly number[]> {
    assert(!this.opened, 'open once');
    await this.core.backend.open();
    try {
      await this.checkIdentity();
    } catch (error) {
      await this.core.backend.close();
      throw error;
    }
    this.opened = true;
    this.localRefused = await loadLocal(this.core, this.local);
    const manifest = readManifest(this.core.backend);
    if (manifest === null) return this.listReplicas(options);
    // Consumed before anything else is written: from now on only a scan is trustworthy,
    // until the next clean close writes a new manifest (see _manifest.ts).
    await this.writeSynced([[MANIFEST_HEADER_KEY, null]]);
    this.manifestEpoch = manifest.epoch;
    return this.listFromManifest(manifest.rows, options);
  }

  /** Lists (and summarizes) the replicas a clean close recorded (see _manifest.ts). */
  private listFromManifest(rows: ReplicaRows, options: EngineOpenOptions): number[] {
    const every = options.progressEvery ?? this.progressEvery;
    assert(Number.isInteger(every) && every > 0, 'a positive progress interval');
    const onProgress = options.onProgress ?? this.onOpenProgress;
    const summary: ReplicaSummary = { rangeId: 0, term: 0, vote: 0, commit: 0, lastIndex: 0,
      appliedIndex: 0, confState: emptySnapshot().metadata.confState, error: null };
    const ids: number[] = [];
    for (let i = 0; i < rows.count; i++) {
      rows.read(i, summary);
      ids.push(summary.rangeId);
      if (summary.error !== null) {
        this.refusedAtOpen.add(summary.rangeId);
        this.core.counters.replicasRefused++;
        this.core.logger.error({ rangeId: summary.rangeId, err: summary.error },
          'replica refused at open');
      }
      options.onReplica?.(summary);
      if (onProgress !== null && ids.length % every === 0) onProgress(ids.length);
    }
    this.rows = rows;
    assert(ids.length === rows.count, 'every row listed');
    return ids;
  }

  /** Writes `ops` (null value: delete) with a sync, outside the batch pipeline. */
  private writeSynced(ops: [Uint8Array, Uint8Array | null][]): Promise<void> {
    const write = this.core.backend.newWrite();
    for (const [key, value] of ops) {
      if (value === null) write.del(key);
      else write.put(key, value);
    }
    return new Promise((resolve, reject) => {
      this.core.backend.write(write, (error) => (error === null ? resolve() : reject(error)));
    });
  }

  /**
   * Records every replica's summary as a manifest for the next open (see _manifest.ts):
   * the rows of the open for replicas never loaded since, their storage's state otherwise.
   */
  private async writeManifest(): Promise<void> {
    const old = this.rows ?? new ReplicaRows();
    const loaded = [...this.replicas.keys()].sort((a, b) => a - b);
    const rows = new ReplicaRows();
    const summary: ReplicaSummary = { rangeId: 0, term: 0, vote: 0, commit: 0, lastIndex: 0,
      appliedIndex: 0, confState: emptySnapshot().metadata.confState, error: null };
    let i = 0;
    let k = 0;
    while (i < old.count || k < loaded.length) {
      const fromOld = i < old.count ? old.rangeIdAt(i) : Infinity;
      const fromLoaded = k < loaded.length ? loaded[k]! : Infinity;
      if (fromLoaded <= fromOld) {
        this.summarize(this.replicas.get(fromLoaded)!, summary);
        k++;
        if (fromOld === fromLoaded) i++;
      } else {
        old.read(i++, summary);
        if (this.destroyed.has(summary.rangeId)) continue;
      }
      rows.push(summary);
    }
    const records = rows.encode(this.manifestEpoch + 1);
    if (records === null) return;
    await this.writeSynced(records);
  }

  private summarize(replica: DurableReplica, out: ReplicaSummary): void {
    const hs = replica.hardState();
    const applied = replica.appliedState();
    out.rangeId = replica.rangeId;
    out.term = hs.term;
    out.vote = hs.vote;
    out.commit = hs.commit;
    out.lastIndex = replica.lastIndex();
    out.appliedIndex = applied.index;
    out.confState = applied.confState;
    out.error = null;
  }

  private async checkIdentity(): Promise<void> {
    const stored = this.core.backend.getSync(IDENTITY_KEY);
    if (stored === undefined) {
      const it = this.core.backend.iterate(META_START, Uint8Array.of(0xff), null);
      const any = await it.nextv(1);
      await it.close();
      if (any.length > 0) {
        throw new StorageVersionError('the directory holds data but no engine identity record');
      }
      await this.writeIdentity();
      return;
    }
    let id;
    try {
      id = decodeIdentity(IDENTITY_KEY, stored);
    } catch {
      throw new StorageVersionError('the engine identity record is unreadable');
    }
    if (id.formatVersion !== ENGINE_FORMAT_VERSION) {
      throw new StorageVersionError(`engine format ${id.formatVersion} is not known ` +
        `(this engine reads format ${ENGINE_FORMAT_VERSION})`);
    }
    if (id.clusterId !== this.clusterId) {
      throw new StorageIdentityError(`the directory belongs to cluster '${id.clusterId}', ` +
        `not '${this.clusterId}'`);
    }
    if (id.storeId !== this.storeId) {
      throw new StorageIdentityError(`the directory belongs to store ${id.storeId}, ` +
        `not ${this.storeId}`);
    }
  }

  private writeIdentity(): Promise<void> {
    const write = this.core.backend.newWrite();
    write.put(IDENTITY_KEY, this.core.codec.identity(IDENTITY_KEY, {
      formatVersion: ENGINE_FORMAT_VERSION, storeId: this.storeId, clusterId: this.clusterId,
    }));
    return new Promise((resolve, reject) => {
      this.core.backend.write(write, (error) => (error === null ? resolve() : reject(error)));
    });
  }

  /**
   * One scan of the metadata range: two small records per replica, no log entry, each
   * replica's summary handed to `onReplica` when the scan passes its last record (and kept
   * for the manifest a clean close writes).
   */
  private async listReplicas(options: EngineOpenOptions): Promise<number[]> {
    const ids: number[] = [];
    const onReplica = options.onReplica ?? null;
    const onProgress = options.onProgress ?? this.onOpenProgress;
    const every = options.progressEvery ?? this.progressEvery;
    assert(Number.isInteger(every) && every > 0, 'a positive progress interval');
    const rows = new ReplicaRows();
    const scan = new SummaryScan(this.core, (summary) => {
      if (summary.error !== null) this.refusedAtOpen.add(summary.rangeId);
      rows.push(summary);
      onReplica?.(summary);
    });
    const it = this.core.backend.iterate(META_START, META_END, null);
    let previous = -1;
    // The next batch is read (in the thread pool) while this one is decoded.
    let next = it.nextv(SCAN_BATCH_ROWS);
    for (;;) {
      const rows = await next;
      if (rows.length === 0) break;
      next = it.nextv(SCAN_BATCH_ROWS);
      for (const [key, value] of rows) {
        const rangeId = rangeIdOfKey(key);
        scan.record(rangeId, key, value);
        if (rangeId === previous) continue;
        previous = rangeId;
        ids.push(rangeId);
        if (onProgress !== null && ids.length % every === 0) onProgress(ids.length);
      }
    }
    scan.finish();
    await it.close();
    assert(scan.reported === ids.length && rows.count === ids.length, 'every replica reported');
    this.rows = rows;
    return ids;
  }

  createReplica(rangeId: number): ReplicaStorage {
    this.live();
    assert(Number.isSafeInteger(rangeId) && rangeId > 0, 'a range id');
    assert(!this.replicas.has(rangeId), 'one storage per replica');
    const replica = new DurableReplica(rangeId, this.core, emptyReplicaState());
    this.replicas.set(rangeId, replica);
    return replica;
  }

  loadReplica(rangeId: number): ReplicaStorage {
    this.live();
    assert(!this.replicas.has(rangeId), 'load a replica once');
    let state: ReplicaState;
    try {
      const refused = this.localRefused.get(rangeId);
      if (refused !== undefined) throw refused;
      state = this.readReplica(rangeId);
    } catch (error) {
      if (error instanceof ReplicaCorruptError && !this.refusedAtOpen.has(rangeId)) {
        // Counted once per replica: the open scan counted those it refused.
        this.core.counters.replicasRefused++;
        this.core.logger.error({ rangeId, key: error.keyHex, err: error }, 'replica refused');
      }
      throw error;
    }
    const replica = new DurableReplica(rangeId, this.core, state);
    this.replicas.set(rangeId, replica);
    return replica;
  }

  private readReplica(rangeId: number): ReplicaState {
    const s = emptyReplicaState();
    const { keys, backend } = this.core;
    const read = (kind: number): [Uint8Array, Uint8Array] | null => {
      const key = (kind === SNAPSHOT ? keys.snapshotKey(rangeId) : keys.metaKey(rangeId, kind))
        .slice();
      const value = backend.getSync(key);
      return value === undefined ? null : [key, value];
    };
    const hs = read(MetaKind.RaftState);
    if (hs !== null) Object.assign(s, decodeRaftState(rangeId, ...hs));
    const applied = read(MetaKind.Applied);
    if (applied !== null) s.applied = decodeApplied(rangeId, ...applied);
    const snap = read(SNAPSHOT);
    s.snapshot = snap !== null ? decodeSnapshot(rangeId, ...snap) : emptySnapshot();
    const last = s.log.lastIndex;
    if (s.hardState.commit > last) {
      throw new ReplicaCorruptError(rangeId, keyHex(hs![0]),
        `HardState commit ${s.hardState.commit} exceeds the last index ${last}`);
    }
    if (s.applied.index > last) {
      throw new ReplicaCorruptError(rangeId, keyHex(applied![0]),
        `applied index ${s.applied.index} exceeds the last index ${last}`);
    }
    this.checkLog(rangeId, s);
    return s;
  }

  private checkLog(rangeId: number, s: ReplicaState): void {
    let term = s.log.truncatedTerm;
    let i = s.log.truncatedIndex + 1;
    while (i <= s.log.lastIndex) {
      const blockLast = blockLastOf(i);
      const key = this.core.keys.logKey(rangeId, i);
      const value = this.core.backend.getSync(key);
      if (value === undefined) {
        throw new ReplicaCorruptError(rangeId, keyHex(key), `missing log entry ${i}`);
      }
      const block = decodeLogBlock(rangeId, key, value, blockLast);
      const end = Math.min(blockLast, s.log.lastIndex);
      for (; i <= end; i++) {
        const e = block.entries[i - block.first];
        if (e === undefined) {
          throw new ReplicaCorruptError(rangeId, keyHex(key), `missing log entry ${i}`);
        }
        if (e.term < term) {
          throw new ReplicaCorruptError(rangeId, keyHex(key), `entry ${i} has a term going back`);
        }
        term = e.term;
      }
    }
    assert(i === Math.max(s.log.truncatedIndex, s.log.lastIndex) + 1, 'the whole log checked');
  }

  destroyReplica(storage: ReplicaStorage, batch: EngineBatch): void {
    this.live();
    assert(storage instanceof DurableReplica, 'a replica of this engine');
    assert(this.replicas.get(storage.rangeId) === storage, 'destroy a live replica');
    const b = this.core.asOpen(batch);
    storage.destroy(b);
    clearLocal(this.core, this.local, b, storage.rangeId);
    this.replicas.delete(storage.rangeId);
    this.destroyed.add(storage.rangeId);
  }

  batch(): EngineBatch {
    this.live();
    return this.core.batch();
  }

  commit(batch: EngineBatch, done: (error: Error | null) => void): void {
    this.live();
    this.core.commit(batch, done);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    assert(!this.core.hasOpenBatch, 'commit the open batch before closing');
    this.closed = true;
    await this.core.idle();
    if (!this.opened) return;
    // After a failed write the disk is behind the replicas' view: no manifest then.
    if (!this.core.isBroken) await this.writeManifest();
    await this.core.backend.close();
  }

  getUser(key: Uint8Array): Uint8Array | undefined {
    this.live();
    return getUser(this.core, key);
  }

  putUser(key: Uint8Array, value: Uint8Array, batch: EngineBatch): void {
    this.live();
    stageUser(this.core, this.core.asOpen(batch), key, value);
  }

  deleteUser(key: Uint8Array, batch: EngineBatch): void {
    this.live();
    stageUser(this.core, this.core.asOpen(batch), key, null);
  }

  async scanUser(start: Uint8Array, end: Uint8Array | null, limit: number):
    Promise<UserEntry[]> {
    const reader = this.readSpan(start, end);
    try {
      return await reader.next(limit);
    } finally {
      reader.close();
    }
  }

  readSpan(start: Uint8Array, end: Uint8Array | null): SpanReader {
    this.live();
    return readSpan(this.core, start, end);
  }

  getLocal(rangeId: number, key: Uint8Array): Uint8Array | undefined {
    this.live();
    checkRangeId(rangeId);
    checkLocalKey(key);
    return this.local.get(rangeId, key);
  }

  putLocal(rangeId: number, key: Uint8Array, value: Uint8Array, batch: EngineBatch): void {
    this.live();
    checkRangeId(rangeId);
    checkLocalKey(key);
    checkLocalValue(value);
    stageLocal(this.core, this.local, this.core.asOpen(batch), rangeId, key, value);
  }

  deleteLocal(rangeId: number, key: Uint8Array, batch: EngineBatch): void {
    this.live();
    checkRangeId(rangeId);
    checkLocalKey(key);
    stageLocal(this.core, this.local, this.core.asOpen(batch), rangeId, key, null);
  }

  scanLocal(rangeId: number, start: Uint8Array, end: Uint8Array | null, limit: number):
    UserEntry[] {
    this.live();
    checkLocalScan(rangeId, start, end, limit);
    return this.local.scan(rangeId, start, end, limit);
  }

  clearLocal(rangeId: number, batch: EngineBatch): void {
    this.live();
    checkRangeId(rangeId);
    clearLocal(this.core, this.local, this.core.asOpen(batch), rangeId);
  }

  /**
   * Whether a committed batch is not complete yet (a write in flight or waiting for one):
   * for drivers of tests that wait until a cluster is idle.
   */
  get writing(): boolean {
    return this.core.writing;
  }

  stats(): EngineStats {
    return { ...this.core.counters, entryCacheBytes: this.core.cache.bytes };
  }

  private live(): void {
    assert(this.opened && !this.closed, 'the engine is open');
  }
}
