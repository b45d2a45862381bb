/**
 * Private: the dialed (sending) side of one peer of the TCP transport: the connection's state
 * machine, its send queue and its snapshot streams (see `tcp.ts` for the whole design).
 *
 * Before the HelloAck the dialer reads with a reader limited to `helloBytesMax`: a listener
 * has nothing bigger to say, and after the handshake it says nothing at all.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { assert } from '../util/index.js';
import { EMPTY_BYTES, type Message } from '../raft/index.js';
import type { Envelope } from './types.js';
import { FrameKind, FrameReader, type Frame, type SnapshotChunkFrame } from './codec.js';
import { FrameError, FrameErrorCode, HandshakeError, HandshakeErrorCode } from './errors.js';
import { PROTOCOL_VERSION_COALESCED, acceptHelloAck } from './handshake.js';
import type { TimerHandle } from './clock.js';
import { estimateBytes, type OutFrame } from './_batching.js';
import { checkListenerCertificate } from './_tls.js';
import type { PeerAddress, TcpTransport } from './tcp.js';

/** A snapshot being streamed to a peer. */
interface SnapshotStream {
  envelope: Envelope;
  streamId: number;
  offsetBytes: number;
  chunkIndex: number;
}

/** The states of a dialed connection (`tcp.ts` draws the machine). */
export type PeerState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

/** The dialed (sending) side of one peer. */
export class OutboundPeer {
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
  /** Whether the TCP connection is up (TLS only: errors after it are TLS failures). */
  private tcpConnected = false;
  /** Whether the connection is ready for the Hello (TCP connected, TLS done). */
  private secured = false;
  /** Whether anything was written since the last idle check (`armIdleCheck`). */
  private wroteSinceCheck = false;

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

  /** Queues a range snapshot chunk's frame within the queue's limits; false if full. */
  enqueueChunk(bytes: Uint8Array): boolean {
    const config = this.owner.config;
    if (this.frames.length >= config.sendQueueFramesMax ||
      this.queuedBytes + bytes.length > config.sendQueueBytesMax) return false;
    this.frames.push({ bytes, messages: 0, rangeIds: [] });
    this.framesBytes += bytes.length;
    return true;
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
    this.reader = new FrameReader(config.helloBytesMax);
    const socket = this.dial();
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, config.keepAliveMs);
    socket.on(config.tls === null ? 'connect' : 'secureConnect', () => {
      this.secured = true;
      socket.write(owner.codec.encodeControl({ kind: FrameKind.Hello,
        clusterId: config.clusterId, nodeId: owner.nodeId, peerNodeId: this.nodeId,
        versionMin: config.versionMin, versionMax: config.versionMax }));
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('drain', () => this.pump());
    socket.on('error', (error) => this.fail(socket, this.tlsFailure(error)));
    socket.on('close', () => this.fail(socket, null));
    this.timer = config.clock.setTimer(config.handshakeTimeoutMs, () => {
      this.timer = null;
      if (this.state === 'connecting' && this.socket === socket) {
        this.fail(socket, new HandshakeError(HandshakeErrorCode.Timeout,
          `no handshake from node ${this.nodeId} within ${config.handshakeTimeoutMs} ms`));
      }
    });
  }

  /** Opens the TCP connection, or the TLS one: TLS 1.3, the listener's certificate bound. */
  private dial(): net.Socket {
    const config = this.owner.config;
    this.secured = false;
    this.tcpConnected = false;
    const { host, port } = this.address;
    if (config.tls === null) return net.connect({ host, port });
    const socket = tls.connect({ host, port, key: config.tls.key, cert: config.tls.cert,
      ca: config.tls.ca as tls.ConnectionOptions['ca'], minVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      checkServerIdentity: (_host, certificate) =>
        checkListenerCertificate(certificate, config.clusterId, this.nodeId) });
    socket.once('connect', () => {
      this.tcpConnected = true;
    });
    return socket;
  }

  /**
   * An error between TCP connect and the end of the TLS handshake is the TLS handshake's
   * failure (an untrusted or wrong certificate): a refused handshake, counted as one.
   */
  private tlsFailure(error: Error): Error {
    if (!this.tcpConnected || this.secured || error instanceof HandshakeError) return error;
    const code = (error as { code?: unknown }).code;
    return new HandshakeError(HandshakeErrorCode.Tls, `TLS handshake with node ${this.nodeId} ` +
      `failed: ${typeof code === 'string' ? code : error.message}`, { cause: error });
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
    this.armIdleCheck();
  }

  /**
   * While ready, every third of `idleTimeoutMs`: a connection that wrote nothing since the
   * last check and has nothing queued is closed by us, cleanly, and the peer goes back to
   * idle. So we close within two thirds of `idleTimeoutMs` after our last write, before the
   * listener's own idle timeout (a whole `idleTimeoutMs` after our last frame arrived) can
   * race a frame of ours; the next send redials.
   */
  private armIdleCheck(): void {
    const config = this.owner.config;
    assert(this.state === 'ready' && this.timer === null, 'idle check outside ready');
    this.wroteSinceCheck = false;
    this.timer = config.clock.setTimer(Math.max(1, Math.floor(config.idleTimeoutMs / 3)), () => {
      this.timer = null;
      const socket = this.socket;
      if (this.state !== 'ready' || socket === null) return;
      if (this.wroteSinceCheck || this.frames.length > 0 || this.snapshots.length > 0 ||
        socket.writableLength > 0) {
        this.armIdleCheck();
        return;
      }
      this.socket = null;
      this.reader = null;
      this.state = 'idle';
      // `end` lets the kernel deliver what is written, then the FIN; a listener that never
      // closes its end is cut off after the handshake timeout.
      socket.end();
      socket.setTimeout(config.handshakeTimeoutMs, () => socket.destroy());
      this.owner.log.info({ peerNodeId: this.nodeId }, 'closed idle connection');
    });
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
        this.wroteSinceCheck = true;
        continue;
      }
      if (this.snapshots.length === 0) break;
      this.writeChunk(socket, this.snapshots[0]!);
      this.wroteSinceCheck = true;
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

  /**
   * Tears the connection down (idempotent per socket) and enters backoff; but a ready
   * connection the listener closed cleanly (its idle timeout, or a newer connection of ours
   * superseding it) goes straight back to idle, so that the next send redials at once. A
   * frame written just as the listener closed is lost, as on any failed connection.
   */
  private fail(socket: net.Socket, error: unknown): void {
    if (this.socket !== socket || this.state === 'closed') return;
    const owner = this.owner;
    const wasReady = this.state === 'ready';
    this.socket = null;
    this.reader = null;
    socket.destroy();
    if (error !== null) owner.recordError(this.nodeId, error, 'outbound');
    else owner.log.info({ peerNodeId: this.nodeId }, 'connection closed');
    this.dropEverything();
    if (this.timer !== null) owner.config.clock.clearTimer(this.timer);
    this.timer = null;
    if (wasReady && error === null) {
      this.state = 'idle';
      return;
    }
    this.state = 'backoff';
    const config = owner.config;
    const cap = Math.min(config.reconnectDelayMsMax,
      config.reconnectDelayMsMin * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const delayMs = Math.max(1, Math.floor(cap * (0.5 + config.random() / 2)));
    this.timer = config.clock.setTimer(delayMs, () => {
      this.timer = null;
      if (this.state === 'backoff') this.state = 'idle';
    });
    assert(this.socket === null && this.timer !== null, 'backoff without its timer');
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

