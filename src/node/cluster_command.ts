/**
 * `npm start` (`flotilla cluster`): a local cluster of real node processes on 127.0.0.1, each
 * a `flotilla start` with its own data directory and log file, and a live view of all of
 * them read from their `/status` once a second (on a terminal, on the alternate screen; else
 * one line per second). It prints each node's status page URL. Unless `--keys 0`, a KV
 * workload (cluster_workload.ts) writes, reads back, half deletes and checks `--keys` keys
 * through every node with a progress bar. Ranges split under it (`--split-range-keys`);
 * ranges that went cold and small merge (`--merge-range-bytes`, each node's merge queue);
 * leaderships are balanced across the nodes, and with `--nodes` above `--replicas` (e.g.
 * `--nodes 4`) replicas move to the nodes holding fewer (`--rebalance` of every node). The
 * view lists splits, merges and rebalances as they happen.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops every child cleanly (each gets SIGTERM, finishes its
 * in-flight requests and exits 0), then removes the temporary data directory it created,
 * unless `--keep`. A child that exits on its own (a refused configuration) stops the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOrExit } from './cli_args.js';
import { LOG_LEVEL_FLAG, resolveLogLevel } from './log.js';
import type { NodeStatusJson } from './status.js';
import type { RangeCounters } from './metrics.js';
import { progressBar, startWorkload, type WorkloadProgress } from './cluster_workload.js';

/** The flags of the local cluster. */
export const CLUSTER_COMMAND = {
  name: 'npm start --',
  summary: 'Starts a local cluster of node processes on 127.0.0.1 with a live view; Ctrl-C ' +
    'stops them all. (`npm run demo` runs the in-process multiraft demo instead.)',
  flags: {
    nodes: { kind: 'integer', min: 1, max: 7, default: 3, description: 'node processes' },
    ranges: { kind: 'integer', min: 2, max: 1_000_000, default: 16,
      description: 'ranges created at bootstrap (the meta range and N-1 user ranges)' },
    keys: { kind: 'integer', min: 0, max: 10_000_000, default: 5000,
      description: 'keys the KV workload writes and reads back (0: no workload)' },
    concurrency: { kind: 'integer', min: 1, max: 1024, default: 16,
      description: 'requests the workload keeps in flight' },
    'split-range-keys': { kind: 'integer', min: 1, max: 1_000_000_000, default: 200,
      description: 'a range holding more than N keys splits' },
    replicas: { kind: 'integer', min: 1, max: 7, default: 3,
      description: 'replicas per range (at most --nodes; with fewer than --nodes, replicas ' +
        'move to balance the nodes)' },
    'merge-range-bytes': { kind: 'integer', min: 0, max: 2 ** 40, default: 2048,
      valueName: 'BYTES', description: 'adjacent cold ranges both under BYTES merge (0: no ' +
        'merges)' },
    'no-rebalance': { kind: 'boolean',
      description: 'no leadership transfers or replica moves' },
    data: { kind: 'string', valueName: 'DIR',
      description: 'data directory of the cluster (default: a new temporary one)' },
    keep: { kind: 'boolean', description: 'keep the temporary data directory at exit' },
    'duration-s': { kind: 'number', positive: true, valueName: 'S',
      description: 'stop after S seconds (default: run until Ctrl-C)' },
    'log-level': LOG_LEVEL_FLAG,
  },
} as const;

interface Child {
  nodeId: number;
  raftAddress: string;
  http: string;
  process: ChildProcess;
  exit: Promise<number | null>;
}

const REFRESH_MS = 1000;

/** Free TCP ports on 127.0.0.1, found by binding port 0 (the OS picks) and releasing it. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () =>
    new Promise<ReturnType<typeof createServer>>((done, fail) => {
      const s = createServer();
      s.once('error', fail);
      s.listen(0, '127.0.0.1', () => done(s));
    })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

/** The command that runs `flotilla` in this installation (tsx in a checkout, node in dist). */
function cliCommand(): { file: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const file = self.replace(/cluster_command\.(ts|js)$/, 'cli.$1');
  return { file, execArgv: process.execArgv };
}

/** What every node of the cluster is started with. */
interface NodeFlags {
  ranges: number;
  splitKeys: number;
  replicas: number;
  mergeBytes: number;
  rebalance: boolean;
  logLevel: string | undefined;
}

