/**
 * Private: what both transports share. Per-destination outboxes filled by `send` and emptied
 * by `flush` (one frame per destination, split only above `frameBytesMax`), the automatic
 * flush, deferred reports to the handler, and the counters.
 */
import type { Logger } from 'pino';
import { assert, integerIn, RANGE_ID_LIMIT } from '../util/index.js';
import { MessageType, SnapshotStatus } from '../raft/index.js';
import type {
  Envelope, SnapshotChunk, Transport, TransportHandler, TransportStats,
} from './types.js';
import { countError, newTransportStats } from './types.js';
import { FrameCodec, FRAME_BYTES_LIMIT, type BatchFrame } from './codec.js';
import { FrameErrorCode } from './errors.js';
import { realClock, type TimerHandle, type TransportClock } from './clock.js';

/** Options shared by the TCP and loopback transports. */
export interface BatchingOptions {
  /** This node's id: a positive integer below 2^53. */
  nodeId: number;
  /** Structured logger; the transport adds `{ nodeId }` to every line. */
  logger: Logger;
  /**
   * The store's tick interval. Only used to bound `flushDelayMs`.
   * @default 100 (milliseconds)
   */
  tickIntervalMs?: number;
  /**
   * The longest an envelope waits in an outbox before the automatic flush, so that heartbeats
   * of many ticks' worth of groups share a frame. At most half of `tickIntervalMs`: coalescing
   * then adds no delay that an election or quiescence timeout would notice.
   * @default 0 (milliseconds: flush when the current event-loop turn ends)
   */
  flushDelayMs?: number;
  /**
   * Whether `send` schedules a flush by itself. The simulation turns it off and calls `flush`.
   * @default true
   */
  autoFlush?: boolean;
  /**
   * The largest frame, header included, sent or accepted. A batch above it is split; a single
   * message above it is dropped (and counted).
   * @default 16777216 (bytes: 16 MiB)
   */
  frameBytesMax?: number;
  /**
   * Envelopes waiting in one destination's outbox between two flushes. Above it, envelopes
   * are dropped, counted and reported unreachable.
   * @default 1048576 (envelopes)
   */
  outboxMessagesMax?: number;
  /**
   * Envelopes per `handleBatch` call. A frame with more (100k coalesced heartbeats) is handed
   * over in slices, fanned out one slice at a time, so the receiver never holds a whole
   * frame's worth of message objects and its garbage dies young.
   * @default 8192 (envelopes)
   */
  deliverBatchMessagesMax?: number;
  /** Timers; the simulation passes virtual time. @default the real clock */
  clock?: TransportClock;
  /**
   * Bytes of one snapshot a peer may send: a range snapshot chunk whose offset plus bytes
   * exceed it is dropped and counted (`snapshotChunksRefused`); on TCP it also bounds the
   * reassembly of a streamed `MsgSnap` per connection.
   * @default 1073741824 (bytes: 1 GiB)
   */
  inboundSnapshotBytesMax?: number;
}

/** The `errorsByCode` key of a range snapshot chunk refused at the transport's limits. */
export const SNAPSHOT_CHUNK_REFUSED = 'ERR_SNAPSHOT_CHUNK_REFUSED';

/** Validated `BatchingOptions` with defaults applied. */
export interface BatchingConfig {
  nodeId: number;
  logger: Logger;
  tickIntervalMs: number;
  flushDelayMs: number;
  autoFlush: boolean;
  frameBytesMax: number;
  outboxMessagesMax: number;
  deliverBatchMessagesMax: number;
  clock: TransportClock;
  inboundSnapshotBytesMax: number;
}

/** The shared option check (src/util/options.ts), under the name tcp.ts imports. */
export const checkInteger = integerIn;

/** Applies defaults and validates; throws `ConfigError`. */
export function batchingConfig(options: BatchingOptions): BatchingConfig {
  const tickIntervalMs = checkInteger('tickIntervalMs', options.tickIntervalMs ?? 100, 1, 60_000);
  return {
    nodeId: checkInteger('nodeId', options.nodeId, 1, Number.MAX_SAFE_INTEGER),
    logger: options.logger.child({ nodeId: options.nodeId }),
    tickIntervalMs,
    flushDelayMs: checkInteger('flushDelayMs', options.flushDelayMs ?? 0, 0,
      Math.floor(tickIntervalMs / 2)),
    autoFlush: options.autoFlush ?? true,
    frameBytesMax: checkInteger('frameBytesMax', options.frameBytesMax ?? 16 * 2 ** 20, 1024,
      FRAME_BYTES_LIMIT),
    outboxMessagesMax: checkInteger('outboxMessagesMax', options.outboxMessagesMax ?? 2 ** 20,
      1, 2 ** 26),
    deliverBatchMessagesMax: checkInteger('deliverBatchMessagesMax',
      options.deliverBatchMessagesMax ?? 8192, 1, 2 ** 24),
    clock: options.clock ?? realClock,
    inboundSnapshotBytesMax: checkInteger('inboundSnapshotBytesMax',
      options.inboundSnapshotBytesMax ?? 2 ** 30, 1, 2 ** 40),
  };
}

