/**
 * The types of the transport contract: envelopes, the handler the store implements, the
 * `Transport` interface both implementations (TCP and loopback) satisfy, and their counters.
 */
import type { Message, SnapshotStatus } from '../raft/index.js';
import type { HeartbeatCursor } from './heartbeats.js';

/**
 * One Raft message addressed to one group.
 *
 * Routing: in Flotilla a replica's Raft id is its node id, so `message.to` is the destination
 * node and `message.from` the sending node.
 *
 * Quiescence: etcd's `Message` has no quiesce field, so the flag rides in the envelope. It is
 * meaningful on `MsgHeartbeat` only (the leader tells a follower to stop ticking the group) and
 * travels as one bit of the coalesced heartbeat; on other messages it is carried too but Raft
 * ignores it. On received envelopes `quiesce` is always set (`false` when absent on the wire).
 */
export interface Envelope {
  /**
   * The range (Raft group) the message belongs to: an integer in [0, RANGE_ID_LIMIT), 0
   * being the store's liveness group. Not the scheduler's `GroupId` (a store's table slot).
   */
  rangeId: number;
  message: Message;
  /** The leader asks the follower to quiesce the group (heartbeats only). */
  quiesce?: boolean;
}

/** What a `SnapshotChunk` carries. */
export const SnapshotChunkKind = {
  /** A piece of the snapshot's payload, at `offset`. */
  Data: 0,
  /** Receiver to sender: the snapshot was verified and applied. */
  Applied: 1,
  /** Receiver to sender: the snapshot was refused (corrupt, out of order, too big, stale). */
  Failed: 2,
} as const;
export type SnapshotChunkKind = (typeof SnapshotChunkKind)[keyof typeof SnapshotChunkKind];

/**
 * One chunk of a range snapshot streamed from store to store, or the receiver's answer
 * (`kind`). The transport checks only its shape and limits (a chunk fits in a frame; `offset`
 * plus its bytes stay within `inboundSnapshotBytesMax`); order, duplicates and checksums are
 * the receiving store's (multiraft/_snapshot_receive.ts).
 */
export interface SnapshotChunk {
  /** The range, in [1, RANGE_ID_LIMIT). */
  rangeId: number;
  /** The sending node: set by the receiving transport from the authenticated connection. */
  fromNodeId: number;
  /** The destination node. */
  toNodeId: number;
  /** The sender's id of this stream (unique per sending store while it runs). */
  snapshotId: number;
  /** The Raft index the snapshot is taken at. */
  index: number;
  kind: SnapshotChunkKind;
  /** Byte offset of `data` in the snapshot's payload (Data chunks). */
  offset: number;
  /** Whether this is the payload's last chunk. */
  last: boolean;
  /**
   * CRC-32 of the payload from its start through this chunk (a running checksum: the last
   * chunk's covers the whole payload).
   */
  checksum: number;
  data: Uint8Array;
}

/**
 * What the store gives the transport. All calls are synchronous and happen on the event loop,
 * never from inside `send`/`flush` (they are deferred), so the store may call `send` from them.
 */
export interface TransportHandler {
  /**
   * One batch from one peer, in the order the peer sent it, with coalesced heartbeats already
   * fanned out into ordinary `MsgHeartbeat`/`MsgHeartbeatResp` messages. The array and its
   * envelopes belong to the handler. Entry payloads may be views into the received frame.
   */
  handleBatch(fromNodeId: number, envelopes: Envelope[]): void;
  /**
   * Optional: the coalesced heartbeats of one frame, as rows (`rows.next()` until it returns
   * false), for a handler that fans them in without a message object per row. Every row must
   * be read during the call; the cursor is dead afterwards. Called before `handleBatch` with
   * the same frame's other envelopes, which keeps the order in which `handleBatch` alone
   * would get them. Without it, the rows arrive in `handleBatch` as messages.
   */
  handleHeartbeats?(fromNodeId: number, rows: HeartbeatCursor): void;
  /**
   * Messages of these groups to `toNodeId` were dropped because the peer is unreachable or
   * its queue is full: each group should call `RawNode.reportUnreachable(toNodeId)`.
   * Heartbeats are not reported (losing one changes nothing in the leader's progress).
   */
  reportUnreachable(toNodeId: number, rangeIds: readonly number[]): void;
  /** A `MsgSnap` of `rangeId` to `toNodeId` was delivered or failed: call `reportSnapshot`. */
  reportSnapshot(rangeId: number, toNodeId: number, status: SnapshotStatus): void;
  /**
   * Optional: a range snapshot chunk (or answer) from `fromNodeId` that passed the transport's
   * limits. The chunk belongs to the handler; its data may be a view into the frame.
   */
  handleSnapshotChunk?(fromNodeId: number, chunk: SnapshotChunk): void;
}

