/**
 * Private: the payload of a range snapshot, a byte stream cut into chunks (fixed binary
 * layout, u64 fields big-endian, u32 lengths):
 *
 *   header  := magic u32 "FSN1" | rangeId u64 | index u64 | term u64 | msgTerm u64 |
 *              ConfState |
 *              descriptor (len u32, bytes) | engineState u8 | hasSpan u8 [| start (len, bytes) |
 *              hasEnd u8 [| end (len, bytes)]]
 *   record  := kind u8 (1 range-local, 2 user) | keyLen u32 | valueLen u32 | key | value
 *   trailer := kind u8 (0xff) | local records u32 | user records u32
 *   ConfState := autoLeave u8 | 4 × (count u32 | ids u64 ...)
 *
 * The encoder appends to a growing buffer and hands out finished chunks of exactly the chunk
 * size (the last one shorter), so a record may straddle two chunks. The decoder takes the
 * whole verified payload and checks every length against what is left: a peer's payload is
 * never trusted to be well formed (its checksum only says it arrived as sent).
 */
import { assert } from '../util/index.js';
import type { ConfState } from '../raft/index.js';
import type { UserEntry } from '../storage/index.js';
import { GROUP_PEERS_MAX, checkConfState } from './message_check.js';

const MAGIC = 0x46534e31;
const RECORD_LOCAL = 1;
const RECORD_USER = 2;
const RECORD_END = 0xff;
const TWO_32 = 2 ** 32;

/** What a snapshot holds besides its records. */
export interface SnapshotHeader {
  rangeId: number;
  index: number;
  /** The term of the entry at `index`. */
  term: number;
  /** The term of the leader's `MsgSnap` the snapshot answers (the receiver steps one). */
  msgTerm: number;
  confState: ConfState;
  descriptor: Uint8Array;
  /**
   * Whether the snapshot carries the range's engine state (range-local keys and the span's
   * user data, replacing the receiver's); false for a state machine without `userSpan`,
   * whose snapshot is Raft's own, metadata and descriptor only.
   */
  engineState: boolean;
  /** The user span the snapshot carries (null: none; `end` null: unbounded). */
  span: { start: Uint8Array; end: Uint8Array | null } | null;
}

/** A decoded payload: header and records (views into the payload). */
export interface DecodedSnapshot {
  header: SnapshotHeader;
  local: UserEntry[];
  user: UserEntry[];
}

/** Builds a payload and cuts it into chunks of `chunkBytes`. */
export class SnapshotEncoder {
  private buffer: Uint8Array;
  private view: DataView;
  private at = 0;
  private localCount = 0;
  private userCount = 0;

  constructor(private readonly chunkBytes: number) {
    assert(chunkBytes >= 64, 'chunks hold at least a header field');
    this.buffer = new Uint8Array(chunkBytes * 2);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Appends the header. */
  header(h: SnapshotHeader): void {
    assert(this.at === 0, 'the header comes first');
    this.u32(MAGIC);
    this.u64(h.rangeId);
    this.u64(h.index);
    this.u64(h.term);
    this.u64(h.msgTerm);
    const cs = h.confState;
    this.u8(cs.autoLeave ? 1 : 0);
    for (const ids of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
      this.u32(ids.length);
      for (const id of ids) this.u64(id);
    }
    this.bytes(h.descriptor);
    this.u8(h.engineState ? 1 : 0);
    this.u8(h.span === null ? 0 : 1);
    if (h.span !== null) {
      this.bytes(h.span.start);
      this.u8(h.span.end === null ? 0 : 1);
      if (h.span.end !== null) this.bytes(h.span.end);
    }
  }

  /** Appends a range-local (`local`) or user record. */
  record(local: boolean, entry: UserEntry): void {
    this.u8(local ? RECORD_LOCAL : RECORD_USER);
    this.u32(entry.key.length);
    this.u32(entry.value.length);
    this.raw(entry.key);
    this.raw(entry.value);
    if (local) this.localCount++;
    else this.userCount++;
  }

  /** Appends the trailer; `take(true)` then returns the rest. */
  end(): void {
    this.u8(RECORD_END);
    this.u32(this.localCount);
    this.u32(this.userCount);
  }

  /** Whether a full chunk is buffered. */
  get chunkReady(): boolean {
    return this.at >= this.chunkBytes;
  }

  /** The next chunk (a copy): a full one, or with `rest` everything left. */
  take(rest: boolean): Uint8Array {
    const n = rest ? this.at : this.chunkBytes;
    assert(n <= this.at, 'take only what is buffered');
    const chunk = this.buffer.slice(0, n);
    this.buffer.copyWithin(0, n, this.at);
    this.at -= n;
    return chunk;
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buffer.length) return;
    const next = new Uint8Array(Math.max(this.at + n, this.buffer.length * 2));
    next.set(this.buffer.subarray(0, this.at));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
  private u8(n: number): void {
    this.reserve(1);
    this.buffer[this.at++] = n;
  }
  private u32(n: number): void {
    this.reserve(4);
    this.view.setUint32(this.at, n);
    this.at += 4;
  }
  private u64(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, 'a u64 field');
    this.reserve(8);
    this.view.setUint32(this.at, Math.floor(n / TWO_32));
    this.view.setUint32(this.at + 4, n >>> 0);
    this.at += 8;
  }
  private raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buffer.set(b, this.at);
    this.at += b.length;
  }
  private bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }
}

