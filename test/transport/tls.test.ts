/**
 * Mutual TLS on the TCP transport (issue 10, "peers are authenticated"): certificates made by
 * `openssl` at setup in a temporary directory (the suite is skipped, saying so, without it),
 * three nodes exchanging messages, and peers with a wrong certificate refused and counted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/util/index.js';
import {
  FrameCodec,
  FrameKind,
  FrameReader,
  TcpTransport,
  nodeCertificateUri,
  type Envelope,
  type Frame,
  type TcpTlsOptions,
  type TcpTransportOptions,
} from '../../src/transport/index.js';
import { append, heartbeat, RecordingHandler, silentLogger } from './_helpers.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const OPENSSL = hasOpenssl();
const SKIP_NOTE = OPENSSL ? '' : ' (SKIPPED: the openssl command is not installed)';

/** A CA and node certificates in a temporary directory. */
class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'flotilla-tls-'));

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  private read(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }

  private newKey(name: string, subject: string): string[] {
    return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${name}.key`, '-subj', subject];
  }

  /** Creates the self-signed CA `name`; returns its certificate. */
  ca(name: string): string {
    this.openssl('req', '-x509', ...this.newKey(name, `/CN=${name}`), '-out', `${name}.crt`,
      '-days', '2');
    return this.read(`${name}.crt`);
  }

  /** A key and a certificate signed by CA `caName` naming `uri`. */
  node(name: string, caName: string, uri: string): { key: string; cert: string } {
    this.openssl('req', ...this.newKey(name, `/CN=${name}`), '-out', `${name}.csr`);
    writeFileSync(join(this.dir, `${name}.ext`), `subjectAltName=URI:${uri}\n`);
    this.openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey',
      `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile',
      `${name}.ext`);
    return { key: this.read(`${name}.key`), cert: this.read(`${name}.crt`) };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let pki: TestPki;
let ca = '';
let otherCa = '';
const material = new Map<string, { key: string; cert: string }>();

beforeAll(() => {
  if (!OPENSSL) return;
  pki = new TestPki();
  ca = pki.ca('ca');
  otherCa = pki.ca('other-ca');
  for (const id of [1, 2, 3, 5]) {
    material.set(`node${id}`, pki.node(`node${id}`, 'ca', nodeCertificateUri('c1', id)));
  }
  // Node 4's certificate comes from another CA; `liar` is a valid one of node 9.
  material.set('node4', pki.node('node4', 'other-ca', nodeCertificateUri('c1', 4)));
  material.set('liar', pki.node('liar', 'ca', nodeCertificateUri('c1', 9)));
});

afterAll(() => pki?.remove());

