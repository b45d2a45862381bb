/**
 * The per-store manifest of the durable engine: every replica's summary (what the open scan
 * reads from two records per replica) in a few large records, written at a clean close and
 * consumed by the next open, which then reads megabytes in a few gets instead of iterating
 * two small records per replica (measured: the scan is about 2.3 us per record in
 * classic-level's `nextv`; the manifest about 0.1 us per replica).
 *
 * VALID ONLY UNTIL THE NEXT WRITE. `close` writes the chunks and then the header, in one
 * synced write, after every other write completed; `open` reads it and deletes the header
 * (synced) before it returns, so before any other write. A crash (no clean close), a failed
 * write (nothing is written at close then) or a deleted header leave no header: the next
 * open scans. Chunks of an older manifest are ignored (each names its epoch).
 *
 * LAYOUT (keys under the identity prefix 0x01, outside every range and the data check):
 *
 *   0x01 0x02                 header: crc u32 | format u32 | epoch u32 | rows u32 |
 *                             chunks u32 | configurations u32 | each: autoLeave u8 and
 *                             4 x (count u32 | ids f64 ...)
 *   0x01 0x03 | chunk u32 BE  rows: crc u32 | epoch u32 | rows u32 | pad u32 |
 *                             rows x ROW_FIELDS f64, little-endian
 *
 * A row: range id, term, vote, commit, last index, applied index, configuration index,
 * flags (1: the replica was refused). Rows are in range id order.
 */
import { crc32 } from 'node:zlib';
import { assert } from '../util/index.js';
import type { ConfState } from '../raft/index.js';
import type { Backend } from './_backend.js';
import type { ReplicaSummary } from './engine.js';
import { ReplicaCorruptError } from './errors.js';

/** The manifest layout version (independent of the record format). */
const MANIFEST_FORMAT = 1;
/** Fields of a row. */
const ROW_FIELDS = 8;
/** Rows per chunk record (4 MiB values). */
const CHUNK_ROWS = 65_536;
/** Distinct configurations a manifest holds at most (beyond: no manifest, the next open scans). */
const CONFIGURATIONS_MAX = 65_536;
const FLAG_REFUSED = 1;

export const MANIFEST_HEADER_KEY: Uint8Array = Uint8Array.of(0x01, 0x02);

function chunkKey(chunk: number): Uint8Array {
  const key = new Uint8Array(6);
  key[0] = 0x01;
  key[1] = 0x03;
  new DataView(key.buffer).setUint32(2, chunk);
  return key;
}

function sealed(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(4 + payload.length);
  record.set(payload, 4);
  new DataView(record.buffer).setUint32(0, crc32(payload, crc32(key)));
  return record;
}

function opened(key: Uint8Array, record: Uint8Array | undefined): DataView | null {
  if (record === undefined || record.length < 4) return null;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  return view.getUint32(0) === crc32(record.subarray(4), crc32(key)) ? view : null;
}

/**
 * The summaries of every replica of an open engine, in range id order, as columns: filled
 * by the open (scan or manifest), kept up to date for the replicas not loaded since (their
 * records are untouched), written back at close.
 */
export class ReplicaRows {
  count = 0;
  private rows = new Float64Array(ROW_FIELDS * 1024);
  /** Distinct configurations, and each one's index (by a string key). */
  readonly configurations: ConfState[] = [];
  private readonly configIndex = new Map<string, number>();
  private lastConfig: ConfState | null = null;
  private lastConfigIndex = 0;

  /** Appends `s` (range ids strictly increasing). */
  push(s: ReplicaSummary): void {
    assert(this.count === 0 || s.rangeId > this.rangeIdAt(this.count - 1), 'rows in order');
    if ((this.count + 1) * ROW_FIELDS > this.rows.length) this.grow();
    const at = this.count++ * ROW_FIELDS;
    const r = this.rows;
    r[at] = s.rangeId;
    r[at + 1] = s.term;
    r[at + 2] = s.vote;
    r[at + 3] = s.commit;
    r[at + 4] = s.lastIndex;
    r[at + 5] = s.appliedIndex;
    r[at + 6] = s.error === null ? this.intern(s.confState) : 0;
    r[at + 7] = s.error === null ? 0 : FLAG_REFUSED;
  }

  /** Appends a row read from a manifest chunk (`fields`: ROW_FIELDS values, checked). */
  pushFields(fields: Float64Array): void {
    assert(fields.length === ROW_FIELDS && fields[6]! < this.configurations.length, 'a row');
    assert(this.count === 0 || fields[0]! > this.rangeIdAt(this.count - 1), 'rows in order');
    if ((this.count + 1) * ROW_FIELDS > this.rows.length) this.grow();
    this.rows.set(fields, this.count++ * ROW_FIELDS);
  }

  private grow(): void {
    const grown = new Float64Array(this.rows.length * 2);
    grown.set(this.rows);
    this.rows = grown;
  }

  rangeIdAt(i: number): number {
    return this.rows[i * ROW_FIELDS]!;
  }

  /** Fills `s` from row `i` (a refused row gets an error naming the range). */
  read(i: number, s: ReplicaSummary): void {
    assert(i < this.count, 'a row');
    const at = i * ROW_FIELDS;
    const r = this.rows;
    s.rangeId = r[at]!;
    s.term = r[at + 1]!;
    s.vote = r[at + 2]!;
    s.commit = r[at + 3]!;
    s.lastIndex = r[at + 4]!;
    s.appliedIndex = r[at + 5]!;
    s.confState = this.configurations[r[at + 6]!] ?? this.configurations[0]!;
    s.error = (r[at + 7]! & FLAG_REFUSED) === 0 ? null
      : new ReplicaCorruptError(s.rangeId, '', 'refused at an earlier open');
  }

