/**
 * `npm start` (`flotilla cluster`): a local cluster of real node processes on 127.0.0.1, each
 * a `flotilla start` with its own data directory and log file, and a live view of all of
 * them read from their `/status` once a second (on a terminal, on the alternate screen; else
 * one line per second). It prints each node's status page URL. Unless `--keys 0`, a KV
 * workload (cluster_workload.ts) writes and reads back `--keys` keys through every node with
 * a progress bar, and ranges split under it (`--split-range-keys`); the view lists the
 * splits as they happen.
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

function spawnNode(nodeId: number, ports: number[], n: number, dir: string, ranges: number,
  splitKeys: number, logLevel: string | undefined): Child {
  const raft = (i: number): string => `127.0.0.1:${ports[i - 1]}`;
  const http = `127.0.0.1:${ports[n + nodeId - 1]}`;
  const others = Array.from({ length: n }, (_, i) => i + 1).filter((i) => i !== nodeId);
  const peers = others.map((i) => `${i}@${raft(i)}`).join(',');
  const peerHttp = others.map((i) => `${i}@127.0.0.1:${ports[n + i - 1]}`).join(',');
  const { file, execArgv } = cliCommand();
  const args = [...execArgv, file, 'start', '--node-id', String(nodeId), '--listen',
    raft(nodeId), '--http', http, '--data', join(dir, `n${nodeId}`), '--ranges', String(ranges),
    '--split-range-keys', String(splitKeys)];
  if (peers !== '') args.push('--join', peers, '--peer-http', peerHttp);
  if (logLevel !== undefined) args.push('--log-level', logLevel);
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
  /** Range events (splits), newest last, as lines. */
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
    lines.push(`ranges ${first.summary.replicas}  splits ${c.splits}  merges ${c.merges}  ` +
      `(as n${first.node.nodeId} applied them)`);
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
  const children = Array.from({ length: v.nodes }, (_, i) =>
    spawnNode(i + 1, ports, v.nodes, dir, v.ranges, v['split-range-keys'], v['log-level']));
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

/** Resolves once every node answers `/status` (bounded: 60 s, then the workload starts). */
async function waitServing(children: readonly Child[]): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const all = await Promise.all(children.map(readStatus));
    if (all.every((s) => s !== null && s.summary.leaderless === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Appends to `events` a line per range that appeared since `before` (a split's right side). */
function noteSplits(before: Set<number>, now: NodeStatusJson | null, events: string[]): void {
  if (now === null) return;
  const time = new Date().toISOString().slice(11, 19);
  for (const r of now.ranges) {
    if (before.size > 0 && !before.has(r.rangeId)) {
      events.push(`${time}  split: new range r${r.rangeId} (leader n${r.lead})`);
    }
    before.add(r.rangeId);
  }
  if (events.length > 100) events.splice(0, events.length - 100);
}

function watch(children: Child[], durationS: number | undefined, tty: boolean,
  extras: ViewExtras): Promise<string> {
  const seen = new Set<number>();
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
        noteSplits(seen, statuses.find((x) => x !== null) ?? null, extras.events);
        const lines = renderCluster(children, statuses, previous, (now - last) / 1000, extras);
        previous = statuses;
        last = now;
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
        else {
          const w = extras.workload === null ? '' : ` | ${progressBar(extras.workload, Date.now(), 10)}`;
          process.stdout.write(`${statusLine(children, statuses)}${w}\n`);
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
