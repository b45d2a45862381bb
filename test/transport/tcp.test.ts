import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageType, SnapshotStatus, newMessage } from '../../src/raft/index.js';
import {
  FrameCodec,
  FrameKind,
  FrameReader,
  TcpTransport,
  type Envelope,
  type TcpTransportOptions,
} from '../../src/transport/index.js';
import { append, heartbeat, heartbeatResp, RecordingHandler, silentLogger } from './_helpers.js';

const { SnapshotFinish, SnapshotFailure } = SnapshotStatus;

const open: TcpTransport[] = [];
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

type NodeOptions = Partial<TcpTransportOptions> & { nodeId: number };

async function startNode(options: NodeOptions) {
  const transport = new TcpTransport({ clusterId: 'c1', logger: silentLogger,
    reconnectDelayMsMin: 10, reconnectDelayMsMax: 100, ...options });
  const handler = new RecordingHandler();
  transport.setHandler(handler);
  const address = await transport.listen();
  open.push(transport);
  return { transport, handler, address };
}

async function mesh(options: NodeOptions[]) {
  const nodes = await Promise.all(options.map(startNode));
  for (const a of nodes) for (const b of nodes) {
    if (a !== b) a.transport.setPeer(b.transport.nodeId, b.address);
  }
  return nodes;
}

