/**
 * The value layout of the durable engine: every record is `crc32 u32 BE | payload`, where
 * the checksum covers the record's key and then its payload, so a damaged value and a value
 * found under the wrong key are both caught. Payloads are fixed binary layouts (u64 fields
 * big-endian, see _keys.ts):
 *
 *   RaftState   term u64 | vote u64 | commit u64 |
 *               truncatedIndex u64 | truncatedTerm u64 | lastIndex u64
 *   Applied     index u64 | ConfState | descriptor length u32 | descriptor
 *   Snapshot    index u64 | term u64 | ConfState | data length u32 | data
 *   LogBlock    first index u64 | count u16 | count × (term u64 | type u8 | length u32 | data):
 *               the consecutive entries from `first` that the log holds within one block of
 *               LOG_BLOCK_ENTRIES indexes (_keys.ts: the key names the block's last index)
 *   Identity    format version u32 | store id u64 | cluster id length u16 | cluster id utf8
 *   User value  value bytes (to the end)
 *   ConfState   autoLeave u8 | 4 × (count u32 | ids u64 ...): voters, learners,
 *               votersOutgoing, learnersNext
 *
 * Encoders write into one growing scratch buffer owned by a `RecordCodec` and return a view
 * of it, valid until the next encode (the backends copy on write). Decoders throw
 * `ReplicaCorruptError` naming the range and key on any mismatch; a decoded entry's data is a
 * view of the value the backend returned, never copied.
 */
import { crc32 } from 'node:zlib';
import { assert } from '../util/index.js';
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../raft/index.js';
import { ReplicaCorruptError } from './errors.js';
import { LOG_BLOCK_ENTRIES, keyHex, readU64, writeU64 } from './_keys.js';
import type { AppliedState } from './engine.js';

/**
 * The engine format this code writes and reads (2: the snapshot record moved from the
 * metadata range to log index 0, so the open scan reads two records per replica; 3: log
 * entries are stored in blocks, one record per LOG_BLOCK_ENTRIES indexes, not one each).
 */
export const ENGINE_FORMAT_VERSION = 3;

/** A replica's log bounds, as the LogState record holds them. */
export interface LogState {
  /** The last compacted (or snapshot) index; the first entry is at `truncatedIndex + 1`. */
  truncatedIndex: number;
  /** The term of the entry at `truncatedIndex`. */
  truncatedTerm: number;
  /** The last index (`truncatedIndex` when the log is empty). */
  lastIndex: number;
}

/** The identity of a data directory. */
export interface EngineIdentity {
  formatVersion: number;
  storeId: number;
  clusterId: string;
}

const CRC_BYTES = 4;
/** Bytes of an entry's header in a LogBlock: term u64, type u8, data length u32. */
const ENTRY_HEADER_BYTES = 13;
const ENTRY_TYPE_MAX = 2;

/**
 * Payloads up to this many bytes are checksummed in JS: a log entry's record (key and a
 * small payload) costs ~0.1 µs that way against ~0.3 µs for two calls into zlib, whose fixed
 * cost per call dominates below ~250 bytes (measured in CPU time, Node 20, this machine).
 */
export const JS_CRC_BYTES_MAX = 192;

/** CRC-32 (IEEE) tables for four bytes a step: table t maps a byte t positions further on. */
const CRC_TABLES = crcTables();

function crcTables(): Int32Array {
  const t = new Int32Array(1024);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 4; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  assert(t[1]! === 0x77073096 && (t[255]! >>> 0) === 0x2d02ef8d, 'the IEEE CRC-32 table');
  return t;
}