const open: TcpTransport[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function tlsOf(name: string, caPem = ca): TcpTlsOptions {
  const m = material.get(name)!;
  return { key: m.key, cert: m.cert, ca: caPem };
}

async function startNode(options: Partial<TcpTransportOptions> & { nodeId: number }) {
  const transport = new TcpTransport({ clusterId: 'c1', logger: silentLogger,
    reconnectDelayMsMin: 10, reconnectDelayMsMax: 100, handshakeTimeoutMs: 2000,
    tls: tlsOf(`node${options.nodeId}`), ...options });
  const handler = new RecordingHandler();
  transport.setHandler(handler);
  const address = await transport.listen();
  open.push(transport);
  return { transport, handler, address };
}

describe.skipIf(!OPENSSL)(`TcpTransport with mutual TLS${SKIP_NOTE}`, () => {
  it('three nodes exchange messages over TLS', async () => {
    const nodes = await Promise.all([1, 2, 3].map((nodeId) => startNode({ nodeId })));
    for (const a of nodes) for (const b of nodes) {
      if (a !== b) a.transport.setPeer(b.transport.nodeId, b.address);
    }
    for (const from of nodes) {
      const batch: Envelope[] = [];
      for (const to of nodes) {
        if (to === from) continue;
        const [f, t] = [from.transport.nodeId, to.transport.nodeId];
        batch.push(heartbeat(1, f, t, 2, 2), append(2, f, t, [100_000]));
      }
      from.transport.send(batch);
    }
    for (const n of nodes) await n.handler.until(() => n.handler.envelopes.length === 4);
    for (const n of nodes) {
      expect(new Set(n.handler.batches.map((b) => b.from)).size).toBe(2);
      const app = n.handler.envelopes.find((e) => e.message.entries.length === 1)!;
      expect(app.message.entries[0]!.data).toEqual(new Uint8Array(100_000).fill(1));
      expect(n.transport.stats().handshakesRefused).toBe(0);
    }
  });

  it('refuses and counts a peer whose certificate is from another CA', async () => {
    const a = await startNode({ nodeId: 1 });
    const stranger = await startNode({ nodeId: 4, tls: tlsOf('node4', otherCa) });
    stranger.transport.setPeer(1, a.address);
    stranger.transport.send([append(5, 4, 1, [1])]);
    await a.handler.until(() => a.transport.stats().handshakesRefused === 1);
    expect(a.transport.stats().errorsByCode.ERR_HANDSHAKE_TLS).toBe(1);
    await stranger.handler.until(() => stranger.transport.stats().handshakesRefused >= 1);
    expect(stranger.transport.stats().errorsByCode.ERR_HANDSHAKE_TLS).toBeGreaterThanOrEqual(1);
    await stranger.handler.until(() => stranger.handler.unreachable.length > 0);
    expect(a.handler.batches).toHaveLength(0);
  });

  it('refuses a valid certificate of another node than the Hello claims', async () => {
    const a = await startNode({ nodeId: 1, peers: [[3, { host: '127.0.0.1', port: 1 }]] });
    const liar = material.get('liar')!;
    const socket = tls.connect({ host: '127.0.0.1', port: a.address.port, key: liar.key,
      cert: liar.cert, ca, checkServerIdentity: () => undefined });
    sockets.push(socket);
    socket.on('error', () => {});
    const codec = new FrameCodec(2 ** 20);
    const reader = new FrameReader(2 ** 20);
    const frames: Frame[] = [];
    socket.on('data', (chunk) => {
      reader.push(chunk);
      for (let b = reader.next(); b !== null; b = reader.next()) frames.push(codec.decode(b));
    });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    // Certified as node 9, claiming node 3 (a configured peer of node 1).
    socket.write(codec.encodeControl({ kind: FrameKind.Hello, clusterId: 'c1', nodeId: 3,
      peerNodeId: 1, versionMin: 1, versionMax: 2 }));
    socket.write(codec.encodeBatch(3, 1, [append(1, 3, 1, [1])], true)!.frame);
    await new Promise<void>((r) => socket.once('close', () => r()));
    const refusal = frames[0]!;
    expect(frames).toHaveLength(1);
    expect(refusal.kind === FrameKind.Refuse && refusal.code).toBe('ERR_HANDSHAKE_CERTIFICATE');
    expect(a.transport.stats().handshakesRefused).toBe(1);
    expect(a.transport.stats().errorsByCode.ERR_HANDSHAKE_CERTIFICATE).toBe(1);
    expect(a.handler.batches).toHaveLength(0);
  });

  it('the dialer refuses a listener whose certificate names another node', async () => {
    const a = await startNode({ nodeId: 1 });
    const c = await startNode({ nodeId: 3 });
    a.transport.setPeer(2, c.address); // node 2's address leads to node 3
    a.transport.send([append(5, 1, 2, [1])]);
    await a.handler.until(() => a.transport.stats().handshakesRefused >= 1);
    expect(a.transport.stats().errorsByCode.ERR_HANDSHAKE_CERTIFICATE).toBeGreaterThanOrEqual(1);
    expect(c.handler.batches).toHaveLength(0);
  });

  it('admits certified nodes without an address, up to peerNodeIdsMax', async () => {
    const a = await startNode({ nodeId: 1, peerNodeIdsMax: 2,
      peers: [[2, { host: '127.0.0.1', port: 1 }]] });
    const c = await startNode({ nodeId: 3 });
    const e = await startNode({ nodeId: 5 });
    c.transport.setPeer(1, a.address);
    e.transport.setPeer(1, a.address);
    c.transport.send([append(1, 3, 1, [1])]);
    await a.handler.until(() => a.handler.envelopes.length === 1);
    e.transport.send([append(1, 5, 1, [1])]);
    await a.handler.until(() => a.transport.stats().handshakesRefused === 1);
    expect(a.transport.stats().errorsByCode.ERR_HANDSHAKE_PEER_LIMIT).toBe(1);
    await e.handler.until(() =>
      e.transport.stats().errorsByCode.ERR_HANDSHAKE_PEER_LIMIT === 1);
    expect(a.handler.batches.map((b) => b.from)).toEqual([3]);
  });

  it('refuses, at construction, a certificate that does not name the node', () => {
    const make = (o: Partial<TcpTransportOptions>) => () => new TcpTransport({
      clusterId: 'c1', nodeId: 1, logger: silentLogger, ...o });
    expect(make({ tls: tlsOf('node2') })).toThrow(ConfigError);
    expect(make({ tls: tlsOf('node1'), clusterId: 'c2' })).toThrow(ConfigError);
    expect(make({ tls: { ...tlsOf('node1'), key: material.get('node2')!.key } }))
      .toThrow(ConfigError);
    expect(make({ tls: { ...tlsOf('node1'), cert: 'not a certificate' } })).toThrow(ConfigError);
    expect(make({ tls: { ...tlsOf('node1'), ca: '' } })).toThrow(ConfigError);
    expect(make({ tls: tlsOf('node1') })).not.toThrow();
  });
});
