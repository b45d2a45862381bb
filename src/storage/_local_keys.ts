/**
 * Range-local application keys: small per-range state of the application (the ranges
 * layer's descriptor and dedupe table) that belongs to one replica, travels in its snapshots
 * and is deleted with it.
 *
 * WHY A MIRROR. Every engine keeps all range-local keys in memory (`LocalKeys`), the durable
 * engines in addition on disk (prefix 0x05, see _keys.ts), loaded by one scan at open. Two
 * needs force it: the store's apply path is synchronous, so a scan must be too (classic-level
 * has `getSync` but no synchronous iterator), and clearing a range (a snapshot applied over
 * it, `destroyReplica`) must stage one delete per key into a synchronous batch (LevelDB has
 * no range delete in a write batch). The cost is memory proportional to the range-local
 * data, which is why a value is bounded (`LOCAL_VALUE_BYTES_MAX`) and bulk data belongs under
 * user keys.
 */
import { assert } from '../util/index.js';
import { SortedMap, bytesOfLatin1, latin1Of } from './_sorted_map.js';
import { USER_KEY_BYTES_MAX } from './_keys.js';
import type { UserEntry } from './engine.js';
import { StorageArgumentError } from './errors.js';

/** The largest range-local value (bytes): the mirror keeps every one in memory. @default 1 MiB */
export const LOCAL_VALUE_BYTES_MAX = 1024 * 1024;

/** Refuses a range id that is not a positive safe integer. */
export function checkRangeId(rangeId: number): void {
  if (!Number.isSafeInteger(rangeId) || rangeId <= 0) {
    throw new StorageArgumentError(`a range id is a positive integer, got ${String(rangeId)}`);
  }
}

/** Refuses keys outside 1..USER_KEY_BYTES_MAX bytes. */
export function checkLocalKey(key: Uint8Array, what = 'key'): void {
  if (!(key instanceof Uint8Array) || key.length === 0 || key.length > USER_KEY_BYTES_MAX) {
    throw new StorageArgumentError(`a range-local ${what} is 1 to ${USER_KEY_BYTES_MAX} ` +
      `bytes, got ${key?.length ?? typeof key}`);
  }
}

/** Refuses values over LOCAL_VALUE_BYTES_MAX bytes. */
export function checkLocalValue(value: Uint8Array): void {
  if (!(value instanceof Uint8Array) || value.length > LOCAL_VALUE_BYTES_MAX) {
    throw new StorageArgumentError(
      `a range-local value is at most ${LOCAL_VALUE_BYTES_MAX} bytes`);
  }
}

/** Checks the arguments of a range-local scan. */
export function checkLocalScan(rangeId: number, start: Uint8Array, end: Uint8Array | null,
  limit: number): void {
  checkRangeId(rangeId);
  checkLocalKey(start, 'scan start');
  if (end !== null) checkLocalKey(end, 'scan end');
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new StorageArgumentError(`a scan limit is a positive integer, got ${String(limit)}`);
  }
}

/** The in-memory mirror of every range's range-local keys (staged writes included). */
export class LocalKeys {
  private readonly byRange = new Map<number, SortedMap<Uint8Array>>();

  /** The value of `key` of `rangeId`, or undefined. */
  get(rangeId: number, key: Uint8Array): Uint8Array | undefined {
    return this.byRange.get(rangeId)?.get(latin1Of(key));
  }

  /** Sets (`value` non-null) or deletes `key` of `rangeId`. */
  set(rangeId: number, key: Uint8Array, value: Uint8Array | null): void {
    let map = this.byRange.get(rangeId);
    if (value === null) {
      if (map === undefined) return;
      map.delete(latin1Of(key));
      if (map.size === 0) this.byRange.delete(rangeId);
      return;
    }
    if (map === undefined) {
      map = new SortedMap<Uint8Array>();
      this.byRange.set(rangeId, map);
    }
    map.set(latin1Of(key), value);
    assert(map.get(latin1Of(key)) === value, 'a set key reads back');
  }

  /** Up to `limit` entries of `rangeId` with `start <= key < end` (end null: unbounded). */
  scan(rangeId: number, start: Uint8Array, end: Uint8Array | null, limit: number): UserEntry[] {
    const map = this.byRange.get(rangeId);
    if (map === undefined) return [];
    const rows = map.range(latin1Of(start), end === null ? null : latin1Of(end), limit);
    const out: UserEntry[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      out[i] = { key: bytesOfLatin1(rows[i]![0]), value: rows[i]![1] };
    }
    return out;
  }

  /** Every key of `rangeId` (to stage their deletion), and forgets them. */
  take(rangeId: number): Uint8Array[] {
    const map = this.byRange.get(rangeId);
    if (map === undefined) return [];
    this.byRange.delete(rangeId);
    const keys = map.range('', null, Infinity).map(([k]) => bytesOfLatin1(k));
    assert(keys.length === map.size, 'every key is taken');
    return keys;
  }
}
