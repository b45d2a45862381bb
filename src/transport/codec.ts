/**
 * Frames: how bytes travel between two transports.
 *
 *     frame   := length:u32be crc:u32be payload       (length = payload bytes, crc over payload)
 *     payload := kind:u8 body                        (body is msgpackr, except where noted)
 *
 * A frame is self-contained: msgpackr records (one definition of the `Message` and `Entry`
 * shapes per frame, then one byte per object) are defined inline, never in state shared across
 * frames, so a reader that rejects a frame has nothing to resynchronise but the connection.
 * Entry payloads and contexts are msgpack `bin` values: copied once into the frame on encode,
 * and on decode handed out as views into the received frame (never re-encoded or copied).
 *
 * Batch body: `{ f: fromNodeId, t: toNodeId, h?: heartbeatColumns, e: [g, message, g, ...] }`
 * with `g = rangeId * 2 + quiesce`, and `h` the coalesced heartbeat columns of `heartbeats.ts`
 * (absent in protocol version 1, which sends every heartbeat as an ordinary message).
 */
import { Packr, Unpackr } from 'msgpackr';
import { assert, RANGE_ID_LIMIT } from '../util/index.js';
import {
  EMPTY_BYTES,
  EMPTY_ENTRIES,
  EMPTY_MESSAGES,
  MessageType,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
} from '../raft/index.js';
import type { Envelope, SnapshotChunk, SnapshotChunkKind } from './types.js';
import { FrameError, FrameErrorCode } from './errors.js';
import { ByteReaderError, ByteWriter, crc32 } from './_bytes.js';
import {
  HeartbeatCursor,
  encodeHeartbeatSection,
  isCoalescible,
} from './heartbeats.js';

/** Bytes of the frame header: payload length and CRC-32, both u32 big-endian. */
export const FRAME_HEADER_BYTES = 8;
/** No configuration may allow frames above this (the header's u32 length, with margin). */
export const FRAME_BYTES_LIMIT = 2 ** 31;

