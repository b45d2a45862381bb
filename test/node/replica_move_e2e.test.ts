/**
 * Replica moves across real node processes on loopback: four `flotilla start` nodes with
 * `--replicas 3 --rebalance`, so the bootstrap ranges start on nodes 1-3 and node 4 starts
 * empty. Writes go to every user range; the rebalancer (src/range/rebalancer.ts) then moves
 * replicas to node 4 until the counts are even, and every range ends with exactly three
 * replicas. Every acknowledged write reads back through every node, node 4 included, from
 * the ranges that node holds: a node routes a call only by its own replicas' descriptors
 * (range_kv.ts), so a key of a range it holds no replica of is refused there
 * (`range 0 does not hold key`, a gap once members outnumber replicas); a client that knows
 * several nodes goes on to the next one. The writes use such a client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlotillaClient } from '../../src/node/client.js';
import type { NodeStatusJson } from '../../src/node/status.js';
import { ProcessCluster, sample } from './_nodes.js';

// Meta and two user ranges split at first byte 0x80: keys '%…' land in range 2, 'é…'
// (UTF-8 0xc3 0xa9) in range 3. Nine replicas over four nodes: two moves even them out.
const RANGES = 3;
const REPLICAS = 3;
const cluster = new ProcessCluster(['--ranges', String(RANGES), '--replicas', String(REPLICAS),
  '--rebalance'], 4);
const acknowledged = new Map<string, string>();
const decoder = new TextDecoder();

/** Polls every node's `/status` until `ok` holds of all of them (bounded: `attempts`). */
async function until(what: string, ok: (all: NodeStatusJson[]) => boolean, attempts = 480):
  Promise<NodeStatusJson[]> {
  let all: (NodeStatusJson | null)[] = [];
  for (let i = 0; i < attempts; i++) {
    all = await Promise.all(cluster.ids.map((id) => cluster.status(id)));
    if (all.every((s) => s !== null) && ok(all as NodeStatusJson[])) {
      return all as NodeStatusJson[];
    }
    await sleep(250);
  }
  const brief = all.map((s) => s === null ? 'no answer' : `n${s.node.nodeId} ranges ` +
    s.ranges.map((r) => `r${r.rangeId}/l${r.lead}/` +
      r.progress.map((p) => `${p.nodeId}${p.isLearner ? 'L' : ''}`).join(',')).join(' '));
  throw new Error(`${what}: not reached\n${brief.join('\n')}`);
}

/** Each range's members as its leader's progress lists them (voters and learners). */
function configs(all: NodeStatusJson[]): Map<number, { voters: number[]; learners: number }> {
  const out = new Map<number, { voters: number[]; learners: number }>();
  for (const s of all) {
    for (const r of s.ranges) {
      if (r.state !== 'StateLeader') continue;
      out.set(r.rangeId, { voters: r.progress.filter((p) => !p.isLearner)
        .map((p) => p.nodeId).sort(), learners: r.progress.filter((p) => p.isLearner).length });
    }
  }
  return out;
}

/** Every range has one leader, and exactly the nodes of its configuration list it. */
function stable(all: NodeStatusJson[]): boolean {
  const cfg = configs(all);
  if (cfg.size !== RANGES) return false;
  return [...cfg].every(([rangeId, c]) => c.learners === 0 && String(c.voters) ===
    String(all.filter((s) => s.ranges.some((r) => r.rangeId === rangeId))
      .map((s) => s.node.nodeId).sort()));
}

describe('replica moves across node processes', () => {
  let client: FlotillaClient | undefined;
  beforeAll(async () => {
    await cluster.start();
    await until('nodes 1-3 lead every range, every peer live', (all) =>
      all.every((s) => s.peers.every((p) => p.live)) && stable(all));
    client = new FlotillaClient({ nodes: cluster.ids.map((id) => cluster.http(id)) });
  }, 90_000);

  afterAll(() => {
    client?.close();
    cluster.cleanup();
  });

  it('moves replicas to the empty node, keeping every write and three replicas', async () => {
    // The moves may start meanwhile: a node refusing a key (see the file header) sends the
    // client on to the next of its nodes.
    for (let i = 0; i < 20; i++) {
      const key = `${i % 2 === 0 ? '%' : 'é'}${String(i).padStart(3, '0')}`;
      const value = `v${i}`;
      await client!.put(key, value);
      acknowledged.set(key, value);
    }
    // Balanced: replica counts within the rebalancer's slack of one, no move in flight.
    const all = await until('a replica on n4, counts even, three replicas per range',
      (sts) => {
        const counts = sts.map((s) => s.ranges.length);
        return counts[3]! > 0 && Math.max(...counts) - Math.min(...counts) <= 1 && stable(sts);
      });
    for (const [rangeId, c] of configs(all)) {
      expect(c.voters.length, `r${rangeId} voters ${String(c.voters)}`).toBe(REPLICAS);
    }
    expect(all.reduce((n, s) => n + s.ranges.length, 0)).toBe(RANGES * REPLICAS);
    // A leader counts its move once changeReplicas settles, maybe after /status shows it.
    for (let i = 0; ; i++) {
      const moves = await Promise.all(cluster.ids.map(async (id) =>
        sample(await cluster.metrics(id), 'flotilla_range_replica_moves_total')));
      expect(moves.every((m) => m >= 0), `moves ${String(moves)}`).toBe(true);
      if (moves.reduce((a, b) => a + b, 0) > 0) break;
      expect(i, 'a replica move counted on some node').toBeLessThan(120);
      await sleep(250);
    }
    expect(all[3]!.ranges.some((r) => r.rangeId !== 1), 'n4 holds a user range').toBe(true);
    await readsBackEverywhere(all);
  }, 150_000);

  it('stops on SIGTERM with exit code 0', async () => {
    const codes = await cluster.stop();
    expect(codes.every((c) => c === 0)).toBe(true);
  }, 60_000);
});

/** Range 2 holds the keys '%…', range 3 the keys 'é…' (see RANGES). */
function rangeOf(key: string): number {
  return key.startsWith('%') ? 2 : 3;
}

async function readsBackEverywhere(all: NodeStatusJson[]): Promise<void> {
  let read = 0;
  for (const s of all) {
    const id = s.node.nodeId;
    const held = new Set(s.ranges.map((r) => r.rangeId));
    const reader = new FlotillaClient({ nodes: [cluster.http(id)] });
    for (const rangeId of [2, 3].filter((r) => held.has(r))) {
      const expected = [...acknowledged].filter(([k]) => rangeOf(k) === rangeId)
        .sort(([a], [b]) => (a < b ? -1 : 1));
      const start = rangeId === 2 ? '%' : 'é';
      const pairs = await reader.scan(start, rangeId === 2 ? '&' : 'ê', 1000);
      expect(pairs.map((p) => [decoder.decode(p.key), decoder.decode(p.value)]),
        `r${rangeId} through n${id}`).toEqual(expected);
      for (const [key, value] of expected) {
        const got = await reader.get(key);
        expect(got === null ? null : decoder.decode(got), `${key} through n${id}`).toBe(value);
        read++;
      }
    }
    reader.close();
  }
  // Nine replicas, the meta range's three aside: six user-range replicas, ten keys each.
  expect(read).toBe(6 * acknowledged.size / 2);
}
