/**
 * Ranges: splitting from one range to `--ranges` (default 10,000) under write load, on three
 * stores in one process (each store's data an `EngineKv` on its own memory engine, virtual
 * time, message delays up to `--delay-ms-max`, a loss rate of `--drop-per-mille`, and store 3
 * cut off for `--lag-ticks` every `--lag-every-ticks`, so that a follower falls behind now and
 * then), once with the split-delay helper and once without it (`maxDelayTicks: 0`: it looks
 * once and never waits). Run: `npm run bench:ranges -- [--ranges N] [--writers N]
 * [--split-concurrency N] [--window-ticks N] [--delay-ms-max N] [--drop-per-mille N]
 * [--lag-every-ticks N] [--lag-ticks N] [--merges N] [--seed N] [--without-helper-ranges N]
 * [--rebalance-only]`.
 *
 * LOAD. `--writers` clients put 64-byte values at random keys, one put after another, all
 * the time. `--split-concurrency` splitters take the split keys (evenly spaced, so the last
 * ranges are equal) in van der Corput order, so that concurrent splits mostly hit different
 * ranges and every split halves a range, as a growing key space does.
 *
 * PHASES. At 1, 10, 100, 1,000 and 10,000 ranges (and `--ranges`) the splitters pause for
 * `--window-ticks` ticks of writes alone (`steady_at_ranges`); between two of those, the
 * splits run under the writes (`splitting`). Each phase prints puts acknowledged per wall
 * second and per process-CPU second (the whole process: three stores, the network and the
 * clients share one thread), put latency p50/p99 in virtual ticks (200 ms each), splits per
 * second. The machine may be shared: the CPU figures are the ones to trust.
 *
 * PER RUN (`split_with_delay_helper`, `split_without_delay_helper`): snapshots per split
 * (offered to split-born replicas, and of those refused because the split had not applied
 * on that store yet; and every snapshot the stores streamed), ticks per split, the helper's
 * mean delay, and after the splits (helper run only) `--merges` merges of the first range
 * with its neighbour, timed one by one (wall, CPU, ticks per merge). The run without the
 * helper splits to `--without-helper-ranges` (default: `--ranges`).
 *
 * Rebalancing (`rebalance`): four stores, `--rebalances` user ranges of `--rebalance-keys`
 * keys (64-byte values) on stores 1-3, each moved from store 3 to store 4 with
 * `changeReplicas` (learner, snapshot with the range's data, joint promote and remove,
 * leave; a leadership handed over first where store 3 leads), one after the other, no
 * faults. Figures: wall and process CPU ms per rebalance, virtual ticks per rebalance.
 */
