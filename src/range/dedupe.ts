/**
 * The dedupe table: which command ids a range has applied, so that a command re-proposed
 * after a leader change, or duplicated by the network, applies once.
 *
 * It is part of the replicated state. Every replica applies the same entries in the same
 * order, so every replica records the same ids in the same order and evicts the same ones:
 * the table is a deterministic function of the log. Each record is also written under the
 * range-local key `local(rangeId, 'd', id)` in the same apply batch as the command's writes,
 * so it survives a restart (`load` rebuilds the table from those rows, in apply order) and it
 * travels in snapshots (which carry the range-local rows).
 *
 * BOUND. At most `entriesMax` ids; recording one more evicts the oldest (and deletes its
 * row). A duplicate arriving after its id was evicted would apply again: the bound must
 * cover every duplicate's lifetime (a re-proposal is made within a proposal timeout, so a
 * few thousand commands per range are plenty for the default).
 *
 * What is kept per id: the index it applied at and an outcome code. Only commands that took
 * effect are recorded (code ''): a command that failed changed nothing, and its retry must
 * be judged afresh (it may now succeed, on this range or on the one that holds its keys
 * after a split or merge). The code field is kept for outcomes a later version records.
 */
import { assert } from '../util/index.js';
import { BadCommandError } from './errors.js';
import { keyToString, localKey, localPrefix, prefixEnd } from './keys.js';
import type { KvReader, KvWriter } from './kv_store.js';

/** Tag byte of the dedupe rows under a range's local prefix (`d`). */
export const DEDUPE_TAG = 0x64;
/** Default bound of the table. */
export const DEDUPE_ENTRIES_DEFAULT = 4096;

/** What the table remembers of one applied command. */
export interface DedupeRecord {
  /** The log index the command applied at. */
  index: number;
  /** The outcome's error code, '' if it succeeded. */
  code: string;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** The applied command ids of one range (see the file header). */
export class DedupeTable {
  /** id (binary string) → record, in apply order (Map keeps insertion order). */
  private readonly records = new Map<string, DedupeRecord>();
  /** Index of the last record (records arrive in apply order). */
  private lastIndex = 0;

  constructor(readonly rangeId: number, readonly entriesMax = DEDUPE_ENTRIES_DEFAULT) {
    assert(Number.isSafeInteger(entriesMax) && entriesMax > 0, 'dedupe bound');
  }

  /** Number of ids held. */
  get size(): number {
    return this.records.size;
  }

  /** The record of `id`, if it applied (and was not evicted). */
  lookup(id: Uint8Array): DedupeRecord | undefined {
    return this.records.get(keyToString(id));
  }

  /**
   * Records that `id` applied at `index` with outcome `code`, writing its row (and deleting
   * the evicted one's) through `writer`, in the command's own apply batch.
   */
  record(id: Uint8Array, index: number, code: string, writer: KvWriter): void {
    const k = keyToString(id);
    assert(!this.records.has(k), 'a command id is recorded once');
    assert(index > this.lastIndex, 'records arrive in apply order');
    if (this.records.size >= this.entriesMax) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
      writer.delete(this.rowKey(oldest));
    }
    this.records.set(k, { index, code });
    this.lastIndex = index;
    writer.put(this.rowKey(k), encodeRecord({ index, code }));
    assert(this.records.size <= this.entriesMax, 'dedupe bound holds');
  }

  /**
   * Takes over every record of `other` this table lacks, its index capped at `index` (an
   * entry at or before the one that carries them over), writing the rows under this range's
   * prefix: a command the other range applied still applies once when retried here. A merge takes the
   * right range's table; a split's right side the left's (a client retrying a command that
   * applied before the split reaches the side that holds its key now). The table is then in
   * the order `load` rebuilds (index, then id), so a restarted replica evicts what the others
   * do; the oldest beyond the bound are evicted.
   */
  absorb(other: DedupeTable, index: number, writer: KvWriter): void {
    assert(other !== this && other.rangeId !== this.rangeId, 'absorb another range');
    assert(Number.isSafeInteger(index) && index > 0, 'a stamp index');
    const all = [...this.records];
    for (const [k, record] of other.records) {
      if (this.records.has(k)) continue;
      const taken = { index: Math.min(record.index, index), code: record.code };
      all.push([k, taken]);
      writer.put(this.rowKey(k), encodeRecord(taken));
    }
    all.sort(([ka, a], [kb, b]) => a.index - b.index || (ka < kb ? -1 : ka > kb ? 1 : 0));
    this.records.clear();
    const evict = Math.max(0, all.length - this.entriesMax);
    for (let i = 0; i < all.length; i++) {
      const [k, record] = all[i]!;
      if (i < evict) writer.delete(this.rowKey(k));
      else this.records.set(k, record);
    }
    this.lastIndex = all.length === 0 ? this.lastIndex : all[all.length - 1]![1].index;
    assert(this.records.size <= this.entriesMax, 'dedupe bound holds');
  }

  /** Empties the table and rebuilds it from the range-local rows (a restart, a snapshot). */
  load(reader: KvReader): void {
    this.records.clear();
    const start = localKey(this.rangeId, DEDUPE_TAG, new Uint8Array(0));
    const end = prefixEnd(start)!;
    const rows = reader.scan(start, end, this.entriesMax + 1);
    if (rows.length > this.entriesMax) throw new BadCommandError('dedupe table over its bound');
    const loaded = rows.map((row) => ({
      id: keyToString(row.key.subarray(start.length)), record: decodeRecord(row.value),
    }));
    loaded.sort((a, b) => a.record.index - b.record.index ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.lastIndex = 0;
    for (const { id, record } of loaded) {
      this.records.set(id, record);
      this.lastIndex = record.index;
    }
    assert(this.records.size === rows.length, 'no duplicate row');
  }

  /** Deletes every row of the table (the replica is destroyed or merged away). */
  clear(writer: KvWriter): void {
    for (const k of this.records.keys()) writer.delete(this.rowKey(k));
    this.records.clear();
    this.lastIndex = 0;
  }

  private rowKey(id: string): Uint8Array {
    const prefix = localPrefix(this.rangeId);
    const out = new Uint8Array(prefix.length + 1 + id.length);
    out.set(prefix);
    out[prefix.length] = DEDUPE_TAG;
    for (let i = 0; i < id.length; i++) out[prefix.length + 1 + i] = id.charCodeAt(i);
    return out;
  }
}

function encodeRecord(r: DedupeRecord): Uint8Array {
  const code = textEncoder.encode(r.code);
  const out = new Uint8Array(8 + code.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(r.index / 0x100000000));
  view.setUint32(4, r.index >>> 0);
  out.set(code, 8);
  return out;
}

function decodeRecord(b: Uint8Array): DedupeRecord {
  if (b.length < 8 || b.length > 64) throw new BadCommandError('dedupe row');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const index = view.getUint32(0) * 0x100000000 + view.getUint32(4);
  if (index <= 0 || !Number.isSafeInteger(index)) throw new BadCommandError('dedupe index');
  return { index, code: textDecoder.decode(b.subarray(8)) };
}