/** The kind byte that opens every payload. */
export const FrameKind = {
  /** Handshake request, dialer to listener. */
  Hello: 1,
  /** Handshake acceptance, listener to dialer, with the chosen protocol version. */
  HelloAck: 2,
  /** Handshake refusal, with a stable code and a reason; the connection closes after it. */
  Refuse: 3,
  /** A batch of envelopes for one node, heartbeats coalesced. */
  Batch: 4,
  /** One chunk of a streamed `MsgSnap`. */
  SnapshotChunk: 5,
  /** One chunk of a range snapshot streamed by the store, or its receiver's answer. */
  RangeSnapshotChunk: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface HelloFrame {
  kind: typeof FrameKind.Hello;
  clusterId: string;
  /** The dialer's node id. */
  nodeId: number;
  /** The node id the dialer expects to reach. */
  peerNodeId: number;
  versionMin: number;
  versionMax: number;
}

export interface HelloAckFrame {
  kind: typeof FrameKind.HelloAck;
  clusterId: string;
  nodeId: number;
  /** The protocol version both ends speak from now on. */
  version: number;
  /**
   * The newest version the listener speaks (its version, for the version window); absent
   * from a listener that predates the window, then taken to be `version`.
   */
  versionMax?: number;
}

export interface RefuseFrame {
  kind: typeof FrameKind.Refuse;
  code: string;
  reason: string;
}

/**
 * A received batch: the coalesced heartbeats behind a cursor (fanned out on demand, already
 * validated), and the other envelopes decoded. `batchEnvelopes` gives them all at once.
 */
export interface BatchFrame {
  kind: typeof FrameKind.Batch;
  fromNodeId: number;
  toNodeId: number;
  /** The coalesced heartbeats and responses; null in protocol version 1. */
  heartbeats: HeartbeatCursor | null;
  /** Every envelope that was not coalesced, in the order sent. */
  envelopes: Envelope[];
}

/**
 * Every envelope of a received batch: the fanned-out heartbeats (sorted by group, heartbeats
 * then responses), then the others in the order sent. Consumes the cursor.
 */
export function batchEnvelopes(frame: BatchFrame): Envelope[] {
  const out: Envelope[] = [];
  const cursor = frame.heartbeats;
  if (cursor !== null) cursor.read(out, cursor.count + 1);
  for (const envelope of frame.envelopes) out.push(envelope);
  return out;
}

/** One chunk of a snapshot stream. The first chunk carries the message without its data. */
export interface SnapshotChunkFrame {
  kind: typeof FrameKind.SnapshotChunk;
  rangeId: number;
  /** Identifies the stream among the sender's concurrent snapshot streams on the connection. */
  streamId: number;
  chunkIndex: number;
  last: boolean;
  /** The `MsgSnap` with `snapshot.data` empty, on chunk 0 only. */
  message: Message | null;
  data: Uint8Array;
}

/** A range snapshot chunk (types.ts `SnapshotChunk`; `fromNodeId` travels as the sender). */
export interface RangeSnapshotChunkFrame {
  kind: typeof FrameKind.RangeSnapshotChunk;
  chunk: SnapshotChunk;
}

export type Frame = HelloFrame | HelloAckFrame | RefuseFrame | BatchFrame | SnapshotChunkFrame |
  RangeSnapshotChunkFrame;

/** The result of encoding a batch. */
export interface EncodedBatch {
  frame: Uint8Array;
  /** Heartbeats and responses that went into the columns. */
  coalesced: number;
}

function frameError(code: FrameErrorCode, message: string, cause?: unknown): FrameError {
  return new FrameError(code, message, cause === undefined ? undefined : { cause });
}

/**
 * Encodes and decodes frames. One codec per transport: it owns reusable buffers, so it is not
 * reentrant (the transport calls it synchronously, one frame at a time).
 */
export class FrameCodec {
  private readonly packr = new Packr({
    useRecords: true,
    moreTypes: false,
    mapsAsObjects: true,
    int64AsType: 'number',
  });
  private readonly unpackr = new Unpackr({
    useRecords: true,
    moreTypes: false,
    mapsAsObjects: true,
    int64AsType: 'number',
  });
  private readonly columns: ByteWriter;
  private readonly frameBytesMax: number;
  // Scratch arrays of `encodeBatch`, reused so that a flush allocates only its output.
  private readonly heartbeats: Envelope[] = [];
  private readonly responses: Envelope[] = [];
  private readonly others: unknown[] = [];

  /** `frameBytesMax`: the largest frame, header included, accepted or produced. */
  constructor(frameBytesMax: number) {
    assert(frameBytesMax > FRAME_HEADER_BYTES + 16 && frameBytesMax <= FRAME_BYTES_LIMIT,
      'frameBytesMax out of range');
    this.frameBytesMax = frameBytesMax;
    this.columns = new ByteWriter(4096, frameBytesMax);
  }

  /**
   * Encodes `envelopes` (all for `toNodeId`) as one batch frame. With `coalesce`, plain
   * heartbeats and responses go into the columns; without (protocol version 1), every
   * envelope travels as an ordinary message. Returns null if the frame would exceed
   * `frameBytesMax` (the caller splits or drops).
   */
  encodeBatch(
    fromNodeId: number,
    toNodeId: number,
    envelopes: readonly Envelope[],
    coalesce: boolean,
  ): EncodedBatch | null {
    const { heartbeats, responses, others } = this;
    heartbeats.length = 0;
    responses.length = 0;
    others.length = 0;
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      assert(envelope.message.to === toNodeId, 'envelope routed to the wrong node');
      assert(envelope.rangeId >= 0 && envelope.rangeId < RANGE_ID_LIMIT, 'bad range id');
      if (coalesce && isCoalescible(envelope, fromNodeId, toNodeId)) {
        (envelope.message.type === MessageType.MsgHeartbeat ? heartbeats : responses).push(
          envelope,
        );
      } else {
        others.push(envelope.rangeId * 2 + (envelope.quiesce === true ? 1 : 0), envelope.message);
      }
    }
    let body: Record<string, unknown>;
    if (coalesce) {
      this.columns.reset();
      encodeHeartbeatSection(this.columns, heartbeats);
      encodeHeartbeatSection(this.columns, responses);
      const h = this.columns.buffer.subarray(0, this.columns.position);
      body = { f: fromNodeId, t: toNodeId, h, e: others };
    } else {
      body = { f: fromNodeId, t: toNodeId, e: others };
    }
    const frame = this.encodePayload(FrameKind.Batch, body);
    const coalesced = heartbeats.length + responses.length;
    heartbeats.length = 0;
    responses.length = 0;
    others.length = 0;
    return frame === null ? null : { frame, coalesced };
  }

  /**
   * Encodes a range snapshot chunk, or null if it would exceed `frameBytesMax` (the sender's
   * chunk size is above what this transport frames: the chunk is dropped).
   */
  encodeChunk(chunk: SnapshotChunk): Uint8Array | null {
    assert(chunk.rangeId > 0 && chunk.rangeId < RANGE_ID_LIMIT, 'a chunk of a range');
    assert(chunk.checksum >= 0 && chunk.checksum <= 0xffffffff, 'a CRC-32 checksum');
    const c = chunk;
    return this.encodePayload(FrameKind.RangeSnapshotChunk, { g: c.rangeId, f: c.fromNodeId,
      t: c.toNodeId, s: c.snapshotId, i: c.index, k: c.kind, o: c.offset, l: c.last,
      c: c.checksum, d: c.data });
  }

  /** Encodes a handshake, refusal or snapshot chunk frame. */
  encodeControl(frame: Exclude<Frame, BatchFrame>): Uint8Array {
    let body: Record<string, unknown>;
    switch (frame.kind) {
      case FrameKind.Hello:
        body = { c: frame.clusterId, n: frame.nodeId, p: frame.peerNodeId,
          lo: frame.versionMin, hi: frame.versionMax };
        break;
      case FrameKind.HelloAck:
        body = { c: frame.clusterId, n: frame.nodeId, v: frame.version };
        if (frame.versionMax !== undefined) body.hi = frame.versionMax;
        break;
      case FrameKind.Refuse:
        body = { c: frame.code, r: frame.reason };
        break;
      case FrameKind.SnapshotChunk:
        body = { g: frame.rangeId, s: frame.streamId, i: frame.chunkIndex, l: frame.last,
          m: frame.message, d: frame.data };
        break;
      case FrameKind.RangeSnapshotChunk: {
        const c = frame.chunk;
        body = { g: c.rangeId, f: c.fromNodeId, t: c.toNodeId, s: c.snapshotId, i: c.index,
          k: c.kind, o: c.offset, l: c.last, c: c.checksum, d: c.data };
        break;
      }
    }
    const encoded = this.encodePayload(frame.kind, body);
    assert(encoded !== null, 'control frame exceeds frameBytesMax');
    return encoded;
  }

  private encodePayload(kind: FrameKind, body: unknown): Uint8Array | null {
    const packed = this.packr.pack(body);
    const payloadBytes = 1 + packed.length;
    if (FRAME_HEADER_BYTES + payloadBytes > this.frameBytesMax) return null;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
    frame[FRAME_HEADER_BYTES] = kind;
    frame.set(packed, FRAME_HEADER_BYTES + 1);
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    frame.writeUInt32BE(payloadBytes, 0);
    frame.writeUInt32BE(crc32(payload), 4);
    return frame;
  }

  /**
   * Decodes exactly one frame, header included. Throws `FrameError` if it is truncated,
   * oversized, fails its checksum or does not decode; never anything else.
   */
  decode(bytes: Uint8Array): Frame {
    const payloadBytes = readPayloadLength(bytes, this.frameBytesMax);
    if (bytes.length !== FRAME_HEADER_BYTES + payloadBytes) {
      throw frameError(FrameErrorCode.Decode, `frame has ${bytes.length} bytes, header says ` +
        `${FRAME_HEADER_BYTES + payloadBytes}`);
    }
    const payload = bytes.subarray(FRAME_HEADER_BYTES);
    const expected = readU32(bytes, 4);
    const actual = crc32(payload);
    if (actual !== expected) {
      throw frameError(FrameErrorCode.Checksum, `frame checksum ${actual} != header ${expected}`);
    }
    if (payloadBytes < 2) throw frameError(FrameErrorCode.Decode, 'empty frame payload');
    let body: unknown;
    try {
      body = this.unpackr.unpack(payload.subarray(1));
    } catch (error) {
      throw frameError(FrameErrorCode.Decode, 'frame body is not msgpack', error);
    }
    try {
      return decodeBody(payload[0]!, body);
    } catch (error) {
      if (error instanceof FrameError) throw error;
      if (error instanceof ByteReaderError || error instanceof WireShapeError) {
        throw frameError(FrameErrorCode.Decode, `bad frame: ${error.message}`, error);
      }
      throw error;
    }
  }
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 0x1000000 +
    ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  );
}

