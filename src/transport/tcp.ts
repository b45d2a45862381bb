/**
 * The TCP transport: msgpackr frames over `node:net`, or `node:tls` with mutual TLS.
 *
 * Connections are one-way for Raft traffic, as CockroachDB's per-destination streams: each
 * node dials every peer it sends to and only reads on the connections it accepts, so two nodes
 * never race to pick one of two sockets. A dialed connection goes through
 *
 *     idle -> connecting (TCP connect, TLS, Hello, wait for HelloAck) -> ready -> (error)
 *          -> backoff -> (timer) idle -> (next send) connecting ...
 *     ready -> (idle for idleTimeoutMs * 2/3 at most: we close it; or the listener closes
 *              it cleanly: its idle timeout, superseded) -> idle
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
 *
 * Admission: without TLS a connection is accepted only from a node id with an address
 * (`peers`, `setPeer`); with TLS (`tls`), from a node whose certificate, chained to the CA,
 * names the cluster and the id its Hello claims (`_tls.ts`), configured or not. Either way at
 * most `peerNodeIdsMax` distinct ids and `inboundConnectionsPerPeerMax` connections each.
 * Without TLS a node id is a claim, not a proof: a host that can reach the port and names a
 * configured peer is taken for it (and can supersede its connections). Run TLS where the
 * network is not trusted.
 *
 * What a peer can make a node hold, each bound an option:
 *   - before its handshake, per connection: one frame of `helloBytesMax` (plus one socket
 *     chunk), for at most `handshakeTimeoutMs`; at most `inboundConnectionsMax` connections;
 *   - after it: `peerNodeIdsMax * inboundConnectionsPerPeerMax` connections, each holding at
 *     most one partial frame (`frameBytesMax`) for at most `frameTimeoutMs`, all of them
 *     together at most `inboundBufferedBytesMax`, and each `inboundSnapshotBytesMax` of
 *     snapshot chunks; closed after `idleTimeoutMs` without a complete frame.
 * Going over closes (or refuses) the connection; every such close is counted in `stats()`
 * (`errorsByCode`, and `handshakesRefused` or `framesRejected`) and logged with its code, at
 * most once per code per `errorLogIntervalMs`. Nothing a peer sends throws out of a socket
 * handler: only a bug in this node does (an assertion).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ConfigError, FlotillaError, assert, floatsOf, unseededRandom } from '../util/index.js';
import { MessageType } from '../raft/index.js';
import type { Envelope, SnapshotChunk, TransportStats } from './types.js';
import { countError } from './types.js';
import type { BatchFrame } from './codec.js';
import {
  ConnectionError,
  ConnectionErrorCode,
  FrameErrorCode,
  HandshakeError,
  HandshakeErrorCode,
} from './errors.js';
import {
  PROTOCOL_VERSION_CURRENT,
  PROTOCOL_VERSION_OLDEST,
  type HandshakeIdentity,
} from './handshake.js';
import type { TimerHandle } from './clock.js';
import {
  versionAdmitted,
  versionWindow,
  type VersionWindow,
  type VersionWindowOptions,
} from './version_window.js';
import {
  BatchingTransport,
  batchingConfig,
  checkInteger,
  type BatchingConfig,
  type BatchingOptions,
  type OutFrame,
} from './_batching.js';
import { LogLimiter } from './_log_limit.js';
import { checkTlsOptions, type TcpTlsOptions } from './_tls.js';
import { OutboundPeer } from './_outbound.js';
import { InboundConnection } from './_inbound.js';

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
  /**
   * Addresses of the peers; more with `setPeer`. Without `tls`, these are also the only node
   * ids whose connections are accepted. @default none
   */
  peers?: Iterable<readonly [number, PeerAddress]>;
  /**
   * Mutual TLS: every connection, both ways, runs TLS 1.3 with a certificate on each end,
   * chained to `tls.ca` and naming the node (`nodeCertificateUri`). A node with a valid
   * certificate is accepted even if it is not among `peers`, within `peerNodeIdsMax`.
   * @default none (plain TCP; only configured peers are accepted)
   */
  tls?: TcpTlsOptions;
  /** Oldest protocol version spoken. @default 1 (PROTOCOL_VERSION_OLDEST) */
  protocolVersionMin?: number;
  /** Newest protocol version spoken. @default 2 (PROTOCOL_VERSION_CURRENT) */
  protocolVersionMax?: number;
  /**
   * The cluster version and, during a downgrade, its target (`version_window.ts`): a peer
   * whose version (the newest it speaks) is outside [clusterVersion, clusterVersion + 1], or
   * during a downgrade outside [downgradeTarget, clusterVersion], is refused at either end
   * with `ERR_HANDSHAKE_VERSION_WINDOW`. This node's own `protocolVersionMax` must lie in it.
   * @default none (every peer whose protocol versions overlap is admitted)
   */
  versionWindow?: VersionWindowOptions;
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
  /**
   * Time allowed to connect and complete the handshake (TLS included). @default 5000
   * (milliseconds)
   */
  handshakeTimeoutMs?: number;
  /**
   * The largest frame, and the most bytes buffered, on a connection whose handshake has not
   * completed (either direction): a Hello is a few dozen bytes, so a stranger cannot make the
   * node buffer a whole `frameBytesMax` frame before saying who it is. Above it the connection
   * is closed (`ERR_FRAME_OVERSIZED`) and counted in `handshakesRefused`.
   * @default 4096 (bytes)
   */
  helloBytesMax?: number;
  /**
   * An accepted connection on which no complete frame arrives for this long is closed
   * (`ERR_CONNECTION_IDLE`), checked by one sweep every quarter of the smaller of this and
   * `frameTimeoutMs`. A dialer closes its own connection, cleanly, once it has written
   * nothing for two thirds of it at most, and redials on its next send: with the same value
   * on every node, a listener never times out a well-behaved peer, so no frame is lost to
   * the race of a close with a write. Keep it equal across the cluster.
   * @default 60000 (milliseconds)
   */
  idleTimeoutMs?: number;
  /**
   * Time allowed for one frame to arrive once its first byte has (`ERR_FRAME_TIMEOUT`): a
   * peer cannot park a big partial frame on a connection. @default 30000 (milliseconds)
   */
  frameTimeoutMs?: number;
  /**
   * Bytes of partial frames buffered over all accepted connections at once: however many
   * peers start big frames together, the node holds at most this (plus one socket chunk per
   * connection). The connection whose frame takes the total over it is closed
   * (`ERR_CONNECTION_BUFFER_FULL`). At least `frameBytesMax`.
   * @default 268435456 (bytes: 256 MiB, or `frameBytesMax` if larger)
   */
  inboundBufferedBytesMax?: number;
  /**
   * Handshaked connections open at once from one peer node id. A new one beyond it closes
   * that peer's oldest (`ERR_CONNECTION_SUPERSEDED`): a redialing peer whose old connection
   * is half-open is never locked out, and one peer cannot take every inbound slot.
   * @default 2 (connections)
   */
  inboundConnectionsPerPeerMax?: number;
  /**
   * Distinct peer node ids: those with an address (`peers`, `setPeer`) plus, with `tls`,
   * the certified ones accepted without one. Beyond it `setPeer` throws `ConfigError` and a
   * handshake is refused (`ERR_HANDSHAKE_PEER_LIMIT`). The store tracks at most 1024 peers.
   * @default 1024 (node ids)
   */
  peerNodeIdsMax?: number;
  /**
   * Connection errors and refusals are all counted, but logged at most once per code per
   * interval (the line carries the number left unlogged). @default 1000 (milliseconds)
   */
  errorLogIntervalMs?: number;
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
  /** Accepted connections open at once, handshaked or not. @default 1024 (connections) */
  inboundConnectionsMax?: number;
  /** Random source of the backoff jitter, in [0, 1). @default an unseeded `SeededRandom` */
  random?: () => number;
}

