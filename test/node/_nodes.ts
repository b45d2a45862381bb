/**
 * Test helper: a cluster of real `flotilla start` processes on loopback, each told the
 * others' Raft and HTTP addresses, with kill -9 and restart of one node and polling helpers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeStatusJson } from '../../src/node/status.js';
import { startScript, type Running } from './_process.js';

/** Free TCP ports on 127.0.0.1 (bound together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () =>
    new Promise<ReturnType<typeof createServer>>((done) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => done(s));
    })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

/** Node processes (ids 1..`nodes`, three by default). */
export class ProcessCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'flotilla-kv-'));
  readonly running = new Map<number, Running>();
  readonly ids: number[];
  private raft: number[] = [];
  private httpPorts: number[] = [];

  constructor(private readonly extra: readonly string[], nodes = 3) {
    this.ids = Array.from({ length: nodes }, (_, i) => i + 1);
  }

  /** Picks the ports and starts every node. */
  async start(): Promise<void> {
    const n = this.ids.length;
    const ports = await freePorts(2 * n);
    this.raft = ports.slice(0, n);
    this.httpPorts = ports.slice(n);
    for (const id of this.ids) this.startNode(id);
  }

  /** `HOST:PORT` of node `id`'s HTTP server. */
  http(id: number): string {
    return `127.0.0.1:${this.httpPorts[id - 1]}`;
  }

  /** Starts (or restarts, from its data directory) node `id`. */
  startNode(id: number): Running {
    const others = this.ids.filter((i) => i !== id);
    const args = ['start', '--node-id', String(id), '--listen',
      `127.0.0.1:${this.raft[id - 1]}`, '--http', this.http(id),
      '--join', others.map((i) => `${i}@127.0.0.1:${this.raft[i - 1]}`).join(','),
      '--peer-http', others.map((i) => `${i}@${this.http(i)}`).join(','),
      '--data', join(this.dir, `n${id}`), '--log-level', 'warn', ...this.extra];
    const r = startScript('src/node/cli.ts', args, {}, 170_000);
    this.running.set(id, r);
    return r;
  }

  /** kill -9 of node `id`; resolves once it is gone. */
  async kill9(id: number): Promise<void> {
    const r = this.running.get(id)!;
    r.child.kill('SIGKILL');
    await r.done;
  }

  /** Node `id`'s `/status`, or null if it does not answer. */
  async status(id: number): Promise<NodeStatusJson | null> {
    try {
      const res = await fetch(`http://${this.http(id)}/status`,
        { signal: AbortSignal.timeout(3000) });
      return res.ok ? await res.json() as NodeStatusJson : null;
    } catch {
      return null;
    }
  }

  /** Node `id`'s `/metrics` text. */
  async metrics(id: number): Promise<string> {
    return (await fetch(`http://${this.http(id)}/metrics`)).text();
  }

  /**
   * Polls until every node answers, sees every peer live, lists the same ranges and agrees
   * with the others on one leader per range, and `extra` holds.
   */
  async settled(extra: (all: NodeStatusJson[]) => boolean = () => true, attempts = 240):
    Promise<NodeStatusJson[]> {
    let all: (NodeStatusJson | null)[] = [];
    for (let i = 0; i < attempts; i++) {
      all = await Promise.all(this.ids.map((id) => this.status(id)));
      if (all.every((s) => s !== null)) {
        const first = all[0]!;
        // A replica reopened dormant knows no leader until its group next talks: it agrees
        // with the others by not disagreeing.
        const lead = (k: number): number => Math.max(...all.map((s) => s!.ranges[k]?.lead ?? 0));
        const ok = all.every((s) => s!.peers.every((p) => p.live) &&
          s!.ranges.length === first.ranges.length && s!.ranges.every((r, k) =>
            r.rangeId === first.ranges[k]!.rangeId && lead(k) !== 0 &&
            (r.lead === lead(k) || (r.lead === 0 && r.dormant))));
        if (ok && extra(all as NodeStatusJson[])) return all as NodeStatusJson[];
      }
      await sleep(250);
    }
    const brief = all.map((s) => s === null ? 'no answer' : `n${s.node.nodeId} peers ` +
      s.peers.map((p) => `${p.nodeId}:${p.live}`).join(',') + ' ranges ' +
      s.ranges.map((r) => `r${r.rangeId}/l${r.lead}/a${r.applied}`).join(' '));
    throw new Error(`the cluster did not settle:\n${brief.join('\n')}`);
  }

  /** SIGTERM to every running node; resolves to their exit codes. */
  async stop(): Promise<(number | null)[]> {
    const live = [...this.running.values()].filter((r) => r.child.exitCode === null &&
      r.child.signalCode === null);
    for (const r of live) r.child.kill('SIGTERM');
    return Promise.all(live.map(async (r) => (await r.done).code));
  }

  /** Kills what is left and removes the data directory. */
  cleanup(): void {
    for (const r of this.running.values()) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One Prometheus sample's value (the first series matching `series`), or NaN. */
export function sample(text: string, series: string): number {
  const escaped = series.replace(/[{}"=,.]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}