/** Counters of one transport; they only grow (except the `*Now` gauges). */
export interface TransportStats {
  /** Frames written (TCP: handed to the socket; loopback: handed to the network). */
  framesSent: number;
  framesReceived: number;
  /** Frame bytes written and received, headers included. */
  bytesSent: number;
  bytesReceived: number;
  /** Envelopes accepted by `send` and delivered to the handler. */
  messagesSent: number;
  messagesReceived: number;
  /** Heartbeats and heartbeat responses that travelled coalesced (sent side). */
  heartbeatsCoalesced: number;
  /** Envelopes dropped on the send side (queue full, peer unreachable, fault injection). */
  messagesDropped: number;
  /** Frames dropped on the send side because a send queue was full. */
  framesDropped: number;
  /** Received frames rejected as malformed; each closed its connection. */
  framesRejected: number;
  /**
   * Handshakes refused, by us or by the peer: every connection closed before its handshake
   * completed (refusal, timeout, oversized or bad first frame, failed TLS handshake).
   */
  handshakesRefused: number;
  /** Connections established (both directions). */
  connectionsOpened: number;
  /** Errors by stable code (`ERR_FRAME_CHECKSUM`, `ERR_HANDSHAKE_CLUSTER_MISMATCH`, ...). */
  errorsByCode: Record<string, number>;
  /** Bytes currently waiting in send queues (a gauge). */
  queuedBytesNow: number;
  /** Bytes of partial frames buffered on accepted connections (a gauge; TCP only). */
  inboundBufferedBytesNow: number;
  /** Range snapshot chunks sent, dropped on the send side, received, refused at the limits. */
  snapshotChunksSent: number;
  snapshotChunksDropped: number;
  snapshotChunksReceived: number;
  snapshotChunksRefused: number;
}

/** Returns zeroed counters. */
export function newTransportStats(): TransportStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    heartbeatsCoalesced: 0,
    messagesDropped: 0,
    framesDropped: 0,
    framesRejected: 0,
    handshakesRefused: 0,
    connectionsOpened: 0,
    errorsByCode: {},
    queuedBytesNow: 0,
    inboundBufferedBytesNow: 0,
    snapshotChunksSent: 0,
    snapshotChunksDropped: 0,
    snapshotChunksReceived: 0,
    snapshotChunksRefused: 0,
  };
}

/** Adds one to `stats.errorsByCode[code]`. */
export function countError(stats: TransportStats, code: string): void {
  stats.errorsByCode[code] = (stats.errorsByCode[code] ?? 0) + 1;
}

/**
 * Moves Raft messages between the nodes of a cluster.
 *
 * Lifecycle: create, `setHandler`, (TCP: `listen`), then `send` from the store's Ready
 * handling and `flush` at the end of each scheduler cycle; `close` at shutdown.
 */
export interface Transport {
  /** This node's id (positive integer below 2^53). */
  readonly nodeId: number;
  /** Sets the receiver of batches and reports. Must be set before the first delivery. */
  setHandler(handler: TransportHandler): void;
  /**
   * Queues envelopes for their destination nodes (`message.to`). Nothing is written until the
   * next flush: an explicit `flush()`, or the automatic one the transport schedules (at the
   * latest `flushDelayMs` later). Never throws for an unreachable peer: such messages are
   * dropped, counted and reported through `reportUnreachable`. A message to this node itself
   * is a programmer error (an assertion): local messages never reach the transport.
   */
  send(envelopes: readonly Envelope[]): void;
  /** Writes every queued envelope: one frame per destination node. */
  flush(): void;
  /**
   * Optional: queues one range snapshot chunk (or answer) for `chunk.toNodeId`, at once (not
   * held for the next flush). False if it was dropped (unreachable, queue full, closed); the
   * sender then fails the stream. Without it, the store sends snapshots as plain `MsgSnap`s.
   */
  sendSnapshotChunk?(chunk: SnapshotChunk): boolean;
  /** Counters and gauges, for tests, benchmarks and the status page. */
  stats(): TransportStats;
  /** Stops timers, closes connections and drops queued messages. Idempotent. */
  close(): Promise<void>;
}
