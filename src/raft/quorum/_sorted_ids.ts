/**
 * Helpers over ascending, duplicate-free arrays of node ids. Configurations hold three to
 * seven ids, where a linear scan of a small array beats hashing into a Set or Map, and the
 * sorted order is what every printed output needs anyway.
 */
import { assert } from '../../util/index.js';

/** Below this length a linear scan is faster than a binary search. */
const LINEAR_SCAN_LENGTH_MAX = 16;

/**
 * Returns the position of `id` in the ascending array `ids`, or `-(insertionPoint + 1)` when
 * it is absent (the Java convention, so one call answers both "where" and "whether").
 */
export function sortedIndexOf(ids: readonly number[], id: number): number {
  const n = ids.length;
  if (n <= LINEAR_SCAN_LENGTH_MAX) {
    for (let i = 0; i < n; i++) {
      const x = ids[i]!;
      if (x === id) return i;
      if (x > id) return -(i + 1);
    }
    return -(n + 1);
  }
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = ids[mid]!;
    if (x < id) lo = mid + 1;
    else if (x > id) hi = mid - 1;
    else return mid;
  }
  return -(lo + 1);
}

/**
 * `ids` with `id` inserted, as a new exact-size array; null if already present.
 *
 * V8: insertion by splice grows a small array's backing store to 17 slots; configurations
 * live as long as their group and change rarely, so they are rebuilt at exact size instead.
 */
export function sortedWith(ids: readonly number[], id: number): number[] | null {
  assert(Number.isInteger(id) && id >= 0, `invalid node id ${id}`);
  const at = sortedIndexOf(ids, id);
  if (at >= 0) return null;
  const i = -at - 1;
  return ids.slice(0, i).concat([id], ids.slice(i));
}

/** `ids` without `id`, as a new exact-size array; null if absent. */
export function sortedWithout(ids: readonly number[], id: number): number[] | null {
  const at = sortedIndexOf(ids, id);
  if (at < 0) return null;
  return ids.slice(0, at).concat(ids.slice(at + 1));
}

/** Returns the ids sorted ascending without duplicates (a new array). */
export function sortedUnique(ids: Iterable<number>): number[] {
  const out = Array.from(ids);
  for (const id of out) assert(Number.isInteger(id) && id >= 0, `invalid node id ${id}`);
  out.sort((a, b) => a - b);
  let w = 0;
  for (let r = 0; r < out.length; r++) {
    if (w === 0 || out[w - 1] !== out[r]) out[w++] = out[r]!;
  }
  // An exact-size copy (see sortedWith).
  return out.slice(0, w);
}