/** CRC-32 of `bytes` continuing from `crc`, the same value as zlib's `crc32(bytes, crc)`. */
export function crc32Small(bytes: Uint8Array, crc: number): number {
  const t = CRC_TABLES;
  const n = bytes.length;
  const whole = n & ~3;
  let c = ~crc;
  let i = 0;
  for (; i < whole; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^
      t[c >>> 24]!;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function checksum(key: Uint8Array, payload: Uint8Array): number {
  const crc = key.length <= JS_CRC_BYTES_MAX ? crc32Small(key, 0) : crc32(key);
  return payload.length <= JS_CRC_BYTES_MAX ? crc32Small(payload, crc) : crc32(payload, crc);
}

function confStateBytes(cs: ConfState): number {
  const ids = cs.voters.length + cs.learners.length + cs.votersOutgoing.length +
    cs.learnersNext.length;
  return 1 + 16 + 8 * ids;
}

/**
 * Records up to this many bytes are returned as a view kept per length, so that encoding a
 * log entry allocates nothing (a batch of entries of one size reuses one view); at most this
 * many views, ~100 bytes each, per engine.
 */
export const RECORD_VIEWS_BYTES_MAX = 1024;

/** Encodes records into a reused buffer; one per engine. */
export class RecordCodec {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  /** `views[n]`: the first `n` bytes of `buffer` (and `payloads[n]` its bytes after the CRC). */
  private views: Uint8Array[] = [];
  private payloads: Uint8Array[] = [];
  private readonly encoder = new TextEncoder();

  private reserve(payloadBytes: number): DataView {
    const need = CRC_BYTES + payloadBytes;
    if (need > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(need, this.buffer.length * 2));
      this.view = new DataView(this.buffer.buffer);
      this.views = [];
      this.payloads = [];
    }
    return this.view;
  }

  private seal(key: Uint8Array, payloadBytes: number): Uint8Array {
    const bytes = CRC_BYTES + payloadBytes;
    let record = this.views[bytes];
    let payload = this.payloads[bytes];
    if (record === undefined || payload === undefined) {
      record = this.buffer.subarray(0, bytes);
      payload = record.subarray(CRC_BYTES);
      if (bytes <= RECORD_VIEWS_BYTES_MAX) {
        this.views[bytes] = record;
        this.payloads[bytes] = payload;
      }
    }
    assert(record.buffer === this.buffer.buffer && record.length === bytes, 'a view of the buffer');
    this.view.setUint32(0, checksum(key, payload));
    return record;
  }

  /** A RaftState record (HardState and log bounds). */
  raftState(key: Uint8Array, hs: HardState, s: LogState): Uint8Array {
    assert(s.lastIndex >= s.truncatedIndex, 'the log ends at or after its truncation');
    const v = this.reserve(48);
    writeU64(v, 4, hs.term);
    writeU64(v, 12, hs.vote);
    writeU64(v, 20, hs.commit);
    writeU64(v, 28, s.truncatedIndex);
    writeU64(v, 36, s.truncatedTerm);
    writeU64(v, 44, s.lastIndex);
    return this.seal(key, 48);
  }

  /** An Applied record. */
  applied(key: Uint8Array, a: AppliedState): Uint8Array {
    const bytes = 8 + confStateBytes(a.confState) + 4 + a.descriptor.length;
    const v = this.reserve(bytes);
    writeU64(v, 4, a.index);
    let at = this.writeConfState(v, 12, a.confState);
    v.setUint32(at, a.descriptor.length);
    this.buffer.set(a.descriptor, at + 4);
    at += 4 + a.descriptor.length;
    assert(at === CRC_BYTES + bytes, 'the Applied layout fills its reservation');
    return this.seal(key, bytes);
  }

  /** A Snapshot record. */
  snapshot(key: Uint8Array, s: Snapshot): Uint8Array {
    const md = s.metadata;
    const bytes = 16 + confStateBytes(md.confState) + 4 + s.data.length;
    const v = this.reserve(bytes);
    writeU64(v, 4, md.index);
    writeU64(v, 12, md.term);
    let at = this.writeConfState(v, 20, md.confState);
    v.setUint32(at, s.data.length);
    this.buffer.set(s.data, at + 4);
    at += 4 + s.data.length;
    assert(at === CRC_BYTES + bytes, 'the Snapshot layout fills its reservation');
    return this.seal(key, bytes);
  }

  /**
   * A LogBlock record of `count` consecutive entries of `entries` from its start (one block's
   * run: the caller keeps them within one block).
   */
  logBlock(key: Uint8Array, entries: readonly Entry[], count: number): Uint8Array {
    assert(count > 0 && count <= entries.length && count <= 0xffff, 'a run of one block');
    let bytes = 10;
    for (let k = 0; k < count; k++) bytes += ENTRY_HEADER_BYTES + entries[k]!.data.length;
    const v = this.reserve(bytes);
    const buffer = this.buffer;
    const first = entries[0]!.index;
    writeU64(v, 4, first);
    v.setUint16(12, count);
    let at = 14;
    for (let k = 0; k < count; k++) {
      const e = entries[k]!;
      assert(e.index === first + k, 'a block holds consecutive entries');
      writeU64(v, at, e.term);
      buffer[at + 8] = e.type;
      const data = e.data;
      const n = data.length;
      v.setUint32(at + 9, n);
      at += ENTRY_HEADER_BYTES;
      buffer.set(data, at);
      at += n;
    }
    assert(at === CRC_BYTES + bytes, 'the LogBlock layout fills its reservation');
    return this.seal(key, bytes);
  }

  /** The Identity record. */
  identity(key: Uint8Array, id: EngineIdentity): Uint8Array {
    const cluster = this.encoder.encode(id.clusterId);
    assert(cluster.length <= 0xffff, 'cluster ids are short');
    const v = this.reserve(14 + cluster.length);
    v.setUint32(4, id.formatVersion);
    writeU64(v, 8, id.storeId);
    v.setUint16(16, cluster.length);
    this.buffer.set(cluster, 18);
    return this.seal(key, 14 + cluster.length);
  }

  /** A user value record. */
  userValue(key: Uint8Array, value: Uint8Array): Uint8Array {
    this.reserve(value.length);
    this.buffer.set(value, CRC_BYTES);
    return this.seal(key, value.length);
  }

  private writeConfState(v: DataView, at: number, cs: ConfState): number {
    v.setUint8(at, cs.autoLeave ? 1 : 0);
    at += 1;
    for (const ids of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
      v.setUint32(at, ids.length);
      at += 4;
      for (let i = 0; i < ids.length; i++, at += 8) writeU64(v, at, ids[i]!);
    }
    return at;
  }
}

/** Reads one record's fields, throwing `ReplicaCorruptError` on anything out of place. */
class RecordReader {
  readonly view: DataView;
  at = CRC_BYTES;

  constructor(
    readonly rangeId: number,
    readonly key: Uint8Array,
    readonly value: Uint8Array,
    readonly what: string,
  ) {
    this.view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    if (value.length < CRC_BYTES) this.fail('truncated record');
    if (this.view.getUint32(0) !== checksum(key, value.subarray(CRC_BYTES))) {
      this.fail('checksum mismatch');
    }
  }

  fail(why: string): never {
    throw new ReplicaCorruptError(this.rangeId, keyHex(this.key), `${this.what}: ${why}`);
  }

  need(bytes: number): void {
    if (this.at + bytes > this.value.length) this.fail('truncated record');
  }

  u64(): number {
    this.need(8);
    const n = readU64(this.view, this.at);
    if (!Number.isSafeInteger(n)) this.fail('number out of range');
    this.at += 8;
    return n;
  }

  u32(): number {
    this.need(4);
    this.at += 4;
    return this.view.getUint32(this.at - 4);
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    this.at += n;
    return this.value.subarray(this.at - n, this.at);
  }

  ids(): number[] {
    const n = this.u32();
    if (n > 4096) this.fail('implausible member count');
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.u64());
    return out;
  }

  confState(): ConfState {
    this.need(1);
    const autoLeave = this.view.getUint8(this.at++) === 1;
    const voters = this.ids();
    const learners = this.ids();
    const votersOutgoing = this.ids();
    const learnersNext = this.ids();
    return { voters, learners, votersOutgoing, learnersNext, autoLeave };
  }

  end(): void {
    if (this.at !== this.value.length) this.fail('trailing bytes');
  }
}