function spawnNode(nodeId: number, ports: number[], n: number, dir: string, f: NodeFlags):
  Child {
  const raft = (i: number): string => `127.0.0.1:${ports[i - 1]}`;
  const http = `127.0.0.1:${ports[n + nodeId - 1]}`;
  const others = Array.from({ length: n }, (_, i) => i + 1).filter((i) => i !== nodeId);
  const peers = others.map((i) => `${i}@${raft(i)}`).join(',');
  const peerHttp = others.map((i) => `${i}@127.0.0.1:${ports[n + i - 1]}`).join(',');
  const { file, execArgv } = cliCommand();
  const args = [...execArgv, file, 'start', '--node-id', String(nodeId), '--listen',
    raft(nodeId), '--http', http, '--data', join(dir, `n${nodeId}`), '--ranges',
    String(f.ranges), '--split-range-keys', String(f.splitKeys), '--replicas',
    String(Math.min(f.replicas, n))];
  if (f.mergeBytes > 0) args.push('--merge-range-bytes', String(f.mergeBytes));
  if (f.rebalance) args.push('--rebalance');
  if (peers !== '') args.push('--join', peers, '--peer-http', peerHttp);
  if (f.logLevel !== undefined) args.push('--log-level', f.logLevel);
  const log = createWriteStream(join(dir, `n${nodeId}.log`), { flags: 'a' });
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { nodeId, raftAddress: raft(nodeId), http, process: child, exit };
}

async function readStatus(child: Child): Promise<NodeStatusJson | null> {
  try {
    const res = await fetch(`http://${child.http}/status?ranges=1000`,
      { signal: AbortSignal.timeout(900) });
    return res.ok ? await res.json() as NodeStatusJson : null;
  } catch {
    return null;
  }
}

/** What the view shows besides the nodes: the workload and the range events seen so far. */
interface ViewExtras {
  workload: WorkloadProgress | null;
  /** Range events (splits, merges, rebalances), newest last, as lines. */
  events: string[];
}

/** The live view's lines, from the last answer of every node (null: not answering). */
export function renderCluster(children: readonly Child[], statuses: (NodeStatusJson | null)[],
  previous: (NodeStatusJson | null)[], seconds: number,
  extras: ViewExtras = { workload: null, events: [] }): string[] {
  const lines = [`Flotilla local cluster: ${children.length} node processes   (Ctrl-C stops ` +
    'them all)', '', 'node  pid     raft              status page               ranges  ' +
    'leaders  quiesced  leaderless  proposals/s  applied/s  peers live'];
  children.forEach((c, i) => {
    const s = statuses[i];
    const p = previous[i];
    const rate = (pick: (x: NodeStatusJson) => number): string =>
      s && p ? ((pick(s) - pick(p)) / seconds).toFixed(0) : '-';
    const live = s ? `${s.peers.filter((x) => x.live).length}/${s.peers.length}` : '-';
    lines.push(`n${c.nodeId}`.padEnd(6) + String(c.process.pid ?? '-').padEnd(8) +
      c.raftAddress.padEnd(18) + `http://${c.http}/`.padEnd(26) +
      (s ? [s.summary.replicas, s.summary.leaders, s.summary.quiesced, s.summary.leaderless]
        .map((v, k) => String(v).padStart([6, 9, 10, 12][k]!)).join('') : '  not answering') +
      (s ? rate((x) => x.counters.proposals).padStart(13) +
        rate((x) => x.counters.entriesApplied).padStart(11) + live.padStart(12) : ''));
  });
  const first = statuses.find((s) => s !== null) ?? null;
  if (extras.workload !== null) lines.push('', progressBar(extras.workload, Date.now()));
  if (first?.rangeCounters !== undefined) {
    const c = first.rangeCounters;
    const answered = statuses.filter((s): s is NodeStatusJson => s !== null);
    lines.push(`ranges ${first.summary.replicas}  splits ${c.splits}  merges ${c.merges}  ` +
      `(as n${first.node.nodeId} applied them)   rebalances: leadership transfers ` +
      `${sumOf(answered, (x) => x.leaseTransfers)}, replica moves ` +
      `${sumOf(answered, (x) => x.replicaMoves)}`);
  }
  if (extras.events.length > 0) lines.push(...extras.events.slice(-5).map((e) => `  ${e}`));
  if (first !== null) {
    const shown = first.ranges.slice(0, 12);
    lines.push('', `ranges as n${first.node.nodeId} sees them (first ${shown.length}):`,
      'range  leader  term  commit  followers (from the leader)');
    for (const r of shown) {
      const leader = statuses.find((s) => s?.node.nodeId === r.lead) ?? null;
      const followers = leader?.ranges.find((x) => x.rangeId === r.rangeId)?.progress
        .filter((p) => p.nodeId !== r.lead)
        .map((p) => `n${p.nodeId} ${p.state.replace(/^State/, '').toLowerCase()}`).join(', ');
      lines.push(`${String(r.rangeId).padStart(5)}  ${(r.lead ? `n${r.lead}` : '-').padStart(6)}` +
        `  ${String(r.term).padStart(4)}  ${String(r.commit).padStart(6)}  ${followers ?? ''}`);
    }
  }
  return lines;
}

