/**
 * The key layout of the durable engine (one keyspace per store). Every key starts with a
 * prefix byte, so each kind of record is one contiguous key range:
 *
 *   0x01                                   engine identity (format version, store, cluster)
 *   0x02 | rangeId u64 BE | kind u8        a replica's metadata records (MetaKind)
 *   0x03 | rangeId u64 BE | index u64 BE   a replica's log entries, a block of them per key
 *                                          (index: the block's last, see LOG_BLOCK_ENTRIES)
 *   0x03 | rangeId u64 BE | 0 u64          the replica's last applied snapshot
 *   0x04 | user key bytes                  user data, once per store across all ranges
 *   0x05 | rangeId u64 BE | app key bytes  a range's range-local application keys
 *
 * Fixed-width big-endian numbers make byte order equal numeric order, so a replica's log is
 * one ordered range and a restart lists every replica by scanning the 0x02 range (two
 * small records per replica, never a log entry). The snapshot record (format 2) sits at
 * log index 0, the slot just before the log it truncated, and out of that scan: a restart
 * reads it only when it loads the replica, and no log block ends at index 0. User keys carry no range id: a range owns a span
 * of them through its descriptor, and a split moves no data. Range-local application keys
 * (the ranges layer's descriptor and dedupe table) carry the range id: they belong to one
 * replica, travel in its snapshots and go with it when it is destroyed.
 *
 * No key is built as a string: each `KeyBuilder` owns one scratch buffer per key kind and
 * returns it (valid until its next call); the backends copy what they keep.
 */
import { assert } from '../util/index.js';

/** The first byte of every key. */
export const KeyPrefix = {
  Identity: 0x01, Meta: 0x02, Log: 0x03, User: 0x04, Local: 0x05, End: 0x06,
} as const;

/** The kind byte of a metadata record. */
export const MetaKind = {
  /**
   * Raft's HardState and the log's bounds (truncated index and term, last index), in one
   * record: both change with nearly every Ready, and one put per replica per batch halves
   * the operations LevelDB applies per entry.
   */
  RaftState: 1,
  /** The applied index with its ConfState and descriptor. */
  Applied: 3,
  // 4 was the snapshot record in format 1; it is `KeyBuilder.snapshotKey` since format 2.
} as const;

/**
 * Log indexes per block: the entries of indexes `[b·N, b·N + N - 1]` the log holds are one
 * record, under the block's last index. Why blocks: a LevelDB put costs about the same for
 * 100 bytes as for 2 KiB (the call into the binding, the memtable insert, later the
 * compaction of one more key), and under load a group appends several entries per batch,
 * so one put per block instead of per entry takes most of that off each entry (and a
 * truncation deletes one key per block). The price: an append rewrites the entries its
 * first block already holds (at most N - 1, all in the entry cache while recent).
 */
export const LOG_BLOCK_ENTRIES = 16;

/** The last index of the log block holding `index`. */
export function blockLastOf(index: number): number {
  assert(Number.isSafeInteger(index) && index >= 0, 'a log index');
  return index - (index % LOG_BLOCK_ENTRIES) + LOG_BLOCK_ENTRIES - 1;
}

/** Bytes of a metadata key. */
export const META_KEY_BYTES = 10;
/** Bytes of a log key. */
export const LOG_KEY_BYTES = 17;
/** Bytes before the application key in a range-local key (prefix and range id). */
export const LOCAL_KEY_PREFIX_BYTES = 9;
/** The largest user key (bytes), so a key buffer is allocated once. @default 4096 */
export const USER_KEY_BYTES_MAX = 4096;

const TWO_32 = 2 ** 32;

/** Writes `n` (a safe non-negative integer) as 8 big-endian bytes at `offset`. */
export function writeU64(view: DataView, offset: number, n: number): void {
  assert(Number.isSafeInteger(n) && n >= 0, 'a u64 field holds a safe non-negative integer');
  view.setUint32(offset, Math.floor(n / TWO_32));
  view.setUint32(offset + 4, n >>> 0);
}

/** Reads 8 big-endian bytes at `offset`; values above 2^53 come back unsafe (checked later). */
export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset) * TWO_32 + view.getUint32(offset + 4);
}