import { emit, printTable, type BenchResult } from './_report.js';
import { parseOrExit } from '../src/node/cli_args.js';
import { LocalCluster } from '../src/multiraft/index.js';
import { MemoryEngine, type StorageEngine } from '../src/storage/index.js';
import { SeededRandom } from '../src/raft/index.js';
import {
  CounterRangeIdAllocator,
  EngineKv,
  KEY_MAX,
  META_KEY_MAX,
  META_KEY_MIN,
  META_RANGE_ID,
  OpType,
  RangeClient,
  RangeNode,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../src/range/index.js';

const COMMAND = {
  name: 'npm run bench:ranges --',
  summary: 'Throughput and split costs while ranges split from 1 to N under load.',
  flags: {
    ranges: { kind: 'integer', min: 2, max: 100_000, default: 10_000,
      description: 'ranges to split into' },
    'without-helper-ranges': { kind: 'integer', min: 0, max: 100_000, default: 0,
      description: 'ranges of the run without the helper (0: --ranges)' },
    writers: { kind: 'integer', min: 1, max: 1000, default: 16,
      description: 'concurrent writers' },
    'split-concurrency': { kind: 'integer', min: 1, max: 1000, default: 8,
      description: 'splits in flight at once' },
    'window-ticks': { kind: 'integer', min: 1, max: 100_000, default: 25,
      description: 'ticks of writes alone at each milestone' },
    'delay-ms-max': { kind: 'integer', min: 0, max: 10_000, default: 100,
      description: 'longest message delay (ms of virtual time)' },
    'drop-per-mille': { kind: 'integer', min: 0, max: 500, default: 5,
      description: 'messages lost per thousand' },
    'lag-every-ticks': { kind: 'integer', min: 0, max: 100_000, default: 20,
      description: 'cut store 3 off every N ticks (0: never)' },
    'lag-ticks': { kind: 'integer', min: 1, max: 100_000, default: 4,
      description: 'ticks store 3 stays cut off each time' },
    merges: { kind: 'integer', min: 0, max: 100_000, default: 20,
      description: 'merges timed after the splits (with the helper)' },
    seed: { kind: 'integer', min: 1, max: 2 ** 31, default: 1, description: 'seed' },
    rebalances: { kind: 'integer', min: 1, max: 10_000, default: 8,
      description: 'ranges moved in the rebalance run' },
    'rebalance-keys': { kind: 'integer', min: 0, max: 100_000, default: 200,
      description: 'keys per moved range' },
    'rebalance-only': { kind: 'boolean', default: false,
      description: 'run the rebalance figures only (not the split runs)' },
  },
} as const;
const args = parseOrExit(COMMAND, process.argv.slice(2)).values;
const enc = new TextEncoder();
/** Keys are `k` and seven digits: the key space the writers and splitters share. */
const KEY_SPACE = 10_000_000;
const keyOf = (i: number) => enc.encode(`k${String(i).padStart(7, '0')}`);

type Nodes = Map<number, RangeNode>;

/** Virtual time: the tick count and the sleepers waiting for a later tick. */
class Clock {
  ticks = 0;
  private waiters: { at: number; wake: () => void }[] = [];

  wait(n: number): Promise<void> {
    return new Promise<void>((wake) => this.waiters.push({ at: this.ticks + n, wake }));
  }

  wakeDue(): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) {
      if (w.at <= this.ticks) w.wake();
      else this.waiters.push(w);
    }
  }
}

/** Three (or four) stores with range nodes on memory engines, bootstrapped, leaders elected. */
function setup(seed: number, nodeIds: number[], helper: boolean): { cluster: LocalCluster;
  nodes: Nodes } {
  const rangeIds = new CounterRangeIdAllocator(2);
  const nodes: Nodes = new Map();
  const engines = new Map<number, StorageEngine>();
  const cluster = new LocalCluster({ seed, nodeIds,
    storageEngine: (nodeId) => {
      const engine = new MemoryEngine();
      engines.set(nodeId, engine);
      return engine;
    },
    stateMachine: (nodeId) => {
      const n = new RangeNode({ nodeId, random: new SeededRandom(seed + nodeId), rangeIds,
        kv: EngineKv.empty(engines.get(nodeId)!), peers: (id) => nodes.get(id),
        ...(helper ? {} : { splitDelay: { maxDelayTicks: 0 } }) });
      nodes.set(nodeId, n);
      return n;
    } });
  const replicas = [1, 2, 3].map((id) => ({ nodeId: id, replicaId: id, type: ReplicaType.Voter }));
  const descs: RangeDescriptor[] = [
    { rangeId: META_RANGE_ID, startKey: META_KEY_MIN, endKey: META_KEY_MAX, generation: 0,
      replicas },
    { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX, generation: 0, replicas },
  ];
  for (const n of nodes.values()) {
    n.attach(cluster.store(n.nodeId));
    // A fourth node, if any, starts empty: a rebalance target.
    if (n.nodeId <= 3) n.bootstrap(descs);
  }
  cluster.store(1).campaign(META_RANGE_ID);
  cluster.store(1).campaign(2);
  return { cluster, nodes };
}

function leaderOf(cluster: LocalCluster, nodes: Nodes, rangeId: number): RangeNode | undefined {
  for (const n of nodes.values()) {
    const s = cluster.store(n.nodeId).raftStatus(rangeId);
    if (s !== undefined && s.lead === n.nodeId && s.raftState === 2) return n;
  }
  return undefined;
}

/** Drives the cluster on virtual time until `work` settles. */
async function drive<T>(cluster: LocalCluster, nodes: Nodes, clock: Clock, work: Promise<T>):
  Promise<T> {
  let finished = false;
  const done = work.finally(() => { finished = true; });
  done.catch(() => undefined);
  while (!finished) {
    cluster.tick(1);
    for (const n of nodes.values()) n.tick();
    clock.ticks++;
    // Within a tick, let the clients' continuations run and the stores answer them, until
    // nothing moves: a put costs its round trips, not a tick per step.
    for (let round = 0; round < 64; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!cluster.stores.some((st) => st.scheduler.hasWork)) break;
      cluster.settle();
    }
    clock.wakeDue();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return done;
}

