/**
 * Coalesced heartbeats: the `MsgHeartbeat`s and `MsgHeartbeatResp`s of one frame packed as
 * columns in one byte array, with no per-group message header.
 *
 * Why it is safe to drop the header: in Flotilla a replica's Raft id is its node id, so every
 * coalescible heartbeat of a frame has `from` = the sending node and `to` = the receiving node,
 * and the frame already names both. Everything else but group, term, commit and the quiesce
 * flag is zero in a plain heartbeat; a heartbeat with anything more (a ReadIndex context, ...)
 * travels as an ordinary message instead. So the fan-out rebuilds identical messages.
 *
 * Layout (all integers unsigned LEB128 varints):
 *
 *     section   := count row*            -- once for heartbeats, then once for responses
 *     row       := rangeDelta head [term]
 *     rangeDelta = rangeId - previous rangeId of the section (rows sorted by range id; first
 *                  row relative to 0)
 *     head       = commit * 4 + (term == previous term of the section ? 2 : 0) + quiesce
 *     term       present only when the term differs from the previous row's (first row: 0)
 *
 * Between two nodes that share N groups with ids close together, a row is 1 byte of group
 * delta, 1 to 4 bytes of commit and usually no term byte: 2 to 5 bytes a heartbeat.
 */
import { assert, RANGE_ID_LIMIT } from '../util/index.js';
import {
  EMPTY_BYTES,
  EMPTY_ENTRIES,
  EMPTY_MESSAGES,
  MessageType,
  type Message,
} from '../raft/index.js';
import type { Envelope } from './types.js';
import { ByteReader, ByteReaderError, type ByteWriter, VARINT_BYTES_MAX } from './_bytes.js';

/** Commit indexes at or above this travel uncoalesced (`commit * 4` must stay below 2^53). */
export const COALESCED_COMMIT_LIMIT = 2 ** 51;
/** The most bytes one encoded row can take (three varints). */
export const HEARTBEAT_ROW_BYTES_MAX = 3 * VARINT_BYTES_MAX;

/**
 * Whether `envelope` can travel as a coalesced row of a frame from `fromNodeId` to `toNodeId`:
 * a heartbeat or heartbeat response whose every field but group, term, commit and quiesce is
 * at its zero value, so that the receiver rebuilds an identical message.
 */
export function isCoalescible(envelope: Envelope, fromNodeId: number, toNodeId: number): boolean {
  const m = envelope.message;
  if (m.type !== MessageType.MsgHeartbeat && m.type !== MessageType.MsgHeartbeatResp) {
    return false;
  }
  return (
    m.from === fromNodeId &&
    m.to === toNodeId &&
    m.logTerm === 0 &&
    m.index === 0 &&
    m.entries.length === 0 &&
    m.vote === 0 &&
    m.snapshot === null &&
    !m.reject &&
    m.rejectHint === 0 &&
    m.context.length === 0 &&
    m.responses.length === 0 &&
    m.commit < COALESCED_COMMIT_LIMIT
  );
}

/** Returns the order that sorts `rows` by range id (stable), or null if already sorted. */
function sortedOrder(rows: readonly Envelope[]): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.rangeId < rows[i - 1]!.rangeId) {
      sorted = false;
      break;
    }
  }
  if (sorted) return null;
  // Sort numbers, not objects: key = rangeId * 2^21 + position, exact below 2^53, and a
  // typed-array sort needs no comparator callback. The position makes the sort stable.
  assert(rows.length < 2 ** 21, 'too many heartbeats in one section');
  const keys = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) keys[i] = rows[i]!.rangeId * 2 ** 21 + i;
  keys.sort();
  const order = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) order[i] = keys[i]! % 2 ** 21;
  return order;
}

/** Appends one section (count + rows) for `rows`, all coalescible, to `writer`. */
export function encodeHeartbeatSection(writer: ByteWriter, rows: readonly Envelope[]): void {
  writer.ensure(VARINT_BYTES_MAX + rows.length * HEARTBEAT_ROW_BYTES_MAX);
  writer.varint(rows.length);
  const order = sortedOrder(rows);
  let previousRangeId = 0;
  let previousTerm = 0;
  for (let i = 0; i < rows.length; i++) {
    const envelope = rows[order === null ? i : order[i]!]!;
    const rangeId = envelope.rangeId;
    const m = envelope.message;
    assert(rangeId >= previousRangeId && rangeId < RANGE_ID_LIMIT, 'heartbeat rows unsorted');
    assert(m.commit < COALESCED_COMMIT_LIMIT && m.term >= 0, 'heartbeat not coalescible');
    writer.varint(rangeId - previousRangeId);
    const sameTerm = m.term === previousTerm;
    writer.varint(m.commit * 4 + (sameTerm ? 2 : 0) + (envelope.quiesce === true ? 1 : 0));
    if (!sameTerm) writer.varint(m.term);
    previousRangeId = rangeId;
    previousTerm = m.term;
  }
}

