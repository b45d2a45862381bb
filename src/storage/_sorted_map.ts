/**
 * An ordered map from byte keys to values, for the engines that keep data in memory (the
 * memory engine's user data, the simulated disk). Keys are held as latin1 strings: one code
 * unit per byte, so JavaScript's string order is the bytes' lexicographic order, which is
 * LevelDB's. The keys are a `SortedStrings` (sorted chunks): O(log n) reads, an insert moves
 * one chunk at most (the durable engine never uses it on disk).
 */
import { assert, SortedStrings } from '../util/index.js';

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
  private keys = new SortedStrings();
  private readonly values = new Map<string, V>();

  /** The number of keys. */
  get size(): number {
    return this.keys.size;
  }

  /** The value of `key`, if any. */
  get(key: string): V | undefined {
    return this.values.get(key);
  }

  /** Sets `key` to `value`. */
  set(key: string, value: V): void {
    if (!this.values.has(key)) this.keys.add(key);
    this.values.set(key, value);
    assert(this.keys.size === this.values.size, 'keys and values agree');
  }

  /** Removes `key` if present. */
  delete(key: string): void {
    if (!this.values.delete(key)) return;
    const indexed = this.keys.delete(key);
    assert(indexed, 'a present key is in the sorted keys');
  }

  /** The entries with `start <= key < end` (end `null`: unbounded), at most `limit`. */
  range(start: string, end: string | null, limit: number): [string, V][] {
    return this.keys.range(start, end, limit).map((key) => [key, this.values.get(key)!]);
  }

  /** A copy (values shared). */
  clone(): SortedMap<V> {
    const copy = new SortedMap<V>();
    copy.keys = this.keys.clone();
    for (const [k, v] of this.values) copy.values.set(k, v);
    return copy;
  }
}