/** One encoded frame ready to be written, with what to report if it is dropped. */
export interface OutFrame {
  bytes: Uint8Array;
  /** Envelopes in the frame. */
  messages: number;
  /** Groups of the frame's non-heartbeat messages (reported unreachable on a drop). */
  rangeIds: number[];
}

/** Estimated encoded bytes of one envelope, on the high side, to split batches early. */
export function estimateBytes(envelope: Envelope): number {
  const m = envelope.message;
  if (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgHeartbeatResp) {
    return 32 + m.context.length;
  }
  let bytes = 160 + m.context.length;
  for (let i = 0; i < m.entries.length; i++) bytes += 40 + m.entries[i]!.data.length;
  if (m.snapshot !== null) bytes += 256 + m.snapshot.data.length;
  return bytes;
}

function isHeartbeat(envelope: Envelope): boolean {
  const type = envelope.message.type;
  return type === MessageType.MsgHeartbeat || type === MessageType.MsgHeartbeatResp;
}

/** The shared half of both transports. Subclasses write batches and deliver frames. */
export abstract class BatchingTransport implements Transport {
  readonly nodeId: number;
  protected readonly config: BatchingConfig;
  /** @internal The node's logger (for the connection classes of the TCP transport). */
  readonly log: Logger;
  /** @internal The live counters; `stats()` hands out copies. */
  readonly counters: TransportStats = newTransportStats();
  /** @internal The transport's codec: not reentrant, used synchronously. */
  readonly codec: FrameCodec;
  protected handler: TransportHandler | null = null;
  protected closed = false;
  // Invariant: every outbox in `outboxes` holds at most `outboxMessagesMax` envelopes.
  private readonly outboxes = new Map<number, Envelope[]>();
  private flushTimer: TimerHandle | null = null;
  private readonly unreachable = new Map<number, number[]>();
  private readonly snapshotReports: [number, number, SnapshotStatus][] = [];
  private reportTimer: TimerHandle | null = null;

  constructor(config: BatchingConfig) {
    this.config = config;
    this.nodeId = config.nodeId;
    this.log = config.logger;
    this.codec = new FrameCodec(config.frameBytesMax);
  }

  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  stats(): TransportStats {
    return { ...this.counters, errorsByCode: { ...this.counters.errorsByCode },
      queuedBytesNow: this.queuedBytes() };
  }

  /** Bytes in the subclass's send queues. */
  protected abstract queuedBytes(): number;

  /**
   * Takes one destination's envelopes at flush time. The array is reused after the call
   * returns: keep the envelopes, not the array.
   */
  protected abstract writeBatch(toNodeId: number, envelopes: readonly Envelope[]): void;

