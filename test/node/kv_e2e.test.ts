/**
 * The Must-show end-to-end test, with real processes on loopback: three `flotilla start`
 * nodes; `FlotillaClient`s write through every node while ranges split under the load
 * (`--split-range-keys`); kill -9 of one node; more writes; its restart from its data
 * directory (LevelDB: its Raft state and KV data survive); then every acknowledged write is read back through each node, and `/status`
 * and `/metrics` agree with what happened (known peers, leaders, splits, counts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlotillaClient } from '../../src/node/client.js';
import { kvCall, RemoteKvError } from '../../src/node/kv_wire.js';
import type { NodeStatusJson } from '../../src/node/status.js';
import { ProcessCluster, sample } from './_nodes.js';

const RANGES = 4;
const SPLIT_KEYS = 15;
const cluster = new ProcessCluster(['--ranges', String(RANGES), '--split-range-keys',
  String(SPLIT_KEYS)]);
const acknowledged = new Map<string, string>();
const decoder = new TextDecoder();
const key = (i: number): string => `k${String(i).padStart(4, '0')}`;

/** Writes keys `from..to-1`, through the clients in turn; records what was acknowledged. */
async function write(clients: FlotillaClient[], from: number, to: number, tag: string):
  Promise<void> {
  for (let i = from; i < to; i++) {
    const value = `${tag}-${i}`;
    await clients[i % clients.length]!.put(key(i), value);
    acknowledged.set(key(i), value);
  }
}

describe('three node processes serving the KV API', () => {
  let clients: FlotillaClient[] = [];
  beforeAll(async () => {
    await cluster.start();
    await cluster.settled();
    clients = cluster.ids.map((id) => new FlotillaClient({ nodes: [cluster.http(id)] }));
  }, 90_000);

  afterAll(() => cluster.cleanup());

  let before: NodeStatusJson[] = [];

  it('writes through every node; ranges split under the load; clients follow', async () => {
    await write(clients, 0, 75, 'a');
    // A batch and a delete, through a node that may not lead the range.
    const results = await clients[1]!.batch([{ op: 'get', key: enc(key(3)) },
      { op: 'put', key: enc(key(3)), value: enc('x') }, { op: 'get', key: enc(key(3)) }]);
    expect(results).toEqual([{ op: 'get', value: enc(acknowledged.get(key(3))!) },
      { op: 'put' }, { op: 'get', value: enc('x') }]);
    acknowledged.set(key(3), 'x');
    await clients[2]!.put('k0003x', 'y');
    expect(await clients[2]!.delete('k0003x')).toBe(true);
    expect(await clients[0]!.get('k0003x')).toBeNull();
    expect(await clients[1]!.delete('k0003x')).toBe(false);
    before = await cluster.settled((all) => all[0]!.ranges.length > RANGES);
    const splits = before[0]!.ranges.length - RANGES;
    expect(splits).toBeGreaterThan(0);
    // Every client learnt leaders and went straight to them, and was corrected by a key
    // mismatch once a range it had cached split.
    for (const c of clients) expect(c.stats.direct).toBeGreaterThan(0);
    expect(clients.reduce((n, c) => n + c.stats.keyMismatch, 0)).toBeGreaterThan(0);
    // A scan across every range returns the writes in key order.
    const pairs = await clients[0]!.scan('k', 'l', 1000);
    expect(pairs.map((p) => decoder.decode(p.key))).toEqual([...acknowledged.keys()].sort());
  }, 120_000);

  it('refuses what it must with stable codes: a batch over two ranges, a direct call ' +
    'to a node that is not the leader', async () => {
    const far = await clients[0]!.batch([{ op: 'put', key: enc('\u00ee'), value: enc('1') }])
      .then(() => null);
    expect(far).toBeNull();
    const error = await clients[0]!.batch([{ op: 'put', key: enc('a'), value: enc('1') },
      { op: 'put', key: enc('\u00ee'), value: enc('2') }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteKvError);
    expect((error as RemoteKvError).code).toBe('ERR_BATCH_SPANS_RANGES');
    expect((error as RemoteKvError).status).toBe(400);
    const s = before[0]!;
    const r = s.ranges[1]!;
    const notLeader = cluster.ids.find((id) => id !== r.lead)!;
    const refused = await kvCall(cluster.http(notLeader), { kind: 'batch',
      ops: [{ op: 'get', key: enc('A') }] }, { directRangeId: r.rangeId })
      .catch((e: unknown) => e) as RemoteKvError;
    expect(refused.code).toBe('ERR_RANGE_NOT_LEADER');
    expect(refused.details['leaderNodeId']).toBe(r.lead);
    expect(refused.details['leaderHttp']).toBe(cluster.http(r.lead));
  }, 60_000);

  it('keeps every acknowledged write through a kill -9 and a restart of a node', async () => {
    const victim = 1;
    await cluster.kill9(victim);
    const survivors = [new FlotillaClient({ nodes: [cluster.http(2), cluster.http(3)] }),
      clients[1]!, clients[2]!];
    await write(survivors, 75, 95, 'b');
    // Overwrites too: the newest acknowledged value is the one to read back.
    await write(survivors, 0, 5, 'c');
    cluster.startNode(victim);
    // The restarted node reopens its LevelDB engine: every range (the splits included) is
    // there, and its replicas catch up from the leaders with what they missed.
    const all = await cluster.settled((sts) => sts.every((s) => s.ranges.every((r, k) =>
      r.applied === Math.max(...sts.map((x) => x.ranges[k]!.applied)))));
    const expected = [...acknowledged].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const id of cluster.ids) {
      const reader = new FlotillaClient({ nodes: [cluster.http(id)] });
      const pairs = await reader.scan('k', 'l', 1000);
      expect(pairs.map((p) => [decoder.decode(p.key), decoder.decode(p.value)]),
        `through n${id}`).toEqual(expected);
      for (const k of [key(0), key(40), key(94)]) {
        expect(decoder.decode((await reader.get(k))!)).toBe(acknowledged.get(k));
      }
    }
    await checkStatusAndMetrics(all, victim);
  }, 150_000);

  it('stops on SIGTERM with exit code 0', async () => {
    const codes = await cluster.stop();
    expect(codes.every((c) => c === 0)).toBe(true);
  }, 60_000);
});

