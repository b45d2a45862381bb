/**
 * What a peer can claim of a TCP transport is bounded (issue 10, transport side): each test
 * names the finding of the issue it covers, runs over real sockets on 127.0.0.1 with short
 * timeouts, and fails on the transport before the fix (noted per test).
 */
import * as net from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FrameCodec,
  FrameKind,
  FrameReader,
  TcpTransport,
  type Frame,
  type TcpTransportOptions,
} from '../../src/transport/index.js';
import { append, heartbeat, RecordingHandler, silentLogger } from './_helpers.js';

const open: TcpTransport[] = [];
const sockets: net.Socket[] = [];
const codec = new FrameCodec(2 ** 24);

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
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

/** A raw client: what it received (decoded frames) and whether the node closed it. */
interface Rogue {
  socket: net.Socket;
  frames: Frame[];
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function dial(port: number): Promise<Rogue> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  const frames: Frame[] = [];
  const reader = new FrameReader(2 ** 20);
  socket.on('data', (chunk) => {
    reader.push(chunk);
    for (let bytes = reader.next(); bytes !== null; bytes = reader.next()) {
      frames.push(codec.decode(bytes));
    }
  });
  let closed = false;
  const whenClosed = new Promise<void>((r) => socket.once('close', () => {
    closed = true;
    r();
  }));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, frames, closed: whenClosed, isClosed: () => closed };
}

function hello(nodeId: number, peerNodeId: number): Uint8Array {
  return codec.encodeControl({ kind: FrameKind.Hello, clusterId: 'c1', nodeId, peerNodeId,
    versionMin: 1, versionMax: 2 });
}