  send(envelopes: readonly Envelope[]): void {
    if (this.closed) {
      this.dropAll(envelopes);
      return;
    }
    const max = this.config.outboxMessagesMax;
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      const to = envelope.message.to;
      if (!(to !== this.nodeId && to > 0)) {
        assert(false, `envelope to node ${to} from node ${this.nodeId}`);
      }
      assert(Number.isInteger(envelope.rangeId) && envelope.rangeId >= 0 &&
        envelope.rangeId < RANGE_ID_LIMIT, 'range id out of range');
      let outbox = this.outboxes.get(to);
      if (outbox === undefined) {
        outbox = [];
        this.outboxes.set(to, outbox);
      }
      if (outbox.length >= max) {
        this.drop(to, [envelope], 'outbox full');
        continue;
      }
      outbox.push(envelope);
      this.counters.messagesSent++;
    }
    if (this.config.autoFlush && this.flushTimer === null && envelopes.length > 0) {
      this.flushTimer = this.config.clock.setTimer(this.config.flushDelayMs, () => {
        this.flushTimer = null;
        this.flush();
      });
    }
  }

  /** Writes one range snapshot chunk at once; false if it was dropped. */
  protected abstract writeChunk(chunk: SnapshotChunk): boolean;

  sendSnapshotChunk(chunk: SnapshotChunk): boolean {
    assert(chunk.toNodeId !== this.nodeId && chunk.toNodeId > 0, 'a chunk to another node');
    assert(chunk.rangeId > 0 && chunk.rangeId < RANGE_ID_LIMIT, 'a chunk of a range');
    const ok = !this.closed && this.writeChunk({ ...chunk, fromNodeId: this.nodeId });
    if (ok) this.counters.snapshotChunksSent++;
    else this.counters.snapshotChunksDropped++;
    return ok;
  }

  /**
   * @internal A chunk arrived from `fromNodeId` (the authenticated peer): checked against the
   * limits, then handed to the handler. Called on the event loop, never inside `send`.
   */
  receiveChunk(fromNodeId: number, chunk: SnapshotChunk): void {
    if (this.closed) return;
    this.counters.snapshotChunksReceived++;
    if (chunk.toNodeId !== this.nodeId || chunk.fromNodeId !== fromNodeId ||
      chunk.offset + chunk.data.length > this.config.inboundSnapshotBytesMax) {
      this.counters.snapshotChunksRefused++;
      countError(this.counters, SNAPSHOT_CHUNK_REFUSED);
      this.log.debug({ peerNodeId: fromNodeId, rangeId: chunk.rangeId }, 'chunk refused');
      return;
    }
    this.handler?.handleSnapshotChunk?.(fromNodeId, chunk);
  }

  flush(): void {
    if (this.flushTimer !== null) {
      this.config.clock.clearTimer(this.flushTimer);
      this.flushTimer = null;
    }
    for (const [to, outbox] of this.outboxes) {
      if (outbox.length === 0) continue;
      assert(outbox.length <= this.config.outboxMessagesMax, 'outbox over its maximum');
      if (this.closed) this.dropAll(outbox);
      else this.writeBatch(to, outbox);
      outbox.length = 0;
    }
  }

  /**
   * Encodes `envelopes` for `toNodeId` into as few frames as `frameBytesMax` allows (one,
   * unless the batch is huge). A single envelope too big for any frame is dropped.
   */
  protected encodeFrames(toNodeId: number, envelopes: readonly Envelope[],
    coalesce: boolean): OutFrame[] {
    const frames: OutFrame[] = [];
    const budget = this.config.frameBytesMax / 2;
    let start = 0;
    let estimate = 0;
    for (let i = 0; i < envelopes.length; i++) {
      const bytes = estimateBytes(envelopes[i]!);
      if (estimate + bytes > budget && i > start) {
        this.encodeRange(toNodeId, envelopes, start, i, coalesce, frames);
        start = i;
        estimate = 0;
      }
      estimate += bytes;
    }
    if (start < envelopes.length) {
      this.encodeRange(toNodeId, envelopes, start, envelopes.length, coalesce, frames);
    }
    return frames;
  }

  private encodeRange(toNodeId: number, envelopes: readonly Envelope[], start: number,
    end: number, coalesce: boolean, frames: OutFrame[]): void {
    assert(start < end, 'empty frame range');
    const slice = start === 0 && end === envelopes.length ? envelopes
      : envelopes.slice(start, end);
    const encoded = this.codec.encodeBatch(this.nodeId, toNodeId, slice, coalesce);
    if (encoded === null) {
      if (end - start === 1) {
        countError(this.counters, FrameErrorCode.Oversized);
        this.log.warn({ peerNodeId: toNodeId, rangeId: slice[0]!.rangeId },
          'message exceeds frameBytesMax, dropped');
        this.drop(toNodeId, slice, 'message exceeds frameBytesMax');
        return;
      }
      const middle = start + Math.floor((end - start) / 2);
      this.encodeRange(toNodeId, envelopes, start, middle, coalesce, frames);
      this.encodeRange(toNodeId, envelopes, middle, end, coalesce, frames);
      return;
    }
    const rangeIds: number[] = [];
    for (let i = 0; i < slice.length; i++) {
      if (!isHeartbeat(slice[i]!)) rangeIds.push(slice[i]!.rangeId);
    }
    this.counters.heartbeatsCoalesced += encoded.coalesced;
    frames.push({ bytes: encoded.frame, messages: slice.length, rangeIds });
  }

  /** Counts dropped envelopes and reports their groups (and snapshots) to the handler. */
  protected drop(toNodeId: number, envelopes: readonly Envelope[], why: string): void {
    this.counters.messagesDropped += envelopes.length;
    const rangeIds: number[] = [];
    for (const envelope of envelopes) {
      if (isHeartbeat(envelope)) continue;
      rangeIds.push(envelope.rangeId);
      if (envelope.message.type === MessageType.MsgSnap) {
        this.queueSnapshotReport(envelope.rangeId, toNodeId, false);
      }
    }
    if (rangeIds.length > 0) this.queueUnreachable(toNodeId, rangeIds);
    this.log.debug({ peerNodeId: toNodeId, messages: envelopes.length, why }, 'dropped');
  }

  /** Counts a dropped frame and reports its groups unreachable. */
  protected dropFrame(toNodeId: number, frame: OutFrame): void {
    this.counters.framesDropped++;
    this.counters.messagesDropped += frame.messages;
    if (frame.rangeIds.length > 0) this.queueUnreachable(toNodeId, frame.rangeIds);
  }

  private dropAll(envelopes: readonly Envelope[]): void {
    for (const envelope of envelopes) this.drop(envelope.message.to, [envelope], 'closed');
  }

  /** Reports are deferred so that the handler never runs inside `send` or `flush`. */
  protected queueUnreachable(toNodeId: number, rangeIds: readonly number[]): void {
    let list = this.unreachable.get(toNodeId);
    if (list === undefined) {
      list = [];
      this.unreachable.set(toNodeId, list);
    }
    // Bounded by the outbox and queue limits: every id stands for a dropped message.
    for (const id of rangeIds) list.push(id);
    this.scheduleReports();
  }

  protected queueSnapshotReport(rangeId: number, toNodeId: number, ok: boolean): void {
    this.snapshotReports.push([rangeId, toNodeId,
      ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure]);
    this.scheduleReports();
  }

  private scheduleReports(): void {
    if (this.reportTimer !== null || this.closed) return;
    this.reportTimer = this.config.clock.setTimer(0, () => {
      this.reportTimer = null;
      this.runReports();
    });
  }

  private runReports(): void {
    const handler = this.handler;
    const unreachable = [...this.unreachable];
    const snapshots = this.snapshotReports.splice(0);
    this.unreachable.clear();
    if (handler === null || this.closed) return;
    for (const [toNodeId, rangeIds] of unreachable) {
      handler.reportUnreachable(toNodeId, [...new Set(rangeIds)]);
    }
    for (const [rangeId, toNodeId, status] of snapshots) {
      handler.reportSnapshot(rangeId, toNodeId, status);
    }
  }

  /**
   * Hands a received batch frame to the handler: in one call if it has at most
   * `deliverBatchMessagesMax` envelopes, else in slices of that many (heartbeats first).
   */
  protected deliverFrame(fromNodeId: number, frame: BatchFrame): void {
    const max = this.config.deliverBatchMessagesMax;
    const cursor = frame.heartbeats;
    let slice: Envelope[] = [];
    const handler = this.handler;
    assert(handler !== null, 'transport has no handler');
    if (cursor !== null && cursor.count > 0 && handler.handleHeartbeats !== undefined) {
      // Rows without a message each: the handler walks the cursor itself.
      this.counters.messagesReceived += cursor.count;
      handler.handleHeartbeats(fromNodeId, cursor);
      assert(cursor.done, 'the handler read every heartbeat row');
    } else if (cursor !== null) {
      // Bounded: every read takes at least one row until the cursor is done.
      while (!cursor.done) {
        cursor.read(slice, max - slice.length);
        if (slice.length === max) {
          this.deliver(fromNodeId, slice);
          slice = [];
        }
      }
    }
    for (const envelope of frame.envelopes) {
      slice.push(envelope);
      if (slice.length === max) {
        this.deliver(fromNodeId, slice);
        slice = [];
      }
    }
    if (slice.length > 0) this.deliver(fromNodeId, slice);
  }

  /** Hands a received batch to the handler. */
  protected deliver(fromNodeId: number, envelopes: Envelope[]): void {
    assert(this.handler !== null, 'transport has no handler');
    this.counters.messagesReceived += envelopes.length;
    if (envelopes.length > 0) this.handler.handleBatch(fromNodeId, envelopes);
  }

  /** Stops the flush and report timers and drops the outboxes. */
  protected closeBatching(): void {
    this.closed = true;
    const clock = this.config.clock;
    if (this.flushTimer !== null) clock.clearTimer(this.flushTimer);
    if (this.reportTimer !== null) clock.clearTimer(this.reportTimer);
    this.flushTimer = null;
    this.reportTimer = null;
    this.outboxes.clear();
  }

  abstract close(): Promise<void>;
}
