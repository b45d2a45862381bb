/**
 * Range snapshots over real sockets: stores 1 and 2 on LevelDB write while store 3 is down and
 * truncate their logs; store 3 then comes up with an empty engine, is created lazily by the
 * leader's messages and catches up by a chunked snapshot over TCP, with big chunks checksummed
 * on the piscina workers. Every user key reads back on it.
 */
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/index.js';
import { Store } from '../../src/multiraft/index.js';
import { LevelEngine, MemoryEngine, type StorageEngine } from '../../src/storage/index.js';
import { TcpTransport, type PeerAddress } from '../../src/transport/index.js';
import { TEST_STORE_OPTIONS } from './_helpers.js';
import { eventually } from './_tcp_cluster.js';
import { EngineKv, b, writes } from './_snapshot_helpers.js';

const silent = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'flotilla-snap-tcp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Node {
  store: Store;
  transport: TcpTransport;
  kv: EngineKv;
  engine: StorageEngine;
}

async function startNode(nodeId: number, port: number, peers: Map<number, PeerAddress>,
  engine: StorageEngine, random: SeededRandom): Promise<Node> {
  const transport = new TcpTransport({ nodeId, clusterId: 'snap-tcp', logger: silent,
    listenPort: port, reconnectDelayMsMin: 10, reconnectDelayMsMax: 100 });
  const kv = new EngineKv(engine);
  const store = new Store({ ...TEST_STORE_OPTIONS, ticker: { tickIntervalMs: 20,
    tickSpreadSlots: 4 }, nodeId, transport, stateMachine: kv, random, logger: silent,
    storageEngine: engine, snapshots: { raftLogEntriesMax: 40, raftLogTruncateMinEntries: 5,
      chunkBytes: 4096, workerBytesMin: 2048 } });
  await transport.listen();
  for (const [id, address] of peers) if (id !== nodeId) transport.setPeer(id, address);
  store.start();
  return { store, transport, kv, engine };
}

describe('range snapshots over TCP', () => {
  it('a store that was down catches up by a chunked snapshot; every key reads back',
    async () => {
      const random = new SeededRandom(7);
      const peers = new Map<number, PeerAddress>();
      for (const id of [1, 2, 3]) peers.set(id, { host: '127.0.0.1', port: await freePort() });
      const nodes: Node[] = [];
      for (const id of [1, 2]) {
        const engine = new LevelEngine({ storeId: id, clusterId: 'snap-tcp',
          location: join(root, `n${id}`) });
        await engine.open();
        nodes.push(await startNode(id, peers.get(id)!.port, peers, engine, random));
      }
      try {
        for (const n of nodes) n.store.createRange(1, { voters: [1, 2, 3] });
        nodes[0]!.store.campaign(1);
        await eventually(() => nodes[0]!.store.raftStatus(1)?.lead === 1, 'store 1 leads');
        const pairs = writes(150, 'tcp');
        for (const [k, v] of pairs) nodes[0]!.store.propose(1, b(`${k}=${v}`));
        await eventually(() => nodes.every((n) => n.kv.count(1) === 150), 'writes applied');
        expect(nodes[0]!.store.stats.snapshots.logTruncations).toBeGreaterThan(0);
        const third = await startNode(3, peers.get(3)!.port, peers, new MemoryEngine(), random);
        nodes.push(third);
        await eventually(() => third.kv.count(1) === 150, 'store 3 caught up');
        for (const [k, v] of pairs) expect(third.kv.get(k), k).toBe(v);
        const sent = nodes[0]!.store.stats.snapshots;
        expect(third.store.stats.snapshots.snapshotsApplied).toBeGreaterThanOrEqual(1);
        expect(sent.chunksSent).toBeGreaterThan(1);
        expect(sent.chunksOnWorkers).toBeGreaterThan(0);
        expect(third.store.stats.snapshots.chunksOnWorkers).toBeGreaterThan(0);
        expect(third.transport.stats().snapshotChunksReceived).toBeGreaterThan(1);
      } finally {
        for (const n of nodes) await n.store.close();
        for (const n of nodes) await n.transport.close();
        for (const n of nodes) await n.engine.close();
      }
    }, 60_000);
});