/**
 * Validates one section without allocating; returns its row count. Throws `ByteReaderError`.
 */
function scanSection(reader: ByteReader): number {
  const count = reader.varint();
  // Every row takes at least two bytes: a count beyond that is a lie, refuse it up front.
  if (count * 2 > reader.end - reader.position) throw new ByteReaderError('row count too big');
  let rangeId = 0;
  for (let i = 0; i < count; i++) {
    rangeId += reader.varint();
    if (rangeId >= RANGE_ID_LIMIT) throw new ByteReaderError('range id above 2^32');
    if ((reader.varint() & 2) === 0) reader.varint();
  }
  return count;
}

/**
 * The received heartbeat columns of one frame, fanned out on demand. The constructor checks
 * every row (so a bad frame is refused before any of it is delivered). Then either `next`
 * walks the rows without allocating (the current row in `rangeId`, `type`, `term`, `commit`
 * and `quiesce`), for a receiver that fans them in without a message per row, or `read`
 * builds envelopes a slice at a time, so that a frame of 100k heartbeats need not hold 100k
 * message objects at once and the receiver's garbage stays young.
 */
export class HeartbeatCursor {
  /** Rows in both sections. */
  readonly count: number;
  /** The current row's range id (after `next` returned true). */
  rangeId = 0;
  /** The current row's type: MsgHeartbeat (first section) or MsgHeartbeatResp. */
  type: MessageType = MessageType.MsgHeartbeat;
  /** The current row's term. */
  term = 0;
  /** The current row's commit index (0 for responses). */
  commit = 0;
  /** Whether the current row asks the follower to quiesce. */
  quiesce = false;
  private readonly reader: ByteReader;
  private section: 0 | 1 = 0;
  private remaining: number;

  constructor(
    columns: Uint8Array,
    /** The sending node: `from` of every row. */
    readonly fromNodeId: number,
    /** The receiving node: `to` of every row. */
    readonly toNodeId: number,
  ) {
    const scan = new ByteReader(columns);
    const heartbeats = scanSection(scan);
    const responses = scanSection(scan);
    if (scan.position !== columns.length) {
      throw new ByteReaderError('trailing bytes after heartbeat columns');
    }
    this.count = heartbeats + responses;
    this.reader = new ByteReader(columns);
    this.remaining = this.reader.varint();
    assert(this.remaining === heartbeats, 'heartbeat columns changed under the cursor');
  }

  /** Whether every row has been read. */
  get done(): boolean {
    return this.section === 1 && this.remaining === 0;
  }

  /** Moves to the next row (heartbeats, then responses); false once every row was read. */
  next(): boolean {
    const reader = this.reader;
    while (this.remaining === 0) {
      if (this.section === 1) return false;
      this.section = 1;
      this.type = MessageType.MsgHeartbeatResp;
      this.rangeId = 0;
      this.term = 0;
      this.remaining = reader.varint();
    }
    this.rangeId += reader.varint();
    const head = reader.varint();
    if ((head & 2) === 0) this.term = reader.varint();
    this.commit = Math.floor(head / 4);
    this.quiesce = (head & 1) === 1;
    this.remaining--;
    assert(this.remaining >= 0 && this.rangeId < RANGE_ID_LIMIT, 'row within its section');
    return true;
  }

  /** Appends up to `max` rows, as messages, to `out`; returns how many. */
  read(out: Envelope[], max: number): number {
    assert(max > 0, 'read of zero rows');
    let produced = 0;
    while (produced < max && this.next()) {
      out.push({ rangeId: this.rangeId, message: heartbeatMessage(this.type, this.fromNodeId,
        this.toNodeId, this.term, this.commit), quiesce: this.quiesce });
      produced++;
    }
    assert(produced <= max && this.remaining >= 0, 'cursor overran its slice');
    return produced;
  }
}

/** A heartbeat message with the field order of `newMessage` (one hidden class for all). */
function heartbeatMessage(
  type: MessageType,
  from: number,
  to: number,
  term: number,
  commit: number,
): Message {
  return {
    type,
    to,
    from,
    term,
    logTerm: 0,
    index: 0,
    entries: EMPTY_ENTRIES,
    commit,
    vote: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    responses: EMPTY_MESSAGES,
  };
}