/**
 * Reads the payload length from a frame header, checking it against `frameBytesMax`.
 * Throws `FrameError` (truncated or oversized).
 */
export function readPayloadLength(bytes: Uint8Array, frameBytesMax: number): number {
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw frameError(FrameErrorCode.Truncated, `frame of ${bytes.length} bytes has no header`);
  }
  const payloadBytes = readU32(bytes, 0);
  if (FRAME_HEADER_BYTES + payloadBytes > frameBytesMax) {
    throw frameError(FrameErrorCode.Oversized,
      `frame of ${FRAME_HEADER_BYTES + payloadBytes} bytes exceeds ${frameBytesMax}`);
  }
  if (bytes.length < FRAME_HEADER_BYTES + payloadBytes) {
    throw frameError(FrameErrorCode.Truncated,
      `frame of ${FRAME_HEADER_BYTES + payloadBytes} bytes cut at ${bytes.length}`);
  }
  return payloadBytes;
}

/** Thrown by the shape checks below; `decode` turns it into a `FrameError`. */
class WireShapeError extends Error {}

function fail(what: string): never {
  throw new WireShapeError(what);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

function uint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(what);
  return value;
}

function nodeId(value: unknown, what: string): number {
  const id = uint(value, what);
  if (id === 0) fail(what);
  return id;
}

