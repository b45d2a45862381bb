/**
 * The key space and its ordering. Keys are byte strings compared lexicographically (a proper
 * prefix sorts first). The space is laid out so that one byte tells what a key is for:
 *
 *   0x00 0x00 <rangeId u64 BE> <suffix>   range-local keys: state of one replica (its dedupe
 *                                         table), never routed, deleted with the replica
 *   0x00 0x01 <endKey>                    meta keys: the descriptor of the range ending at
 *                                         `endKey` (the meta range's span)
 *   [0x01, KEY_MAX)                        user keys, tiled by the user ranges
 *
 * Descriptors are keyed by their END key so that the range holding key k is found with one
 * seek: the first meta key strictly greater than meta(k) (ends are exclusive).
 */
import { assert } from '../util/index.js';

/** The smallest user key (inclusive): the start of the first user range. */
export const USER_KEY_MIN: Uint8Array = Uint8Array.of(0x01);
/** The end of the user key space (exclusive): the end of the last user range. */
export const KEY_MAX: Uint8Array = Uint8Array.of(0xff, 0xff);
/** Start of the meta range's span (inclusive). */
export const META_KEY_MIN: Uint8Array = Uint8Array.of(0x00, 0x01);
/** End of the meta range's span (exclusive). */
export const META_KEY_MAX: Uint8Array = USER_KEY_MIN;
/** Prefix of every range-local key. */
const LOCAL_PREFIX_BYTES = 2;
/** Bytes of a range-local prefix: two marker bytes and the range id. */
export const LOCAL_KEY_PREFIX_BYTES = LOCAL_PREFIX_BYTES + 8;

/** Three-way byte-wise comparison: negative, zero or positive as `a` sorts before `b`. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Whether two keys are equal byte for byte. */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The smallest key greater than `key` (`key` + 0x00): makes an inclusive bound exclusive. */
export function keyNext(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** The smallest key greater than every key with this prefix (undefined if all 0xff). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = prefix.slice(0, i + 1);
      out[i]!++;
      return out;
    }
  }
  return undefined;
}

/** Whether `key` is in `[start, end)`. */
export function spanContainsKey(start: Uint8Array, end: Uint8Array, key: Uint8Array): boolean {
  return compareKeys(start, key) <= 0 && compareKeys(key, end) < 0;
}

/** Whether `[innerStart, innerEnd)` lies within `[start, end)` (an empty inner span does). */
export function spanContainsSpan(
  start: Uint8Array, end: Uint8Array, innerStart: Uint8Array, innerEnd: Uint8Array,
): boolean {
  return compareKeys(start, innerStart) <= 0 && compareKeys(innerEnd, end) <= 0;
}

/** Whether `key` is a user key: in `[USER_KEY_MIN, KEY_MAX)`. */
export function isUserKey(key: Uint8Array): boolean {
  return spanContainsKey(USER_KEY_MIN, KEY_MAX, key);
}

/** The meta key under which the descriptor of the range ending at `endKey` is stored. */
export function metaKey(endKey: Uint8Array): Uint8Array {
  assert(endKey.length > 0, 'a range end is never empty');
  const out = new Uint8Array(META_KEY_MIN.length + endKey.length);
  out.set(META_KEY_MIN);
  out.set(endKey, META_KEY_MIN.length);
  return out;
}

/** The end key a meta key stands for (the inverse of `metaKey`). */
export function endKeyOfMetaKey(key: Uint8Array): Uint8Array {
  assert(key.length > META_KEY_MIN.length && key[0] === 0x00 && key[1] === 0x01, 'meta key');
  return key.slice(META_KEY_MIN.length);
}

/** The prefix of every range-local key of `rangeId`. */
export function localPrefix(rangeId: number): Uint8Array {
  assert(Number.isSafeInteger(rangeId) && rangeId > 0, 'range id');
  const out = new Uint8Array(LOCAL_KEY_PREFIX_BYTES);
  out[0] = 0x00;
  out[1] = 0x00;
  const view = new DataView(out.buffer);
  view.setUint32(2, Math.floor(rangeId / 0x100000000));
  view.setUint32(6, rangeId >>> 0);
  return out;
}

/** A range-local key: the range's prefix, one tag byte naming the table, then `suffix`. */
export function localKey(rangeId: number, tag: number, suffix: Uint8Array): Uint8Array {
  assert(tag > 0 && tag < 0x100, 'local tag is one byte');
  const prefix = localPrefix(rangeId);
  const out = new Uint8Array(prefix.length + 1 + suffix.length);
  out.set(prefix);
  out[prefix.length] = tag;
  out.set(suffix, prefix.length + 1);
  return out;
}

/** A key as a binary string with the same order as the bytes (Map keys, logs). */
export function keyToString(key: Uint8Array): string {
  let s = '';
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]!);
  return s;
}

/** The inverse of `keyToString`. */
export function keyFromString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    assert(c < 0x100, 'binary string');
    out[i] = c;
  }
  return out;
}

/** A printable form of a key for logs and error messages: printable ASCII kept, rest hex. */
export function printableKey(key: Uint8Array): string {
  let s = '';
  for (let i = 0; i < key.length && i < 64; i++) {
    const c = key[i]!;
    s += c >= 0x21 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c)
      : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return key.length > 64 ? `${s}…` : s;
}