/** Decodes a RaftState record. */
export function decodeRaftState(rangeId: number, key: Uint8Array, value: Uint8Array):
  { hardState: HardState; log: LogState } {
  const r = new RecordReader(rangeId, key, value, 'RaftState');
  const hardState = { term: r.u64(), vote: r.u64(), commit: r.u64() };
  const log = { truncatedIndex: r.u64(), truncatedTerm: r.u64(), lastIndex: r.u64() };
  r.end();
  if (log.lastIndex < log.truncatedIndex) r.fail('last index below the truncated index');
  return { hardState, log };
}

/** Decodes an Applied record (the descriptor is copied: it outlives the read buffer). */
export function decodeApplied(rangeId: number, key: Uint8Array, value: Uint8Array):
  AppliedState {
  const r = new RecordReader(rangeId, key, value, 'Applied');
  const index = r.u64();
  const confState = r.confState();
  const descriptor = r.bytes(r.u32()).slice();
  r.end();
  return { index, confState, descriptor };
}

/** Decodes a Snapshot record. */
export function decodeSnapshot(rangeId: number, key: Uint8Array, value: Uint8Array): Snapshot {
  const r = new RecordReader(rangeId, key, value, 'Snapshot');
  const index = r.u64();
  const term = r.u64();
  const confState = r.confState();
  const data = r.bytes(r.u32()).slice();
  r.end();
  return { data, metadata: { index, term, confState } };
}