/**
 * A received `bin`: msgpackr hands out a Node `Buffer` view into the frame; the Raft side gets
 * a plain `Uint8Array` view of the same bytes (no copy), so received messages equal sent ones.
 */
function bytesOf(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(what);
  if (value.length === 0) return EMPTY_BYTES;
  return Buffer.isBuffer(value) ? new Uint8Array(value.buffer, value.byteOffset, value.length)
    : value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(what);
  return value;
}

function decodeBody(kind: number, body: unknown): Frame {
  if (!isObject(body)) fail('frame body is not a map');
  switch (kind) {
    case FrameKind.Hello:
      return { kind, clusterId: text(body.c, 'cluster id'), nodeId: nodeId(body.n, 'node id'),
        peerNodeId: nodeId(body.p, 'peer node id'), versionMin: uint(body.lo, 'version'),
        versionMax: uint(body.hi, 'version') };
    case FrameKind.HelloAck:
      return { kind, clusterId: text(body.c, 'cluster id'), nodeId: nodeId(body.n, 'node id'),
        version: uint(body.v, 'version'),
        ...(body.hi === undefined ? {} : { versionMax: uint(body.hi, 'version') }) };
    case FrameKind.Refuse:
      return { kind, code: text(body.c, 'code'), reason: text(body.r, 'reason') };
    case FrameKind.Batch:
      return decodeBatch(body);
    case FrameKind.SnapshotChunk:
      return { kind, rangeId: rangeIdOf(body.g), streamId: uint(body.s, 'stream id'),
        chunkIndex: uint(body.i, 'chunk index'), last: body.l === true,
        message: body.m === null || body.m === undefined ? null : decodeMessage(body.m),
        data: bytesOf(body.d, 'chunk data') };
    case FrameKind.RangeSnapshotChunk:
      return { kind, chunk: decodeChunk(body) };
    default:
      return fail(`unknown frame kind ${kind}`);
  }
}