describe('TcpTransport', () => {
  it('two nodes exchange batches; coalesced heartbeats round-trip identical', async () => {
    const [a, b] = await mesh([{ nodeId: 1 }, { nodeId: 2 }]);
    const sent: Envelope[] = [];
    for (let g = 0; g < 1000; g++) sent.push(heartbeat(g, 1, 2, 4, g * 3, g % 5 === 0));
    sent.push(append(77, 1, 2, [0, 5, 70_000]), heartbeatResp(78, 1, 2, 4));
    a!.transport.send(sent);
    await b!.handler.until(() => b!.handler.envelopes.length === sent.length);
    expect(b!.handler.batches).toHaveLength(1);
    expect(b!.handler.batches[0]!.from).toBe(1);
    const key = (e: Envelope): string => `${e.message.type}/${e.rangeId}`;
    const got = new Map(b!.handler.envelopes.map((e) => [key(e), e]));
    for (const e of sent) {
      expect(got.get(key(e))!.message).toEqual(e.message);
      expect(got.get(key(e))!.quiesce).toBe(e.quiesce);
    }
    expect(a!.transport.stats().heartbeatsCoalesced).toBe(1001);
    // And back.
    b!.transport.send([heartbeatResp(1, 2, 1, 4)]);
    await a!.handler.until(() => a!.handler.envelopes.length === 1);
  });

  it('three nodes: every node sends to both others, one frame per destination', async () => {
    const nodes = await mesh([{ nodeId: 1 }, { nodeId: 2 }, { nodeId: 3 }]);
    for (const from of nodes) {
      const batch: Envelope[] = [];
      for (const to of nodes) {
        if (to === from) continue;
        for (let g = 0; g < 100; g++) {
          batch.push(heartbeat(g, from.transport.nodeId, to.transport.nodeId, 1, 1));
        }
        batch.push(append(1000, from.transport.nodeId, to.transport.nodeId, [10]));
      }
      from.transport.send(batch);
    }
    for (const n of nodes) await n.handler.until(() => n.handler.envelopes.length === 202);
    for (const n of nodes) {
      expect(n.handler.batches).toHaveLength(2);
      expect(new Set(n.handler.batches.map((b) => b.from)).size).toBe(2);
      expect(n.transport.stats().framesSent).toBe(2);
    }
  });

  it('refuses a foreign cluster, logged and counted on both ends', async () => {
    const [a, b] = await mesh([{ nodeId: 1 }, { nodeId: 2, clusterId: 'other' }]);
    a!.transport.send([append(5, 1, 2, [1])]);
    await b!.handler.until(() => b!.transport.stats().handshakesRefused === 1);
    await a!.handler.until(() => a!.transport.stats().handshakesRefused === 1);
    expect(b!.transport.stats().errorsByCode.ERR_HANDSHAKE_CLUSTER_MISMATCH).toBe(1);
    expect(a!.transport.stats().errorsByCode.ERR_HANDSHAKE_CLUSTER_MISMATCH).toBe(1);
    await a!.handler.until(() => a!.handler.unreachable.length > 0);
    expect(a!.handler.unreachable[0]).toEqual({ to: 2, rangeIds: [5] });
    expect(b!.handler.envelopes).toHaveLength(0);
  });

  it('refuses an unexpected node id', async () => {
    const [a, b] = await mesh([{ nodeId: 1 }, { nodeId: 2 }]);
    a!.transport.setPeer(3, b!.address); // node 3's address points at node 2
    a!.transport.send([append(5, 1, 3, [1])]);
    await b!.handler.until(() => b!.transport.stats().handshakesRefused === 1);
    expect(b!.transport.stats().errorsByCode.ERR_HANDSHAKE_NODE_MISMATCH).toBe(1);
    await a!.handler.until(() =>
      a!.transport.stats().errorsByCode.ERR_HANDSHAKE_NODE_MISMATCH === 1);
  });

  it('refuses a peer with no common protocol version', async () => {
    const [a, b] = await mesh([{ nodeId: 1, protocolVersionMin: 1, protocolVersionMax: 1 },
      { nodeId: 2, protocolVersionMin: 2 }]);
    a!.transport.send([append(5, 1, 2, [1])]);
    await b!.handler.until(() =>
      b!.transport.stats().errorsByCode.ERR_HANDSHAKE_VERSION_MISMATCH === 1);
  });

  it('accepts a previous-version peer, which gets uncoalesced heartbeats', async () => {
    const [a, old] = await mesh([{ nodeId: 1 }, { nodeId: 2, protocolVersionMax: 1 }]);
    const sent = [heartbeat(1, 1, 2, 3, 3, true), heartbeat(2, 1, 2, 3, 3)];
    a!.transport.send(sent);
    await old!.handler.until(() => old!.handler.envelopes.length === 2);
    expect(old!.handler.envelopes).toEqual(sent);
    a!.transport.send(sent);
    await old!.handler.until(() => old!.handler.envelopes.length === 4);
    expect(a!.transport.stats().heartbeatsCoalesced).toBe(0);
    old!.transport.send([heartbeatResp(1, 2, 1, 3)]);
    await a!.handler.until(() => a!.handler.envelopes.length === 1);
    expect(a!.handler.envelopes[0]!.message).toEqual(heartbeatResp(1, 2, 1, 3).message);
  });

  it('reconnects after the peer restarts', async () => {
    const [a, b] = await mesh([{ nodeId: 1 }, { nodeId: 2 }]);
    a!.transport.send([append(1, 1, 2, [1])]);
    await b!.handler.until(() => b!.handler.envelopes.length === 1);
    const port = b!.address.port;
    await b!.transport.close();
    // While node 2 is down, sends fail and are reported.
    for (let i = 0; i < 5 && a!.handler.unreachable.length === 0; i++) {
      a!.transport.send([append(2, 1, 2, [1])]);
      await new Promise((r) => setTimeout(r, 30));
    }
    await a!.handler.until(() => a!.handler.unreachable.length > 0);
    // Without TLS a node accepts only its configured peers: the restarted one knows node 1.
    const restarted = await startNode({ nodeId: 2, listenPort: port,
      peers: [[1, a!.address]] });
    const deadline = Date.now() + 10_000;
    while (restarted.handler.envelopes.length === 0 && Date.now() < deadline) {
      a!.transport.send([append(3, 1, 2, [1])]);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(restarted.handler.envelopes.length).toBeGreaterThan(0);
    expect(a!.transport.stats().connectionsOpened).toBeGreaterThanOrEqual(2);
  });

  it('streams a snapshot in chunks without holding heartbeats back', async () => {
    const [a, b] = await mesh([{ nodeId: 1, snapshotChunkBytes: 64 * 1024,
      socketBufferBytesMax: 128 * 1024 }, { nodeId: 2 }]);
    const data = new Uint8Array(16 * 2 ** 20).map((_, i) => i % 251);
    const snap = newMessage(MessageType.MsgSnap, { from: 1, to: 2, term: 2, snapshot: { data,
      metadata: { index: 9, term: 2, confState: { voters: [1, 2], learners: [],
        votersOutgoing: [], learnersNext: [], autoLeave: false } } } });
    a!.transport.send([{ rangeId: 9, message: snap, quiesce: false }]);
    a!.transport.flush();
    setImmediate(() => a!.transport.send([heartbeat(1, 1, 2, 2, 2)]));
    await b!.handler.until(() => b!.handler.envelopes.length === 2);
    const types = b!.handler.envelopes.map((e) => e.message.type);
    expect(types).toEqual([MessageType.MsgHeartbeat, MessageType.MsgSnap]);
    const got = b!.handler.envelopes[1]!.message;
    // Compare the 16 MiB payload as bytes: a failing deep-equal diff of it would not end.
    expect(Buffer.compare(got.snapshot!.data, data)).toBe(0);
    expect({ ...got, snapshot: { ...got.snapshot!, data: null } })
      .toEqual({ ...snap, snapshot: { ...snap.snapshot!, data: null } });
    await a!.handler.until(() => a!.handler.snapshots.length === 1);
    expect(a!.handler.snapshots[0]).toEqual({ rangeId: 9, to: 2, status: SnapshotFinish });
  });

  it('back-pressure: a peer that stops reading costs bounded memory', async () => {
    // A fake node 2 that completes the handshake and then never reads again.
    const codec = new FrameCodec(2 ** 24);
    const server = net.createServer((socket) => {
      sockets.push(socket);
      const reader = new FrameReader(2 ** 24);
      socket.on('data', (chunk) => {
        reader.push(chunk);
        if (reader.next() === null) return;
        socket.write(codec.encodeControl({ kind: FrameKind.HelloAck, clusterId: 'c1',
          nodeId: 2, version: 2 }));
        socket.pause();
      });
      socket.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const queueMax = 4 * 2 ** 20;
    const a = await startNode({ nodeId: 1, sendQueueBytesMax: queueMax,
      socketBufferBytesMax: 2 ** 20, frameBytesMax: 2 ** 20 });
    a.transport.setPeer(2, { host: '127.0.0.1', port });
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().external;
    let maxQueued = 0;
    // 512 MiB offered in 64 KiB entries.
    for (let round = 0; round < 256; round++) {
      const batch: Envelope[] = [];
      for (let g = 0; g < 32; g++) batch.push(append(g, 1, 2, [64 * 1024]));
      a.transport.send(batch);
      a.transport.flush();
      maxQueued = Math.max(maxQueued, a.transport.stats().queuedBytesNow);
      await new Promise((r) => setImmediate(r));
    }
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().external;
    const stats = a.transport.stats();
    expect(maxQueued).toBeLessThanOrEqual(queueMax);
    expect(stats.framesDropped).toBeGreaterThan(100);
    expect(stats.messagesDropped).toBeGreaterThan(3000);
    expect(heapAfter - heapBefore).toBeLessThan(96 * 2 ** 20);
    await a.handler.until(() => a.handler.unreachable.length > 0);
  });
});

describe('TcpTransport bad input', () => {
  /** Dials `port` as node 9, completes the handshake, then writes `bytes` (and maybe ends). */
  async function rogue(port: number, bytes: Uint8Array, end: boolean): Promise<void> {
    const codec = new FrameCodec(2 ** 24);
    const socket = net.connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(codec.encodeControl({ kind: FrameKind.Hello, clusterId: 'c1', nodeId: 9,
      peerNodeId: 2, versionMin: 1, versionMax: 2 }));
    await new Promise<void>((r) => socket.once('data', () => r()));
    if (end) socket.end(bytes);
    else socket.write(bytes);
  }

  it('closes only the connection that sent a bad frame, logged and counted', async () => {
    const [a, b] = await mesh([{ nodeId: 1 }, { nodeId: 2, frameBytesMax: 2 ** 20 }]);
    b!.transport.setPeer(9, { host: '127.0.0.1', port: 1 }); // the rogue is a known peer
    const codec = new FrameCodec(2 ** 24);
    const good = codec.encodeBatch(9, 2, [append(1, 9, 2, [10])], true)!.frame;
    const flipped = Buffer.from(good);
    flipped[flipped.length - 2]! ^= 1;
    const oversized = Buffer.alloc(16);
    oversized.writeUInt32BE(2 ** 21, 0);
    const cases: [Uint8Array, boolean, string][] = [
      [flipped, false, 'ERR_FRAME_CHECKSUM'],
      [oversized, false, 'ERR_FRAME_OVERSIZED'],
      [good.subarray(0, good.length - 3), true, 'ERR_FRAME_TRUNCATED'],
      [Buffer.from([0, 0, 0, 2, 0, 0, 0, 0, 4, 0xc1]), false, 'ERR_FRAME_CHECKSUM'],
    ];
    let rejected = 0;
    for (const [bytes, end, code] of cases) {
      await rogue(b!.address.port, bytes, end);
      rejected++;
      await b!.handler.until(() => b!.transport.stats().framesRejected === rejected);
      expect(b!.transport.stats().errorsByCode[code]).toBeGreaterThanOrEqual(1);
      // The node and its other connections go on.
      a!.transport.send([append(rejected, 1, 2, [1])]);
      await b!.handler.until(() => b!.handler.envelopes.length === rejected);
    }
    // An undecodable frame with a valid checksum.
    const body = Buffer.from([FrameKind.Batch, 0x93, 1, 2, 3]);
    const frame = Buffer.alloc(8 + body.length);
    frame.writeUInt32BE(body.length, 0);
    const { crc32 } = await import('../../src/transport/_bytes.js');
    frame.writeUInt32BE(crc32(body), 4);
    body.copy(frame, 8);
    await rogue(b!.address.port, frame, false);
    await b!.handler.until(() => b!.transport.stats().errorsByCode.ERR_FRAME_DECODE === 1);
    expect(b!.handler.envelopes.every((e) => e.message.from === 1)).toBe(true);
  });
});

describe('TcpTransport reports and limits', () => {
  it('rejects bad options with ConfigError', async () => {
    const { ConfigError } = await import('../../src/util/index.js');
    const make = (o: Partial<TcpTransportOptions>) => () => new TcpTransport({ clusterId: 'c',
      nodeId: 1, logger: silentLogger, ...o });
    expect(make({ clusterId: '' })).toThrow(ConfigError);
    expect(make({ nodeId: 0 })).toThrow(ConfigError);
    expect(make({ sendQueueFramesMax: 0 })).toThrow(ConfigError);
    expect(make({ reconnectDelayMsMin: 100, reconnectDelayMsMax: 50 })).toThrow(ConfigError);
    expect(make({ protocolVersionMin: 2, protocolVersionMax: 1 })).toThrow(ConfigError);
    expect(make({ protocolVersionMax: 3 })).toThrow(ConfigError);
    expect(make({ frameBytesMax: 2 ** 20, snapshotChunkBytes: 2 ** 20 })).toThrow(ConfigError);
  });

  it('reports unreachable (deferred, never inside send) and failed snapshots', async () => {
    const a = await startNode({ nodeId: 1 });
    a.transport.send([append(1, 1, 5, [1]), heartbeat(2, 1, 5, 1, 1)]); // no address for 5
    a.transport.flush();
    expect(a.handler.unreachable).toHaveLength(0);
    await a.handler.until(() => a.handler.unreachable.length === 1);
    expect(a.handler.unreachable[0]).toEqual({ to: 5, rangeIds: [1] });
    // A dead port: the connection fails, the snapshot is reported as failed.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    a.transport.setPeer(6, { host: '127.0.0.1', port });
    const snap = newMessage(MessageType.MsgSnap, { from: 1, to: 6, term: 1, snapshot: {
      data: new Uint8Array(10), metadata: { index: 3, term: 1, confState: { voters: [1, 6],
        learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } } });
    a.transport.send([{ rangeId: 8, message: snap, quiesce: false }, append(9, 1, 6, [1])]);
    await a.handler.until(() => a.handler.snapshots.length === 1);
    expect(a.handler.snapshots[0]).toEqual({ rangeId: 8, to: 6, status: SnapshotFailure });
    await a.handler.until(() => a.handler.unreachable.some((u) => u.to === 6));
    expect(a.transport.stats().errorsByCode.ECONNREFUSED).toBeGreaterThanOrEqual(1);
  });
});