  /** The bytes held. */
  get memoryBytes(): number {
    return this.rows.byteLength;
  }

  /** Adds a configuration read from a manifest header (distinct by construction). */
  addConfiguration(cs: ConfState): void {
    this.intern(cs);
  }

  private intern(cs: ConfState): number {
    // Replicas read from a manifest share their configuration objects.
    if (cs === this.lastConfig) return this.lastConfigIndex;
    const key = `${cs.voters.join(',')}/${cs.learners.join(',')}/${cs.votersOutgoing.join(',')}` +
      `/${cs.learnersNext.join(',')}/${cs.autoLeave ? 1 : 0}`;
    let index = this.configIndex.get(key);
    if (index === undefined) {
      index = this.configurations.length;
      this.configurations.push(cs);
      this.configIndex.set(key, index);
    }
    this.lastConfig = cs;
    this.lastConfigIndex = index;
    return index;
  }

  /** The manifest's records (keys and values) for `epoch`, or null if it cannot hold them. */
  encode(epoch: number): [Uint8Array, Uint8Array][] | null {
    if (this.configurations.length > CONFIGURATIONS_MAX) return null;
    const out: [Uint8Array, Uint8Array][] = [];
    const chunks = Math.ceil(this.count / CHUNK_ROWS);
    for (let c = 0; c < chunks; c++) {
      const rows = Math.min(CHUNK_ROWS, this.count - c * CHUNK_ROWS);
      const payload = new Uint8Array(12 + rows * ROW_FIELDS * 8);
      const view = new DataView(payload.buffer);
      view.setUint32(0, epoch);
      view.setUint32(4, rows);
      const base = c * CHUNK_ROWS * ROW_FIELDS;
      for (let k = 0; k < rows * ROW_FIELDS; k++) {
        view.setFloat64(12 + k * 8, this.rows[base + k]!, true);
      }
      const key = chunkKey(c);
      out.push([key, sealed(key, payload)]);
    }
    out.push([MANIFEST_HEADER_KEY, sealed(MANIFEST_HEADER_KEY, this.header(epoch, chunks))]);
    return out;
  }

  private header(epoch: number, chunks: number): Uint8Array {
    let bytes = 20;
    for (const cs of this.configurations) {
      bytes += 1 + 16 + 8 * (cs.voters.length + cs.learners.length + cs.votersOutgoing.length +
        cs.learnersNext.length);
    }
    const payload = new Uint8Array(bytes);
    const v = new DataView(payload.buffer);
    v.setUint32(0, MANIFEST_FORMAT);
    v.setUint32(4, epoch);
    v.setUint32(8, this.count);
    v.setUint32(12, chunks);
    v.setUint32(16, this.configurations.length);
    let at = 20;
    for (const cs of this.configurations) {
      v.setUint8(at++, cs.autoLeave ? 1 : 0);
      for (const ids of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
        v.setUint32(at, ids.length);
        at += 4;
        for (const id of ids) {
          v.setFloat64(at, id);
          at += 8;
        }
      }
    }
    assert(at === bytes, 'the header fills its buffer');
    return payload;
  }
}

/** The manifest's epoch and rows, or null when there is none (or it does not check out). */
export function readManifest(backend: Backend): { epoch: number; rows: ReplicaRows } | null {
  const h = opened(MANIFEST_HEADER_KEY, backend.getSync(MANIFEST_HEADER_KEY));
  if (h === null || h.byteLength < 24 || h.getUint32(4) !== MANIFEST_FORMAT) return null;
  const epoch = h.getUint32(8);
  const count = h.getUint32(12);
  const chunks = h.getUint32(16);
  const rows = new ReplicaRows();
  if (!readConfigurations(h, h.getUint32(20), rows)) return null;
  const fields = new Float64Array(ROW_FIELDS);
  for (let c = 0; c < chunks; c++) {
    const key = chunkKey(c);
    const v = opened(key, backend.getSync(key));
    if (v === null || v.getUint32(4) !== epoch) return null;
    const n = v.getUint32(8);
    if (v.byteLength !== 16 + n * ROW_FIELDS * 8) return null;
    for (let i = 0; i < n; i++) {
      const at = 16 + i * ROW_FIELDS * 8;
      for (let f = 0; f < ROW_FIELDS; f++) fields[f] = v.getFloat64(at + f * 8, true);
      if (!(fields[0]! > (rows.count === 0 ? 0 : rows.rangeIdAt(rows.count - 1)))) return null;
      if (!(fields[6]! < rows.configurations.length)) return null;
      rows.pushFields(fields);
    }
  }
  return rows.count === count ? { epoch, rows } : null;
}

function readConfigurations(h: DataView, n: number, rows: ReplicaRows): boolean {
  let at = 24;
  const summary: ReplicaSummary = { rangeId: 0, term: 0, vote: 0, commit: 0, lastIndex: 0,
    appliedIndex: 0, confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [],
      autoLeave: false }, error: null };
  for (let k = 0; k < n; k++) {
    if (at + 17 > h.byteLength) return false;
    const autoLeave = h.getUint8(at++) === 1;
    const lists: number[][] = [];
    for (let l = 0; l < 4; l++) {
      const count = h.getUint32(at);
      at += 4;
      if (at + 8 * count > h.byteLength) return false;
      const ids: number[] = [];
      for (let i = 0; i < count; i++, at += 8) ids.push(h.getFloat64(at));
      lists.push(ids);
    }
    summary.confState = { voters: lists[0]!, learners: lists[1]!, votersOutgoing: lists[2]!,
      learnersNext: lists[3]!, autoLeave };
    rows.addConfiguration(summary.confState);
  }
  return at === h.byteLength && rows.configurations.length === n;
}

