/**
 * Restart of a store with N ranges on LevelDB: `Store.open` time, time until a request on a
 * random range is served, heap per replica.
 *
 *   npm run bench:restart -- --ranges 100000 [--fixture-only]
 *
 * FIXTURE. A LevelDB directory holding N replicas of store 1, each as a range that was
 * created and written looks on disk: the bootstrap snapshot (index 5, term 5, one voter),
 * log entries 6..8 (16-byte payloads) of term 6, HardState {term 6, vote 1, commit 8}, and
 * the applied state (index 8, a 32-byte descriptor). Built with the engine directly, in
 * batches of 20,000 replicas, and cached under the OS temp directory keyed by N, the engine
 * format and this fixture's layout version (built once; progress on stderr). Single-voter
 * ranges, so that one store can serve a request without its peers; the open does the same
 * work for any number of voters.
 *
 * MEASURED, twice, each in a fresh child process (nothing of the setup in its heap), on one
 * copy of the fixture (the served request writes to it): first as after a crash (the
 * fixture holds no manifest: the open scans the metadata), then as after the first child's
 * clean close (the open reads the manifest that close wrote, `close_ms`). Each: from
 * `new LevelEngine` to `Store.open`
 * resolving (the identity check, the one scan of the metadata, every replica seated
 * dormant); then, with the store driving itself on real time, from the first `propose` on a
 * random range (it wakes the replica, which loads its storage, finds no leader and
 * campaigns: `NotLeaderError` until it has won, retried at once) until the entry is applied.
 * Heap (`heapUsed` plus `arrayBuffers`: typed arrays are outside the JS heap), per replica,
 * against the collected heap of the loaded modules: right
 * after the open with no forced GC (the scan's garbage included), and after serving plus
 * one forced GC (what the store retains: table, engine, the one woken replica).
 */
import { spawnSync } from 'node:child_process';
import { ClassicLevel } from 'classic-level';
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EntryType, type Snapshot } from '../src/raft/index.js';
import { CountingStateMachine, NotLeaderError, Store, newStoreSummary }
  from '../src/multiraft/index.js';
import { ENGINE_FORMAT_VERSION, LevelEngine, MANIFEST_HEADER_KEY }
  from '../src/storage/index.js';
import { LoopbackNetwork } from '../src/transport/index.js';
import { SeededRandom } from '../src/util/index.js';
import { argNumber, emit, printTable } from './_report.js';

const IDENTITY = { storeId: 1, clusterId: 'bench-restart' };
/** Bump when the fixture's content changes (the cache key). */
const FIXTURE_VERSION = 1;
const SETUP_BATCH = 20_000;
const PROGRESS_STEPS = 10;

function fixturePath(ranges: number): string {
  return join(tmpdir(),
    `flotilla-restart-fixture-e${ENGINE_FORMAT_VERSION}-f${FIXTURE_VERSION}-${ranges}`);
}

function commit(engine: LevelEngine, batch: ReturnType<LevelEngine['batch']>): Promise<void> {
  return new Promise((resolve, reject) =>
    engine.commit(batch, (e) => (e === null ? resolve() : reject(e))));
}

async function buildFixture(location: string, ranges: number): Promise<number> {
  const t0 = performance.now();
  const engine = new LevelEngine({ ...IDENTITY, location, entryCacheBytesMax: 0 });
  await engine.open();
  const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [],
    autoLeave: false };
  const snapshot: Snapshot = { data: new Uint8Array(0),
    metadata: { index: 5, term: 5, confState } };
  const descriptor = new Uint8Array(32).fill(1);
  const data = new Uint8Array(16).fill(2);
  const entries = [6, 7, 8].map((index) => ({ term: 6, index, type: EntryType.EntryNormal, data }));
  let nextReport = Math.ceil(ranges / PROGRESS_STEPS);
  for (let first = 1; first <= ranges; first += SETUP_BATCH) {
    const batch = engine.batch();
    const group = [];
    for (let r = first; r < first + SETUP_BATCH && r <= ranges; r++) {
      const s = engine.createReplica(r);
      s.applySnapshot(snapshot, descriptor, batch);
      s.append(entries, batch);
      s.setHardState({ term: 6, vote: 1, commit: 8 }, batch);
      s.setApplied({ index: 8, descriptor, confState }, batch);
      group.push(s);
    }
    await commit(engine, batch);
    for (const s of group) s.release();
    const done = Math.min(ranges, first + SETUP_BATCH - 1);
    if (done >= nextReport || done === ranges) {
      process.stderr.write(`fixture: ${done} of ${ranges} ranges written, ` +
        `${Math.round(performance.now() - t0)} ms\n`);
      nextReport += Math.ceil(ranges / PROGRESS_STEPS);
    }
  }
  await engine.close();
  return performance.now() - t0;
}

