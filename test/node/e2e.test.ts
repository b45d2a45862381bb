/**
 * Real processes on loopback: three `flotilla start` nodes over TCP. Each node's `/status`
 * and `/metrics` agree (known peers, ranges led), the nodes agree on every range's leader,
 * SIGTERM stops each with exit code 0; then every bad configuration of `flotilla start`
 * (another cluster's data directory, another node's, ports in use, bad addresses) is refused
 * with one line and exit code 2.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatusJson } from '../../src/node/status.js';
import { expectRefusal, runAll, runScript, startScript, type Running } from './_process.js';

const RANGES = 6;
const dir = mkdtempSync(join(tmpdir(), 'flotilla-e2e-'));
let raftPorts: number[] = [];
let httpPorts: number[] = [];
const nodes: Running[] = [];
const held: Server[] = [];

async function holdPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.push(server);
  return (server.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const port = await holdPort();
  await new Promise((resolve) => held.pop()!.close(resolve));
  return port;
}

function startArgs(nodeId: number, extra: string[] = []): string[] {
  const join3 = [1, 2, 3].filter((i) => i !== nodeId)
    .map((i) => `${i}@127.0.0.1:${raftPorts[i - 1]}`).join(',');
  return ['start', '--node-id', String(nodeId), '--listen', `127.0.0.1:${raftPorts[nodeId - 1]}`,
    '--http', `127.0.0.1:${httpPorts[nodeId - 1]}`, '--join', join3,
    '--data', join(dir, `n${nodeId}`), '--ranges', String(RANGES), '--log-level', 'warn',
    ...extra];
}

async function status(nodeId: number): Promise<NodeStatusJson> {
  const res = await fetch(`http://127.0.0.1:${httpPorts[nodeId - 1]}/status`);
  return await res.json() as NodeStatusJson;
}

async function metrics(nodeId: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${httpPorts[nodeId - 1]}/metrics`)).text();
}

/** Polls until every node answers and every range has one leader all nodes agree on. */
async function settled(): Promise<NodeStatusJson[]> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const all = await Promise.all([1, 2, 3].map((n) => status(n).catch(() => null)));
    if (all.every((s) => s !== null)) {
      const ok = all.every((s) => s!.peers.every((p) => p.live) &&
        s!.ranges.length === RANGES && s!.ranges.every((r, i) =>
          r.lead !== 0 && r.lead === all[0]!.ranges[i]!.lead));
      if (ok) return all as NodeStatusJson[];
    }
    await sleep(200);
  }
  throw new Error('the cluster did not elect a leader for every range');
}