/** Runs the local cluster until Ctrl-C, SIGTERM, `--duration-s` or a child's exit. */
export async function clusterCommand(argv: readonly string[]): Promise<void> {
  const { values: v } = parseOrExit(CLUSTER_COMMAND, argv);
  resolveLogLevel(v['log-level']); // refuse a bad LOG_LEVEL here, not in every child
  const created = v.data === undefined;
  const dir = created ? mkdtempSync(join(tmpdir(), 'flotilla-')) : resolve(v.data!);
  mkdirSync(dir, { recursive: true });
  const ports = await freePorts(2 * v.nodes);
  const flags: NodeFlags = { ranges: v.ranges, splitKeys: v['split-range-keys'],
    replicas: v.replicas, mergeBytes: v['merge-range-bytes'],
    rebalance: v['no-rebalance'] !== true, logLevel: v['log-level'] };
  const children = Array.from({ length: v.nodes }, (_, i) =>
    spawnNode(i + 1, ports, v.nodes, dir, flags));
  const out = process.stdout;
  const tty = out.isTTY === true;
  out.write(`data directory ${dir}\n` + children.map((c) =>
    `n${c.nodeId}: status page http://${c.http}/   log ${join(dir, `n${c.nodeId}.log`)}\n`)
    .join(''));
  if (tty) out.write('\x1b[?1049h');
  const extras: ViewExtras = { workload: null, events: [] };
  let stopWorkload = (): void => undefined;
  let stopping = false;
  if (v.keys > 0) {
    void waitServing(children).then(() => {
      if (stopping) return;
      const w = startWorkload({ nodes: children.map((c) => c.http), keys: v.keys,
        concurrency: v.concurrency });
      extras.workload = w.progress;
      stopWorkload = w.stop;
    });
  }
  const why = await watch(children, v['duration-s'], tty, extras);
  stopping = true;
  stopWorkload();
  if (tty) out.write('\x1b[?1049l');
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGTERM');
  const codes = await Promise.all(children.map((c) => c.exit));
  out.write(`stopped (${why}): ` + children.map((c, i) => `n${c.nodeId} exit ${codes[i]}`)
    .join(', ') + '\n');
  if (created && !v.keep) rmSync(dir, { recursive: true, force: true });
  else out.write(`kept ${dir}\n`);
  if (codes.some((c) => c !== 0)) process.exitCode = 1;
}

/** The one-line form of the view, for output that is not a terminal. */
function statusLine(children: readonly Child[], statuses: (NodeStatusJson | null)[]): string {
  return children.map((c, i) => {
    const s = statuses[i];
    if (!s) return `n${c.nodeId}: not answering`;
    const live = s.peers.filter((p) => p.live).length;
    return `n${c.nodeId}: replicas=${s.summary.replicas} leaders=${s.summary.leaders} ` +
      `quiesced=${s.summary.quiesced} leaderless=${s.summary.leaderless} ` +
      `peers_live=${live}/${s.peers.length}`;
  }).join(' | ');
}

/** The one-line view's counters: splits and merges as one node applied them, rebalances summed. */
function rangeLine(statuses: readonly (NodeStatusJson | null)[]): string {
  const answered = statuses.filter((s): s is NodeStatusJson => s !== null);
  const c = answered[0]?.rangeCounters;
  if (c === undefined) return '';
  return `  splits=${c.splits} merges=${c.merges} ` +
    `transfers=${sumOf(answered, (x) => x.leaseTransfers)} ` +
    `moves=${sumOf(answered, (x) => x.replicaMoves)}`;
}

