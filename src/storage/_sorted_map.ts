/**
 * An ordered map from byte keys to values, for the engines that keep data in memory (the
 * memory engine's user data, the simulated disk). Keys are held as latin1 strings: one code
 * unit per byte, so JavaScript's string order is the bytes' lexicographic order, which is
 * LevelDB's. A sorted key array with binary search: O(log n) reads, O(n) inserts, which is
 * fine for the sizes tests and simulations use (the durable engine never uses it on disk).
 */
import { assert } from '../util/index.js';

/** A byte string as its latin1 key (one code unit per byte). */
export function latin1Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The bytes of a latin1 key. */
export function bytesOfLatin1(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

/** An ordered map keyed by latin1 strings. */
export class SortedMap<V> {
  private readonly keys: string[] = [];
  private readonly values = new Map<string, V>();

  /** The number of keys. */
  get size(): number {
    return this.keys.length;
  }

  /** The value of `key`, if any. */
  get(key: string): V | undefined {
    return this.values.get(key);
  }

  /** Sets `key` to `value`. */
  set(key: string, value: V): void {
    if (!this.values.has(key)) this.keys.splice(this.lowerBound(key), 0, key);
    this.values.set(key, value);
    assert(this.keys.length === this.values.size, 'keys and values agree');
  }

  /** Removes `key` if present. */
  delete(key: string): void {
    if (!this.values.delete(key)) return;
    const i = this.lowerBound(key);
    assert(this.keys[i] === key, 'a present key is in the sorted array');
    this.keys.splice(i, 1);
  }

  /** The index of the first key `>= key`. */
  lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The entries with `start <= key < end` (end `null`: unbounded), at most `limit`. */
  range(start: string, end: string | null, limit: number): [string, V][] {
    const out: [string, V][] = [];
    for (let i = this.lowerBound(start); i < this.keys.length && out.length < limit; i++) {
      const key = this.keys[i]!;
      if (end !== null && key >= end) break;
      out.push([key, this.values.get(key)!]);
    }
    return out;
  }

  /** A copy (values shared). */
  clone(): SortedMap<V> {
    const copy = new SortedMap<V>();
    copy.keys.push(...this.keys);
    for (const [k, v] of this.values) copy.values.set(k, v);
    return copy;
  }
}