/** The cached fixture of `ranges` ranges, built if missing. @returns its path, build ms. */
async function fixture(ranges: number): Promise<[string, number]> {
  const path = fixturePath(ranges);
  if (existsSync(join(path, 'COMPLETE'))) return [path, 0];
  const building = `${path}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const buildMs = await buildFixture(join(building, 'db'), ranges);
  writeFileSync(join(building, 'COMPLETE'), `${ranges}\n`);
  rmSync(path, { recursive: true, force: true });
  renameSync(building, path);
  return [path, buildMs];
}

interface Measured {
  openMs: number; openCpuMs: number; servedMs: number; closeMs: number; heapBefore: number;
  heapAfterOpen: number; heapRetained: number; tableBytes: number; dormant: number;
  rangeServed: number;
}

/** The JS heap plus array buffers (the table's typed arrays live outside the heap). */
function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function measure(location: string, ranges: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the measuring child runs with --expose-gc');
  // The baseline is the collected heap of the loaded modules (their import garbage would
  // otherwise hide part of what the open adds).
  gc();
  const heapBefore = heapBytes();
  const machine = new CountingStateMachine();
  let applied: (() => void) | null = null;
  const stateMachine = {
    apply: (...args: Parameters<CountingStateMachine['apply']>) => {
      machine.apply(...args);
      applied?.();
    },
    applySnapshot: () => machine.applySnapshot(),
  };
  const network = new LoopbackNetwork({});
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const engine = new LevelEngine({ ...IDENTITY, location });
  const store = await Store.open({
    nodeId: 1, stateMachine, random: new SeededRandom(1), storageEngine: engine,
    transport: network.createTransport({ nodeId: 1, autoFlush: true }),
  }, { progressEvery: Math.max(1, Math.ceil(ranges / PROGRESS_STEPS)), onProgress: (p) => {
    process.stderr.write(`${p.done ? 'opened' : 'open'}: ${p.replicasListed} replicas ` +
      `(${p.replicasDormant} dormant, ` +
      `${p.replicasAwake} awake, ${p.replicasRefused} refused), ${p.elapsedMs} ms\n`);
  } });
  const openMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const openCpuMs = (cpu.user + cpu.system) / 1000;
  const heapAfterOpen = heapBytes();
  const rangeServed = 1 + new SeededRandom(ranges).intn(ranges);
  store.start();
  const t1 = performance.now();
  const served = new Promise<void>((resolve) => (applied = resolve));
  const payload = new Uint8Array(16).fill(3);
  for (;;) {
    try {
      store.propose(rangeServed, payload);
      break;
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await served;
  const servedMs = performance.now() - t1;
  const dormant = store.summary(newStoreSummary()).dormant;
  gc();
  const heapRetained = heapBytes();
  const tableBytes = store.tableBytes;
  await store.stop();
  const t2 = performance.now();
  await store.close();
  await engine.close();
  const closeMs = performance.now() - t2;
  const m: Measured = { openMs, openCpuMs, servedMs, closeMs, heapBefore, heapAfterOpen,
    heapRetained, tableBytes, dormant, rangeServed };
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

async function main(): Promise<void> {
  const ranges = argNumber('ranges', 100_000);
  const [path, buildMs] = await fixture(ranges);
  if (process.argv.includes('--fixture-only')) {
    process.stderr.write(`fixture ready: ${path} (built in ${Math.round(buildMs)} ms)\n`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-restart-'));
  try {
    cpSync(join(path, 'db'), join(work, 'db'), { recursive: true });
    await dropManifest(join(work, 'db'));
    // Without its manifest (as after a crash) the first open scans; its clean close writes
    // the manifest the second open reads.
    const results = [];
    for (const openPath of ['scan', 'manifest']) {
      const m = measureInChild(join(work, 'db'), ranges);
      results.push(emit({
        name: 'restart.store_open', ranges, engine: 'level', open_path: openPath,
        fixture_build_ms: Math.round(buildMs), fixture_cached: buildMs === 0,
        open_ms: Math.round(m.openMs), open_cpu_ms: Math.round(m.openCpuMs),
        first_request_served_ms: Math.round(m.servedMs),
        open_and_served_ms: Math.round(m.openMs + m.servedMs),
        heap_after_open_bytes_per_replica: Math.round((m.heapAfterOpen - m.heapBefore) / ranges),
        heap_retained_after_gc_bytes_per_replica:
          Math.round((m.heapRetained - m.heapBefore) / ranges),
        table_bytes_per_replica: Math.round(m.tableBytes / ranges),
        close_ms: Math.round(m.closeMs),
        goal_open_and_served_ms: 10_000, goal_heap_bytes_per_dormant_replica: 1024,
      }));
    }
    printTable(results, ['name', 'ranges', 'open_path', 'open_ms', 'open_cpu_ms',
      'first_request_served_ms', 'open_and_served_ms', 'heap_after_open_bytes_per_replica',
      'heap_retained_after_gc_bytes_per_replica', 'close_ms']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Deletes the manifest the fixture build's clean close wrote, so that the first open scans
 * as after a crash.
 */
async function dropManifest(location: string): Promise<void> {
  const raw = new ClassicLevel<Uint8Array, Uint8Array>(location,
    { keyEncoding: 'view', valueEncoding: 'view' });
  await raw.open();
  await raw.del(MANIFEST_HEADER_KEY, { sync: true });
  await raw.close();
}

function measureInChild(location: string, ranges: number): Measured {
  const child = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192',
    '--import', 'tsx', fileURLToPath(import.meta.url), '--measure', location, String(ranges)],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`measuring child failed (${child.status})`);
  const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured;
  if (m.dormant !== ranges - 1) throw new Error(`${m.dormant} dormant of ${ranges}`);
  return m;
}

const measureAt = process.argv.indexOf('--measure');
if (measureAt >= 0) {
  await measure(process.argv[measureAt + 1]!, Number(process.argv[measureAt + 2]));
} else {
  await main();
}