/** Dials as `nodeId`, and resolves once the node acknowledged the Hello. */
async function handshaked(port: number, nodeId: number, peerNodeId: number): Promise<Rogue> {
  const rogue = await dial(port);
  rogue.socket.write(hello(nodeId, peerNodeId));
  const deadline = Date.now() + 5000;
  while (rogue.frames.length === 0) {
    if (Date.now() > deadline || rogue.isClosed()) throw new Error('no HelloAck');
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(rogue.frames[0]!.kind).toBe(FrameKind.HelloAck);
  return rogue;
}

/** A frame header announcing `payloadBytes`, with a zero CRC (it never completes anyway). */
function header(payloadBytes: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeUInt32BE(payloadBytes, 0);
  return bytes;
}

/** A pino logger that keeps every line, to count what was logged. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
  } });
  return { logger, lines };
}

// A hang is the failure before the fix: fail fast rather than at the 60 s default.
describe('TcpTransport peer limits (issue 10)', { timeout: 20_000 }, () => {
  it('finding 2: 1,025 distinct unknown node ids are refused politely, counted, ' +
    'logged at a rate limit, and never reach the handler', async () => {
    // Before the fix every one was accepted and its ping delivered: the store's liveness
    // table then tripped `AssertionError: too many peer nodes` inside the socket handler.
    const { logger, lines } = capturingLogger();
    const a = await startNode({ nodeId: 1 });
    const b = await startNode({ nodeId: 2, logger, peers: [[1, a.address]] });
    const claims = 1025;
    for (let wave = 0; wave < claims; wave += 125) {
      await Promise.all(Array.from({ length: Math.min(125, claims - wave) }, async (_, i) => {
        const id = 100 + wave + i;
        const rogue = await dial(b.address.port);
        rogue.socket.write(hello(id, 2));
        rogue.socket.write(codec.encodeBatch(id, 2, [heartbeat(1, id, 2, 1, 0)], true)!.frame);
        await rogue.closed;
        expect(rogue.frames).toHaveLength(1);
        const refusal = rogue.frames[0]!;
        expect(refusal.kind === FrameKind.Refuse && refusal.code)
          .toBe('ERR_HANDSHAKE_UNKNOWN_PEER');
      }));
    }
    const stats = b.transport.stats();
    expect(stats.handshakesRefused).toBe(claims);
    expect(stats.errorsByCode.ERR_HANDSHAKE_UNKNOWN_PEER).toBe(claims);
    expect(stats.connectionsOpened).toBe(0);
    expect(b.handler.batches).toHaveLength(0);
    const logged = lines.filter((l) => l.code === 'ERR_HANDSHAKE_UNKNOWN_PEER');
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThan(claims / 10);
    // The configured peer still gets through.
    a.transport.setPeer(2, b.address);
    a.transport.send([append(7, 1, 2, [3])]);
    await b.handler.until(() => b.handler.envelopes.length === 1);
    expect(b.handler.batches[0]!.from).toBe(1);
  });

  it('finding 5: a connection may buffer only helloBytesMax before its Hello', async () => {
    // Before the fix each of these 16 connections could park a 15 MiB partial frame until
    // the handshake timeout (here a minute): 240 MiB held by strangers.
    const b = await startNode({ nodeId: 2, handshakeTimeoutMs: 60_000 });
    const rogues = await Promise.all(Array.from({ length: 16 }, () => dial(b.address.port)));
    for (const rogue of rogues) {
      rogue.socket.write(header(15 * 2 ** 20));
      rogue.socket.write(Buffer.alloc(64 * 1024));
    }
    await b.handler.until(() => rogues.every((r) => r.isClosed()), 5000);
    const stats = b.transport.stats();
    expect(stats.errorsByCode.ERR_FRAME_OVERSIZED).toBe(16);
    expect(stats.handshakesRefused).toBe(16);
    expect(stats.framesRejected).toBe(16);
    expect(() => new TcpTransport({ clusterId: 'c1', nodeId: 1, logger: silentLogger,
      helloBytesMax: 100 })).toThrow(/helloBytesMax/);
  });

  it('finding 6: a handshaked connection that goes idle is closed and counted; a real ' +
    'dialer closes its own idle connection first and redials on its next send', async () => {
    // Before the fix a handshaked socket stayed open for ever.
    const { logger, lines } = capturingLogger();
    const a = await startNode({ nodeId: 1, logger, idleTimeoutMs: 150 });
    const b = await startNode({ nodeId: 2, idleTimeoutMs: 150, peers: [[1, a.address],
      [9, { host: '127.0.0.1', port: 1 }]] });
    a.transport.setPeer(2, b.address);
    const rogue = await handshaked(b.address.port, 9, 2);
    a.transport.send([append(1, 1, 2, [1])]);
    await b.handler.until(() => b.handler.envelopes.length === 1);
    await rogue.closed;
    expect(b.transport.stats().errorsByCode.ERR_CONNECTION_IDLE).toBe(1);
    await b.handler.until(() => lines.some((l) => l.msg === 'closed idle connection'), 5000);
    a.transport.send([append(2, 1, 2, [1])]);
    await b.handler.until(() => b.handler.envelopes.length === 2, 5000);
    expect(a.transport.stats().messagesDropped).toBe(0);
    expect(a.transport.stats().connectionsOpened).toBe(2);
    // The listener never had to time node 1 out: it closed its end first.
    expect(b.transport.stats().errorsByCode.ERR_CONNECTION_IDLE).toBe(1);
  });

  it('finding 6: a partial frame must complete within frameTimeoutMs', async () => {
    // Before the fix a handshaked peer could hold a 15 MiB partial frame for ever.
    const b = await startNode({ nodeId: 2, frameTimeoutMs: 150, idleTimeoutMs: 60_000,
      peers: [[9, { host: '127.0.0.1', port: 1 }]] });
    const rogue = await handshaked(b.address.port, 9, 2);
    rogue.socket.write(header(15 * 2 ** 20));
    rogue.socket.write(Buffer.alloc(2 ** 20));
    // Keep the bytes coming, slower than the frame needs.
    const trickle = setInterval(() => rogue.socket.write(Buffer.alloc(1024)), 20);
    try {
      await rogue.closed;
    } finally {
      clearInterval(trickle);
    }
    const stats = b.transport.stats();
    expect(stats.errorsByCode.ERR_FRAME_TIMEOUT).toBe(1);
    expect(stats.framesRejected).toBe(1);
    expect(stats.errorsByCode.ERR_CONNECTION_IDLE).toBeUndefined();
  });

  it('finding 6: partial frames of all connections together stay within ' +
    'inboundBufferedBytesMax', async () => {
    // Before the fix every connection could hold a partial frame of frameBytesMax at once.
    const far = { host: '127.0.0.1', port: 1 };
    const b = await startNode({ nodeId: 2, frameBytesMax: 2 ** 20,
      inboundBufferedBytesMax: 2 * 2 ** 20, peers: [[9, far], [10, far], [11, far]] });
    const rogues: Rogue[] = [];
    const park = async (id: number): Promise<Rogue> => {
      const rogue = await handshaked(b.address.port, id, 2);
      rogue.socket.write(header(2 ** 20 - 16));
      rogue.socket.write(Buffer.alloc(900 * 1024));
      rogues.push(rogue);
      return rogue;
    };
    for (const id of [9, 10]) {
      await park(id);
      await b.handler.until(() =>
        b.transport.stats().inboundBufferedBytesNow >= rogues.length * 900 * 1024, 5000);
    }
    await (await park(11)).closed;
    const stats = b.transport.stats();
    expect(stats.errorsByCode.ERR_CONNECTION_BUFFER_FULL).toBe(1);
    expect(rogues[0]!.isClosed() || rogues[1]!.isClosed()).toBe(false);
    expect(stats.inboundBufferedBytesNow).toBeLessThanOrEqual(2 * 2 ** 20);
    expect(stats.inboundBufferedBytesNow).toBeGreaterThanOrEqual(2 * 900 * 1024);
    for (const rogue of rogues) rogue.socket.destroy();
    await b.handler.until(() => b.transport.stats().inboundBufferedBytesNow === 0, 5000);
    expect(() => new TcpTransport({ clusterId: 'c1', nodeId: 1, logger: silentLogger,
      frameBytesMax: 2 ** 20, inboundBufferedBytesMax: 2 ** 19 })).toThrow(/inboundBuffered/);
  });

  it('finding 6: one peer cannot take every inbound slot; a legitimate dialer gets in',
    async () => {
      // Before the fix the rogue's 4 connections filled inboundConnectionsMax and node 1 was
      // turned away at the socket.
      const a = await startNode({ nodeId: 1 });
      const b = await startNode({ nodeId: 2, inboundConnectionsMax: 4,
        peers: [[1, a.address], [9, { host: '127.0.0.1', port: 1 }]] });
      a.transport.setPeer(2, b.address);
      const rogues = [];
      for (let i = 0; i < 4; i++) rogues.push(await handshaked(b.address.port, 9, 2));
      await b.handler.until(() =>
        b.transport.stats().errorsByCode.ERR_CONNECTION_SUPERSEDED === 2, 5000);
      expect(rogues.filter((r) => r.isClosed())).toHaveLength(2);
      a.transport.send([append(3, 1, 2, [1])]);
      await b.handler.until(() => b.handler.envelopes.length === 1, 5000);
      expect(b.handler.batches[0]!.from).toBe(1);
    });

  it('counts a connection dropped beyond inboundConnectionsMax', async () => {
    const b = await startNode({ nodeId: 2, inboundConnectionsMax: 2 });
    await dial(b.address.port);
    await dial(b.address.port);
    const third = await dial(b.address.port);
    await third.closed;
    const stats = b.transport.stats();
    expect(stats.errorsByCode.ERR_CONNECTION_LIMIT).toBe(1);
    expect(stats.handshakesRefused).toBe(1);
  });

  it('finding 7: a handshake timeout is counted in handshakesRefused', async () => {
    // Before the fix it was logged and counted by code, but not as a refused handshake.
    const b = await startNode({ nodeId: 2, handshakeTimeoutMs: 50 });
    const rogue = await dial(b.address.port);
    await rogue.closed;
    const stats = b.transport.stats();
    expect(stats.errorsByCode.ERR_HANDSHAKE_TIMEOUT).toBe(1);
    expect(stats.handshakesRefused).toBe(1);
  });

  it('validates the new limits at construction', async () => {
    const { ConfigError } = await import('../../src/util/index.js');
    const make = (o: Partial<TcpTransportOptions>) => () => new TcpTransport({ clusterId: 'c',
      nodeId: 1, logger: silentLogger, ...o });
    expect(make({ idleTimeoutMs: 0 })).toThrow(ConfigError);
    expect(make({ frameTimeoutMs: 1.5 })).toThrow(ConfigError);
    expect(make({ inboundConnectionsPerPeerMax: 0 })).toThrow(ConfigError);
    expect(make({ peerNodeIdsMax: 0 })).toThrow(ConfigError);
    expect(make({ errorLogIntervalMs: -1 })).toThrow(ConfigError);
    expect(make({ clusterId: 'x'.repeat(257) })).toThrow(ConfigError);
    const t = make({ peerNodeIdsMax: 2 })();
    t.setPeer(2, { host: '127.0.0.1', port: 1 });
    t.setPeer(3, { host: '127.0.0.1', port: 1 });
    t.setPeer(3, { host: '127.0.0.1', port: 2 }); // a changed address is no new peer
    expect(() => t.setPeer(4, { host: '127.0.0.1', port: 1 })).toThrow(ConfigError);
    expect(() => t.setPeer(1, { host: '127.0.0.1', port: 1 })).toThrow(ConfigError);
    await t.close();
  });
});
