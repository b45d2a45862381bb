/**
 * Density: how many replicas one process holds, and what idle ones cost.
 * Run: `npm run bench:density -- --ranges N` (N up to 1,000,000).
 *
 * Three stores in one process joined by the loopback transport (real frames, virtual time),
 * N ranges replicated on all three (3N replicas, N per store), leaders spread evenly. Ranges
 * are built in waves of `--wave` ranges: created on all stores (as a split trigger would),
 * elected (the chosen store campaigns), written once, then ticked until quiesced; earlier
 * waves sleep meanwhile and cost nothing. Then, with everything quiesced:
 *
 * - heap_bytes_per_replica: V8 heap growth since before the cluster existed, after full GCs,
 *   over 3N; external_bytes_per_replica: the same for ArrayBuffers (typed-array tables,
 *   frame buffers that entry payloads point into).
 * - create_ms: time to create, elect and write all ranges; quiesce_ms: the ticks until each
 *   wave was quiesced.
 * - idle_cpu_percent_of_core: CPU time (user + system, all threads) per wall time over
 *   `--idle-s` seconds of real time (after 4000 sub-ticks on virtual time for the JIT and
 *   `--idle-warmup-s` seconds of real time), with the
 *   stores ticking on a real timer every sub-tick (50 ms) and pinging their peers every
 *   tick, as a running node does; idle_gc_pause_percent: the part of wall time spent in GC
 *   pauses meanwhile.
 * Rows:
 *
 * - density_quiesced: the figures above, everything quiesced.
 * - density_woken: then quiescence switched off, which wakes every group (wake_ms: the time
 *   to wake and rebuild all 3N) and heap_bytes_per_replica with all of them awake;
 *   awake_tick_ns_per_group: `--ticks` full tick intervals driven as fast as possible, each
 *   tick's Raft work, heartbeats, transport and responses included, per awake replica per
 *   tick (awake_tick_cpu_ns_per_group: the same in CPU time, which waiting for a core on a
 *   shared machine does not count), after one heartbeat interval whose CPU time is
 *   awake_first_tick_cpu_ns_per_group (each group's first heartbeat round since it was woken
 *   or built: its rebuilt node touched for the first time). Skipped above
 *   `--awake-ranges-max` ranges (default 200,000): at a million ranges, waking and
 *   rebuilding 3M nodes (~8 GiB more heap) and
 *   ticking them takes another six minutes, beyond the ten this benchmark may take; pass
 *   `--awake-ranges-max 1000000` to measure it anyway.
 * - density_no_quiescence: the same build with quiescence off from the start, for at most
 *   `--baseline-ranges-max` ranges (default 100,000: a million awake groups do not fit the
 *   ten minutes this benchmark may take): every replica keeps its node and ticks forever.
 *
 * Prints one JSON object per result line, then a table, side by side.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { argNumber, emit, printTable, references, type BenchResult } from './_report.js';
import { LocalCluster, type StoreSummary } from '../src/multiraft/index.js';

const ranges = Math.floor(argNumber('ranges', 10_000));
const waveRanges = Math.floor(argNumber('wave', 10_000));
const idleSeconds = argNumber('idle-s', 5);
const idleWarmupSeconds = argNumber('idle-warmup-s', 5);
const awakeTicks = Math.floor(argNumber('ticks', 10));
const awakeRangesMax = Math.floor(argNumber('awake-ranges-max', 200_000));
const baselineRangesMax = Math.floor(argNumber('baseline-ranges-max', 100_000));
const STORES = 3;
/** Sub-ticks run on virtual time before the idle measurement, so the JIT compiles them. */
const IDLE_JIT_WARMUP_SUBTICKS = 4000;
const PAYLOAD = new Uint8Array(16).fill(7);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:density)');

interface Heap {
  heapBytes: number;
  externalBytes: number;
}

function measureHeap(): Heap {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return { heapBytes: m.heapUsed, externalBytes: m.arrayBuffers };
}

