/**
 * Private: the accepted (receiving) side of one connection of the TCP transport.
 *
 *     hello (reader limited to helloBytesMax, handshakeTimeoutMs) -> ready -> closed
 *
 * In `hello` the first frame must be a Hello of this cluster, naming this node, from a node
 * the transport admits (`TcpTransport.admit`: a configured peer, or with TLS one whose
 * certificate names it); anything else is refused (a Refuse frame, then the socket closes) and
 * counted in `handshakesRefused`, as is a timeout or an oversized frame. In `ready` the reader
 * takes frames up to `frameBytesMax`, and the transport's sweep closes the connection when no
 * frame completes within `idleTimeoutMs`, or a begun frame does not within `frameTimeoutMs`.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { assert } from '../util/index.js';
import { EMPTY_BYTES, MessageType } from '../raft/index.js';
import type { Envelope } from './types.js';
import { FrameKind, FrameReader, type Frame, type SnapshotChunkFrame } from './codec.js';
import {
  ConnectionError,
  ConnectionErrorCode,
  FrameError,
  FrameErrorCode,
  HandshakeError,
  HandshakeErrorCode,
} from './errors.js';
import { acceptHello } from './handshake.js';
import type { TimerHandle } from './clock.js';
import { checkDialerCertificate } from './_tls.js';
import type { TcpTransport } from './tcp.js';

/** A snapshot being reassembled on an accepted connection. */
interface Assembly {
  envelope: Envelope;
  chunks: Uint8Array[];
  nextChunkIndex: number;
}

/** The accepted (receiving) side of one connection. */
export class InboundConnection {
  private state: 'hello' | 'ready' | 'closed' = 'hello';
  /** The node id its Hello claimed (0 before it). */
  peerNodeId = 0;
  /** When the last frame completed, or the handshake did (`clock.nowMs()`). */
  private lastFrameAtMs = 0;
  /** When the partial frame now buffered began arriving; -1 if none is. */
  private partialSinceMs = -1;
  /** The reader's buffered bytes as last added to the transport's total (`account`). */
  private accountedBytes = 0;
  private readonly reader: FrameReader;
  private timer: TimerHandle | null;
  private readonly assemblies = new Map<number, Assembly>();
  private assemblyBytes = 0;

  /**
   * @param socket the accepted socket; a `tls.TLSSocket` whose handshake (and the chain of
   *   the peer's certificate) succeeded if the transport runs TLS.
   */
  constructor(
    private readonly owner: TcpTransport,
    readonly socket: net.Socket,
  ) {
    const config = owner.config;
    this.reader = new FrameReader(config.helloBytesMax);
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
    let frames = 0;
    try {
      this.reader.push(chunk);
      for (let bytes = this.reader.next(); bytes !== null; bytes = this.reader.next()) {
        frames++;
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
      return;
    }
    this.noteProgress(frames);
    this.accountBuffered();
  }

  /** Brings the transport's total of buffered bytes up to date; closes if it is over. */
  private accountBuffered(): void {
    const buffered = this.reader.bufferedBytes;
    const withinMax = this.owner.account(buffered - this.accountedBytes);
    this.accountedBytes = buffered;
    if (!withinMax) {
      this.close(new ConnectionError(ConnectionErrorCode.BufferFull, `node ${this.peerNodeId}'s ` +
        `partial frame (${buffered} bytes) took the buffered bytes of all connections over ` +
        `inboundBufferedBytesMax (${this.owner.config.inboundBufferedBytesMax})`));
    }
  }

  /** Keeps the clocks of the idle and the partial-frame deadlines: one clock read a chunk. */
  private noteProgress(frames: number): void {
    if (this.reader.bufferedBytes === 0) {
      this.partialSinceMs = -1;
      if (frames > 0) this.lastFrameAtMs = this.owner.config.clock.nowMs();
      return;
    }
    if (frames === 0 && this.partialSinceMs >= 0) return;
    const nowMs = this.owner.config.clock.nowMs();
    if (frames > 0) this.lastFrameAtMs = nowMs;
    this.partialSinceMs = nowMs;
  }

  /**
   * The transport's periodic check of a handshaked connection: closes it if it idled past
   * `idleTimeoutMs` or a frame is overdue by `frameTimeoutMs`.
   */
  sweep(nowMs: number): void {
    if (this.state !== 'ready') return;
    const config = this.owner.config;
    if (this.partialSinceMs >= 0 && nowMs - this.partialSinceMs >= config.frameTimeoutMs) {
      this.close(new FrameError(FrameErrorCode.Timeout, `a frame of node ${this.peerNodeId} ` +
        `(${this.reader.bufferedBytes} bytes so far) did not complete within ` +
        `${config.frameTimeoutMs} ms`));
    } else if (nowMs - this.lastFrameAtMs >= config.idleTimeoutMs) {
      this.close(new ConnectionError(ConnectionErrorCode.Idle, `no frame from node ${
        this.peerNodeId} within ${config.idleTimeoutMs} ms`));
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
      if (this.owner.config.tls !== null) {
        checkDialerCertificate((this.socket as tls.TLSSocket).getPeerX509Certificate?.()
          ?.subjectAltName, this.owner.config.clusterId, frame.nodeId);
      }
      this.owner.admit(frame.nodeId);
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
    } else if (frame.kind === FrameKind.RangeSnapshotChunk) {
      this.owner.receiveChunk(this.peerNodeId, frame.chunk);
    } else {
      throw new FrameError(FrameErrorCode.Decode, `unexpected frame kind ${frame.kind}`);
    }
  }

  private onHello(peerNodeId: number, version: number): void {
    const owner = this.owner;
    const config = owner.config;
    assert(this.state === 'hello' && peerNodeId > 0, 'a second Hello accepted');
    this.state = 'ready';
    this.peerNodeId = peerNodeId;
    this.reader.raiseFrameBytesMax(config.frameBytesMax);
    this.lastFrameAtMs = config.clock.nowMs();
    if (this.timer !== null) config.clock.clearTimer(this.timer);
    this.timer = null;
    owner.counters.connectionsOpened++;
    owner.registerInbound(this);
    owner.log.info({ peerNodeId, version }, 'accepted connection');
    this.socket.write(owner.codec.encodeControl({ kind: FrameKind.HelloAck,
      clusterId: config.clusterId, nodeId: owner.nodeId, version,
      versionMax: config.versionMax }));
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
    // The reason may echo what the peer sent; cut it well below any dialer's helloBytesMax.
    this.socket.end(owner.codec.encodeControl({ kind: FrameKind.Refuse, code: error.code,
      reason: error.message.slice(0, 512) }));
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
    // A connection we close before its handshake completed is a refused handshake, whatever
    // the reason (timeout, oversized or bad frame): counted as one.
    if (error !== null && this.state === 'hello') this.owner.counters.handshakesRefused++;
    if (error !== null) this.owner.recordError(this.peerNodeId, error, 'inbound');
    this.socket.destroy();
    this.shutdown();
  }

  private shutdown(): void {
    this.state = 'closed';
    this.owner.account(-this.accountedBytes);
    this.accountedBytes = 0;
    if (this.timer !== null) this.owner.config.clock.clearTimer(this.timer);
    this.timer = null;
    this.assemblies.clear();
    this.owner.forget(this);
  }
}