/** Resolves once every node answers `/status` (bounded: 60 s, then the workload starts). */
async function waitServing(children: readonly Child[]): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const all = await Promise.all(children.map(readStatus));
    if (all.every((s) => s !== null && s.summary.leaderless === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What the event lines are computed against: the last view every node answered. */
interface EventState {
  primed: boolean;
  ranges: Set<number>;
  transfers: number;
  moves: number;
}

function sumOf(all: readonly NodeStatusJson[], pick: (c: RangeCounters) => number): number {
  return all.reduce((n, s) => n + (s.rangeCounters === undefined ? 0 : pick(s.rangeCounters)),
    0);
}

/**
 * Appends to `events` what changed since `state`, once every node answered: ranges that
 * appeared (a split's right side) or went (merged into their left neighbour), leadership
 * transfers and replica moves (the nodes' counters summed). Keeps the last 100 lines.
 */
export function noteEvents(state: EventState, statuses: readonly (NodeStatusJson | null)[],
  events: string[], time = new Date().toISOString().slice(11, 19)): void {
  if (statuses.some((s) => s === null)) return;
  const all = statuses as NodeStatusJson[];
  const ids = new Set<number>();
  for (const s of all) for (const r of s.ranges) ids.add(r.rangeId);
  const transfers = sumOf(all, (c) => c.leaseTransfers);
  const moves = sumOf(all, (c) => c.replicaMoves);
  if (state.primed) {
    const lead = (id: number): string => {
      const r = all.find((s) => s.ranges.some((x) => x.rangeId === id && x.lead !== 0));
      const l = r?.ranges.find((x) => x.rangeId === id)?.lead ?? 0;
      return l === 0 ? '' : ` (leader n${l})`;
    };
    for (const id of ids) {
      if (!state.ranges.has(id)) events.push(`${time}  split: new range r${id}${lead(id)}`);
    }
    for (const id of state.ranges) {
      if (!ids.has(id)) events.push(`${time}  merge: r${id} merged into its left neighbour`);
    }
    const per = (pick: (s: NodeStatusJson) => number): string =>
      all.map((s) => `n${s.node.nodeId} ${pick(s)}`).join(', ');
    if (transfers > state.transfers) {
      events.push(`${time}  rebalance: ${transfers - state.transfers} leadership transfer(s); ` +
        `leaders now ${per((s) => s.summary.leaders)}`);
    }
    if (moves > state.moves) {
      events.push(`${time}  rebalance: ${moves - state.moves} replica move(s); replicas now ` +
        per((s) => s.summary.replicas));
    }
  }
  Object.assign(state, { primed: true, ranges: ids, transfers, moves });
  if (events.length > 100) events.splice(0, events.length - 100);
}

function watch(children: Child[], durationS: number | undefined, tty: boolean,
  extras: ViewExtras): Promise<string> {
  const state: EventState = { primed: false, ranges: new Set(), transfers: 0, moves: 0 };
  return new Promise((done) => {
    let previous: (NodeStatusJson | null)[] = children.map(() => null);
    let last = performance.now();
    let finished = false;
    const finish = (why: string): void => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      if (deadline !== null) clearTimeout(deadline);
      done(why);
    };
    const timer = setInterval(() => {
      void Promise.all(children.map(readStatus)).then((statuses) => {
        if (finished) return;
        const now = performance.now();
        noteEvents(state, statuses, extras.events);
        const lines = renderCluster(children, statuses, previous, (now - last) / 1000, extras);
        previous = statuses;
        last = now;
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
        else {
          const w = extras.workload === null ? ''
            : ` | ${progressBar(extras.workload, Date.now(), 10)}`;
          const e = extras.events.length === 0 ? '' : `  last event: ${extras.events.at(-1)}`;
          process.stdout.write(`${statusLine(children, statuses)}${rangeLine(statuses)}${w}` +
            `${e}\n`);
        }
      });
    }, REFRESH_MS);
    const deadline = durationS === undefined ? null
      : setTimeout(() => finish(`--duration-s ${durationS}`), durationS * 1000);
    process.once('SIGINT', () => finish('SIGINT'));
    process.once('SIGTERM', () => finish('SIGTERM'));
    for (const c of children) {
      void c.exit.then((code) => finish(`n${c.nodeId} exited with code ${code}`));
    }
  });
}
