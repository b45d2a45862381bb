/**
 * Heartbeat traffic and codec throughput of the transport.
 *
 *   npm run bench:transport            (node --expose-gc --import tsx bench/transport.bench.ts)
 *   npm run bench:transport -- --groups 1000,10000      (FLOTILLA_BENCH_GROUPS also works)
 *
 * Part 1, per heartbeat interval between two nodes sharing N awake groups (node 1 leads all N:
 * N heartbeats one way, N responses back), through two loopback transports on virtual time
 * with real frames (encoded, checksummed, decoded, fanned out):
 *   - uncoalesced: one frame per message, heartbeats as full messages (the naive design);
 *   - batched:     one frame per flush, heartbeats as full messages (protocol version 1);
 *   - coalesced:   one frame per flush, heartbeats as columns (protocol version 2);
 *   - coalesced_sparse: the same with a worst case for the columns: group ids spread over
 *                  2^32 in random order, random terms (1..1000) and commits (< 2^30).
 * Quiesced groups are out of the tick set and send nothing, so they add 0 bytes; only awake
 * groups are measured.
 *
 * Part 2: encode + decode throughput of the codec on one core (this process's main thread).
 *
 * Output: one JSON object per result line, then a readable table.
 */
import { SeededRandom, floatsOf } from '../src/util/index.js';
import { commitId } from './_report.js';
import { parseOrExit } from '../src/node/cli_args.js';
import { MessageType, newMessage, EntryType } from '../src/raft/index.js';
import {
  FrameCodec,
  FrameKind,
  LoopbackNetwork,
  type Envelope,
  type TransportClock,
  type TransportHandler,
} from '../src/transport/index.js';

const COMMAND = {
  name: 'npm run bench:transport --',
  summary: 'Heartbeat traffic between two nodes, coalesced or not, and codec throughput.',
  flags: {
    groups: { kind: 'integers', min: 1, max: 10_000_000,
      description: 'awake groups of each traffic run (default $FLOTILLA_BENCH_GROUPS, else ' +
        '1000,10000,100000)' },
  },
} as const;
const GROUPS = parseOrExit(COMMAND, process.argv.slice(2)).values.groups ??
  parseOrExit(COMMAND, ['--groups', process.env.FLOTILLA_BENCH_GROUPS ?? '1000,10000,100000'])
    .values.groups!;
const commit = commitId();
const common = { commit, node: process.version };
const rows: Record<string, unknown>[] = [];

function emit(row: Record<string, unknown>): void {
  const line = { ...row, ...common };
  rows.push(line);
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Timers that run only when told: deliveries happen inside the measured loop. */
class ManualClock implements TransportClock {
  private queue: (() => void)[] = [];
  nowMs(): number {
    return 0;
  }
  setTimer(_delayMs: number, callback: () => void): unknown {
    const entry = { callback, cancelled: false };
    this.queue.push(() => {
      if (!entry.cancelled) callback();
    });
    return entry;
  }
  clearTimer(handle: unknown): void {
    (handle as { cancelled: boolean }).cancelled = true;
  }
  run(): void {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const fn of batch) fn();
    }
  }
}

type Mode = 'uncoalesced' | 'batched' | 'coalesced' | 'coalesced_sparse';

/**
 * The heartbeats (or responses) of `groups` groups. Dense: group ids 0..N-1, one term, commits
 * near 100k. Sparse (a worst case for the columns): ids spread over the whole 2^32 range in
 * random order, terms 1..1000 and commits up to 2^30 drawn at random for every group.
 */
