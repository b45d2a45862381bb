/**
 * The seam between the KV state machine and wherever its data lives. The state machine reads
 * and writes through `KvReader`/`KvWriter` only, so the storage engine's user-data API (which
 * stages writes into the same `EngineBatch` as the Raft state, visible at once) implements it
 * by binding the batch of the current apply; `MemoryKv` implements it for tests.
 *
 * Contract of an implementation:
 * - a write is visible to every later read through the same object at once;
 * - `scan(start, end, limit)` returns the entries with `start ≤ key < end` in ascending key
 *   order, at most `limit` of them;
 * - returned arrays are owned by the caller: neither side mutates them after the call.
 */
import { assert } from '../util/index.js';
import { compareKeys, keyFromString, keyToString } from './keys.js';

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

/**
 * An in-memory `KvWriter`: a sorted array of keys (binary strings, which order like the
 * bytes) and a map to values. Insertions cost O(n); it serves tests and simulations.
 */
export class MemoryKv implements KvWriter {
  private readonly keys: string[] = [];
  private readonly values = new Map<string, Uint8Array>();

  /** Number of keys held. */
  get size(): number {
    return this.keys.length;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.values.get(keyToString(key));
  }

  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[] {
    assert(Number.isSafeInteger(limit) && limit > 0, 'scan limit');
    const out: KvEntry[] = [];
    const endString = keyToString(end);
    for (let i = this.lowerBound(keyToString(start)); i < this.keys.length; i++) {
      const k = this.keys[i]!;
      if (k >= endString || out.length >= limit) break;
      out.push({ key: keyFromString(k), value: this.values.get(k)! });
    }
    assert(out.length <= limit, 'scan within limit');
    return out;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const k = keyToString(key);
    if (!this.values.has(k)) this.keys.splice(this.lowerBound(k), 0, k);
    this.values.set(k, value.slice());
    assert(this.keys.length === this.values.size, 'keys and values agree');
  }

  delete(key: Uint8Array): void {
    const k = keyToString(key);
    if (!this.values.delete(k)) return;
    const i = this.lowerBound(k);
    assert(this.keys[i] === k, 'deleted key was indexed');
    this.keys.splice(i, 1);
  }

  /** Every entry, in order (tests compare whole states). */
  entries(): KvEntry[] {
    return this.keys.map((k) => ({ key: keyFromString(k), value: this.values.get(k)! }));
  }

  private lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Whether `entries` are strictly ascending by key (a check for scans' results). */
export function entriesAscending(entries: readonly KvEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) {
    if (compareKeys(entries[i - 1]!.key, entries[i]!.key) >= 0) return false;
  }
  return true;
}