/** A decoded LogBlock: entries `first`, `first + 1`, ... */
export interface LogBlock {
  first: number;
  entries: Entry[];
}

/**
 * Decodes the LogBlock record of the block whose last index is `blockLast`; its entries' data
 * are views of `value`.
 */
export function decodeLogBlock(rangeId: number, key: Uint8Array, value: Uint8Array,
  blockLast: number): LogBlock {
  const r = new RecordReader(rangeId, key, value, `log block ending ${blockLast}`);
  const first = r.u64();
  r.need(2);
  const count = r.view.getUint16(r.at);
  r.at += 2;
  if (count === 0 || first + count - 1 > blockLast || blockLast - first >= LOG_BLOCK_ENTRIES) {
    r.fail('entries outside the block');
  }
  const entries: Entry[] = [];
  for (let k = 0; k < count; k++) {
    const term = r.u64();
    r.need(1);
    const type = r.view.getUint8(r.at++);
    if (type > ENTRY_TYPE_MAX) r.fail('unknown entry type');
    const data = r.bytes(r.u32());
    entries.push({ term, index: first + k, type: type as EntryType, data });
  }
  r.end();
  return { first, entries };
}

/** Decodes the Identity record (`rangeId` 0: it belongs to no range). */
export function decodeIdentity(key: Uint8Array, value: Uint8Array): EngineIdentity {
  const r = new RecordReader(0, key, value, 'engine identity');
  const formatVersion = r.u32();
  // Another format's identity may be laid out differently: report its version only.
  if (formatVersion !== ENGINE_FORMAT_VERSION) return { formatVersion, storeId: 0, clusterId: '' };
  const storeId = r.u64();
  r.need(2);
  const length = r.view.getUint16(r.at);
  r.at += 2;
  const clusterId = new TextDecoder().decode(r.bytes(length));
  r.end();
  return { formatVersion, storeId, clusterId };
}

/** Decodes a user value record (a view of `value`). */
export function decodeUserValue(key: Uint8Array, value: Uint8Array): Uint8Array {
  const r = new RecordReader(0, key, value, 'user value');
  return r.bytes(value.length - CRC_BYTES);
}

/** Reads 8 big-endian bytes of `b` at `at`; -1 if not a safe integer. */
function u64At(b: Uint8Array, at: number): number {
  const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  return hi < 0x200000 ? hi * 2 ** 32 + lo : -1;
}