function heartbeats(groups: number, from: number, to: number, type: MessageType,
  sparse = false): Envelope[] {
  const random = floatsOf(new SeededRandom(groups));
  const out: Envelope[] = new Array(groups);
  const stride = Math.floor(2 ** 32 / groups);
  for (let g = 0; g < groups; g++) {
    const rangeId = sparse ? g * stride + Math.floor(random() * stride) : g;
    const term = sparse ? 1 + Math.floor(random() * 1000) : 7;
    const commit = type !== MessageType.MsgHeartbeat ? 0
      : sparse ? Math.floor(random() * 2 ** 30) : 100_000 + (g % 1000);
    out[g] = { rangeId, quiesce: false, message: newMessage(type, { from, to, term, commit }) };
  }
  if (sparse) out.reverse(); // unsorted: the encoder sorts
  return out;
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** One heartbeat interval: heartbeats 1 -> 2, responses 2 -> 1. */
function trafficRun(mode: Mode, groups: number): void {
  const clock = new ManualClock();
  const network = new LoopbackNetwork({ clock,
    protocolVersion: mode.startsWith('coalesced') ? 2 : 1,
    inFlightBatchesMax: 2 ** 22 });
  const t1 = network.createTransport({ nodeId: 1, autoFlush: false,
    outboxMessagesMax: 2 ** 20 });
  const t2 = network.createTransport({ nodeId: 2, autoFlush: false,
    outboxMessagesMax: 2 ** 20 });
  const sparse = mode === 'coalesced_sparse';
  const beats = heartbeats(groups, 1, 2, MessageType.MsgHeartbeat, sparse);
  const responses = heartbeats(groups, 2, 1, MessageType.MsgHeartbeatResp, sparse);
  let received = 0;
  const perMessage = mode === 'uncoalesced';
  const sendAll = (t: typeof t1, envelopes: Envelope[]): void => {
    if (!perMessage) {
      t.send(envelopes);
      t.flush();
      return;
    }
    for (let i = 0; i < envelopes.length; i++) {
      t.send(envelopes.slice(i, i + 1));
      t.flush();
    }
  };
  const handler = (respond: boolean): TransportHandler => ({
    handleBatch: (_from, envelopes) => {
      received += envelopes.length;
      if (respond && received >= groups) sendAll(t2, responses);
    },
    reportUnreachable: () => {},
    reportSnapshot: () => {},
  });
  t1.setHandler(handler(false));
  t2.setHandler(handler(true));
  const interval = (): void => {
    received = 0;
    sendAll(t1, beats);
    clock.run();
    if (received !== 2 * groups) throw new Error(`lost messages: ${received}`);
  };
  interval(); // warm-up
  global.gc?.();
  const before1 = t1.stats();
  const before2 = t2.stats();
  const cpuStart = cpuMs();
  const wallStart = performance.now();
  let intervals = 0;
  while (intervals < 3 || (performance.now() - wallStart < 1000 && intervals < 200)) {
    interval();
    intervals++;
  }
  const cpu = (cpuMs() - cpuStart) / intervals;
  const after1 = t1.stats();
  const after2 = t2.stats();
  const frames = (after1.framesSent - before1.framesSent + after2.framesSent - before2.framesSent)
    / intervals;
  const bytes = (after1.bytesSent - before1.bytesSent + after2.bytesSent - before2.bytesSent)
    / intervals;
  emit({ name: 'transport.heartbeat_interval', mode, groups, intervals,
    frames_per_interval: frames, bytes_per_interval: Math.round(bytes),
    bytes_per_heartbeat: round(bytes / (2 * groups)),
    cpu_ms_per_interval: round(cpu), cpu_us_per_group: round((cpu * 1000) / groups) });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Encode + decode of heartbeat frames of `perFrame` heartbeats, for about `ms`. */
function throughputHeartbeats(perFrame: number, ms: number): void {
  const codec = new FrameCodec(64 * 2 ** 20);
  const beats = heartbeats(perFrame, 1, 2, MessageType.MsgHeartbeat);
  let encodeMs = 0;
  let decodeMs = 0;
  let count = 0;
  global.gc?.();
  const cpuStart = cpuMs();
  while (encodeMs + decodeMs < ms) {
    const t0 = performance.now();
    const frame = codec.encodeBatch(1, 2, beats, true)!.frame;
    const t1 = performance.now();
    // Decode and fan out as the transport does: in slices, each dropped after use as the
    // store drops the messages once stepped.
    const decoded = codec.decode(frame);
    let fannedOut = 0;
    if (decoded.kind === FrameKind.Batch && decoded.heartbeats !== null) {
      const slice: Envelope[] = [];
      while (!decoded.heartbeats.done) {
        slice.length = 0;
        fannedOut += decoded.heartbeats.read(slice, 8192);
      }
    }
    const t2 = performance.now();
    if (fannedOut !== perFrame) throw new Error('decode mismatch');
    encodeMs += t1 - t0;
    decodeMs += t2 - t1;
    count += perFrame;
  }
  const cpu = cpuMs() - cpuStart;
  emit({ name: 'transport.codec_throughput', kind: 'heartbeat', messages_per_frame: perFrame,
    messages: count, encode_msgs_per_s: Math.round(count / (encodeMs / 1000)),
    decode_msgs_per_s: Math.round(count / (decodeMs / 1000)),
    encode_decode_msgs_per_s: Math.round(count / ((encodeMs + decodeMs) / 1000)),
    cpu_ms: Math.round(cpu) });
}

/** Encode + decode of MsgApp batches with `entries` entries of `entryBytes` each. */
function throughputAppends(perFrame: number, entries: number, entryBytes: number,
  ms: number): void {
  const codec = new FrameCodec(64 * 2 ** 20);
  const batch: Envelope[] = [];
  for (let g = 0; g < perFrame; g++) {
    batch.push({ rangeId: g, quiesce: false, message: newMessage(MessageType.MsgApp, {
      from: 1, to: 2, term: 7, logTerm: 7, index: 1000, commit: 999,
      entries: Array.from({ length: entries }, (_, i) => ({ term: 7, index: 1001 + i,
        type: EntryType.EntryNormal, data: new Uint8Array(entryBytes).fill(i) })) }) });
  }
  let elapsed = 0;
  let count = 0;
  let bytes = 0;
  while (elapsed < ms) {
    const t0 = performance.now();
    const frame = codec.encodeBatch(1, 2, batch, true)!.frame;
    codec.decode(frame);
    elapsed += performance.now() - t0;
    count += perFrame;
    bytes += frame.length;
  }
  emit({ name: 'transport.codec_throughput', kind: 'append', messages_per_frame: perFrame,
    entries_per_message: entries, entry_bytes: entryBytes, messages: count,
    encode_decode_msgs_per_s: Math.round(count / (elapsed / 1000)),
    encode_decode_mb_per_s: round(bytes / 2 ** 20 / (elapsed / 1000)) });
}

function table(): void {
  const traffic = rows.filter((r) => r.name === 'transport.heartbeat_interval');
  const lines = ['', 'Heartbeat traffic per interval (N heartbeats 1->2 + N responses 2->1)',
    pad(['groups', 'mode', 'frames', 'bytes', 'B/heartbeat', 'cpu ms', 'cpu us/group'])];
  for (const r of traffic) {
    lines.push(pad([r.groups, r.mode, r.frames_per_interval, r.bytes_per_interval,
      r.bytes_per_heartbeat, r.cpu_ms_per_interval, r.cpu_us_per_group]));
  }
  lines.push('', 'Codec throughput (one core)',
    pad(['kind', 'msgs/frame', 'encode msg/s', 'decode msg/s', 'enc+dec msg/s']));
  for (const r of rows.filter((x) => x.name === 'transport.codec_throughput')) {
    lines.push(pad([r.kind, r.messages_per_frame, r.encode_msgs_per_s ?? '-',
      r.decode_msgs_per_s ?? '-', r.encode_decode_msgs_per_s]));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function pad(cells: unknown[]): string {
  return cells.map((c) => String(c).padStart(17)).join('');
}

for (const groups of GROUPS) {
  for (const mode of ['uncoalesced', 'batched', 'coalesced', 'coalesced_sparse'] as const) {
    trafficRun(mode, groups);
  }
}
throughputHeartbeats(10_000, 2000);
throughputHeartbeats(100_000, 2000);
throughputAppends(100, 4, 128, 1000);
table();