/** A progress bar on stderr (a line per 10% when stderr is not a terminal). */
function progress(label: string, done: number, total: number, startMs: number): void {
  const fraction = done / total;
  const seconds = ((performance.now() - startMs) / 1000).toFixed(1);
  if (process.stderr.isTTY) {
    const width = 30;
    const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
    process.stderr.write(`\r${label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
      `${done}/${total} ranges ${seconds}s`);
    if (done === total) process.stderr.write('\n');
    return;
  }
  const step = Math.max(1, Math.floor(total / 10));
  if (done === total || Math.floor(done / step) !== Math.floor((done - waveRanges) / step)) {
    process.stderr.write(`${label} ${(fraction * 100).toFixed(0)}% ${done}/${total} ` +
      `ranges ${seconds}s\n`);
  }
}

function allQuiesced(cluster: LocalCluster): boolean {
  return cluster.stores.every((s) => s.ticker.awakeCount === 0);
}

interface Built {
  cluster: LocalCluster;
  createMs: number;
  quiesceMs: number;
}

/** Builds `n` ranges in waves; with quiescence, ticks each wave until it sleeps. */
function build(n: number, quiescence: boolean, label: string): Built {
  const cluster = new LocalCluster({ store: { quiescence } });
  let createMs = 0;
  let quiesceMs = 0;
  const startMs = performance.now();
  for (let first = 1; first <= n; first += waveRanges) {
    const last = Math.min(n, first + waveRanges - 1);
    const t0 = performance.now();
    for (let r = first; r <= last; r++) cluster.createRange(r, { leaderNodeId: (r % STORES) + 1 });
    cluster.settle();
    for (let r = first; r <= last; r++) cluster.store((r % STORES) + 1).propose(r, PAYLOAD);
    cluster.settle();
    const t1 = performance.now();
    createMs += t1 - t0;
    for (let ticks = 0; quiescence && !allQuiesced(cluster); ticks++) {
      if (ticks > 100) throw new Error(`wave ${first}..${last} not quiesced after 100 ticks`);
      cluster.tick(1);
    }
    quiesceMs += performance.now() - t1;
    progress(label, last, n, startMs);
  }
  return { cluster, createMs, quiesceMs };
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

/** Runs the cluster on a real timer, one sub-tick per period, for `seconds`. */
function runRealTime(cluster: LocalCluster, seconds: number): Promise<void> {
  const subTickMs = cluster.stores[0]!.ticker.subTickIntervalMs;
  const wall0 = performance.now();
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      cluster.subTick();
      if (performance.now() - wall0 >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, subTickMs);
  });
}

interface Idle {
  cpuPercent: number;
  gcPercent: number;
}

/**
 * CPU per wall time while the cluster runs on a real timer, after `--idle-warmup-s` seconds
 * of the same (V8 finishes the collections the build left behind), and the share of it that
 * the garbage collector's pauses took.
 */
async function idleCpu(cluster: LocalCluster): Promise<Idle> {
  // A node runs for hours: measure the steady state, with the idle path (timer, ticker,
  // liveness pings) compiled by the JIT, which a few seconds of 20 calls a second are not.
  for (let i = 0; i < IDLE_JIT_WARMUP_SUBTICKS; i++) cluster.subTick();
  await runRealTime(cluster, idleWarmupSeconds);
  const cpu0 = process.cpuUsage();
  const gc0 = gcMs;
  const wall0 = performance.now();
  await runRealTime(cluster, idleSeconds);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  await new Promise((resolve) => setTimeout(resolve, 50)); // let GC entries arrive
  return {
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    gcPercent: ((gcMs - gc0) / wallMs) * 100,
  };
}

interface AwakeCost {
  /** Wall nanoseconds per awake replica per tick. */
  wallNs: number;
  /**
   * CPU nanoseconds (user + system, all threads) per awake replica per tick: on this shared
   * machine wall time also counts the time the process waited for a core.
   */
  cpuNs: number;
}

/** Ticks `cluster` `ticks` tick intervals; the cost per awake replica per tick. */
function measureTicks(cluster: LocalCluster, ticks: number): AwakeCost {
  const awake = cluster.stores.reduce((n, s) => n + s.ticker.awakeCount, 0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  cluster.tick(ticks);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    wallNs: (ms * 1e6) / (awake * ticks),
    cpuNs: ((cpu.user + cpu.system) * 1e3) / (awake * ticks),
  };
}

/**
 * The cost of an awake replica per tick: `first`, over the first heartbeat interval (every
 * group's first heartbeat round since it was woken or built: nodes rebuilt, first touched,
 * caches filled), then `steady`, over the next `--ticks` tick intervals.
 */
function awakeTickNs(cluster: LocalCluster): { first: AwakeCost; steady: AwakeCost } {
  const first = measureTicks(cluster, cluster.stores[0]!.config.heartbeatIntervalTicks);
  return { first, steady: measureTicks(cluster, awakeTicks) };
}

/** etcd's figure for a whole round per replica (tick, Ready, delivery), as issue 9 says. */
function awakeReference(n: number): Record<string, string | number> {
  const ns = n <= 10_000 ? 570 : n >= 100_000 ? 940 : null;
  if (ns === null) return {};
  return references({ etcd_go_round_ns_per_replica: ns },
    `etcd raft (Go), tick + Ready + delivery per replica at ${n} groups on this machine, ` +
    'as reported in issue 9');
}

function summaryFields(s: StoreSummary): Record<string, number> {
  return { replicas: s.replicas, awake: s.awake, quiesced: s.quiesced, dormant: s.dormant,
    leaders: s.leaders, term_max: s.termMax };
}

function checkElected(cluster: LocalCluster, n: number): StoreSummary {
  const summary = cluster.summary();
  if (summary.leaders !== n || summary.leaderless !== 0) {
    throw new Error(`not every range has a leader: ${JSON.stringify(summary)}`);
  }
  return summary;
}

/**
 * Quiescence on: the quiesced figures (emitted at once), then, all groups woken with
 * quiescence switched off, the cost of an awake group per tick.
 */
async function runQuiesced(n: number): Promise<BenchResult[]> {
  const heap0 = measureHeap();
  const built = build(n, true, 'quiesced');
  const { cluster } = built;
  const summary = checkElected(cluster, n);
  const heap1 = measureHeap();
  const replicas = STORES * n;
  const idle = await idleCpu(cluster);
  const results = [emit({
    name: 'density_quiesced',
    ranges: n,
    replicas,
    heap_bytes_per_replica: Math.round((heap1.heapBytes - heap0.heapBytes) / replicas),
    external_bytes_per_replica: Math.round((heap1.externalBytes - heap0.externalBytes) / replicas),
    store_table_bytes_per_replica: Math.round(cluster.stores[0]!.tableBytes / n),
    create_ms: Math.round(built.createMs),
    quiesce_ms: Math.round(built.quiesceMs),
    idle_cpu_percent_of_core: Number(idle.cpuPercent.toFixed(3)),
    idle_gc_pause_percent: Number(idle.gcPercent.toFixed(3)),
    awake_during_idle: cluster.summary().awake,
    ...summaryFields(summary),
  })];
  if (n <= awakeRangesMax) {
    const t0 = performance.now();
    for (const store of cluster.stores) store.setQuiescence(false);
    cluster.settle();
    const wakeMs = performance.now() - t0;
    const heap2 = measureHeap();
    const awake = awakeTickNs(cluster);
    results.push(emit({
      name: 'density_woken',
      ranges: n,
      replicas,
      heap_bytes_per_replica: Math.round((heap2.heapBytes - heap0.heapBytes) / replicas),
      wake_ms: Math.round(wakeMs),
      awake_first_tick_cpu_ns_per_group: Math.round(awake.first.cpuNs),
      awake_tick_ns_per_group: Math.round(awake.steady.wallNs),
      awake_tick_cpu_ns_per_group: Math.round(awake.steady.cpuNs),
      ...summaryFields(cluster.summary()),
      ...awakeReference(n),
    }));
  }
  await cluster.close();
  return results;
}

/** Quiescence off from the start: every group keeps its node and ticks forever. */
async function runBaseline(n: number): Promise<BenchResult> {
  const heap0 = measureHeap();
  const built = build(n, false, 'no quiescence');
  const { cluster } = built;
  const summary = checkElected(cluster, n);
  const heap1 = measureHeap();
  const replicas = STORES * n;
  const idle = await idleCpu(cluster);
  const awake = awakeTickNs(cluster);
  await cluster.close();
  return emit({
    name: 'density_no_quiescence',
    ranges: n,
    replicas,
    heap_bytes_per_replica: Math.round((heap1.heapBytes - heap0.heapBytes) / replicas),
    external_bytes_per_replica: Math.round((heap1.externalBytes - heap0.externalBytes) / replicas),
    store_table_bytes_per_replica: Math.round(cluster.stores[0]!.tableBytes / n),
    create_ms: Math.round(built.createMs),
    quiesce_ms: 'n/a',
    idle_cpu_percent_of_core: Number(idle.cpuPercent.toFixed(3)),
    idle_gc_pause_percent: Number(idle.gcPercent.toFixed(3)),
    awake_first_tick_cpu_ns_per_group: Math.round(awake.first.cpuNs),
    awake_tick_ns_per_group: Math.round(awake.steady.wallNs),
    awake_tick_cpu_ns_per_group: Math.round(awake.steady.cpuNs),
    ...summaryFields(summary),
    ...awakeReference(n),
  });
}

async function main(): Promise<void> {
  const results = await runQuiesced(ranges);
  gc!();
  results.push(await runBaseline(Math.min(ranges, baselineRangesMax)));
  printTable(results, [
    'name', 'ranges', 'replicas', 'heap_bytes_per_replica', 'external_bytes_per_replica',
    'create_ms', 'quiesce_ms', 'wake_ms', 'idle_cpu_percent_of_core', 'idle_gc_pause_percent',
    'awake_first_tick_cpu_ns_per_group', 'awake_tick_ns_per_group',
    'awake_tick_cpu_ns_per_group', 'awake', 'quiesced', 'leaders',
    'term_max',
  ]);
}

await main();
