/**
 * Durable throughput of the store: committed proposals per second with three stores in one
 * process (loopback transport, real frames, real time), R ranges replicated on all three,
 * leaders spread evenly, quiescence off (every range is written to), on the in-memory engine
 * and on LevelDB with `sync: true`, in one run.
 *
 *   npm run bench:storage [-- --ranges 1000 --seconds 5 --payload 64 --window 20000
 *     --burst 64 --cache-mib 64 --semi-space-mib 0]
 *
 * Load (once every range has a leader): a closed loop that keeps at most `window` proposals
 * outstanding per store. Every event-loop turn it walks the ranges the store leads,
 * round-robin, proposing `burst` proposals to each range it visits, until the window is
 * full: so up to `window / (ranges / 3)` proposals per range are in flight, as many clients
 * writing to one range would have. A proposal counts once its leader's state machine
 * applied it. `cache-mib` is each LevelDB engine's entry cache (the engine's default).
 * Figures: committed proposals/s over `seconds` (after the ranges are elected and a warm-up
 * of 1 s), the same per second of this process's CPU time (user + system, all threads: the
 * figure to trust when other work shares the machine), engine syncs/s, groups per synced
 * write (engine groupsCommitted / writesSynced), sync latency p50/p99 (engine commit to
 * done, ms), bytes written per proposal (all three engines' committed bytes / proposals),
 * the main thread's CPU seconds (Linux /proc; its share of cpu_s against the other threads',
 * LevelDB's writes and compactions on the thread pool among them).
 * Each engine runs in a fresh child process; `semi-space-mib` > 0 starts it with V8's
 * `--max-semi-space-size` (MiB) instead of V8's default. Why it matters: under this load
 * nearly every entry outlives a young-generation collection (it waits for a sync and a
 * quorum), so scavenges copy most of what they scan, and a larger young generation runs
 * fewer of them; it is a runtime setting of the process, printed with every result.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store, newStoreSummary } from '../src/multiraft/index.js';
import {
  LevelEngine,
  MemoryEngine,
  type EngineBatch,
  type StorageEngine,
} from '../src/storage/index.js';
import { LoopbackNetwork } from '../src/transport/index.js';
import { SeededRandom, systemClock } from '../src/util/index.js';
import { argNumber, emit, printTable, type BenchResult } from './_report.js';

const NODE_IDS = [1, 2, 3];

/** What one committed proposal is, printed with every result. */
const COUNTS = 'one Store.propose call with its own payload, counted when the leader\'s ' +
  'state machine applied its entry: after a quorum (leader included) appended it, each ' +
  'append synced to LevelDB (level) or in memory (memory)';

/** Wraps an engine's commit to time it (commit call to done). */
function timed(engine: StorageEngine, latencies: number[]): StorageEngine {
  const commit = engine.commit.bind(engine);
  engine.commit = (batch: EngineBatch, done: (error: Error | null) => void): void => {
    const t0 = performance.now();
    commit(batch, (error) => {
      latencies.push(performance.now() - t0);
      done(error);
    });
  };
  return engine;
}