/** Builds keys into reused buffers. One per engine; not shared across engines. */
export class KeyBuilder {
  private readonly meta = new Uint8Array(META_KEY_BYTES);
  private readonly metaView = new DataView(this.meta.buffer);
  private readonly log = new Uint8Array(LOG_KEY_BYTES);
  private readonly logView = new DataView(this.log.buffer);
  private readonly user = new Uint8Array(USER_KEY_BYTES_MAX + 1);
  private readonly bound = new Uint8Array(USER_KEY_BYTES_MAX + 1);
  private readonly local = new Uint8Array(LOCAL_KEY_PREFIX_BYTES + USER_KEY_BYTES_MAX);
  private readonly localView = new DataView(this.local.buffer);

  constructor() {
    this.meta[0] = KeyPrefix.Meta;
    this.log[0] = KeyPrefix.Log;
    this.user[0] = KeyPrefix.User;
    this.bound[0] = KeyPrefix.User;
    this.local[0] = KeyPrefix.Local;
  }

  /** The key of a metadata record (the shared buffer: copy it to keep it). */
  metaKey(rangeId: number, kind: number): Uint8Array {
    writeU64(this.metaView, 1, rangeId);
    this.meta[9] = kind;
    return this.meta;
  }

  /** The key of the log block holding entry `index` of `rangeId` (the shared buffer). */
  logKey(rangeId: number, index: number): Uint8Array {
    assert(index >= 1, 'log entries start at index 1');
    return this.logSlot(rangeId, blockLastOf(index));
  }

  /** The key of `rangeId`'s snapshot record: log index 0 (the shared log key buffer). */
  snapshotKey(rangeId: number): Uint8Array {
    return this.logSlot(rangeId, 0);
  }

  private logSlot(rangeId: number, index: number): Uint8Array {
    writeU64(this.logView, 1, rangeId);
    writeU64(this.logView, 9, index);
    return this.log;
  }

  /** The stored key of user key `key` (a view of the shared buffer). */
  userKey(key: Uint8Array): Uint8Array {
    assert(key.length <= USER_KEY_BYTES_MAX, 'user keys are checked at the boundary');
    this.user.set(key, 1);
    return this.user.subarray(0, key.length + 1);
  }

  /** Like `userKey`, in a second buffer, for the end bound of a scan. */
  userBound(key: Uint8Array): Uint8Array {
    assert(key.length <= USER_KEY_BYTES_MAX, 'user keys are checked at the boundary');
    this.bound.set(key, 1);
    return this.bound.subarray(0, key.length + 1);
  }

  /** The stored key of range-local key `key` of `rangeId` (a view of the shared buffer). */
  localKey(rangeId: number, key: Uint8Array): Uint8Array {
    assert(key.length <= USER_KEY_BYTES_MAX, 'range-local keys are checked at the boundary');
    writeU64(this.localView, 1, rangeId);
    this.local.set(key, LOCAL_KEY_PREFIX_BYTES);
    return this.local.subarray(0, LOCAL_KEY_PREFIX_BYTES + key.length);
  }
}

/** The key of the engine identity record. */
export const IDENTITY_KEY: Uint8Array = Uint8Array.of(KeyPrefix.Identity);
/** The first key of the metadata range. */
export const META_START: Uint8Array = Uint8Array.of(KeyPrefix.Meta);
/** The first key after the metadata range. */
export const META_END: Uint8Array = Uint8Array.of(KeyPrefix.Log);
/** The first key after the user data range. */
export const USER_END: Uint8Array = Uint8Array.of(KeyPrefix.Local);
/** The first key of the range-local application keys. */
export const LOCAL_START: Uint8Array = Uint8Array.of(KeyPrefix.Local);
/** The first key after the range-local application keys. */
export const LOCAL_END: Uint8Array = Uint8Array.of(KeyPrefix.End);

/** The range id of a metadata or log key. */
export function rangeIdOfKey(key: Uint8Array): number {
  assert(key.length >= 9, 'a range-local key holds a range id');
  // Byte reads, no DataView: the open scan calls this once per record.
  const hi = ((key[1]! << 24) | (key[2]! << 16) | (key[3]! << 8) | key[4]!) >>> 0;
  const lo = ((key[5]! << 24) | (key[6]! << 16) | (key[7]! << 8) | key[8]!) >>> 0;
  return hi * TWO_32 + lo;
}

/** A key in hex, for error messages. */
export function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}