/** The split keys' indexes 1..ranges-1 in van der Corput order (see the file header). */
function splitOrder(ranges: number): number[] {
  const bits = Math.ceil(Math.log2(ranges));
  const reversed = (i: number) => {
    let r = 0;
    for (let b = 0; b < bits; b++) r = (r << 1) | ((i >> b) & 1);
    return r;
  };
  const out = Array.from({ length: ranges - 1 }, (_, i) => i + 1);
  return out.sort((a, b) => reversed(a) - reversed(b) || a - b);
}

/** Range counts at which a steady window is measured. */
function milestones(ranges: number): number[] {
  const out = [1, 10, 100, 1000, 10_000, 100_000].filter((m) => m < ranges);
  return [...out, ranges];
}

/** Puts and their latencies since the last `take`. */
class PutLog {
  private latencies: number[] = [];
  all: number[] = [];

  record(ticks: number): void {
    this.latencies.push(ticks);
    this.all.push(ticks);
  }

  take(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }
}

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** Wall and CPU time since `startPhase`, and the puts in between. */
function phaseFigures(started: { wallMs: number; cpu: NodeJS.CpuUsage; ticks: number },
  clock: Clock, puts: number[]): Record<string, number> {
  const wallS = (performance.now() - started.wallMs) / 1000;
  const used = process.cpuUsage(started.cpu);
  const cpuS = (used.user + used.system) / 1e6;
  puts.sort((a, b) => a - b);
  return { ticks: clock.ticks - started.ticks, wall_s: wallS, cpu_s: cpuS,
    puts_acked: puts.length, puts_per_s_wall: puts.length / wallS,
    puts_per_s_cpu: puts.length / cpuS,
    put_latency_p50_ticks: quantile(puts, 0.5), put_latency_p99_ticks: quantile(puts, 0.99) };
}

const startPhase = (clock: Clock) => ({ wallMs: performance.now(), cpu: process.cpuUsage(),
  ticks: clock.ticks });

interface SplitRun {
  splits: number;
  delayTicks: number;
  splitTicks: number;
}

/**
 * Splits at the split keys `keys` (indexes among `ranges` evenly spaced ones), in order, with
 * `--split-concurrency` splitters; resolves when all are done.
 */
async function splitAll(cluster: LocalCluster, nodes: Nodes, clock: Clock, keys: number[],
  ranges: number, run: SplitRun): Promise<void> {
  const step = Math.floor(KEY_SPACE / ranges);
  let next = 0;
  const splitter = async () => {
    while (next < keys.length) {
      const at = keyOf(keys[next++]! * step);
      for (;;) {
        const holder = nodes.get(1)!.localRangeFor(at)!;
        const leader = leaderOf(cluster, nodes, holder.rangeId);
        const done = leader === undefined ? undefined
          : await leader.split(holder.rangeId, at).catch(() => undefined);
        if (done !== undefined) {
          run.splits++;
          run.delayTicks += done.delay.delayedTicks;
          break;
        }
        await clock.wait(1);
      }
    }
  };
  const t0 = clock.ticks;
  await Promise.all(Array.from({ length: args['split-concurrency'] }, splitter));
  run.splitTicks += clock.ticks - t0;
}

/** Merges the first range with its neighbour `count` times; their wall, CPU and ticks. */
async function mergeAll(cluster: LocalCluster, nodes: Nodes, clock: Clock, count: number):
  Promise<Record<string, number>> {
  let wallMs = 0;
  let cpuUs = 0;
  let ticks = 0;
  let merges = 0;
  for (let i = 0; i < count; i++) {
    for (;;) {
      const first = nodes.get(1)!.localRangeFor(keyOf(0))!;
      const leader = leaderOf(cluster, nodes, first.rangeId);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const k0 = clock.ticks;
      const done = leader === undefined ? undefined
        : await leader.merge(first.rangeId).catch(() => undefined);
      if (done !== undefined) {
        const used = process.cpuUsage(c0);
        merges++;
        wallMs += performance.now() - t0;
        cpuUs += used.user + used.system;
        ticks += clock.ticks - k0;
        break;
      }
      await clock.wait(1);
    }
  }
  const per = Math.max(1, merges);
  return { merges, merge_wall_ms_mean: wallMs / per, merge_cpu_ms_mean: cpuUs / 1000 / per,
    merge_ticks_mean: ticks / per };
}

