/**
 * The meta layout: every user range's descriptor is a row of the meta range, keyed by the
 * range's END key (`metaKey(endKey)`, keys.ts). Ends are exclusive and the ranges tile the key
 * space, so the range holding key k is the one at the first meta key strictly greater than
 * `metaKey(k)`: routing is one seek (a scan with limit 1).
 *
 * A split rewrites two rows in one batch (the left side moves to the split key's row, the
 * right side takes the old end's row); a merge deletes the left's row and rewrites the
 * right's. Readers therefore never see a gap or an overlap between two applied batches.
 */
import { assert } from '../util/index.js';
import {
  type RangeDescriptor,
  decodeDescriptor,
  descriptorContainsKey,
  encodeDescriptor,
} from './descriptor.js';
import {
  compareKeys,
  KEY_MAX,
  keyNext,
  keysEqual,
  META_KEY_MAX,
  metaKey,
  USER_KEY_MIN,
} from './keys.js';
import type { KvReader, KvWriter } from './kv_store.js';

/** The descriptor of the range holding `key`, or undefined (no row covers it). */
export function lookupRange(meta: KvReader, key: Uint8Array): RangeDescriptor | undefined {
  const rows = meta.scan(metaKey(keyNext(key)), META_KEY_MAX, 1);
  if (rows.length === 0) return undefined;
  const desc = decodeDescriptor(rows[0]!.value);
  assert(keysEqual(metaKey(desc.endKey), rows[0]!.key), 'a meta row is keyed by its end');
  return descriptorContainsKey(desc, key) ? desc : undefined;
}

/** Writes `desc`'s row. */
export function putMetaRow(meta: KvWriter, desc: RangeDescriptor): void {
  meta.put(metaKey(desc.endKey), encodeDescriptor(desc));
}

/** The rows a split writes: the left at its new end, the right at the old end. */
export function putMetaRowsForSplit(
  meta: KvWriter, left: RangeDescriptor, right: RangeDescriptor,
): void {
  assert(keysEqual(left.endKey, right.startKey), 'split sides abut');
  putMetaRow(meta, left);
  putMetaRow(meta, right);
}

/** The rows a merge writes: the left's row goes, the merged one replaces the right's. */
export function putMetaRowsForMerge(
  meta: KvWriter, oldLeft: RangeDescriptor, merged: RangeDescriptor,
): void {
  assert(compareKeys(oldLeft.endKey, merged.endKey) < 0, 'a merge extends the left');
  meta.delete(metaKey(oldLeft.endKey));
  putMetaRow(meta, merged);
}

/** Every descriptor in the meta range, in key order (at most `limit`). */
export function scanMeta(meta: KvReader, limit: number): RangeDescriptor[] {
  return meta.scan(metaKey(USER_KEY_MIN), META_KEY_MAX, limit).map((row) =>
    decodeDescriptor(row.value));
}

/**
 * Why `descs` (in key order) do not tile the user key space exactly, or null if they do:
 * the first starts at `USER_KEY_MIN`, each ends where the next starts, the last ends at
 * `KEY_MAX`, and no range id appears twice.
 */
export function tilingProblem(descs: readonly RangeDescriptor[]): string | null {
  if (descs.length === 0) return 'no range';
  if (!keysEqual(descs[0]!.startKey, USER_KEY_MIN)) return 'first range does not start the space';
  const ids = new Set<number>();
  for (let i = 0; i < descs.length; i++) {
    const d = descs[i]!;
    if (ids.has(d.rangeId)) return `range ${d.rangeId} twice`;
    ids.add(d.rangeId);
    if (i + 1 < descs.length) {
      const next = descs[i + 1]!;
      const c = compareKeys(d.endKey, next.startKey);
      if (c < 0) return `gap after range ${d.rangeId}`;
      if (c > 0) return `range ${d.rangeId} overlaps range ${next.rangeId}`;
    }
  }
  if (!keysEqual(descs[descs.length - 1]!.endKey, KEY_MAX)) return 'last range does not end it';
  return null;
}
