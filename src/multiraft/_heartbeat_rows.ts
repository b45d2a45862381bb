/**
 * Private: coalesced heartbeat rows waiting for their group's turn, kept as numbers in
 * typed arrays (one row per group) instead of an `Envelope` and a `Message` each.
 *
 * Why: an awake group's traffic is mostly heartbeats and their responses. Fanned out by the
 * transport, every row became two objects, an inbox array slot and a pointer to chase in the
 * group's turn; at 100k awake groups that was a good part of a tick. A row here costs 13 bytes
 * per replica of columns, written and read in place.
 *
 * Order: a row is recorded only while the group's inbox is empty and no row is pending, so
 * "the row, then the inbox" is arrival order; anything else travels as an ordinary envelope.
 * The row is stepped through one scratch envelope that is filled for each row: Raft keeps no
 * reference to a stepped heartbeat or heartbeat response (it reads their fields and answers
 * with a new message), so the scratch may be refilled once `release` was called.
 */
import { assert } from '../util/index.js';
import { EMPTY_BYTES, EMPTY_ENTRIES, MessageType, newMessage } from '../raft/index.js';
import type { Envelope } from '../transport/index.js';

/** What a group's pending row is. */
export const RowKind = {
  None: 0,
  Heartbeat: 1,
  /** A heartbeat asking the follower to quiesce. */
  QuiesceHeartbeat: 2,
  Response: 3,
} as const;
export type RowKind = (typeof RowKind)[keyof typeof RowKind];

/** Rows carry from, term and commit below this; others travel as envelopes. */
export const ROW_VALUE_LIMIT = 2 ** 32;

/** One pending heartbeat row per group, by group id (the store's table slot). */
export class HeartbeatRows {
  private kind: Uint8Array;
  private from: Uint32Array;
  private term: Uint32Array;
  private commit: Uint32Array;
  /** Rows recorded and not yet taken. */
  pending = 0;
  private readonly scratch: Envelope;
  private scratchInUse = false;

  /** `toNodeId`: this store's node, `to` of every row. `capacity`: the table's. */
  constructor(toNodeId: number, capacity: number) {
    this.kind = new Uint8Array(capacity);
    this.from = new Uint32Array(capacity);
    this.term = new Uint32Array(capacity);
    this.commit = new Uint32Array(capacity);
    // newMessage: the one Message shape, so that steps of the scratch stay monomorphic.
    this.scratch = {
      rangeId: 0,
      message: newMessage(MessageType.MsgHeartbeat, { to: toNodeId }),
      quiesce: false,
    };
  }

  /** Bytes of the columns. */
  get memoryBytes(): number {
    return this.kind.length * 13;
  }

  /** Whether `gid` has a row waiting. */
  has(gid: number): boolean {
    return gid < this.kind.length && this.kind[gid] !== RowKind.None;
  }

  /**
   * Records a row for `gid`, which has none pending; grows the columns to `capacity` (the
   * table's) when `gid` is beyond them. Values must be below ROW_VALUE_LIMIT.
   */
  put(gid: number, capacity: number, kind: RowKind, from: number, term: number,
    commit: number): void {
    if (gid >= this.kind.length) this.grow(capacity);
    assert(kind !== RowKind.None && this.kind[gid] === RowKind.None, 'one row per group');
    assert(from < ROW_VALUE_LIMIT && term < ROW_VALUE_LIMIT && commit < ROW_VALUE_LIMIT,
      'row values fit the columns');
    this.kind[gid] = kind;
    this.from[gid] = from;
    this.term[gid] = term;
    this.commit[gid] = commit;
    this.pending++;
  }

  /**
   * Takes `gid`'s row as the scratch envelope of `rangeId` (the fields `HeartbeatCursor.read`
   * would give its message); call `release` once it was handled.
   */
  take(gid: number, rangeId: number): Envelope {
    const kind = this.kind[gid]!;
    assert(kind !== RowKind.None, 'a pending row');
    assert(!this.scratchInUse, 'the scratch envelope is free');
    this.scratchInUse = true;
    this.kind[gid] = RowKind.None;
    this.pending--;
    const envelope = this.scratch;
    const m = envelope.message;
    envelope.rangeId = rangeId;
    envelope.quiesce = kind === RowKind.QuiesceHeartbeat;
    m.type = kind === RowKind.Response ? MessageType.MsgHeartbeatResp : MessageType.MsgHeartbeat;
    m.from = this.from[gid]!;
    m.term = this.term[gid]!;
    m.commit = this.commit[gid]!;
    return envelope;
  }

  /** The scratch envelope was handled; the next `take` may refill it. */
  release(): void {
    assert(this.scratchInUse, 'release after take');
    const m = this.scratch.message;
    // Raft reads a stepped heartbeat and keeps nothing of it: check the fields it could set.
    assert(m.entries === EMPTY_ENTRIES && m.context === EMPTY_BYTES && m.index === 0 &&
      m.logTerm === 0 && m.snapshot === null, 'the scratch heartbeat is unchanged');
    this.scratchInUse = false;
  }

  private grow(capacity: number): void {
    assert(capacity > this.kind.length, 'rows grow with the table');
    this.kind = grown(this.kind, new Uint8Array(capacity));
    this.from = grown(this.from, new Uint32Array(capacity));
    this.term = grown(this.term, new Uint32Array(capacity));
    this.commit = grown(this.commit, new Uint32Array(capacity));
  }
}

function grown<T extends Uint8Array | Uint32Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