/** A malformed payload (its checksum matched: the sender is broken or hostile). */
export class BadSnapshotPayload extends Error {}

class Reader {
  at = 0;
  readonly view: DataView;
  constructor(readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  need(n: number): void {
    if (this.at + n > this.b.length) throw new BadSnapshotPayload('truncated snapshot payload');
  }
  u8(): number {
    this.need(1);
    return this.b[this.at++]!;
  }
  u32(): number {
    this.need(4);
    this.at += 4;
    return this.view.getUint32(this.at - 4);
  }
  u64(): number {
    this.need(8);
    const n = this.view.getUint32(this.at) * TWO_32 + this.view.getUint32(this.at + 4);
    this.at += 8;
    if (!Number.isSafeInteger(n)) throw new BadSnapshotPayload('number out of range');
    return n;
  }
  raw(n: number): Uint8Array {
    this.need(n);
    this.at += n;
    return this.b.subarray(this.at - n, this.at);
  }
  bytes(): Uint8Array {
    return this.raw(this.u32());
  }
  ids(): number[] {
    const n = this.u32();
    if (n > GROUP_PEERS_MAX) throw new BadSnapshotPayload('too many members');
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.u64());
    return out;
  }
}

function decodeHeader(r: Reader): SnapshotHeader {
  if (r.u32() !== MAGIC) throw new BadSnapshotPayload('not a snapshot payload');
  const rangeId = r.u64();
  const index = r.u64();
  const term = r.u64();
  const msgTerm = r.u64();
  const autoLeave = r.u8() === 1;
  const confState: ConfState = { voters: r.ids(), learners: r.ids(), votersOutgoing: r.ids(),
    learnersNext: r.ids(), autoLeave };
  if (!checkConfState(confState)) throw new BadSnapshotPayload('bad configuration');
  const descriptor = r.bytes();
  const engineState = r.u8() === 1;
  let span: SnapshotHeader['span'] = null;
  if (r.u8() === 1) {
    const start = r.bytes();
    span = { start, end: r.u8() === 1 ? r.bytes() : null };
  }
  return { rangeId, index, term, msgTerm, confState, descriptor, engineState, span };
}

/** Decodes a whole payload; throws `BadSnapshotPayload` on any inconsistency. */
export function decodeSnapshot(payload: Uint8Array): DecodedSnapshot {
  const r = new Reader(payload);
  const header = decodeHeader(r);
  const local: UserEntry[] = [];
  const user: UserEntry[] = [];
  for (;;) {
    const kind = r.u8();
    if (kind === RECORD_END) break;
    if (kind !== RECORD_LOCAL && kind !== RECORD_USER) {
      throw new BadSnapshotPayload(`unknown record kind ${kind}`);
    }
    const keyLength = r.u32();
    const valueLength = r.u32();
    const entry = { key: r.raw(keyLength), value: r.raw(valueLength) };
    (kind === RECORD_LOCAL ? local : user).push(entry);
  }
  if (r.u32() !== local.length || r.u32() !== user.length || r.at !== payload.length) {
    throw new BadSnapshotPayload('record counts or length do not match the trailer');
  }
  return { header, local, user };
}
