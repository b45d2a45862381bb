/**
 * The TCP transport: msgpackr frames over `node:net`.
 *
 * Connections are one-way for Raft traffic, as CockroachDB's per-destination streams: each
 * node dials every peer it sends to and only reads on the connections it accepts, so two nodes
 * never race to pick one of two sockets. A dialed connection goes through
 *
 *     idle -> connecting (TCP connect, Hello, wait for HelloAck) -> ready -> (error) -> backoff
 *          -> (timer) idle -> (next send) connecting ...
 *
 * Backoff: `reconnectDelayMsMin * 2^failures`, capped at `reconnectDelayMsMax`, times a random
 * factor in [0.5, 1) so that a cluster's nodes do not reconnect in lockstep after a restart.
 * While a peer is in backoff its messages are dropped at once and reported unreachable: Raft
 * then probes instead of streaming into a void.
 *
 * Memory is bounded per peer by `sendQueueFramesMax`/`sendQueueBytesMax` (frames not yet
 * handed to the socket) plus `socketBufferBytesMax` (handed, not yet in the kernel): a frame
 * that does not fit is dropped, counted and its groups reported unreachable.
 *
 * Snapshots (`MsgSnap`) leave the batch and stream in chunks of `snapshotChunkBytes`. A chunk
 * is written only when no batch frame is waiting, so heartbeats never queue behind a snapshot
 * for more than one chunk. The receiver reassembles the snapshot (within
 * `inboundSnapshotBytesMax`) and delivers it as a one-envelope batch; the sender reports
 * `finish` once the last chunk is written and `failure` if the connection goes first.
 */
import * as net from 'node:net';
import { ConfigError, FlotillaError, assert, floatsOf, unseededRandom } from '../util/index.js';
import { EMPTY_BYTES, MessageType, type Message } from '../raft/index.js';
import type { Envelope } from './types.js';
import { countError } from './types.js';
import {
  FrameKind,
  FrameReader,
  type BatchFrame,
  type Frame,
  type SnapshotChunkFrame,
} from './codec.js';
import { FrameError, FrameErrorCode, HandshakeError, HandshakeErrorCode } from './errors.js';
import {
  PROTOCOL_VERSION_COALESCED,
  PROTOCOL_VERSION_CURRENT,
  PROTOCOL_VERSION_OLDEST,
  acceptHello,
  acceptHelloAck,
  type HandshakeIdentity,
} from './handshake.js';
import type { TimerHandle } from './clock.js';
import {
  BatchingTransport,
  batchingConfig,
  checkInteger,
  type BatchingConfig,
  type BatchingOptions,
  estimateBytes,
  type OutFrame,
} from './_batching.js';

