/**
 * The seam between the KV state machine and wherever its data lives. The state machine reads
 * and writes through `KvReader`/`KvWriter` only. `EngineKv` keeps the data in the store's
 * `StorageEngine` user data: the range node binds the apply's `EngineBatch` around every
 * apply, so a command's writes, the applied index and the ConfState commit atomically (and a
 * crash replays from exactly where the data stands). `MemoryKv` serves unit tests.
 *
 * Contract of an implementation:
 * - a write is visible to every later read through the same object at once;
 * - `scan(start, end, limit)` returns the entries with `start ≤ key < end` in ascending key
 *   order, at most `limit` of them;
 * - returned arrays are owned by the caller: neither side mutates them after the call.
 */
import { assert, SortedStrings } from '../util/index.js';
import type { EngineBatch, StorageEngine } from '../storage/index.js';
import {
  compareKeys,
  keyFromString,
  keyToString,
  LOCAL_KEY_PREFIX_BYTES,
  localPrefix,
} from './keys.js';

/** One key and its value. */
export interface KvEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** Reads of the state machine's data. */
export interface KvReader {
  /** The value under `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined;
  /** Entries with `start ≤ key < end`, ascending, at most `limit` (a positive integer). */
  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[];
}

/** Reads and writes of the state machine's data. */
export interface KvWriter extends KvReader {
  put(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
}

/** A `KvWriter` whose writes are staged into the batch bound around each apply. */
export interface KvStore extends KvWriter {
  /** Writes until the next `bind` go into `batch`; null: writes are an error until bound. */
  bind(batch: EngineBatch | null): void;
  /**
   * Runs `write` with its writes in a batch of their own, committed at once (writes outside
   * any apply: a bootstrap's rows). Only while the store has no batch open (before it runs
   * its first batch), never from inside an apply.
   */
  writeAlone(write: () => void): void;
  /**
   * Optional: the number of user keys with `start ≤ key < end`, without reading them (a
   * split counts the smaller side only). @default a split scans its right-hand side
   */
  countKeys?(start: Uint8Array, end: Uint8Array): number;
}

/**
 * An in-memory `KvWriter`: sorted keys (binary strings, which order like the bytes, in a
 * `SortedStrings`) and a map to values. It serves tests.
 */
export class MemoryKv implements KvStore {
  private readonly keys = new SortedStrings();
  private readonly values = new Map<string, Uint8Array>();

  /** Nothing to bind: writes apply at once (and nothing is durable). */
  bind(): void {}

  writeAlone(write: () => void): void {
    write();
  }

  /** Number of keys held. */
  get size(): number {
    return this.keys.size;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.values.get(keyToString(key));
  }

  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[] {
    assert(Number.isSafeInteger(limit) && limit > 0, 'scan limit');
    const out = this.keys.range(keyToString(start), keyToString(end), limit)
      .map((k) => ({ key: keyFromString(k), value: this.values.get(k)! }));
    assert(out.length <= limit, 'scan within limit');
    return out;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const k = keyToString(key);
    this.keys.add(k);
    this.values.set(k, value.slice());
    assert(this.keys.size === this.values.size, 'keys and values agree');
  }

  delete(key: Uint8Array): void {
    const k = keyToString(key);
    if (!this.values.delete(k)) return;
    const indexed = this.keys.delete(k);
    assert(indexed, 'deleted key was indexed');
  }

  countKeys(start: Uint8Array, end: Uint8Array): number {
    return this.keys.countBetween(keyToString(start), keyToString(end));
  }

  /** Every entry, in order (tests compare whole states). */
  entries(): KvEntry[] {
    return this.keys.range('', null, Number.MAX_SAFE_INTEGER)
      .map((k) => ({ key: keyFromString(k), value: this.values.get(k)! }));
  }
}

/** Keys the open-time scan of an engine reads per call. */
const OPEN_SCAN_PAGE = 4096;

/**
 * The KV data in a store's `StorageEngine`: every range's user keys and the meta rows under
 * the engine's user data; the range-local rows (`localKey(rangeId, tag, suffix)`: statistics,
 * dedupe table, freeze index, descriptor) under the engine's range-local keys of that range
 * (key `tag + suffix`), which travel in the range's snapshots and which `destroyReplica`
 * deletes. The split is invisible to the state machine: it addresses both through the same
 * key space (keys.ts), and this class routes by prefix.
 *
 * WHY AN INDEX. Applying a command is synchronous (the store's batch end calls it) and must
 * read what it is about to change: a conditional put's value, a scan's or delete-range's
 * keys, the right-hand side of a split. `getUser` is synchronous on every engine (LevelDB's
 * `getSync`), but `scanUser` is a promise, and classic-level offers no synchronous
 * iterator. Evaluating scans at proposal time instead would make the outcome depend on the
 * proposer's view rather than on the log, which breaks determinism across replicas. So the
 * keys (not the values) are held in a sorted in-memory index (`SortedStrings`: chunks, so an
 * insertion moves at most one chunk), built once by `open` with paged `scanUser` calls and
 * kept in step with every staged write; a scan walks the index and reads each value with
 * `getUser`. Memory: one binary string per key (values stay in the engine).
 */
export class EngineKv implements KvStore {
  private batch: EngineBatch | null = null;
  private readonly keys: SortedStrings;
  /** The first commit error of a `writeAlone` batch (the engine is broken after one). */
  writeError: Error | null = null;

  private constructor(readonly engine: StorageEngine, keys: SortedStrings) {
    this.keys = keys;
  }

