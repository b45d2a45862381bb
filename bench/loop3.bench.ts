/**
 * The three-node loop: three RawNodes with MemoryStorage in one process, driven by one
 * synchronous loop, measured in committed proposals per second.
 *
 * Setup, as in the issue: each node boots from a snapshot at index 1, term 1 with voters
 * 1, 2, 3; ElectionTick 15, HeartbeatTick 5, PreVote and CheckQuorum on, MaxSizePerMsg 1 MiB,
 * MaxInflightMsgs 256; a tick every 10 ms of wall time. Each pass handles every node's Ready
 * (persist, queue its messages, count the leader's committed entries, advance), then delivers
 * all queued messages. 2,000 warm-up proposals, then 3,000 proposals one at a time and 20,000
 * with up to 64 uncommitted. Payloads look like `{"k":"p123","v":123}`.
 *
 * The warm-up is split between the two measured modes (1,000 with up to 64 uncommitted, then
 * 1,000 one at a time): a window of 64 commits in few passes, so warming up with it alone left
 * the one-at-a-time path to V8's interpreter for most of the measured 3,000. Beyond the two
 * headline lines, extra lines report a longer one-at-a-time run (`loop3.sequential_long`, with
 * the median and 99th percentile latency of a proposal, propose to commit) and a second
 * pipelined run, both after the headline phases, on the same loop.
 *
 * Reference on this kind of machine: etcd raft v3.6 (Go 1.19) 122k/s one at a time and
 * 184k/s with 64 in flight.
 *
 * Run: npm run bench:loop3
 */
import { MemoryStorage } from '../src/raft/storage.js';
import { RawNode } from '../src/raft/rawnode.js';
import { SeededRandom } from '../src/raft/rand.js';
import { isEmptyHardState, isEmptySnapshot, type Message } from '../src/raft/raftpb.js';
import { emit, printTable, type BenchResult } from './_report.js';

const TICK_INTERVAL_MS = 10;
const STATE_LEADER = 2;
const ETCD_PROPOSALS_PER_S = { sequential: 122_000, pipelined: 184_000 } as const;
/** Proposals of the extra one-at-a-time run that follows the headline phases. */
const SEQUENTIAL_LONG_PROPOSALS = 30_000;

class Loop3 {
  readonly nodes: RawNode[] = [];
  readonly storages: MemoryStorage[] = [];
  private queue: Message[] = [];
  /** Wall time of the last tick. performance.now(): a double, no BigInt per pass. */
  private lastTickMs = performance.now();
  /** Entries the current leader has seen committed (its own count, as the issue asks). */
  committed = 0;

  constructor() {
    const random = new SeededRandom(42);
    const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    for (let id = 1; id <= 3; id++) {
      const storage = new MemoryStorage();
      storage.applySnapshot({ data: new Uint8Array(0), metadata: { confState, index: 1, term: 1 } });
      this.storages.push(storage);
      this.nodes.push(
        new RawNode({
          id, storage, random, electionTick: 15, heartbeatTick: 5, preVote: true, checkQuorum: true,
          maxSizePerMsg: 1 << 20, maxInflightMsgs: 256,
        }),
      );
    }
  }

  leader(): RawNode | undefined {
    for (let i = 0; i < this.nodes.length; i++) {
      if (this.nodes[i]!.raftState === STATE_LEADER) return this.nodes[i];
    }
    return undefined;
  }

  /** One pass: tick when 10 ms passed, handle every Ready, deliver every queued message. */
  pass(): void {
    const now = performance.now();
    if (now - this.lastTickMs >= TICK_INTERVAL_MS) {
      this.lastTickMs = now;
      for (const n of this.nodes) n.tick();
    }
    for (let i = 0; i < 3; i++) this.handleReady(i);
    const msgs = this.queue;
    this.queue = [];
    for (const m of msgs) this.nodes[m.to - 1]!.step(m);
  }

  private handleReady(i: number): void {
    const node = this.nodes[i]!;
    if (!node.hasReady()) return;
    const storage = this.storages[i]!;
    const rd = node.ready();
    if (!isEmptySnapshot(rd.snapshot)) storage.applySnapshot(rd.snapshot!);
    if (rd.entries.length > 0) storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.queue.push(m);
    if (node.raftState === STATE_LEADER) this.committed += rd.committedEntries.length;
    node.advance();
  }
}