/** Where a node listens. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** Options of a `TcpTransport`. */
export interface TcpTransportOptions extends BatchingOptions {
  /** The cluster's id; a peer with another one is refused. */
  clusterId: string;
  /** @default '127.0.0.1' */
  listenHost?: string;
  /** @default 0 (any free port; read it from `listen()`'s result) */
  listenPort?: number;
  /** Addresses of the peers; more with `setPeer`. @default none */
  peers?: Iterable<readonly [number, PeerAddress]>;
  /** Oldest protocol version spoken. @default 1 (PROTOCOL_VERSION_OLDEST) */
  protocolVersionMin?: number;
  /** Newest protocol version spoken. @default 2 (PROTOCOL_VERSION_CURRENT) */
  protocolVersionMax?: number;
  /** Frames waiting for one peer's socket. @default 4096 (frames) */
  sendQueueFramesMax?: number;
  /** Bytes of frames waiting for one peer's socket. @default 67108864 (bytes: 64 MiB) */
  sendQueueBytesMax?: number;
  /**
   * Bytes handed to a socket but not yet written to the kernel, above which the transport
   * stops writing until the socket drains. @default 4194304 (bytes: 4 MiB)
   */
  socketBufferBytesMax?: number;
  /** First reconnect delay. @default 50 (milliseconds) */
  reconnectDelayMsMin?: number;
  /** Cap of the reconnect delay. @default 5000 (milliseconds) */
  reconnectDelayMsMax?: number;
  /** Time allowed to connect and complete the handshake. @default 5000 (milliseconds) */
  handshakeTimeoutMs?: number;
  /**
   * Bytes of snapshot data per chunk; at most `frameBytesMax / 2`.
   * @default 1048576 (bytes: 1 MiB, or `frameBytesMax / 2` if smaller)
   */
  snapshotChunkBytes?: number;
  /** Snapshots waiting to stream to one peer. @default 8 (snapshots) */
  snapshotQueueMax?: number;
  /** Snapshot bytes being reassembled on one connection. @default 1073741824 (bytes: 1 GiB) */
  inboundSnapshotBytesMax?: number;
  /**
   * TCP keep-alive probe delay on every connection, so that a peer that vanished without a
   * reset (a partition, a powered-off host) is noticed and its connection torn down.
   * @default 10000 (milliseconds)
   */
  keepAliveMs?: number;
  /** Accepted connections open at once. @default 1024 (connections) */
  inboundConnectionsMax?: number;
  /** Random source of the backoff jitter, in [0, 1). @default an unseeded `SeededRandom` */
  random?: () => number;
}

interface TcpConfig extends BatchingConfig {
  clusterId: string;
  listenHost: string;
  listenPort: number;
  versionMin: number;
  versionMax: number;
  sendQueueFramesMax: number;
  sendQueueBytesMax: number;
  socketBufferBytesMax: number;
  reconnectDelayMsMin: number;
  reconnectDelayMsMax: number;
  handshakeTimeoutMs: number;
  snapshotChunkBytes: number;
  snapshotQueueMax: number;
  inboundSnapshotBytesMax: number;
  inboundConnectionsMax: number;
  keepAliveMs: number;
  random: () => number;
}

function tcpConfig(options: TcpTransportOptions): TcpConfig {
  const base = batchingConfig(options);
  if (typeof options.clusterId !== 'string' || options.clusterId.length === 0) {
    throw new ConfigError('clusterId must be a non-empty string');
  }
  const versionMin = checkInteger('protocolVersionMin',
    options.protocolVersionMin ?? PROTOCOL_VERSION_OLDEST, PROTOCOL_VERSION_OLDEST,
    PROTOCOL_VERSION_CURRENT);
  const reconnectDelayMsMin = checkInteger('reconnectDelayMsMin',
    options.reconnectDelayMsMin ?? 50, 1, 600_000);
  return {
    ...base,
    clusterId: options.clusterId,
    listenHost: options.listenHost ?? '127.0.0.1',
    listenPort: checkInteger('listenPort', options.listenPort ?? 0, 0, 65_535),
    versionMin,
    versionMax: checkInteger('protocolVersionMax',
      options.protocolVersionMax ?? PROTOCOL_VERSION_CURRENT, versionMin,
      PROTOCOL_VERSION_CURRENT),
    sendQueueFramesMax: checkInteger('sendQueueFramesMax', options.sendQueueFramesMax ?? 4096,
      1, 2 ** 20),
    sendQueueBytesMax: checkInteger('sendQueueBytesMax', options.sendQueueBytesMax ?? 64 * 2 ** 20,
      base.frameBytesMax, 2 ** 40),
    socketBufferBytesMax: checkInteger('socketBufferBytesMax',
      options.socketBufferBytesMax ?? 4 * 2 ** 20, 1, 2 ** 32),
    reconnectDelayMsMin,
    reconnectDelayMsMax: checkInteger('reconnectDelayMsMax', options.reconnectDelayMsMax ?? 5000,
      reconnectDelayMsMin, 3_600_000),
    handshakeTimeoutMs: checkInteger('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 5000,
      1, 600_000),
    snapshotChunkBytes: checkInteger('snapshotChunkBytes',
      options.snapshotChunkBytes ?? Math.min(2 ** 20, Math.floor(base.frameBytesMax / 2)),
      1, Math.floor(base.frameBytesMax / 2)),
    snapshotQueueMax: checkInteger('snapshotQueueMax', options.snapshotQueueMax ?? 8, 1, 1024),
    inboundSnapshotBytesMax: checkInteger('inboundSnapshotBytesMax',
      options.inboundSnapshotBytesMax ?? 2 ** 30, 1, 2 ** 40),
    inboundConnectionsMax: checkInteger('inboundConnectionsMax',
      options.inboundConnectionsMax ?? 1024, 1, 65_536),
    keepAliveMs: checkInteger('keepAliveMs', options.keepAliveMs ?? 10_000, 1, 3_600_000),
    random: options.random ?? floatsOf(unseededRandom()),
  };
}

