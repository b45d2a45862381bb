/**
 * `flotilla status --node HOST:PORT`: a terminal summary of a running node's `/status`: the
 * node, its peers (address, liveness), its replicas by state, and its ranges (leader, term,
 * commit, this replica's state, followers' progress on the ranges it leads).
 */
import { parseOrExit } from './cli_args.js';
import type { NodeStatusJson } from './status.js';

/** The flags of `flotilla status`. */
export const STATUS_COMMAND = {
  name: 'flotilla status',
  summary: 'Prints a summary of a running node, read from its /status.',
  flags: {
    node: { kind: 'address', default: '127.0.0.1:8001', description: 'the node\'s --http address' },
    ranges: { kind: 'integer', min: 0, max: 100_000, default: 20,
      description: 'ranges to list' },
    json: { kind: 'boolean', description: 'print the /status document as is' },
  },
} as const;

/** The summary as lines. */
export function renderStatus(s: NodeStatusJson, rangesShown: number): string[] {
  const n = s.node;
  const m = s.summary;
  const lines = [
    `node n${n.nodeId}  cluster ${n.clusterId}  version ${n.version}  up ${n.uptimeS.toFixed(0)}s`,
    `  raft ${n.listen}   http ${n.http}`,
    `peers  ${s.peers.map((p) => `n${p.nodeId} ${p.address} ${p.live ? 'live' : 'DOWN'}`)
      .join('   ') || '(none)'}`,
    `  peers' versions and HTTP  ${s.peers.map((p) => `n${p.nodeId} ${p.version ?? '?'}` +
      `${p.protocolVersion == null ? '' : `/p${p.protocolVersion}`} ${p.http ?? '-'}`)
      .join('   ') || '(none)'}`,
    `replicas ${m.replicas}: ${m.leaders} leading, ${m.followers} following, ` +
      `${m.candidates} campaigning, ${m.leaderless} without a leader; ${m.awake} awake, ` +
      `${m.quiesced} quiesced (${m.dormant} dormant)`,
    `counters proposals ${s.counters.proposals}  applied ${s.counters.entriesApplied}  ` +
      `ticks ${s.counters.ticks}  messages sent ${s.counters.messagesSent} received ` +
      `${s.counters.messagesReceived} dropped ${s.counters.messagesDropped}`,
    ...(s.rangeCounters === undefined ? [] : [`ranges   splits ${s.rangeCounters.splits}  ` +
      `merges ${s.rangeCounters.merges}  leadership transfers ` +
      `${s.rangeCounters.leaseTransfers}  replica moves ${s.rangeCounters.replicaMoves}`]),
    '',
    'range  leader  term  commit  this replica          followers',
  ];
  for (const r of s.ranges.slice(0, rangesShown)) {
    const state = r.state.replace(/^State/, '').toLowerCase() +
      (r.dormant ? ' (dormant)' : r.quiesced ? ' (quiesced)' : '');
    const followers = r.progress.filter((p) => p.nodeId !== r.lead)
      .map((p) => `n${p.nodeId} ${p.state.replace(/^State/, '').toLowerCase()}`).join(', ');
    lines.push(`${String(r.rangeId).padStart(5)}  ${(r.lead === 0 ? '-' : `n${r.lead}`)
      .padStart(6)}  ${String(r.term).padStart(4)}  ${String(r.commit).padStart(6)}  ` +
      `${state.padEnd(20)}  ${followers}`);
  }
  if (s.ranges.length > rangesShown || s.rangesTruncated) {
    lines.push(`... ${m.replicas - Math.min(rangesShown, s.ranges.length)} more`);
  }
  return lines;
}

/** Runs `flotilla status`; exits 1 when the node cannot be read. */
export async function statusCommand(argv: readonly string[]): Promise<void> {
  const { values: v } = parseOrExit(STATUS_COMMAND, argv);
  const url = `http://${v.node.host.includes(':') ? `[${v.node.host}]` : v.node.host}:` +
    `${v.node.port}/status?ranges=${v.ranges}`;
  let status: NodeStatusJson;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    status = await res.json() as NodeStatusJson;
  } catch (error) {
    process.stderr.write(`flotilla status: cannot read ${url}: ` +
      `${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message
        : (error as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(v.json ? `${JSON.stringify(status, null, 2)}\n`
    : `${renderStatus(status, v.ranges).join('\n')}\n`);
}
