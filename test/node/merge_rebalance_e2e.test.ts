/**
 * Merges and rebalancing across real node processes on loopback: three `flotilla start`
 * nodes with the merge queue (`--merge-range-bytes`) and leadership balancing
 * (`--rebalance`). Writes fill the first of the six bootstrap user ranges; the empty, cold
 * ones merge until two user ranges are left (the full one merges with nothing), every merge
 * waiting on the other processes' replicas over HTTP (applied_wait.ts). A node
 * then restarts: it leads nothing, and the others hand leaderships back to it. Every
 * acknowledged write reads back through every node, and `/status` and `/metrics` agree on
 * the merges and the transfers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlotillaClient } from '../../src/node/client.js';
import type { NodeStatusJson } from '../../src/node/status.js';
import { ProcessCluster, sample } from './_nodes.js';

// Meta and six user ranges split at first bytes 0x2b, 0x55, 0x80, 0xaa, 0xd4: keys '%…'
// (0x25) land in range 2, the first user range. Whether range 2 absorbs range 3 before the
// writes make it too big or not, four merges leave two user ranges.
const RANGES = 7;
const cluster = new ProcessCluster(['--ranges', String(RANGES), '--merge-range-bytes', '300',
  '--merge-qps-max', '1000', '--rebalance']);
const acknowledged = new Map<string, string>();
const decoder = new TextDecoder();

describe('merges and leadership rebalancing across node processes', () => {
  let clients: FlotillaClient[] = [];
  beforeAll(async () => {
    await cluster.start();
    await cluster.settled();
    clients = cluster.ids.map((id) => new FlotillaClient({ nodes: [cluster.http(id)] }));
  }, 90_000);

  afterAll(() => cluster.cleanup());

  it('merges the cold empty ranges while writes go on, not the full one', async () => {
    for (let i = 0; i < 30; i++) {
      const key = `%${String(i).padStart(3, '0')}`;
      const value = `v${i}`.padEnd(40, '.');
      await clients[i % 3]!.put(key, value);
      acknowledged.set(key, value);
    }
    const all = await cluster.settled((sts) => sts.every((s) => s.ranges.length === 3), 480);
    for (const s of all) {
      expect(s.ranges[1]!.rangeId).toBe(2);
      expect(s.rangeCounters!.merges).toBe(RANGES - 3);
    }
  }, 150_000);

  it('hands leaderships back to a node that restarted', async () => {
    const r = cluster.running.get(1)!;
    r.child.kill('SIGTERM');
    expect((await r.done).code).toBe(0);
    // n2 and n3 lead all three ranges meanwhile.
    for (let i = 0; ; i++) {
      const sts = await Promise.all([cluster.status(2), cluster.status(3)]);
      if (sts.every((s) => s !== null && s.ranges.every((r) => r.lead === 2 || r.lead === 3))) {
        break;
      }
      expect(i, 'n2 and n3 take over the leaderships').toBeLessThan(240);
      await sleep(250);
    }
    cluster.startNode(1);
    const all = await cluster.settled((sts) => sts.every((s) => s.summary.leaders === 1), 480);
    const transfers = all.reduce((n, s) => n + s.rangeCounters!.leaseTransfers, 0);
    expect(transfers).toBeGreaterThan(0);
    await checkReadsStatusAndMetrics(all);
  }, 150_000);

  it('stops on SIGTERM with exit code 0', async () => {
    const codes = await cluster.stop();
    expect(codes.every((c) => c === 0)).toBe(true);
  }, 60_000);
});

async function checkReadsStatusAndMetrics(all: NodeStatusJson[]): Promise<void> {
  const expected = [...acknowledged].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const id of cluster.ids) {
    const reader = new FlotillaClient({ nodes: [cluster.http(id)] });
    const pairs = await reader.scan('', '', 1000);
    expect(pairs.map((p) => [decoder.decode(p.key), decoder.decode(p.value)]),
      `through n${id}`).toEqual(expected);
    reader.close();
  }
  expect(all.reduce((n, s) => n + s.summary.leaders, 0)).toBe(3);
  for (const s of all) {
    const text = await cluster.metrics(s.node.nodeId);
    const c = s.rangeCounters!;
    // The restarted node counts what it applied since its restart: no merge.
    expect(c.merges).toBe(s.node.nodeId === 1 ? 0 : RANGES - 3);
    expect(sample(text, 'flotilla_range_merges_total')).toBe(c.merges);
    // Counters only grow: /metrics, read after /status, shows at least as many.
    expect(sample(text, 'flotilla_range_lease_transfers_total'))
      .toBeGreaterThanOrEqual(c.leaseTransfers);
    expect(sample(text, 'flotilla_range_replica_moves_total')).toBe(0);
    expect(sample(text, 'flotilla_groups')).toBe(3);
  }
  // Settled: the transfers are done, so both views agree exactly.
  await sleep(1500);
  for (const id of cluster.ids) {
    const s = (await cluster.status(id))!;
    const text = await cluster.metrics(id);
    expect(sample(text, 'flotilla_range_lease_transfers_total'))
      .toBe(s.rangeCounters!.leaseTransfers);
  }
}