/** A snapshot being streamed to a peer. */
interface SnapshotStream {
  envelope: Envelope;
  streamId: number;
  offsetBytes: number;
  chunkIndex: number;
}

type PeerState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

/** Converts anything thrown by a socket into a log-friendly code. */
function errorCode(error: unknown): string {
  if (error instanceof FlotillaError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERR_SOCKET';
}

/** The dialed (sending) side of one peer. */
class OutboundPeer {
  state: PeerState = 'idle';
  /** The version of the last handshake; frames are encoded for it until the next one. */
  version: number;
  /** Encoded frames, waiting for room in the socket (only while ready). */
  readonly frames: OutFrame[] = [];
  /**
   * Envelopes sent while the connection is coming up. They are encoded once the handshake
   * has chosen the protocol version (so a version-1 peer gets version-1 frames).
   */
  private held: Envelope[] = [];
  private heldBytes = 0;
  private framesBytes = 0;
  readonly snapshots: SnapshotStream[] = [];
  private socket: net.Socket | null = null;
  private reader: FrameReader | null = null;
  private timer: TimerHandle | null = null;
  private failures = 0;
  private nextStreamId = 1;

  constructor(
    private readonly owner: TcpTransport,
    readonly nodeId: number,
    public address: PeerAddress,
  ) {
    this.version = owner.config.versionMin;
  }

  get coalesce(): boolean {
    return this.version >= PROTOCOL_VERSION_COALESCED;
  }

  /** Bytes waiting: frames, plus the estimated size of held envelopes. */
  get queuedBytes(): number {
    return this.framesBytes + this.heldBytes;
  }

  /** Queues a frame, or drops it if the queue is full. */
  enqueue(frame: OutFrame): void {
    const config = this.owner.config;
    if (this.frames.length >= config.sendQueueFramesMax ||
      this.queuedBytes + frame.bytes.length > config.sendQueueBytesMax) {
      this.owner.dropQueued(this.nodeId, frame, 'send queue full');
      return;
    }
    this.frames.push(frame);
    this.framesBytes += frame.bytes.length;
  }

  /** Holds envelopes until the handshake ends, within the same limits as the frames. */
  hold(envelopes: readonly Envelope[]): void {
    const config = this.owner.config;
    for (const envelope of envelopes) {
      const bytes = estimateBytes(envelope);
      if (this.held.length >= config.outboxMessagesMax ||
        this.queuedBytes + bytes > config.sendQueueBytesMax) {
        this.owner.dropEnvelopes(this.nodeId, [envelope], 'send queue full');
        continue;
      }
      this.held.push(envelope);
      this.heldBytes += bytes;
    }
  }

  /** Queues a snapshot stream, or drops it (reported as a failure) if too many wait. */
  enqueueSnapshot(envelope: Envelope): boolean {
    if (this.snapshots.length >= this.owner.config.snapshotQueueMax) return false;
    this.snapshots.push({ envelope, streamId: this.nextStreamId++, offsetBytes: 0,
      chunkIndex: 0 });
    return true;
  }

  /** Starts a connection if none is up or coming; writes if one is ready. */
  kick(): void {
    if (this.state === 'idle') this.connect();
    else if (this.state === 'ready') this.pump();
  }

  private connect(): void {
    assert(this.state === 'idle' && this.socket === null, 'connect from a non-idle peer');
    const owner = this.owner;
    const config = owner.config;
    this.state = 'connecting';
    this.reader = new FrameReader(config.frameBytesMax);
    const socket = net.connect({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, config.keepAliveMs);
    socket.on('connect', () => {
      socket.write(owner.codec.encodeControl({ kind: FrameKind.Hello,
        clusterId: config.clusterId, nodeId: owner.nodeId, peerNodeId: this.nodeId,
        versionMin: config.versionMin, versionMax: config.versionMax }));
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('drain', () => this.pump());
    socket.on('error', (error) => this.fail(socket, error));
    socket.on('close', () => this.fail(socket, null));
    this.timer = config.clock.setTimer(config.handshakeTimeoutMs, () => {
      this.timer = null;
      if (this.state === 'connecting' && this.socket === socket) {
        this.fail(socket, new HandshakeError(HandshakeErrorCode.Timeout,
          `no handshake from node ${this.nodeId} within ${config.handshakeTimeoutMs} ms`));
      }
    });
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket || this.reader === null) return;
    try {
      this.reader.push(chunk);
      for (let bytes = this.reader.next(); bytes !== null; bytes = this.reader.next()) {
        if (this.socket !== socket) return;
        this.onFrame(this.owner.codec.decode(bytes));
      }
    } catch (error) {
      // Only the peer's fault closes the connection; anything else is a bug and propagates.
      if (!(error instanceof FrameError || error instanceof HandshakeError)) throw error;
      this.fail(socket, error);
    }
  }

  private onFrame(frame: Frame): void {
    const owner = this.owner;
    if (this.state !== 'connecting') {
      throw new FrameError(FrameErrorCode.Decode, `unexpected frame kind ${frame.kind} on a ` +
        'dialed connection');
    }
    if (frame.kind === FrameKind.Refuse) {
      // The peer's code is counted under its name only if it is one of ours: a stranger must
      // not grow `errorsByCode` with made-up keys.
      const known = (Object.values(HandshakeErrorCode) as string[]).includes(frame.code);
      throw new HandshakeError(known ? frame.code as HandshakeErrorCode
        : HandshakeErrorCode.Protocol,
      `node ${this.nodeId} refused the connection: ${frame.reason.slice(0, 200)}`);
    }
    if (frame.kind !== FrameKind.HelloAck) {
      throw new HandshakeError(HandshakeErrorCode.Protocol, `expected HelloAck, got kind ${
        frame.kind}`);
    }
    const version = acceptHelloAck(owner.identity, this.nodeId, frame);
    this.onReady(version);
  }

  private onReady(version: number): void {
    const owner = this.owner;
    this.state = 'ready';
    this.failures = 0;
    if (this.timer !== null) owner.config.clock.clearTimer(this.timer);
    this.timer = null;
    owner.counters.connectionsOpened++;
    owner.log.info({ peerNodeId: this.nodeId, version }, 'connected');
    this.version = version;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length > 0) owner.enqueueFrames(this, held);
    this.pump();
  }

  /** Writes queued frames, then snapshot chunks, while the socket has room. */
  pump(): void {
    const socket = this.socket;
    if (this.state !== 'ready' || socket === null) return;
    const owner = this.owner;
    const bufferMax = owner.config.socketBufferBytesMax;
    // Bounded: every turn of the loop writes something and the socket buffer has a maximum.
    while (socket.writableLength < bufferMax) {
      const frame = this.frames.shift();
      if (frame !== undefined) {
        this.framesBytes -= frame.bytes.length;
        owner.counters.framesSent++;
        owner.counters.bytesSent += frame.bytes.length;
        socket.write(frame.bytes);
        continue;
      }
      if (this.snapshots.length === 0) break;
      this.writeChunk(socket, this.snapshots[0]!);
    }
    assert(this.framesBytes >= 0, 'negative send queue bytes');
  }

  private writeChunk(socket: net.Socket, stream: SnapshotStream): void {
    const owner = this.owner;
    const message = stream.envelope.message;
    const snapshot = message.snapshot;
    assert(snapshot !== null, 'MsgSnap without a snapshot');
    const chunkBytes = owner.config.snapshotChunkBytes;
    const data = snapshot.data.subarray(stream.offsetBytes, stream.offsetBytes + chunkBytes);
    const last = stream.offsetBytes + data.length >= snapshot.data.length;
    const head: Message | null = stream.chunkIndex !== 0 ? null
      : { ...message, snapshot: { ...snapshot, data: EMPTY_BYTES } };
    const chunk: SnapshotChunkFrame = { kind: FrameKind.SnapshotChunk,
      rangeId: stream.envelope.rangeId, streamId: stream.streamId,
      chunkIndex: stream.chunkIndex, last, message: head, data };
    const bytes = owner.codec.encodeControl(chunk);
    stream.offsetBytes += data.length;
    stream.chunkIndex++;
    owner.counters.framesSent++;
    owner.counters.bytesSent += bytes.length;
    if (!last) {
      socket.write(bytes);
      return;
    }
    this.snapshots.shift();
    const rangeId = stream.envelope.rangeId;
    socket.write(bytes, (error) => owner.snapshotWritten(rangeId, this.nodeId, !error));
  }

  /** Tears the connection down (idempotent per socket) and enters backoff. */
  private fail(socket: net.Socket, error: unknown): void {
    if (this.socket !== socket || this.state === 'closed') return;
    const owner = this.owner;
    this.socket = null;
    this.reader = null;
    socket.destroy();
    if (error !== null) owner.recordError(this.nodeId, error, 'outbound');
    else owner.log.info({ peerNodeId: this.nodeId }, 'connection closed');
    this.dropEverything();
    this.state = 'backoff';
    if (this.timer !== null) owner.config.clock.clearTimer(this.timer);
    const config = owner.config;
    const cap = Math.min(config.reconnectDelayMsMax,
      config.reconnectDelayMsMin * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const delayMs = Math.max(1, Math.floor(cap * (0.5 + config.random() / 2)));
    this.timer = config.clock.setTimer(delayMs, () => {
      this.timer = null;
      if (this.state === 'backoff') this.state = 'idle';
    });
  }

  private dropEverything(): void {
    for (const frame of this.frames.splice(0)) this.owner.dropQueued(this.nodeId, frame, 'closed');
    this.framesBytes = 0;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length > 0) this.owner.dropEnvelopes(this.nodeId, held, 'connection failed');
    for (const stream of this.snapshots.splice(0)) {
      this.owner.snapshotWritten(stream.envelope.rangeId, this.nodeId, false);
    }
  }

  close(): void {
    this.state = 'closed';
    if (this.timer !== null) this.owner.config.clock.clearTimer(this.timer);
    this.timer = null;
    this.socket?.destroy();
    this.socket = null;
    this.frames.length = 0;
    this.snapshots.length = 0;
    this.held = [];
    this.heldBytes = 0;
    this.framesBytes = 0;
  }
}

/** A snapshot being reassembled on an accepted connection. */
interface Assembly {
  envelope: Envelope;
  chunks: Uint8Array[];
  nextChunkIndex: number;
}

/** The accepted (receiving) side of one connection. */
class InboundConnection {
  private state: 'hello' | 'ready' | 'closed' = 'hello';
  private peerNodeId = 0;
  private readonly reader: FrameReader;
  private timer: TimerHandle | null;
  private readonly assemblies = new Map<number, Assembly>();
  private assemblyBytes = 0;

  constructor(
    private readonly owner: TcpTransport,
    readonly socket: net.Socket,
  ) {
    const config = owner.config;
    this.reader = new FrameReader(config.frameBytesMax);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, config.keepAliveMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.close(error));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.close(null));
    this.timer = config.clock.setTimer(config.handshakeTimeoutMs, () => {
      this.timer = null;
      if (this.state === 'hello') {
        this.close(new HandshakeError(HandshakeErrorCode.Timeout, 'no Hello within ' +
          `${config.handshakeTimeoutMs} ms`));
      }
    });
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    try {
      this.reader.push(chunk);
      for (let bytes = this.reader.next(); bytes !== null; bytes = this.reader.next()) {
        this.owner.counters.framesReceived++;
        this.owner.counters.bytesReceived += bytes.length;
        this.onFrame(this.owner.codec.decode(bytes));
        if (this.isClosed()) return;
      }
    } catch (error) {
      // Only the peer's fault closes the connection; anything else is a bug and propagates.
      if (!(error instanceof FrameError || error instanceof HandshakeError)) throw error;
      if (error instanceof HandshakeError) this.refuse(error);
      else this.close(error);
    }
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private onEnd(): void {
    if (this.reader.bufferedBytes > 0) {
      this.close(new FrameError(FrameErrorCode.Truncated,
        `connection ended inside a frame (${this.reader.bufferedBytes} bytes buffered)`));
    } else {
      this.close(null);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'hello') {
      if (frame.kind !== FrameKind.Hello) {
        throw new HandshakeError(HandshakeErrorCode.Protocol, `expected Hello, got kind ${
          frame.kind}`);
      }
      const version = acceptHello(this.owner.identity, frame);
      this.onHello(frame.nodeId, version);
      return;
    }
    if (frame.kind === FrameKind.Batch) {
      if (frame.fromNodeId !== this.peerNodeId || frame.toNodeId !== this.owner.nodeId) {
        throw new FrameError(FrameErrorCode.Decode, `batch from ${frame.fromNodeId} to ${
          frame.toNodeId} on the connection of node ${this.peerNodeId}`);
      }
      this.owner.receiveFrame(this.peerNodeId, frame);
    } else if (frame.kind === FrameKind.SnapshotChunk) {
      this.onChunk(frame);
    } else {
      throw new FrameError(FrameErrorCode.Decode, `unexpected frame kind ${frame.kind}`);
    }
  }

  private onHello(peerNodeId: number, version: number): void {
    const owner = this.owner;
    const config = owner.config;
    this.state = 'ready';
    this.peerNodeId = peerNodeId;
    if (this.timer !== null) config.clock.clearTimer(this.timer);
    this.timer = null;
    owner.counters.connectionsOpened++;
    owner.log.info({ peerNodeId, version }, 'accepted connection');
    this.socket.write(owner.codec.encodeControl({ kind: FrameKind.HelloAck,
      clusterId: config.clusterId, nodeId: owner.nodeId, version }));
  }

  private onChunk(chunk: SnapshotChunkFrame): void {
    let assembly = this.assemblies.get(chunk.streamId);
    if (assembly === undefined) {
      const message = chunk.message;
      if (chunk.chunkIndex !== 0 || message === null || message.type !== MessageType.MsgSnap ||
        message.snapshot === null || this.assemblies.size >= this.owner.config.snapshotQueueMax) {
        throw new FrameError(FrameErrorCode.Decode, 'snapshot stream does not start well');
      }
      assembly = { envelope: { rangeId: chunk.rangeId, message, quiesce: false }, chunks: [],
        nextChunkIndex: 0 };
      this.assemblies.set(chunk.streamId, assembly);
    }
    if (chunk.chunkIndex !== assembly.nextChunkIndex || chunk.rangeId !==
      assembly.envelope.rangeId) {
      throw new FrameError(FrameErrorCode.Decode, 'snapshot chunk out of order');
    }
    this.assemblyBytes += chunk.data.length;
    if (this.assemblyBytes > this.owner.config.inboundSnapshotBytesMax) {
      throw new FrameError(FrameErrorCode.Oversized, 'snapshot exceeds inboundSnapshotBytesMax');
    }
    assembly.chunks.push(chunk.data);
    assembly.nextChunkIndex++;
    if (!chunk.last) return;
    this.assemblies.delete(chunk.streamId);
    const bytes = assembly.chunks.reduce((sum, c) => sum + c.length, 0);
    this.assemblyBytes -= bytes;
    const snapshot = assembly.envelope.message.snapshot!;
    // One copy, into a buffer of the snapshot's own: the chunks' frames can be collected.
    snapshot.data = bytes === 0 ? EMPTY_BYTES : new Uint8Array(Buffer.concat(assembly.chunks));
    this.owner.receive(this.peerNodeId, [assembly.envelope]);
  }

  private refuse(error: HandshakeError): void {
    const owner = this.owner;
    if (this.state === 'closed') return;
    owner.counters.handshakesRefused++;
    owner.recordError(this.peerNodeId, error, 'inbound');
    this.socket.end(owner.codec.encodeControl({ kind: FrameKind.Refuse, code: error.code,
      reason: error.message }));
    // The refusal needs the socket open until it is written; a peer that never closes its
    // end is cut off after the handshake timeout.
    const socket = this.socket;
    socket.setTimeout(owner.config.handshakeTimeoutMs, () => socket.destroy());
    this.shutdown();
  }

  /** Closes the connection; `error` (if any) is logged and counted. */
  close(error: unknown): void {
    if (this.state === 'closed') return;
    if (error instanceof FrameError) this.owner.counters.framesRejected++;
    if (error !== null) this.owner.recordError(this.peerNodeId, error, 'inbound');
    this.socket.destroy();
    this.shutdown();
  }

  private shutdown(): void {
    this.state = 'closed';
    if (this.timer !== null) this.owner.config.clock.clearTimer(this.timer);
    this.timer = null;
    this.assemblies.clear();
    this.owner.forget(this);
  }
}

/**
 * A transport over TCP. Create it, `setHandler`, `await listen()`, tell it the peers'
 * addresses (options or `setPeer`), then `send`/`flush`.
 */
export class TcpTransport extends BatchingTransport {
  /** @internal */
  declare readonly config: TcpConfig;
  /** @internal */
  readonly identity: HandshakeIdentity;
  private readonly peers = new Map<number, OutboundPeer>();
  private readonly addresses = new Map<number, PeerAddress>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly server: net.Server;
  private readonly others: Envelope[] = [];

  constructor(options: TcpTransportOptions) {
    const config = tcpConfig(options);
    super(config);
    this.identity = { clusterId: config.clusterId, nodeId: config.nodeId,
      versionMin: config.versionMin, versionMax: config.versionMax };
    for (const [nodeId, address] of options.peers ?? []) this.setPeer(nodeId, address);
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.maxConnections = config.inboundConnectionsMax;
    this.server.on('error', (error) => this.log.error({ err: error }, 'server error'));
  }

  /** Starts listening; resolves with the bound address (read the port when it was 0). */
  listen(): Promise<PeerAddress> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.listenPort, this.config.listenHost, () => {
        this.server.off('error', reject);
        resolve(this.address()!);
      });
    });
  }

  /** The bound address, or null before `listen` resolves. */
  address(): PeerAddress | null {
    const address = this.server.address();
    if (address === null || typeof address === 'string') return null;
    return { host: address.address, port: address.port };
  }

  /** Sets (or changes) where a peer listens. A changed address applies at the next connect. */
  setPeer(nodeId: number, address: PeerAddress): void {
    checkInteger('peer nodeId', nodeId, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('peer port', address.port, 1, 65_535);
    this.addresses.set(nodeId, { ...address });
    const peer = this.peers.get(nodeId);
    if (peer !== undefined) peer.address = { ...address };
  }

  protected queuedBytes(): number {
    let bytes = 0;
    for (const peer of this.peers.values()) bytes += peer.queuedBytes;
    return bytes;
  }

  protected writeBatch(toNodeId: number, envelopes: readonly Envelope[]): void {
    const peer = this.peerFor(toNodeId);
    if (peer === null || peer.state === 'backoff') {
      this.drop(toNodeId, envelopes, peer === null ? 'no address' : 'peer unreachable');
      return;
    }
    const others = this.others;
    others.length = 0;
    for (const envelope of envelopes) {
      if (envelope.message.type !== MessageType.MsgSnap) others.push(envelope);
      else if (!peer.enqueueSnapshot(envelope)) this.drop(toNodeId, [envelope], 'snapshot queue');
    }
    if (others.length > 0) {
      if (peer.state === 'ready') this.enqueueFrames(peer, others);
      else peer.hold(others);
    }
    others.length = 0;
    peer.kick();
  }

  /** @internal Encodes envelopes for the peer's protocol version and queues the frames. */
  enqueueFrames(peer: OutboundPeer, envelopes: readonly Envelope[]): void {
    for (const frame of this.encodeFrames(peer.nodeId, envelopes, peer.coalesce)) {
      peer.enqueue(frame);
    }
  }

  /** @internal Counts and reports envelopes that will not be sent. */
  dropEnvelopes(toNodeId: number, envelopes: readonly Envelope[], why: string): void {
    this.drop(toNodeId, envelopes, why);
  }

  private peerFor(nodeId: number): OutboundPeer | null {
    let peer = this.peers.get(nodeId);
    if (peer !== undefined) return peer;
    const address = this.addresses.get(nodeId);
    if (address === undefined) return null;
    peer = new OutboundPeer(this, nodeId, address);
    this.peers.set(nodeId, peer);
    return peer;
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(new InboundConnection(this, socket));
  }

  /** @internal */
  forget(connection: InboundConnection): void {
    this.inbound.delete(connection);
  }

  /** @internal Delivers a received batch (a reassembled snapshot). */
  receive(fromNodeId: number, envelopes: Envelope[]): void {
    if (!this.closed) this.deliver(fromNodeId, envelopes);
  }

  /** @internal Delivers a received batch frame. */
  receiveFrame(fromNodeId: number, frame: BatchFrame): void {
    if (!this.closed) this.deliverFrame(fromNodeId, frame);
  }

  /** @internal Counts and reports a queued frame that will not be written. */
  dropQueued(toNodeId: number, frame: OutFrame, why: string): void {
    this.dropFrame(toNodeId, frame);
    this.log.debug({ peerNodeId: toNodeId, why }, 'dropped frame');
  }

  /** @internal */
  snapshotWritten(rangeId: number, toNodeId: number, ok: boolean): void {
    if (!this.closed) this.queueSnapshotReport(rangeId, toNodeId, ok);
  }

  /** @internal Logs and counts a connection error. */
  recordError(peerNodeId: number, error: unknown, direction: 'inbound' | 'outbound'): void {
    const code = errorCode(error);
    countError(this.counters, code);
    if (error instanceof HandshakeError && direction === 'outbound') {
      this.counters.handshakesRefused++;
    }
    const level = error instanceof FlotillaError ? 'error' : 'warn';
    this.log[level]({ peerNodeId, direction, code, err: error }, 'connection error');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closeBatching();
    for (const peer of this.peers.values()) peer.close();
    for (const connection of [...this.inbound]) connection.close(null);
    await new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
  }
}