/** @internal Validated `TcpTransportOptions` with defaults applied. */
export interface TcpConfig extends BatchingConfig {
  clusterId: string;
  listenHost: string;
  listenPort: number;
  tls: TcpTlsOptions | null;
  versionMin: number;
  versionMax: number;
  versionWindow: VersionWindow | null;
  sendQueueFramesMax: number;
  sendQueueBytesMax: number;
  socketBufferBytesMax: number;
  reconnectDelayMsMin: number;
  reconnectDelayMsMax: number;
  handshakeTimeoutMs: number;
  helloBytesMax: number;
  idleTimeoutMs: number;
  frameTimeoutMs: number;
  inboundBufferedBytesMax: number;
  inboundConnectionsPerPeerMax: number;
  peerNodeIdsMax: number;
  errorLogIntervalMs: number;
  snapshotChunkBytes: number;
  snapshotQueueMax: number;
  inboundSnapshotBytesMax: number;
  inboundConnectionsMax: number;
  keepAliveMs: number;
  random: () => number;
}

function tcpConfig(options: TcpTransportOptions): TcpConfig {
  const base = batchingConfig(options);
  if (typeof options.clusterId !== 'string' || options.clusterId.length === 0 ||
    options.clusterId.length > 256) {
    throw new ConfigError('clusterId must be a string of 1 to 256 characters');
  }
  if (options.tls !== undefined) checkTlsOptions(options.tls, options.clusterId, base.nodeId);
  const versionMin = checkInteger('protocolVersionMin',
    options.protocolVersionMin ?? PROTOCOL_VERSION_OLDEST, PROTOCOL_VERSION_OLDEST,
    PROTOCOL_VERSION_CURRENT);
  const versionMax = checkInteger('protocolVersionMax',
    options.protocolVersionMax ?? PROTOCOL_VERSION_CURRENT, versionMin, PROTOCOL_VERSION_CURRENT);
  const window = options.versionWindow === undefined ? null
    : versionWindow(options.versionWindow);
  if (window !== null && !versionAdmitted(window, versionMax)) {
    throw new ConfigError(`protocolVersionMax ${versionMax} is outside the version window ` +
      `[${window.low}, ${window.high}]`);
  }
  const reconnectDelayMsMin = checkInteger('reconnectDelayMsMin',
    options.reconnectDelayMsMin ?? 50, 1, 600_000);
  return {
    ...base,
    clusterId: options.clusterId,
    listenHost: options.listenHost ?? '127.0.0.1',
    listenPort: checkInteger('listenPort', options.listenPort ?? 0, 0, 65_535),
    tls: options.tls ?? null,
    versionMin,
    versionMax,
    versionWindow: window,
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
    // A Hello with a 256-character cluster id is well under 1 KiB.
    helloBytesMax: checkInteger('helloBytesMax', options.helloBytesMax ?? 4096, 1024,
      Math.min(base.frameBytesMax, 2 ** 20)),
    idleTimeoutMs: checkInteger('idleTimeoutMs', options.idleTimeoutMs ?? 60_000, 4,
      86_400_000),
    frameTimeoutMs: checkInteger('frameTimeoutMs', options.frameTimeoutMs ?? 30_000, 4,
      3_600_000),
    inboundBufferedBytesMax: checkInteger('inboundBufferedBytesMax',
      options.inboundBufferedBytesMax ?? Math.max(2 ** 28, base.frameBytesMax),
      base.frameBytesMax, 2 ** 40),
    inboundConnectionsPerPeerMax: checkInteger('inboundConnectionsPerPeerMax',
      options.inboundConnectionsPerPeerMax ?? 2, 1, 64),
    peerNodeIdsMax: checkInteger('peerNodeIdsMax', options.peerNodeIdsMax ?? 1024, 1, 65_536),
    errorLogIntervalMs: checkInteger('errorLogIntervalMs', options.errorLogIntervalMs ?? 1000,
      0, 3_600_000),
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

/** Converts anything thrown by a socket into a log-friendly code. */
function errorCode(error: unknown): string {
  if (error instanceof FlotillaError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERR_SOCKET';
}

/**
 * A transport over TCP (or TLS). Create it, `setHandler`, `await listen()`, tell it the
 * peers' addresses (options or `setPeer`), then `send`/`flush`.
 */
export class TcpTransport extends BatchingTransport {
  /** @internal */
  declare readonly config: TcpConfig;
  /** @internal */
  readonly identity: HandshakeIdentity;
  private readonly peers = new Map<number, OutboundPeer>();
  private readonly addresses = new Map<number, PeerAddress>();
  /**
   * Node ids admitted by certificate without an address (TLS only).
   * Invariant: disjoint from `addresses`, and both together hold at most `peerNodeIdsMax`.
   */
  private readonly certified = new Set<number>();
  private readonly inbound = new Set<InboundConnection>();
  /** The handshaked connections of each peer, oldest first (`inboundConnectionsPerPeerMax`). */
  private readonly inboundByPeer = new Map<number, InboundConnection[]>();
  private readonly server: net.Server;
  private readonly others: Envelope[] = [];
  private readonly errorLog: LogLimiter;
  private sweepTimer: TimerHandle | null = null;
  /** Bytes of partial frames buffered on all accepted connections (`account`). */
  private inboundBufferedBytes = 0;

  constructor(options: TcpTransportOptions) {
    const config = tcpConfig(options);
    super(config);
    this.identity = { clusterId: config.clusterId, nodeId: config.nodeId,
      versionMin: config.versionMin, versionMax: config.versionMax,
      window: config.versionWindow };
    this.errorLog = new LogLimiter(this.log, config.clock, config.errorLogIntervalMs);
    for (const [nodeId, address] of options.peers ?? []) this.setPeer(nodeId, address);
    this.server = this.createServer();
    this.server.maxConnections = config.inboundConnectionsMax;
    this.server.on('error', (error) => this.log.error({ err: error }, 'server error'));
    // Node closes a connection beyond `maxConnections` on arrival; count it as refused.
    this.server.on('drop', () => {
      this.counters.handshakesRefused++;
      this.recordError(0, new ConnectionError(ConnectionErrorCode.Limit, 'a connection beyond ' +
        `inboundConnectionsMax (${config.inboundConnectionsMax}) was dropped`), 'inbound');
    });
  }

  private createServer(): net.Server {
    const config = this.config;
    if (config.tls === null) return net.createServer((socket) => this.accept(socket));
    const server = tls.createServer({ key: config.tls.key, cert: config.tls.cert,
      ca: config.tls.ca as tls.TlsOptions['ca'], requestCert: true, rejectUnauthorized: true,
      minVersion: 'TLSv1.3', handshakeTimeout: config.handshakeTimeoutMs },
    (socket) => this.accept(socket));
    // A dialer without a certificate of our CA never gets to say Hello: count it here.
    server.on('tlsClientError', (error) => {
      this.counters.handshakesRefused++;
      const code = (error as { code?: unknown }).code;
      this.recordError(0, new HandshakeError(HandshakeErrorCode.Tls, 'TLS handshake ' +
        `refused: ${typeof code === 'string' ? code : error.message}`, { cause: error }),
      'inbound');
    });
    return server;
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

  /**
   * Sets (or changes) where a peer listens, which also admits its connections. A changed
   * address applies at the next connect. Throws `ConfigError` for a bad id or port, or for a
   * new id beyond `peerNodeIdsMax`.
   */
  setPeer(nodeId: number, address: PeerAddress): void {
    checkInteger('peer nodeId', nodeId, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('peer port', address.port, 1, 65_535);
    if (nodeId === this.nodeId) throw new ConfigError(`node ${nodeId} cannot be its own peer`);
    if (!this.addresses.has(nodeId) && !this.certified.delete(nodeId) &&
      this.peerNodeIds >= this.config.peerNodeIdsMax) {
      throw new ConfigError(`more than peerNodeIdsMax (${this.config.peerNodeIdsMax}) peers`);
    }
    this.addresses.set(nodeId, { ...address });
    const peer = this.peers.get(nodeId);
    if (peer !== undefined) peer.address = { ...address };
    assert(this.peerNodeIds <= this.config.peerNodeIdsMax, 'peer ids over their maximum');
  }

  /** Distinct peer node ids known: with an address, or admitted by certificate. */
  private get peerNodeIds(): number {
    return this.addresses.size + this.certified.size;
  }

  /**
   * @internal Admits (or refuses, throwing `HandshakeError`) a Hello's node id, once the
   * cluster, the node named and (with TLS) the certificate have been checked.
   */
  admit(nodeId: number): void {
    if (this.addresses.has(nodeId) || this.certified.has(nodeId)) return;
    if (this.config.tls === null) {
      throw new HandshakeError(HandshakeErrorCode.UnknownPeer,
        `node ${nodeId} is not a configured peer of node ${this.nodeId}`);
    }
    if (this.peerNodeIds >= this.config.peerNodeIdsMax) {
      throw new HandshakeError(HandshakeErrorCode.PeerLimit, `node ${nodeId} would exceed ` +
        `peerNodeIdsMax (${this.config.peerNodeIdsMax}) on node ${this.nodeId}`);
    }
    this.certified.add(nodeId);
    assert(this.peerNodeIds <= this.config.peerNodeIdsMax, 'admitted past peerNodeIdsMax');
  }

  /**
   * @internal Records a handshaked connection; beyond `inboundConnectionsPerPeerMax` the
   * peer's oldest is closed, superseded by this one.
   */
  registerInbound(connection: InboundConnection): void {
    const nodeId = connection.peerNodeId;
    assert(this.inbound.has(connection) && nodeId > 0, 'register an unknown connection');
    let list = this.inboundByPeer.get(nodeId);
    if (list === undefined) {
      list = [];
      this.inboundByPeer.set(nodeId, list);
    }
    list.push(connection);
    while (list.length > this.config.inboundConnectionsPerPeerMax) {
      list[0]!.close(new ConnectionError(ConnectionErrorCode.Superseded, `node ${nodeId} ` +
        `opened more than ${this.config.inboundConnectionsPerPeerMax} connections`));
    }
    this.startSweep();
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

  protected writeChunk(chunk: SnapshotChunk): boolean {
    const peer = this.peerFor(chunk.toNodeId);
    if (peer === null) return false;
    if (peer.state !== 'ready') {
      // Chunks are not held through a handshake: the stream fails and Raft retries.
      peer.kick();
      return false;
    }
    const bytes = this.codec.encodeChunk(chunk);
    if (bytes === null) {
      countError(this.counters, FrameErrorCode.Oversized);
      return false;
    }
    if (!peer.enqueueChunk(bytes)) return false;
    peer.kick();
    return true;
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

  /** @internal A connection closed: forget it. */
  forget(connection: InboundConnection): void {
    this.inbound.delete(connection);
    const list = this.inboundByPeer.get(connection.peerNodeId);
    const i = list === undefined ? -1 : list.indexOf(connection);
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.inboundByPeer.delete(connection.peerNodeId);
  }

  /**
   * @internal Adds `deltaBytes` (negative: released) to the bytes buffered on accepted
   * connections; returns whether the total is within `inboundBufferedBytesMax`.
   */
  account(deltaBytes: number): boolean {
    this.inboundBufferedBytes += deltaBytes;
    assert(this.inboundBufferedBytes >= 0, 'negative inbound buffered bytes');
    return this.inboundBufferedBytes <= this.config.inboundBufferedBytesMax;
  }

  override stats(): TransportStats {
    return { ...super.stats(), inboundBufferedBytesNow: this.inboundBufferedBytes };
  }

  /** Runs the idle and partial-frame checks while any connection is handshaked. */
  private startSweep(): void {
    if (this.sweepTimer !== null || this.closed) return;
    const config = this.config;
    const intervalMs = Math.max(1, Math.floor(Math.min(config.idleTimeoutMs,
      config.frameTimeoutMs) / 4));
    this.sweepTimer = config.clock.setTimer(intervalMs, () => {
      this.sweepTimer = null;
      const nowMs = config.clock.nowMs();
      for (const connection of [...this.inbound]) connection.sweep(nowMs);
      if (this.inboundByPeer.size > 0) this.startSweep();
    });
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

  /** @internal Counts a connection error, and logs it unless its code logged lately. */
  recordError(peerNodeId: number, error: unknown, direction: 'inbound' | 'outbound'): void {
    const code = errorCode(error);
    countError(this.counters, code);
    if (error instanceof HandshakeError && direction === 'outbound') {
      this.counters.handshakesRefused++;
    }
    // Limits reached by well-behaved peers too (an idle connection) are news, not errors.
    const level = error instanceof ConnectionError ? 'info'
      : error instanceof FlotillaError ? 'error' : 'warn';
    this.errorLog.record(level, code, { peerNodeId, direction, err: error }, 'connection error');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closeBatching();
    if (this.sweepTimer !== null) this.config.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = null;
    for (const peer of this.peers.values()) peer.close();
    for (const connection of [...this.inbound]) connection.close(null);
    await new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
  }
}
