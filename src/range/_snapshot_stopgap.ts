/**
 * Private, STOP-GAP until the engine's chunked range snapshots (helper `snap`) and the KV
 * data on the engine (helper `rangesim`): a range's whole state in one Raft snapshot's data.
 *
 * WIRE (msgpackr): [VERSION, descriptor (descriptor.ts codec), local rows, user rows], rows
 * as flat [key, value, key, value, ...] arrays. Local rows are the range-local keys (dedupe
 * records, statistics, freeze), user rows the keys of the descriptor's span. It is built on
 * the leader at the applied point and decoded, validated, on the receiver; a range with more
 * than `SNAPSHOT_ROWS_MAX` rows is not sent this way (the store's frame limit would refuse
 * it anyway).
 */
import { Packr, Unpackr } from 'msgpackr';
import { assert } from '../util/index.js';
import { decodeDescriptor, encodeDescriptor, type RangeDescriptor } from './descriptor.js';
import { BadCommandError } from './errors.js';
import { localPrefix, prefixEnd, compareKeys } from './keys.js';
import type { KvEntry, KvReader } from './kv_store.js';

const VERSION = 1;
/** Rows one snapshot carries at most (bounds a decode and a frame). */
export const SNAPSHOT_ROWS_MAX = 1 << 18;

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

/** A decoded range snapshot. */
export interface RangeSnapshot {
  descriptor: RangeDescriptor;
  local: KvEntry[];
  user: KvEntry[];
}

function flat(rows: KvEntry[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of rows) out.push(r.key, r.value);
  return out;
}

/**
 * The local span of `rangeId`: from its prefix and a zero tag byte (below every tag, and a
 * range-local key to `EngineKv`, which maps a bare prefix to the user keys) to the prefix's
 * end.
 */
export function localSpan(rangeId: number): { start: Uint8Array; end: Uint8Array } {
  const prefix = localPrefix(rangeId);
  const start = new Uint8Array(prefix.length + 1);
  start.set(prefix);
  const end = prefixEnd(prefix);
  assert(end !== undefined, 'a local prefix has an end');
  return { start, end };
}

/** Encodes the range's state as `kv` holds it now. */
export function encodeRangeSnapshot(desc: RangeDescriptor, kv: KvReader): Uint8Array {
  const { start, end } = localSpan(desc.rangeId);
  const local = kv.scan(start, end, SNAPSHOT_ROWS_MAX);
  const user = kv.scan(desc.startKey, desc.endKey, SNAPSHOT_ROWS_MAX);
  assert(local.length + user.length <= 2 * SNAPSHOT_ROWS_MAX, 'rows bounded');
  return packr.pack([VERSION, encodeDescriptor(desc), flat(local), flat(user)]);
}

function rows(raw: unknown, what: string): KvEntry[] {
  if (!Array.isArray(raw) || raw.length % 2 !== 0 || raw.length > 2 * SNAPSHOT_ROWS_MAX) {
    throw new BadCommandError(`snapshot ${what} rows`);
  }
  const out: KvEntry[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const key: unknown = raw[i];
    const value: unknown = raw[i + 1];
    if (!(key instanceof Uint8Array) || !(value instanceof Uint8Array)) {
      throw new BadCommandError(`snapshot ${what} row ${i / 2}`);
    }
    // Plain copies: msgpackr hands out Buffers over its own memory.
    out.push({ key: new Uint8Array(key), value: new Uint8Array(value) });
  }
  return out;
}

/**
 * Decodes and validates a range snapshot: every row inside its span.
 * @throws BadCommandError, BadDescriptorError
 */
export function decodeRangeSnapshot(data: Uint8Array): RangeSnapshot {
  let raw: unknown;
  try {
    raw = unpackr.unpack(data);
  } catch {
    throw new BadCommandError('snapshot data is not msgpack');
  }
  if (!Array.isArray(raw) || raw.length !== 4 || raw[0] !== VERSION ||
    !(raw[1] instanceof Uint8Array)) throw new BadCommandError('snapshot layout');
  const descriptor = decodeDescriptor(new Uint8Array(raw[1]));
  const local = rows(raw[2], 'local');
  const user = rows(raw[3], 'user');
  const { start, end } = localSpan(descriptor.rangeId);
  const inside = (k: Uint8Array, s: Uint8Array, e: Uint8Array) =>
    compareKeys(k, s) >= 0 && compareKeys(k, e) < 0;
  if (!local.every((r) => inside(r.key, start, end)) ||
    !user.every((r) => inside(r.key, descriptor.startKey, descriptor.endKey))) {
    throw new BadCommandError('snapshot row outside its span');
  }
  return { descriptor, local, user };
}