function payload(i: number): Uint8Array {
  return new TextEncoder().encode(`{"k":"p${i}","v":${i}}`);
}

/**
 * A full GC before a timed phase (when run with --expose-gc, as npm run bench:loop3 does): it
 * promotes the phase's freshly made payloads and clears the previous phase's garbage, which
 * the young-generation collections of the timed phase would otherwise copy and sweep.
 */
function collectSetupGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Proposes `count` entries keeping at most `window` uncommitted; returns proposals/s. */
function run(loop: Loop3, count: number, window: number): number {
  const payloads = Array.from({ length: count }, (_, i) => payload(i));
  collectSetupGarbage();
  const target = loop.committed + count;
  const base = loop.committed;
  let proposed = 0;
  const t0 = process.hrtime.bigint();
  while (loop.committed < target) {
    const leader = loop.leader();
    while (leader !== undefined && proposed < count && proposed - (loop.committed - base) < window) {
      leader.propose(payloads[proposed++]!);
    }
    loop.pass();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return count / seconds;
}

/** The one-at-a-time run of `run(loop, count, 1)`, timing each proposal (propose to commit). */
function runTimed(loop: Loop3, count: number): { perS: number; p50Us: number; p99Us: number } {
  const payloads = Array.from({ length: count }, (_, i) => payload(i));
  const latenciesUs = new Float64Array(count);
  collectSetupGarbage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const target = loop.committed + 1;
    const start = performance.now();
    loop.leader()?.propose(payloads[i]!);
    while (loop.committed < target) loop.pass();
    latenciesUs[i] = (performance.now() - start) * 1000;
  }
  const seconds = (performance.now() - t0) / 1000;
  latenciesUs.sort();
  return {
    perS: count / seconds,
    p50Us: latenciesUs[count >> 1]!,
    p99Us: latenciesUs[Math.floor(count * 0.99)]!,
  };
}

function electLeader(loop: Loop3): void {
  loop.nodes[0]!.campaign();
  for (let i = 0; i < 1_000_000 && loop.leader() === undefined; i++) loop.pass();
  if (loop.leader() === undefined) throw new Error('no leader was elected');
  // Let the leader's empty entry of its term commit before measuring.
  for (let i = 0; i < 10; i++) loop.pass();
}

function main(): void {
  const loop = new Loop3();
  electLeader(loop);
  run(loop, 1_000, 64);
  run(loop, 1_000, 1);
  const sequential = run(loop, 3_000, 1);
  const pipelined = run(loop, 20_000, 64);
  const long = runTimed(loop, SEQUENTIAL_LONG_PROPOSALS);
  const pipelinedAgain = run(loop, 20_000, 64);
  const results: BenchResult[] = [
    emit({
      name: 'loop3.sequential', proposals: 3_000, in_flight_max: 1,
      proposals_per_s: Math.round(sequential), etcd_go_proposals_per_s: ETCD_PROPOSALS_PER_S.sequential,
    }),
    emit({
      name: 'loop3.pipelined', proposals: 20_000, in_flight_max: 64,
      proposals_per_s: Math.round(pipelined), etcd_go_proposals_per_s: ETCD_PROPOSALS_PER_S.pipelined,
    }),
    emit({
      name: 'loop3.sequential_long', proposals: SEQUENTIAL_LONG_PROPOSALS, in_flight_max: 1,
      proposals_per_s: Math.round(long.perS),
      etcd_go_proposals_per_s: ETCD_PROPOSALS_PER_S.sequential,
      latency_p50_us: Number(long.p50Us.toFixed(2)),
      latency_p99_us: Number(long.p99Us.toFixed(2)),
    }),
    emit({
      name: 'loop3.pipelined_again', proposals: 20_000, in_flight_max: 64,
      proposals_per_s: Math.round(pipelinedAgain),
      etcd_go_proposals_per_s: ETCD_PROPOSALS_PER_S.pipelined,
    }),
  ];
  printTable(results, ['name', 'proposals', 'in_flight_max', 'proposals_per_s', 'etcd_go_proposals_per_s']);
}

main();