/** The phases of one run: steady windows at each milestone, splitting in between. */
async function phases(cluster: LocalCluster, nodes: Nodes, clock: Clock, log: PutLog,
  ranges: number, helper: boolean, run: SplitRun): Promise<BenchResult[]> {
  const order = splitOrder(ranges);
  const results: BenchResult[] = [];
  const name = helper ? 'with_helper' : 'without_helper';
  let at = 1;
  for (const m of milestones(ranges)) {
    if (m > at) {
      const started = startPhase(clock);
      const splitsBefore = run.splits;
      log.take();
      await splitAll(cluster, nodes, clock, order.slice(at - 1, m - 1), ranges, run);
      const f = phaseFigures(started, clock, log.take());
      results.push(emit({ name: `splitting_${name}`, from_ranges: at, to_ranges: m,
        splits: run.splits - splitsBefore, splits_per_s_wall: (run.splits - splitsBefore) /
        f.wall_s!, ...f }));
      at = m;
    }
    const started = startPhase(clock);
    log.take();
    await clock.wait(args['window-ticks']);
    results.push(emit({ name: `steady_${name}`, ranges: m, ...phaseFigures(started, clock,
      log.take()) }));
  }
  return results;
}

async function run(helper: boolean, ranges: number): Promise<BenchResult[]> {
  const { cluster, nodes } = setup(args.seed, [1, 2, 3], helper);
  const faults = { delayMsMax: args['delay-ms-max'], dropRate: args['drop-per-mille'] / 1000 };
  cluster.network.setFaults(faults);
  const clock = new Clock();
  const client = new RangeClient(nodes, { clientId: 9, random: new SeededRandom(args.seed),
    backoff: () => clock.wait(1) });
  const rand = new SeededRandom(args.seed * 31);
  const log = new PutLog();
  let writing = true;
  const writer = async () => {
    while (writing) {
      const started = clock.ticks;
      const ok = await client.batch([{ type: OpType.Put, key: keyOf(rand.intn(KEY_SPACE)),
        value: new Uint8Array(64) }]).then(() => true, () => false);
      if (ok) log.record(clock.ticks - started);
    }
  };
  const splitRun: SplitRun = { splits: 0, delayTicks: 0, splitTicks: 0 };
  const writers = Array.from({ length: args.writers }, writer);
  // A follower that falls behind now and then: what the split-delay helper is for.
  const lagger = async () => {
    const every = args['lag-every-ticks'];
    while (writing && every > 0) {
      await clock.wait(every);
      cluster.network.isolate(3);
      await clock.wait(args['lag-ticks']);
      cluster.network.heal();
      cluster.network.setFaults(faults);
    }
  };
  writers.push(lagger());
  const results = await drive(cluster, nodes, clock, (async () => {
    const out = await phases(cluster, nodes, clock, log, ranges, helper, splitRun);
    const merged = helper ? await mergeAll(cluster, nodes, clock, args.merges) : {};
    writing = false;
    await Promise.all(writers);
    return { out, merged };
  })());
  const sum = (f: (n: RangeNode) => number) => [...nodes.values()].reduce((s, n) => s + f(n), 0);
  const streamed = cluster.stores.reduce((s, st) => s + st.stats.snapshots.snapshotsSent, 0);
  const per = Math.max(1, splitRun.splits);
  const all = log.all.sort((a, b) => a - b);
  await cluster.close();
  const summary = emit({
    name: helper ? 'split_with_delay_helper' : 'split_without_delay_helper',
    ranges, writers: args.writers, split_concurrency: args['split-concurrency'],
    delay_ms_max: args['delay-ms-max'], drop_per_mille: args['drop-per-mille'],
    lag_every_ticks: args['lag-every-ticks'], lag_ticks: args['lag-ticks'],
    seed: args.seed, splits: splitRun.splits, puts_acked: all.length,
    put_latency_p50_ticks: quantile(all, 0.5), put_latency_p99_ticks: quantile(all, 0.99),
    snapshots_offered_per_split: sum((n) => n.stats.snapshotsOffered) / per,
    snapshots_refused_per_split: sum((n) => n.stats.snapshotsRefused) / per,
    snapshots_streamed_per_split: streamed / per,
    ticks_per_split: splitRun.splitTicks / per,
    split_delay_ticks_mean: splitRun.delayTicks / per,
    client_retries: client.stats.retried, client_key_mismatches: client.stats.keyMismatch,
    ...results.merged,
  });
  return [...results.out, summary];
}

