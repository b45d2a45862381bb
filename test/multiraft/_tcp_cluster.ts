/**
 * Helpers for tests over real sockets: three stores on the TCP transport driving themselves
 * on the event loop, a writer, and a hostile peer that completes the handshake as a node of
 * its own and then writes whatever frames it likes.
 */
import * as net from 'node:net';
import pino from 'pino';
import { SeededRandom } from '../../src/raft/index.js';
import { Store, type ClusterStoreOptions } from '../../src/multiraft/index.js';
import {
  FrameCodec,
  FrameKind,
  FrameReader,
  TcpTransport,
  type Envelope,
  type PeerAddress,
} from '../../src/transport/index.js';
import { RecordingStateMachine, TEST_STORE_OPTIONS } from './_helpers.js';

export const CLUSTER_ID = 'hostile-test';
const silent = pino({ level: 'silent' });

/** A store on TCP with its transport and recording state machine. */
export interface TcpStore {
  store: Store;
  transport: TcpTransport;
  machine: RecordingStateMachine;
  address: PeerAddress;
}

/**
 * Three stores (nodes 1, 2, 3) on loopback TCP, started. `extraPeers` are node ids the
 * transports are told about (so that a transport which admits only known peers lets them in).
 */
export async function startTcpCluster(options: {
  store?: ClusterStoreOptions;
  extraPeers?: readonly (readonly [number, PeerAddress])[];
  seed?: number;
} = {}): Promise<TcpStore[]> {
  const random = new SeededRandom(options.seed ?? 1);
  const nodes: TcpStore[] = [];
  for (const nodeId of [1, 2, 3]) {
    const transport = new TcpTransport({ nodeId, clusterId: CLUSTER_ID, logger: silent,
      reconnectDelayMsMin: 10, reconnectDelayMsMax: 200 });
    const machine = new RecordingStateMachine();
    const store = new Store({ ...TEST_STORE_OPTIONS,
      ticker: { tickIntervalMs: 20, tickSpreadSlots: 4 }, ...options.store, nodeId, transport,
      stateMachine: machine, random, logger: silent });
    const address = await transport.listen();
    nodes.push({ store, transport, machine, address });
  }
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.transport.setPeer(b.store.nodeId, b.address);
    for (const [id, address] of options.extraPeers ?? []) a.transport.setPeer(id, address);
  }
  for (const n of nodes) n.store.start();
  return nodes;
}

/** Closes every store, then every transport. */
export async function stopTcpCluster(nodes: readonly TcpStore[]): Promise<void> {
  for (const n of nodes) await n.store.close();
  for (const n of nodes) await n.transport.close();
}

/** Resolves once `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function eventually(predicate: () => boolean, what: string,
  timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A peer that is not a store: it listens (answering every Hello, then discarding what it
 * is sent) and dials stores, completes the handshake as `nodeId` and writes raw frames.
 */
export class HostilePeer {
  readonly codec = new FrameCodec(2 ** 24);
  private readonly server: net.Server;
  private readonly sockets: net.Socket[] = [];
  address: PeerAddress = { host: '127.0.0.1', port: 0 };

  constructor(readonly nodeId: number) {
    this.server = net.createServer((socket) => this.answer(socket));
  }

  async listen(): Promise<PeerAddress> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address() as net.AddressInfo;
    this.address = { host: '127.0.0.1', port: a.port };
    return this.address;
  }

  /** Answers a store's Hello with an acknowledgement, then reads and drops everything. */
  private answer(socket: net.Socket): void {
    this.sockets.push(socket);
    socket.on('error', () => {});
    const reader = new FrameReader(2 ** 24);
    let acked = false;
    socket.on('data', (chunk: Buffer) => {
      if (acked) return;
      reader.push(chunk);
      const frame = reader.next();
      if (frame === null) return;
      acked = true;
      socket.write(this.codec.encodeControl({ kind: FrameKind.HelloAck, clusterId: CLUSTER_ID,
        nodeId: this.nodeId, version: 2 }));
    });
  }

  /** Dials the store at `address` as `this.nodeId` and completes the handshake. */
  async dial(address: PeerAddress, storeNodeId: number): Promise<net.Socket> {
    const socket = net.connect({ host: address.host, port: address.port });
    this.sockets.push(socket);
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(this.codec.encodeControl({ kind: FrameKind.Hello, clusterId: CLUSTER_ID,
      nodeId: this.nodeId, peerNodeId: storeNodeId, versionMin: 1, versionMax: 2 }));
    await new Promise<void>((r) => socket.once('data', () => r()));
    return socket;
  }

  /** Writes one batch frame of `envelopes` from this peer to `storeNodeId`. */
  sendBatch(socket: net.Socket, storeNodeId: number, envelopes: Envelope[]): void {
    const encoded = this.codec.encodeBatch(this.nodeId, storeNodeId, envelopes, true);
    if (encoded !== null) socket.write(encoded.frame);
  }

  async close(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