const CHUNK_KIND_MAX = 2;

function decodeChunk(body: Record<string, unknown>): SnapshotChunk {
  const rangeId = rangeIdOf(body.g);
  if (rangeId === 0) fail('a snapshot chunk of range 0');
  const kind = uint(body.k, 'chunk kind');
  if (kind > CHUNK_KIND_MAX) fail('chunk kind');
  const checksum = uint(body.c, 'chunk checksum');
  if (checksum > 0xffffffff) fail('chunk checksum');
  if (typeof body.l !== 'boolean') fail('chunk last');
  return { rangeId, fromNodeId: nodeId(body.f, 'chunk from'), toNodeId: nodeId(body.t, 'chunk to'),
    snapshotId: uint(body.s, 'snapshot id'), index: uint(body.i, 'snapshot index'),
    kind: kind as SnapshotChunkKind, offset: uint(body.o, 'chunk offset'), last: body.l,
    checksum, data: bytesOf(body.d, 'chunk data') };
}

function rangeIdOf(value: unknown): number {
  const id = uint(value, 'range id');
  if (id >= RANGE_ID_LIMIT) fail('range id above 2^32');
  return id;
}

function decodeBatch(body: Record<string, unknown>): BatchFrame {
  const fromNodeId = nodeId(body.f, 'batch from');
  const toNodeId = nodeId(body.t, 'batch to');
  const envelopes: Envelope[] = [];
  const heartbeats = body.h === undefined ? null
    : new HeartbeatCursor(bytesOf(body.h, 'heartbeat columns'), fromNodeId, toNodeId);
  const others = body.e;
  if (!Array.isArray(others) || others.length % 2 !== 0) fail('batch envelopes');
  for (let i = 0; i < others.length; i += 2) {
    const g = uint(others[i], 'range id');
    if (g >= RANGE_ID_LIMIT * 2) fail('range id above 2^32');
    envelopes.push({ rangeId: Math.floor(g / 2), message: decodeMessage(others[i + 1]),
      quiesce: g % 2 === 1 });
  }
  return { kind: FrameKind.Batch, fromNodeId, toNodeId, heartbeats, envelopes };
}

const MESSAGE_TYPE_MAX = MessageType.MsgForgetLeader;

/** Checks a decoded message's every field and rebuilds it with `newMessage`'s shape. */
export function decodeMessage(raw: unknown): Message {
  if (!isObject(raw)) fail('message is not a map');
  const type = uint(raw.type, 'message type');
  if (type > MESSAGE_TYPE_MAX) fail('message type');
  if (raw.responses !== undefined &&
    (!Array.isArray(raw.responses) || raw.responses.length !== 0)) {
    fail('local responses on the wire');
  }
  if (typeof raw.reject !== 'boolean') fail('reject');
  return {
    type: type as MessageType,
    to: uint(raw.to, 'to'),
    from: uint(raw.from, 'from'),
    term: uint(raw.term, 'term'),
    logTerm: uint(raw.logTerm, 'logTerm'),
    index: uint(raw.index, 'index'),
    entries: decodeEntries(raw.entries),
    commit: uint(raw.commit, 'commit'),
    vote: uint(raw.vote, 'vote'),
    snapshot: raw.snapshot === null ? null : decodeSnapshot(raw.snapshot),
    reject: raw.reject,
    rejectHint: uint(raw.rejectHint, 'rejectHint'),
    context: bytesOf(raw.context, 'context'),
    responses: EMPTY_MESSAGES,
  };
}