async function checkStatusAndMetrics(all: NodeStatusJson[], restarted: number): Promise<void> {
  const ranges = all[0]!.ranges.length;
  expect(all.reduce((n, s) => n + s.summary.leaders, 0)).toBe(ranges);
  let forwarded = 0;
  let proposals = 0;
  for (const s of all) {
    const id = s.node.nodeId;
    const others = cluster.ids.filter((o) => o !== id);
    expect(s.peers.map((p) => [p.nodeId, p.http, p.live])).toEqual(
      others.map((o) => [o, cluster.http(o), true]));
    const text = await cluster.metrics(id);
    for (const o of others) {
      expect(sample(text, `flotilla_network_known_peers{local="${id}",remote="${o}"}`)).toBe(1);
    }
    expect(sample(text, 'flotilla_ranges_led')).toBe(s.summary.leaders);
    expect(sample(text, 'flotilla_groups')).toBe(ranges);
    // Every node applied every split; the restarted one counts those it applied since.
    const splits = sample(text, 'flotilla_range_splits_total');
    if (id === restarted) expect(splits).toBeLessThanOrEqual(ranges - RANGES);
    else expect(splits).toBe(ranges - RANGES);
    forwarded += sample(text, 'flotilla_kv_forwarded_total');
    // Every node applied entries (the restarted one: those it caught up on).
    expect(sample(text, 'flotilla_applies_total')).toBeGreaterThan(0);
    // Every node committed LevelDB batches (with a sync each): the storage histograms.
    expect(sample(text, 'flotilla_storage_batch_bytes_count')).toBeGreaterThan(0);
    expect(sample(text, 'flotilla_storage_batch_bytes_sum')).toBeGreaterThan(0);
    expect(sample(text, 'flotilla_storage_sync_seconds_count'))
      .toBe(sample(text, 'flotilla_storage_batch_groups_count'));
    proposals += sample(text, 'flotilla_proposals_total');
  }
  expect(proposals).toBeGreaterThan(0);
  // Each client was given one node: its first requests were forwarded to leaders.
  expect(forwarded).toBeGreaterThan(0);
  // The peers' versions come from their `/v1/node` (polled every two seconds).
  for (let i = 0; i < 40; i++) {
    const s = await cluster.status(restarted);
    if (s !== null && s.peers.every((p) => p.version === s.node.version)) return;
    await sleep(250);
  }
  throw new Error('the restarted node did not learn its peers\' versions');
}

function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