async function runRebalance(): Promise<BenchResult> {
  const seed = args.seed;
  const { cluster, nodes } = setup(seed, [1, 2, 3, 4], true);
  const clock = new Clock();
  const client = new RangeClient(nodes, { clientId: 9, random: new SeededRandom(seed),
    backoff: () => clock.wait(1) });
  const ranges = args.rebalances;
  const perRange = args['rebalance-keys'];
  const lead = async (rangeId: number): Promise<RangeNode> => {
    for (;;) {
      const l = leaderOf(cluster, nodes, rangeId);
      if (l !== undefined) return l;
      await clock.wait(1);
    }
  };
  // Data first, then the splits: every range holds `perRange` keys.
  await drive(cluster, nodes, clock, (async () => {
    for (let i = 0; i < ranges * perRange; i++) {
      await client.batch([{ type: OpType.Put, key: keyOf(i), value: new Uint8Array(64) }]);
    }
    for (let r = 1; r < ranges; r++) {
      const at = keyOf(r * perRange);
      const holder = nodes.get(1)!.localRangeFor(at)!;
      await (await lead(holder.rangeId)).split(holder.rangeId, at);
    }
  })());
  const user = nodes.get(1)!.descriptors().filter((d) => d.rangeId !== META_RANGE_ID);
  const startedMs = performance.now();
  const cpu = process.cpuUsage();
  const ticksBefore = clock.ticks;
  await drive(cluster, nodes, clock, (async () => {
    for (const d of user) {
      let leader = await lead(d.rangeId);
      if (leader.nodeId === 3) {
        await leader.transferLeadership(d.rangeId, 1);
        leader = nodes.get(1)!;
      }
      await leader.changeReplicas(d.rangeId, { add: 4, remove: 3 });
    }
  })());
  const wallMs = performance.now() - startedMs;
  const used = process.cpuUsage(cpu);
  const moved = user.length;
  const installed = nodes.get(4)!.membershipStats.snapshotsInstalled;
  await cluster.close();
  return emit({
    name: 'rebalance', rebalances: moved, keys_per_range: perRange, value_bytes: 64, seed,
    snapshots_installed: installed,
    rebalance_ms_wall: wallMs / moved,
    rebalance_cpu_ms: (used.user + used.system) / 1000 / moved,
    rebalance_ticks: (clock.ticks - ticksBefore) / moved,
  });
}

if (!args['rebalance-only']) {
  const results = [...await run(true, args.ranges),
    ...await run(false, args['without-helper-ranges'] || args.ranges)];
  printTable(results.filter((r) => /^(splitting|steady)_/.test(r.name)),
    ['name', 'from_ranges', 'to_ranges', 'ranges', 'ticks', 'wall_s', 'cpu_s',
      'puts_per_s_wall', 'puts_per_s_cpu', 'put_latency_p50_ticks', 'put_latency_p99_ticks',
      'splits_per_s_wall']);
  printTable(results.filter((r) => r.name.startsWith('split_')), ['name', 'ranges', 'splits',
    'put_latency_p50_ticks', 'put_latency_p99_ticks', 'snapshots_offered_per_split',
    'snapshots_refused_per_split', 'snapshots_streamed_per_split', 'ticks_per_split',
    'split_delay_ticks_mean', 'merges', 'merge_wall_ms_mean', 'merge_cpu_ms_mean']);
}
printTable([await runRebalance()], ['name', 'rebalances', 'keys_per_range',
  'rebalance_ms_wall', 'rebalance_cpu_ms', 'rebalance_ticks', 'snapshots_installed']);