describe('three node processes over TCP', () => {
  beforeAll(async () => {
    raftPorts = [await freePort(), await freePort(), await freePort()];
    httpPorts = [await freePort(), await freePort(), await freePort()];
    for (const n of [1, 2, 3]) nodes.push(startScript('src/node/cli.ts', startArgs(n)));
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGKILL');
    for (const s of held) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('agree on leaders; /status and /metrics agree on peers and ranges led', async () => {
    const all = await settled();
    for (const s of all) {
      expect(s.node.clusterId).toBe(all[0]!.node.clusterId);
      const others = [1, 2, 3].filter((n) => n !== s.node.nodeId);
      expect(s.peers.map((p) => p.nodeId)).toEqual(others);
      const text = await metrics(s.node.nodeId);
      const series = /^flotilla_network_known_peers\{local="(\d+)",remote="(\d+)"\} 1$/gm;
      const known = [...text.matchAll(series)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(known).toEqual(others.map((o) => [s.node.nodeId, o]));
      const led = s.ranges.filter((r) => r.lead === s.node.nodeId).length;
      expect(text).toMatch(new RegExp(`^flotilla_ranges_led ${led}$`, 'm'));
      expect(text).toMatch(new RegExp(`^flotilla_groups ${RANGES}$`, 'm'));
      expect(s.summary.leaders).toBe(led);
    }
    // Every range has exactly one leader across the three nodes.
    expect(all.reduce((sum, s) => sum + s.summary.leaders, 0)).toBe(RANGES);
    // `flotilla status` prints the same node, peers and leaders.
    const printed = await runScript('src/node/cli.ts',
      ['status', '--node', `127.0.0.1:${httpPorts[1]}`]);
    expect(printed.code, printed.err).toBe(0);
    expect(printed.out).toContain(`node n2  cluster ${all[1]!.node.clusterId}`);
    expect(printed.out).toMatch(/peers {2}n1 127\.0\.0\.1:\d+ live {3}n3 127\.0\.0\.1:\d+ live/);
    for (const r of all[1]!.ranges) {
      expect(printed.out).toMatch(new RegExp(`^ +${r.rangeId} +n${r.lead} +${r.term} `, 'm'));
    }
  }, 90_000);

  it('stop on SIGTERM, finishing cleanly with exit code 0', async () => {
    for (const n of nodes) n.child.kill('SIGTERM');
    const outcomes = await Promise.all(nodes.map((n) => n.done));
    for (const o of outcomes) {
      expect(o.code, o.err).toBe(0);
      expect(o.err).not.toContain('"level":50');
    }
  }, 60_000);

  it('restart from their data directories: the identity is reopened, not rewritten',
    async () => {
      const before = readFileSync(join(dir, 'n1', 'flotilla-identity.json'), 'utf8');
      const again = startScript('src/node/cli.ts', startArgs(1, ['--log-level', 'info']));
      let s: NodeStatusJson | null = null;
      for (let i = 0; i < 300 && s === null && again.child.exitCode === null; i++) {
        s = await status(1).catch(() => null);
        if (s === null) await sleep(100);
      }
      expect(s?.node.nodeId).toBe(1);
      expect(s?.ranges).toHaveLength(RANGES);
      again.child.kill('SIGTERM');
      const outcome = await again.done;
      expect(outcome.code, outcome.err).toBe(0);
      expect(outcome.err).toContain('opened the data directory');
      expect(outcome.err).toContain('"bootstrapped":false');
      expect(outcome.err).not.toContain('bootstrapped a new data directory');
      expect(readFileSync(join(dir, 'n1', 'flotilla-identity.json'), 'utf8')).toBe(before);
    }, 60_000);

  it('refuse every bad configuration of flotilla start with one line and exit code 2',
    async () => {
      const taken = await holdPort();
      const cases: [string[], string][] = [
        [startArgs(1, ['--cluster-token', 'another']), 'belongs to cluster'],
        [startArgs(2).map((a) => (a === join(dir, 'n2') ? join(dir, 'n1') : a)),
          "is node 1's, not node 2's"],
        [[...startArgs(1), '--listen', `127.0.0.1:${taken}`, '--data', join(dir, 'fresh1')],
          `cannot listen for peers on 127.0.0.1:${taken}: EADDRINUSE`],
        [[...startArgs(1), '--http', `127.0.0.1:${taken}`, '--data', join(dir, 'fresh2')],
          `cannot listen for HTTP on 127.0.0.1:${taken}: EADDRINUSE`],
        [[...startArgs(1), '--listen', '127.0.0.1:99999'], 'port in [0, 65535]'],
        [[...startArgs(1), '--listen', '192.0.2.1:7001', '--data', join(dir, 'fresh3')],
          'cannot listen for peers on 192.0.2.1:7001: EADDRNOTAVAIL'],
        [[...startArgs(1), '--http', 'localhost'], "--http must be HOST:PORT"],
        [[...startArgs(1), '--join', '127.0.0.1:7002,'], '--join has an empty entry'],
        [['start', '--data', join(dir, 'x')], '--node-id is required'],
        [['start', '--node-id', '1'], '--data is required'],
        [[...startArgs(1), '--replicas', '4', '--data', join(dir, 'fresh4')],
          '--replicas 4 is more than the 3 members'],
        [[...startArgs(1), '--merge-range-bytes', '2000', '--split-range-bytes', '1000',
          '--data', join(dir, 'fresh5')], 'merged ranges would split again'],
        [[...startArgs(1), '--merge-qps-max', '0'], '--merge-qps-max must be a positive'],
        [['start', '--node-id', '3', '--listen', '127.0.0.1:7001', '--join', '127.0.0.1:7002',
          '--data', join(dir, 'y')], "does not match this node's place"],
      ];
      const outcomes = await runAll(cases.map(([args]) =>
        () => runScript('src/node/cli.ts', args)));
      cases.forEach(([args, message], i) => {
        expect.soft(() => expectRefusal(outcomes[i]!, message), args.join(' ')).not.toThrow();
      });
      // A refused start leaves no identity behind in a new data directory.
      expect(existsSync(join(dir, 'fresh1', 'flotilla-identity.json'))).toBe(false);
    }, 90_000);
});
