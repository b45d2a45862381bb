/**
 * `SortedStrings`: an ordered set of strings in sorted chunks, for the in-memory key indexes
 * (the ranges layer's key index over an engine, the memory engines' ordered maps).
 *
 * WHY CHUNKS. One sorted array costs O(n) element moves per insertion or deletion; at the
 * key counts of a store splitting to 10,000 ranges under load (hundreds of thousands of
 * keys) that was most of the process's time. Chunks of at most `CHUNK_KEYS_MAX` keys bound
 * a move to one chunk, and a search is two binary searches (over the chunks' last keys,
 * then within one chunk). Ranks and counts walk the chunks before a position: O(n / chunk).
 *
 * INVARIANT: every chunk is non-empty and strictly ascending, each chunk's last key is below
 * the next chunk's first, and `size` is the sum of the chunks' lengths (`assertInvariants`).
 */
import { assert } from './assert.js';

/** Keys per chunk at most: a chunk splits in two above this. */
export const CHUNK_KEYS_MAX = 512;

/** An ordered set of strings (see the file header). */
export class SortedStrings {
  private chunks: string[][] = [];
  private count = 0;

  /** A set of `sorted` (strictly ascending; asserted), taken over in chunks. */
  static fromSorted(sorted: readonly string[]): SortedStrings {
    const out = new SortedStrings();
    for (let i = 0; i < sorted.length; i += CHUNK_KEYS_MAX / 2) {
      out.chunks.push(sorted.slice(i, i + CHUNK_KEYS_MAX / 2));
    }
    for (let i = 1; i < sorted.length; i++) assert(sorted[i - 1]! < sorted[i]!, 'ascending');
    out.count = sorted.length;
    return out;
  }

  /** The number of keys. */
  get size(): number {
    return this.count;
  }

  /** Whether `key` is in the set. */
  has(key: string): boolean {
    const c = this.chunkFor(key);
    if (c === this.chunks.length) return false;
    const chunk = this.chunks[c]!;
    return chunk[lowerBound(chunk, key)] === key;
  }

  /** Adds `key`. @returns false if it was there already */
  add(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return true;
    }
    // Past every key: the last chunk takes it.
    const c = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk, key);
    if (chunk[i] === key) return false;
    chunk.splice(i, 0, key);
    this.count++;
    if (chunk.length > CHUNK_KEYS_MAX) {
      this.chunks.splice(c + 1, 0, chunk.splice(chunk.length >> 1));
    }
    assert(chunk.length > 0 && chunk.length <= CHUNK_KEYS_MAX, 'a chunk within its bound');
    return true;
  }

  /** Removes `key`. @returns false if it was not there */
  delete(key: string): boolean {
    const c = this.chunkFor(key);
    if (c === this.chunks.length) return false;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    assert(this.count >= 0, 'size stays non-negative');
    return true;
  }

  /** The number of keys below `key` (its rank). */
  rank(key: string): number {
    const c = this.chunkFor(key);
    let below = 0;
    for (let j = 0; j < c; j++) below += this.chunks[j]!.length;
    if (c < this.chunks.length) below += lowerBound(this.chunks[c]!, key);
    assert(below >= 0 && below <= this.count, 'a rank within the set');
    return below;
  }

  /** The number of keys `k` with `start <= k < end`. */
  countBetween(start: string, end: string): number {
    return end <= start ? 0 : this.rank(end) - this.rank(start);
  }

  /**
   * Calls `visit` with the keys `k >= start` in ascending order until it returns false or
   * the keys end. `visit` must not change the set.
   */
  forEachFrom(start: string, visit: (key: string) => boolean): void {
    const size = this.count;
    const first = this.chunkFor(start);
    for (let c = first; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      for (let i = c === first ? lowerBound(chunk, start) : 0; i < chunk.length; i++) {
        if (!visit(chunk[i]!)) return;
      }
    }
    assert(this.count === size, 'the set did not change during a visit');
  }

  /** The keys `k` with `start <= k < end` (end null: unbounded), at most `limit`. */
  range(start: string, end: string | null, limit: number): string[] {
    assert(limit >= 0, 'a limit');
    const out: string[] = [];
    if (limit === 0) return out;
    this.forEachFrom(start, (k) => {
      if (end !== null && k >= end) return false;
      out.push(k);
      return out.length < limit;
    });
    return out;
  }

  /** A copy. */
  clone(): SortedStrings {
    const copy = new SortedStrings();
    copy.chunks = this.chunks.map((chunk) => chunk.slice());
    copy.count = this.count;
    return copy;
  }

  /** Checks the invariant of the file header; throws `AssertionError` if broken. */
  assertInvariants(): void {
    let total = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      assert(chunk.length > 0 && chunk.length <= CHUNK_KEYS_MAX, 'chunk length');
      for (let i = 1; i < chunk.length; i++) assert(chunk[i - 1]! < chunk[i]!, 'chunk order');
      if (c > 0) assert(this.chunks[c - 1]!.at(-1)! < chunk[0]!, 'chunks in order');
      total += chunk.length;
    }
    assert(total === this.count, 'size is the sum of the chunks');
  }

  /** The first chunk whose last key is `>= key` (the chunk count if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