  /** Over an opened engine: reads every user key into the index. */
  static async open(engine: StorageEngine): Promise<EngineKv> {
    const keys: string[] = [];
    let from: Uint8Array | null = Uint8Array.of(0x00);
    while (from !== null) {
      const page = await engine.scanUser(from, null, OPEN_SCAN_PAGE);
      for (const e of page) keys.push(keyToString(e.key));
      from = page.length < OPEN_SCAN_PAGE ? null : keyAfter(page[page.length - 1]!.key);
    }
    // fromSorted asserts the scan's order.
    return new EngineKv(engine, SortedStrings.fromSorted(keys));
  }

  /** Over an engine that holds no user data yet (no scan needed). */
  static empty(engine: StorageEngine): EngineKv {
    return new EngineKv(engine, new SortedStrings());
  }

  /** Number of keys held. */
  get size(): number {
    return this.keys.size;
  }

  countKeys(start: Uint8Array, end: Uint8Array): number {
    assert(localRangeOf(start) === 0 && localRangeOf(end) === 0, 'counts user keys only');
    return this.keys.countBetween(keyToString(start), keyToString(end));
  }

  bind(batch: EngineBatch | null): void {
    assert(batch === null || this.batch === null, 'one apply at a time');
    this.batch = batch;
  }

  writeAlone(write: () => void): void {
    assert(this.batch === null, 'not inside an apply');
    const batch = this.engine.batch();
    this.batch = batch;
    try {
      write();
    } finally {
      this.batch = null;
    }
    this.engine.commit(batch, (error) => {
      if (error !== null && this.writeError === null) this.writeError = error;
    });
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const rangeId = localRangeOf(key);
    const value = rangeId === 0 ? this.engine.getUser(key)
      : this.engine.getLocal(rangeId, key.subarray(LOCAL_KEY_PREFIX_BYTES));
    return value === undefined ? undefined : plain(value);
  }

  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[] {
    assert(Number.isSafeInteger(limit) && limit > 0, 'scan limit');
    const rangeId = localRangeOf(start);
    if (rangeId !== 0) return this.scanLocal(rangeId, start, end, limit);
    assert(localRangeOf(end) === 0, 'a user scan does not end among range-local keys');
    return this.keys.range(keyToString(start), keyToString(end), limit).map((k) => {
      const key = keyFromString(k);
      const value = this.engine.getUser(key);
      assert(value !== undefined, 'an indexed key is in the engine');
      return { key, value: plain(value) };
    });
  }

  /** A scan within one range's local rows (the dedupe table's load). */
  private scanLocal(rangeId: number, start: Uint8Array, end: Uint8Array, limit: number):
    KvEntry[] {
    const endRange = localRangeOf(end);
    // An end past this range's local keys (its prefix's end) bounds nothing within them.
    assert(endRange === rangeId || compareKeys(end, localPrefix(rangeId)) > 0,
      'a local scan stays within one range');
    const prefix = localPrefix(rangeId);
    const rows = this.engine.scanLocal(rangeId, start.subarray(LOCAL_KEY_PREFIX_BYTES),
      endRange === rangeId ? end.subarray(LOCAL_KEY_PREFIX_BYTES) : null, limit);
    return rows.map((row) => {
      const key = new Uint8Array(LOCAL_KEY_PREFIX_BYTES + row.key.length);
      key.set(prefix);
      key.set(row.key, LOCAL_KEY_PREFIX_BYTES);
      return { key, value: plain(row.value) };
    });
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const batch = this.batch;
    assert(batch !== null, 'writes happen inside an apply (or writeAlone)');
    const rangeId = localRangeOf(key);
    if (rangeId !== 0) {
      this.engine.putLocal(rangeId, key.slice(LOCAL_KEY_PREFIX_BYTES), value.slice(), batch);
      return;
    }
    // The engine keeps what it is handed: copies, so that no caller's buffer aliases it.
    this.engine.putUser(key.slice(), value.slice(), batch);
    this.keys.add(keyToString(key));
  }

  delete(key: Uint8Array): void {
    const batch = this.batch;
    assert(batch !== null, 'writes happen inside an apply (or writeAlone)');
    const rangeId = localRangeOf(key);
    if (rangeId !== 0) {
      this.engine.deleteLocal(rangeId, key.slice(LOCAL_KEY_PREFIX_BYTES), batch);
      return;
    }
    if (!this.keys.delete(keyToString(key))) return;
    this.engine.deleteUser(key.slice(), batch);
  }
}

/**
 * The bytes as a plain `Uint8Array` view (LevelDB hands back Buffers): results compare and
 * encode alike whichever engine served them. No copy.
 */
function plain(value: Uint8Array): Uint8Array {
  if (value.constructor === Uint8Array) return value;
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * The range id of a range-local key (keys.ts: 0x00 0x00, the id in 8 bytes, then at least a
 * tag byte), or 0 for any other key.
 */
function localRangeOf(key: Uint8Array): number {
  if (key.length <= LOCAL_KEY_PREFIX_BYTES || key[0] !== 0x00 || key[1] !== 0x00) return 0;
  const view = new DataView(key.buffer, key.byteOffset, LOCAL_KEY_PREFIX_BYTES);
  return view.getUint32(2) * 0x100000000 + view.getUint32(6);
}

/** The smallest key after `key` (for paging). */
function keyAfter(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** Whether `entries` are strictly ascending by key (a check for scans' results). */
export function entriesAscending(entries: readonly KvEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) {
    if (compareKeys(entries[i - 1]!.key, entries[i]!.key) >= 0) return false;
  }
  return true;
}