/** Reads 4 big-endian bytes of `b` at `at`. */
function u32At(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

const RAFT_STATE_BYTES = CRC_BYTES + 6 * 8;
const APPLIED_CONF_AT = CRC_BYTES + 8;

/**
 * Decodes the open scan's two records per replica into a summary's fields without the
 * allocations of `decodeRaftState` / `decodeApplied` (a million replicas open from these):
 * fixed offsets instead of a reader, no descriptor copy, and a replica whose configuration
 * bytes equal the previous replica's gets the previous `ConfState` object (replicas of a
 * store share a few). Anything the fast path does not accept (a bad checksum, layout or
 * number, a new configuration) goes to the full decoder, which throws the same
 * `ReplicaCorruptError` a load would, or decodes it.
 */
export class SummaryDecoder {
  private conf = new Uint8Array(64);
  private confLength = -1;
  private confState: ConfState | null = null;

  /** Fills `out`'s term, vote, commit and lastIndex from a RaftState record. */
  raftState(rangeId: number, key: Uint8Array, value: Uint8Array,
    out: { term: number; vote: number; commit: number; lastIndex: number }): void {
    if (value.length === RAFT_STATE_BYTES && sealedBy(key, value)) {
      const term = u64At(value, 4);
      const vote = u64At(value, 12);
      const commit = u64At(value, 20);
      const truncated = u64At(value, 28);
      const truncatedTerm = u64At(value, 36);
      const last = u64At(value, 44);
      if (Math.min(term, vote, commit, truncated, truncatedTerm, last) >= 0 &&
        last >= truncated) {
        out.term = term;
        out.vote = vote;
        out.commit = commit;
        out.lastIndex = last;
        return;
      }
    }
    const { hardState, log } = decodeRaftState(rangeId, key, value);
    out.term = hardState.term;
    out.vote = hardState.vote;
    out.commit = hardState.commit;
    out.lastIndex = log.lastIndex;
  }

  /** Fills `out`'s appliedIndex and confState from an Applied record. */
  applied(rangeId: number, key: Uint8Array, value: Uint8Array,
    out: { appliedIndex: number; confState: ConfState }): void {
    const confEnd = confEndOf(value);
    if (confEnd > 0 && this.confState !== null && confEnd - APPLIED_CONF_AT === this.confLength &&
      sealedBy(key, value)) {
      const index = u64At(value, CRC_BYTES);
      if (index >= 0 && this.sameConf(value)) {
        out.appliedIndex = index;
        out.confState = this.confState;
        return;
      }
    }
    const applied = decodeApplied(rangeId, key, value);
    assert(confEnd > 0, 'a decodable Applied record has a configuration in place');
    out.appliedIndex = applied.index;
    out.confState = applied.confState;
    this.remember(value, confEnd, applied.confState);
  }

  private sameConf(value: Uint8Array): boolean {
    const conf = this.conf;
    for (let i = 0; i < this.confLength; i++) {
      if (value[APPLIED_CONF_AT + i] !== conf[i]) return false;
    }
    return true;
  }

  private remember(value: Uint8Array, confEnd: number, cs: ConfState): void {
    const length = confEnd - APPLIED_CONF_AT;
    if (length > this.conf.length) this.conf = new Uint8Array(length * 2);
    this.conf.set(value.subarray(APPLIED_CONF_AT, confEnd));
    this.confLength = length;
    this.confState = cs;
  }
}

function sealedBy(key: Uint8Array, value: Uint8Array): boolean {
  return u32At(value, 0) === checksum(key, value.subarray(CRC_BYTES));
}

/**
 * Where an Applied record's configuration ends, if its layout holds (the lists in bounds, a
 * descriptor length that ends the record exactly); -1 otherwise.
 */
function confEndOf(value: Uint8Array): number {
  let at = APPLIED_CONF_AT + 1;
  for (let list = 0; list < 4; list++) {
    if (at + 4 > value.length) return -1;
    at += 4 + 8 * u32At(value, at);
  }
  if (at + 4 > value.length) return -1;
  return at + 4 + u32At(value, at) === value.length ? at : -1;
}