function decodeEntries(raw: unknown): Entry[] {
  if (!Array.isArray(raw)) fail('entries');
  if (raw.length === 0) return EMPTY_ENTRIES;
  const entries: Entry[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const e: unknown = raw[i];
    if (!isObject(e)) fail('entry is not a map');
    const type = uint(e.type, 'entry type');
    if (type > 2) fail('entry type');
    entries[i] = { term: uint(e.term, 'entry term'), index: uint(e.index, 'entry index'),
      type: type as Entry['type'], data: bytesOf(e.data, 'entry data') };
  }
  return entries;
}

function idList(raw: unknown, what: string): number[] {
  if (!Array.isArray(raw)) fail(what);
  for (const id of raw) nodeId(id, what);
  return raw as number[];
}

function decodeSnapshot(raw: unknown): Snapshot {
  if (!isObject(raw) || !isObject(raw.metadata)) fail('snapshot');
  const metadata = raw.metadata;
  const cs = metadata.confState;
  if (!isObject(cs) || typeof cs.autoLeave !== 'boolean') fail('conf state');
  const confState: ConfState = {
    voters: idList(cs.voters, 'voters'),
    learners: idList(cs.learners, 'learners'),
    votersOutgoing: idList(cs.votersOutgoing, 'votersOutgoing'),
    learnersNext: idList(cs.learnersNext, 'learnersNext'),
    autoLeave: cs.autoLeave,
  };
  return {
    data: bytesOf(raw.data, 'snapshot data'),
    metadata: { confState, index: uint(metadata.index, 'snapshot index'),
      term: uint(metadata.term, 'snapshot term') },
  };
}

/**
 * Splits a byte stream into frames. Bounded: it holds at most one frame (at most
 * `frameBytesMax` bytes) plus the rest of the last chunk pushed, and it rejects an oversized
 * header as soon as the header arrives, before buffering the body.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private frameBytesMax: number) {
    assert(frameBytesMax > FRAME_HEADER_BYTES, 'frameBytesMax too small');
  }

  /**
   * Raises the frame limit (a connection reads with a small one until its handshake is done).
   * Never lowers it: bytes already buffered were accepted under the old one.
   */
  raiseFrameBytesMax(frameBytesMax: number): void {
    assert(frameBytesMax >= this.frameBytesMax, 'FrameReader limit lowered');
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * Returns the next complete frame (header included), or null if more bytes are needed.
   * Throws `FrameError` (oversized) as soon as a header announces too big a frame.
   */
  next(): Uint8Array | null {
    if (this.buffered < FRAME_HEADER_BYTES) return null;
    const header = this.peek(FRAME_HEADER_BYTES);
    const frameBytes = FRAME_HEADER_BYTES + readU32(header, 0);
    if (frameBytes > this.frameBytesMax) {
      throw frameError(FrameErrorCode.Oversized,
        `frame of ${frameBytes} bytes exceeds ${this.frameBytesMax}`);
    }
    if (this.buffered < frameBytes) return null;
    const frame = this.peek(frameBytes);
    this.consume(frameBytes);
    return frame;
  }

  /** The first `bytes` buffered bytes: a view if they lie in one chunk, else a copy. */
  private peek(bytes: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= bytes) return first.subarray(0, bytes);
    const joined = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (const chunk of this.chunks) {
      const take = Math.min(chunk.length, bytes - offset);
      joined.set(chunk.subarray(0, take), offset);
      offset += take;
      if (offset === bytes) break;
    }
    // Replace the joined prefix by the copy, so that a big frame is joined only once.
    this.consume(bytes);
    this.chunks.unshift(joined);
    this.buffered += bytes;
    return joined;
  }

  private consume(bytes: number): void {
    let left = bytes;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.buffered -= bytes;
    assert(this.buffered >= 0, 'FrameReader consumed more than buffered');
  }
}
