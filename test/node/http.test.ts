/**
 * The node's HTTP server over a three-store cluster: `/status` and `/metrics` agree with the
 * stores (leaders, known peers, counters), the KV API keeps its contract over `MemoryKv`
 * with stable error codes, and `close` lets in-flight requests finish.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpServer } from '../../src/node/http_server.js';
import { MemoryKv, type KvService } from '../../src/node/kv.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import type { NodeStatusJson } from '../../src/node/status.js';
import { StartupError } from '../../src/node/errors.js';
import { TestCluster } from './_cluster.js';

const servers: NodeHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(cluster: TestCluster, nodeIndex: number, kv: KvService | null = null):
  Promise<string> {
  const node = cluster.nodes[nodeIndex]!;
  const server = new NodeHttpServer({
    status: node.statusSource, metrics: new NodeMetrics(node.metricsSource), kv,
    kvLimits: { bodyBytesMax: 1024, keyBytesMax: 16, scanLimitMax: 5, batchOpsMax: 3 },
  });
  servers.push(server);
  const { port } = await server.listen();
  return `http://127.0.0.1:${port}`;
}

/** Prometheus text as `name{labels} -> value`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('/status and /metrics', () => {
  it('show the ranges, their leaders and the known peers as the stores hold them', async () => {
    const cluster = new TestCluster();
    cluster.createRanges(6);
    cluster.tick(3);
    const base = await serve(cluster, 0);
    const status = await (await fetch(`${base}/status`)).json() as NodeStatusJson;
    expect(status.node).toMatchObject({ nodeId: 1, clusterId: 'test-cluster', uptimeS: 10 });
    expect(status.peers.map((p) => [p.nodeId, p.live])).toEqual([[2, true], [3, true]]);
    expect(status.ranges.map((r) => r.rangeId)).toEqual([1, 2, 3, 4, 5, 6]);
    // createRanges puts the leader of range r on node r % 3 + 1.
    expect(status.ranges.map((r) => r.lead)).toEqual([2, 3, 1, 2, 3, 1]);
    const led = status.ranges.filter((r) => r.state === 'StateLeader');
    expect(led.map((r) => r.rangeId)).toEqual([3, 6]);
    for (const r of led) {
      expect(r.progress.map((p) => [p.nodeId, p.state]))
        .toEqual([[1, 'StateReplicate'], [2, 'StateReplicate'], [3, 'StateReplicate']]);
    }
    expect(status.summary.replicas).toBe(6);
    const limited = await (await fetch(`${base}/status?ranges=2`)).json() as NodeStatusJson;
    expect(limited.ranges).toHaveLength(2);
    expect(limited.rangesTruncated).toBe(true);

    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const m = samples(await res.text());
    expect(m.get('flotilla_network_known_peers{local="1",remote="2"}')).toBe(1);
    expect(m.get('flotilla_network_known_peers{local="1",remote="3"}')).toBe(1);
    expect([...m.keys()].filter((k) => k.startsWith('flotilla_network_known_peers')))
      .toHaveLength(2);
    expect(m.get('flotilla_groups')).toBe(6);
    expect(m.get('flotilla_ranges_led')).toBe(led.length);
    expect(m.get('flotilla_groups_awake')! + m.get('flotilla_groups_quiesced')!).toBe(6);
    const store = cluster.nodes[0]!.store;
    expect(m.get('flotilla_ticks_total')).toBe(store.stats.ticks);
    expect(m.get('flotilla_messages_sent_total{type="MsgHeartbeat"}')).toBeGreaterThan(0);
    expect(m.get('flotilla_messages_received_total{type="MsgAppResp"}')).toBeGreaterThan(0);
    expect(m.get('flotilla_storage_sync_seconds_count')).toBe(0);
    expect(m.has('flotilla_process_cpu_seconds_total')).toBe(true);
  });

  it('count what happened between two scrapes', async () => {
    const cluster = new TestCluster();
    cluster.createRanges(3);
    const base = await serve(cluster, 2);
    const before = samples(await (await fetch(`${base}/metrics`)).text());
    for (let i = 0; i < 5; i++) cluster.nodes[2]!.store.propose(2, new Uint8Array([i]));
    cluster.settle();
    const after = samples(await (await fetch(`${base}/metrics`)).text());
    expect(after.get('flotilla_proposals_total')! - before.get('flotilla_proposals_total')!)
      .toBe(5);
    expect(after.get('flotilla_applies_total')! - before.get('flotilla_applies_total')!).toBe(5);
    expect(after.get('flotilla_messages_sent_total{type="MsgApp"}')!)
      .toBeGreaterThan(before.get('flotilla_messages_sent_total{type="MsgApp"}') ?? 0);
  });

  it('feed the storage histograms from every engine commit of the store', async () => {
    const cluster = new TestCluster();
    cluster.createRanges(3);
    const store = cluster.nodes[0]!.store;
    const metrics = new NodeMetrics(cluster.nodes[0]!.metricsSource, { processMetrics: false });
    store.observeStorageCommits(metrics.observeStorageCommit);
    const commits = (): number => store.stats.storageCommits + store.stats.appliedCommits;
    const before = commits();
    for (let i = 0; i < 5; i++) store.propose(3, new Uint8Array([i, i, i]));
    cluster.settle();
    const m = samples(await metrics.text());
    const observed = commits() - before;
    expect(observed).toBeGreaterThan(0);
    expect(m.get('flotilla_storage_batch_bytes_count')).toBe(observed);
    expect(m.get('flotilla_storage_batch_groups_count')).toBe(observed);
    expect(m.get('flotilla_storage_sync_seconds_count')).toBe(observed);
    expect(m.get('flotilla_storage_batch_bytes_sum')).toBeGreaterThan(15);
    expect(m.get('flotilla_storage_batch_groups_sum')).toBeGreaterThanOrEqual(observed);
  });

  it('see a peer go down', async () => {
    const cluster = new TestCluster();
    cluster.createRanges(3);
    cluster.network.isolate(3);
    cluster.tick(20);
    const base = await serve(cluster, 0);
    const status = await (await fetch(`${base}/status`)).json() as NodeStatusJson;
    expect(status.peers.map((p) => [p.nodeId, p.live])).toEqual([[2, true], [3, false]]);
  });
});

describe('the KV API', () => {
  async function call(base: string, method: string, path: string, body?: string | object) {
    const res = await fetch(`${base}${path}`, {
      method, body: typeof body === 'object' ? JSON.stringify(body) : body,
    });
    return { status: res.status, json: await res.json() as Record<string, any> };
  }

  it('puts, gets, deletes, scans and batches', async () => {
    const base = await serve(new TestCluster(), 0, new MemoryKv());
    expect(await call(base, 'PUT', '/v1/kv/b', 'two')).toEqual({ status: 200, json: { ok: true } });
    await call(base, 'PUT', '/v1/kv/a', 'one');
    await call(base, 'PUT', '/v1/kv/c%2F1', 'three');
    expect((await call(base, 'GET', '/v1/kv/a')).json).toEqual({ key: 'a', value: 'one' });
    expect((await call(base, 'GET', '/v1/kv/c%2F1?encoding=base64')).json)
      .toEqual({ key: Buffer.from('c/1').toString('base64'),
        value: Buffer.from('three').toString('base64') });
    const scan = await call(base, 'POST', '/v1/kv/scan', { start: 'a', end: 'c', limit: 1 });
    expect(scan.json).toEqual({ pairs: [{ key: 'a', value: 'one' }], more: true });
    const all = await call(base, 'POST', '/v1/kv/scan', {});
    expect(all.json['pairs'].map((p: { key: string }) => p.key)).toEqual(['a', 'b', 'c/1']);
    const batch = await call(base, 'POST', '/v1/kv/batch', { ops: [
      { op: 'put', key: 'd', value: '4' }, { op: 'get', key: 'd' }, { op: 'delete', key: 'a' },
    ] });
    expect(batch.json).toEqual({ results: [
      { op: 'put' }, { op: 'get', value: '4' }, { op: 'delete', deleted: true },
    ] });
    expect(await call(base, 'DELETE', '/v1/kv/a')).toEqual({ status: 200,
      json: { deleted: false } });
  });

  it('refuses bad requests with stable codes', async () => {
    const kv = new MemoryKv();
    const base = await serve(new TestCluster(), 0, kv);
    await kv.put(new Uint8Array([1]), new Uint8Array([0xff, 0xfe]));
    const cases: [string, string, (string | object)?, number?, string?][] = [
      ['GET', '/v1/kv/missing', undefined, 404, 'ERR_KEY_NOT_FOUND'],
      ['GET', '/v1/kv/%01', undefined, 400, 'ERR_NOT_UTF8'],
      ['GET', '/v1/kv/%zz', undefined, 400, 'ERR_KEY_INVALID'],
      ['GET', `/v1/kv/${'k'.repeat(17)}`, undefined, 400, 'ERR_KEY_INVALID'],
      ['PUT', '/v1/kv/big', 'v'.repeat(1025), 413, 'ERR_BODY_TOO_LARGE'],
      ['POST', '/v1/kv/a', undefined, 405, 'ERR_METHOD_NOT_ALLOWED'],
      ['GET', '/v1/kv/scan', undefined, 405, 'ERR_METHOD_NOT_ALLOWED'],
      ['POST', '/v1/kv/scan', '{not json', 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/scan', { limit: 6 }, 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/scan', { start: 5 }, 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/scan', { encoding: 'hex' }, 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/batch', { ops: [] }, 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/batch', { ops: [{ op: 'get', key: 'a' }, { op: 'get', key: 'a' },
        { op: 'get', key: 'a' }, { op: 'get', key: 'a' }] }, 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/batch', { ops: [{ op: 'merge', key: 'a' }] }, 400, 'ERR_BAD_REQUEST'],
      ['POST', '/v1/kv/batch',
        { ops: [{ op: 'put', key: 'YQ==', value: '%' }], encoding: 'base64' },
        400, 'ERR_BAD_REQUEST'],
      ['GET', '/nowhere', undefined, 404, 'ERR_ROUTE_NOT_FOUND'],
      ['POST', '/status', undefined, 405, 'ERR_METHOD_NOT_ALLOWED'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(base, method, path, body);
      expect([method, path, r.status, r.json['error']?.code])
        .toEqual([method, path, status, code]);
      expect(typeof r.json['error'].message).toBe('string');
    }
    expect(kv.size).toBe(1);
  });

  it('answers 503 ERR_KV_UNAVAILABLE without a KV service', async () => {
    const base = await serve(new TestCluster(), 0, null);
    const r = await call(base, 'GET', '/v1/kv/a');
    expect([r.status, r.json['error'].code]).toEqual([503, 'ERR_KV_UNAVAILABLE']);
  });
});

describe('the server lifecycle', () => {
  it('finishes an in-flight request on close and refuses new connections', async () => {
    let release: () => void = () => {};
    const slow: KvService = Object.assign(new MemoryKv(), {
      get: () => new Promise<Uint8Array | null>((resolve) => {
        release = () => resolve(new Uint8Array([104, 105]));
      }),
    });
    const cluster = new TestCluster();
    const node = cluster.nodes[0]!;
    const server = new NodeHttpServer({ status: node.statusSource, kv: slow,
      metrics: new NodeMetrics(node.metricsSource, { processMetrics: false }) });
    const { port } = await server.listen();
    const pending = fetch(`http://127.0.0.1:${port}/v1/kv/x`);
    while (server.requestsInFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const closed = server.close();
    await expect(fetch(`http://127.0.0.1:${port}/status`)).rejects.toThrow();
    release();
    const res = await pending;
    expect(await res.json()).toEqual({ key: 'x', value: 'hi' });
    await closed;
    expect(server.requestsInFlight).toBe(0);
  });

  it('refuses to listen on a taken port with a StartupError', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const node = new TestCluster().nodes[0]!;
    const server = new NodeHttpServer({ status: node.statusSource, port,
      metrics: new NodeMetrics(node.metricsSource, { processMetrics: false }) });
    const error = await server.listen().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as StartupError).code).toBe('ERR_LISTEN');
    expect((error as StartupError).message).toContain('EADDRINUSE');
    await new Promise((r) => blocker.close(r));
  });
});