/** CPU seconds (user + system) of this process's main thread so far; NaN off Linux. */
function mainThreadCpuS(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime is the 12th, stime 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(kind: 'memory' | 'level', ranges: number, seconds: number, payload: number,
  window: number, burst: number): Promise<BenchResult> {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-bench-store-'));
  const latencies: number[] = [];
  const engines: StorageEngine[] = [];
  for (const nodeId of NODE_IDS) {
    const e = kind === 'memory' ? new MemoryEngine()
      : new LevelEngine({ storeId: nodeId, clusterId: 'bench', location: join(root, `s${nodeId}`),
        entryCacheBytesMax: argNumber('cache-mib', 64) * 1024 * 1024 });
    await e.open();
    engines.push(timed(e, latencies));
  }
  const network = new LoopbackNetwork({ seed: 1, clock: systemClock, encodeFrames: true });
  const random = new SeededRandom(1);
  // Store s proposes to the ranges it leads, and counts their applies only: a follower's
  // apply of the same entry is not another committed proposal.
  const applied = [0, 0, 0];
  const proposer = new Uint8Array(ranges + 1);
  for (let r = 1; r <= ranges; r++) proposer[r] = (r - 1) % 3;
  const stores = NODE_IDS.map((nodeId, i) => new Store({
    nodeId, random, clock: systemClock, storageEngine: engines[i]!, quiescence: false,
    transport: network.createTransport({ nodeId, autoFlush: true }),
    stateMachine: {
      apply: (rangeId: number) => { if (proposer[rangeId] === i) applied[i]!++; },
      applySnapshot() {},
    },
  }));
  const led: number[][] = [[], [], []];
  for (let r = 1; r <= ranges; r++) {
    for (const store of stores) store.createRange(r, { voters: NODE_IDS });
    const leader = proposer[r]!;
    led[leader]!.push(r);
    stores[leader]!.campaign(r);
  }
  for (const store of stores) store.start();
  // Elected: every range has a leader on some store (at most 60 s).
  const summary = newStoreSummary();
  for (let waited = 0; waited < 60_000; waited += 100) {
    const leaders = stores.reduce((n, store) => n + store.summary(summary).leaders, 0);
    if (leaders === ranges) break;
    await sleep(100);
  }
  const data = new Uint8Array(payload).fill(1);
  const proposed = [0, 0, 0];
  const cursor = [0, 0, 0];
  let running = true;
  let refused = 0;
  const pump = (): void => {
    if (!running) return;
    for (let s = 0; s < 3; s++) {
      // At most one visit per led range per turn: then the loop yields to the stores.
      for (let k = 0; k < led[s]!.length && proposed[s]! - applied[s]! < window; k++) {
        const rangeId = led[s]![cursor[s]!++ % led[s]!.length]!;
        for (let j = 0; j < burst; j++) {
          try {
            stores[s]!.propose(rangeId, data);
            proposed[s]!++;
          } catch {
            // Not (yet) the leader: skipped, counted.
            refused++;
          }
        }
      }
    }
    setImmediate(pump);
  };
  pump();
  await sleep(1000);
  const before = engines.map((e) => e.stats());
  const appliedBefore = applied.reduce((a, b) => a + b, 0);
  latencies.length = 0;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuS();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainS = mainThreadCpuS() - main0;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const after = engines.map((e) => e.stats());
  const committed = applied.reduce((a, b) => a + b, 0) - appliedBefore;
  running = false;
  for (const store of stores) await store.close();
  for (const e of engines) await e.close();
  rmSync(root, { recursive: true, force: true });
  const sum = (f: (s: ReturnType<StorageEngine['stats']>) => number) =>
    after.reduce((a, s, i) => a + f(s) - f(before[i]!), 0);
  const syncs = sum((s) => s.writesSynced);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1,
    Math.floor(p * latencies.length))] ?? 0;
  return {
    name: `storage.store3.${kind}`, engine: kind, ranges, stores: 3, payload_bytes: payload,
    window, burst, ...(kind === 'level' ? { cache_mib: argNumber('cache-mib', 64) } : {}),
    seconds,
    // The V8 young generation (semi-space) the child ran with: 0 is V8's default.
    v8_max_semi_space_mib: argNumber('semi-space-mib', 0),
    counts: COUNTS,
    committed_proposals_per_s: Math.round(committed / elapsedS),
    cpu_s: Number(cpuS.toFixed(2)),
    // The main thread's share (the rest: LevelDB's and libuv's threads, V8's GC helpers).
    main_thread_cpu_s: Number(mainS.toFixed(2)),
    committed_proposals_per_cpu_s: Math.round(committed / cpuS),
    syncs_per_s: Math.round(syncs / elapsedS),
    groups_per_sync: syncs === 0 ? 0 : Number((sum((s) => s.groupsCommitted) / syncs).toFixed(1)),
    sync_latency_p50_ms: Number(pct(0.5).toFixed(2)),
    sync_latency_p99_ms: Number(pct(0.99).toFixed(2)),
    proposals_refused: refused,
    bytes_written_per_proposal: committed === 0 ? 0 :
      Math.round(sum((s) => s.bytesCommitted) / committed),
  };
}

async function main(): Promise<void> {
  const ranges = argNumber('ranges', 1000);
  const seconds = argNumber('seconds', 5);
  const payload = argNumber('payload', 64);
  const window = argNumber('window', 20_000);
  const burst = argNumber('burst', 64);
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    const kind = process.argv[child + 1] as 'memory' | 'level';
    const result = await run(kind, ranges, seconds, payload, window, burst);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const results: BenchResult[] = [];
  for (const kind of ['memory', 'level']) {
    const semi = argNumber('semi-space-mib', 0);
    const v8Flags = semi > 0 ? [`--max-semi-space-size=${semi}`] : [];
    const out = spawnSync(process.execPath, [...v8Flags, '--import', 'tsx',
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2), '--child', kind], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(out.stderr);
    results.push(emit(JSON.parse(out.stdout.trim().split('\n').pop()!) as BenchResult));
  }
  const [memory, level] = results;
  const ratio = (figure: string) => Number((Number(level![figure]) /
    Math.max(1, Number(memory![figure]))).toFixed(3));
  results.push(emit({ name: 'storage.store3.level_vs_memory', ranges,
    durable_to_memory_ratio: ratio('committed_proposals_per_s'),
    durable_to_memory_ratio_cpu: ratio('committed_proposals_per_cpu_s'),
    reference_dragonboat_durable_proposals_per_s: 1_250_000,
    reference_source: 'dragonboat README, one group, NVMe' }));
  printTable(results, ['name', 'committed_proposals_per_s', 'committed_proposals_per_cpu_s',
    'syncs_per_s', 'groups_per_sync',
    'sync_latency_p50_ms', 'sync_latency_p99_ms', 'bytes_written_per_proposal',
    'durable_to_memory_ratio', 'durable_to_memory_ratio_cpu']);
}

await main();
