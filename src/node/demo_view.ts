/**
 * The demo's terminal view: a full screen redrawn every second on a terminal, one line per
 * second otherwise (a pipe, a log file, a test), so that the output stays readable anywhere.
 */
import type { DemoSample } from './demo.js';

const MIB = 1024 * 1024;

function pct(part: number, whole: number): string {
  return whole === 0 ? '0.0%' : `${((100 * part) / whole).toFixed(1)}%`;
}

function rate(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(0);
}

function row(cells: readonly (string | number)[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) :
    String(c).padStart(widths[i]!))).join('  ');
}

/** The full-screen view, as lines. */
export function renderScreen(s: DemoSample): string[] {
  const t = s.total;
  const initialized = t.replicas - t.uninitialized;
  const widths = [6, 9, 7, 9, 8, 8, 10, 6, 10, 9, 8];
  const lines = [
    `Flotilla multiraft demo: 3 stores, ${s.ranges} ranges, ${t.replicas} replicas` +
      `   up ${s.uptimeS.toFixed(0)}s   (Ctrl-C to stop)`,
    '',
    `groups   awake ${t.awake} (${pct(t.awake, t.replicas)})   quiesced ${t.quiesced} ` +
      `(${pct(t.quiesced, t.replicas)})   released ${t.dormant}   uninitialized ` +
      `${t.uninitialized}   leaderless ${t.leaderless}`,
    `terms    max ${t.termMax}   mean ${(t.termSum / Math.max(1, initialized)).toFixed(2)}`,
    `load     proposals/s ${rate(s.proposalsPerS)}   commits/s ${rate(s.commitsPerS)}   ` +
      `raft ticks/s ${rate(s.ticksPerS)}   messages/s ${rate(s.messagesPerS)}   ` +
      `refused ${s.proposalsRefused}`,
    `memory   heap ${(s.heapBytes / MIB).toFixed(1)} MiB   ` +
      `${(s.heapBytesPerReplica / 1024).toFixed(2)} KiB per replica (runtime included)`,
    '',
    row(['store', 'replicas', 'awake', 'quiesced', 'leaders', 'term max', 'followers:',
      'probe', 'replicate', 'snapshot', 'lagging'], widths),
  ];
  for (const { nodeId, summary: x } of s.stores) {
    lines.push(row([`n${nodeId}`, x.replicas, x.awake, x.quiesced, x.leaders, x.termMax, '',
      x.followersProbe, x.followersReplicate, x.followersSnapshot, x.followersLagging], widths));
  }
  return lines;
}

/** The one-line form, for output that is not a terminal. */
export function renderLine(s: DemoSample): string {
  const t = s.total;
  return `t=${s.uptimeS.toFixed(0)}s replicas=${t.replicas} awake=${t.awake} ` +
    `quiesced=${t.quiesced} released=${t.dormant} leaders=${t.leaders} ` +
    `leaderless=${t.leaderless} term_max=${t.termMax} proposals/s=${s.proposalsPerS.toFixed(0)} ` +
    `commits/s=${s.commitsPerS.toFixed(0)} ticks/s=${s.ticksPerS.toFixed(0)} ` +
    `messages/s=${s.messagesPerS.toFixed(0)} followers(probe/replicate/snapshot/lagging)=` +
    `${t.followersProbe}/${t.followersReplicate}/${t.followersSnapshot}/${t.followersLagging} ` +
    `heap_bytes_per_replica=${s.heapBytesPerReplica.toFixed(0)}`;
}

/** Writes one sample to `out`: redraws the screen on a terminal, appends a line elsewhere. */
export function drawSample(out: NodeJS.WritableStream & { isTTY?: boolean }, s: DemoSample): void {
  if (out.isTTY === true) {
    out.write(`\x1b[H\x1b[2J${renderScreen(s).join('\n')}\n`);
  } else {
    out.write(`${renderLine(s)}\n`);
  }
}
