/**
 * Restart of a store's engine with N ranges: open time and heap after open.
 *
 *   npm run bench:restart -- --ranges 100000
 *
 * Setup (this process): a fresh LevelDB directory with N replicas, each with 3 log entries,
 * a HardState, an applied state (index 3, three voters, a 32-byte descriptor) written in
 * batches of 10,000 replicas, then closed. Measured (a fresh child process, cold: nothing
 * of the setup is in its heap): `open()` (identity check and the one scan of the metadata
 * range that lists the replicas), heap used after the open against the heap before it, and
 * then the lazy path a waking replica takes: `loadReplica` of 1,000 replicas spread over
 * the keyspace (records decoded and checked, log walked). No forced GC; the heap figure
 * includes whatever garbage the open left.
 *
 * This measures the engine alone: the store's lazily created Raft nodes come on top.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EntryType } from '../src/raft/index.js';
import { LevelEngine } from '../src/storage/index.js';
import { argNumber, emit, printTable } from './_report.js';

const IDENTITY = { storeId: 1, clusterId: 'bench' };
const SETUP_BATCH = 10_000;
const LOAD_SAMPLE = 1000;

async function setup(location: string, ranges: number): Promise<number> {
  const t0 = performance.now();
  const engine = new LevelEngine({ ...IDENTITY, location, entryCacheBytesMax: 0 });
  await engine.open();
  const voters = [1, 2, 3];
  const descriptor = new Uint8Array(32).fill(1);
  const data = new Uint8Array(16).fill(2);
  for (let first = 1; first <= ranges; first += SETUP_BATCH) {
    const batch = engine.batch();
    const group = [];
    for (let r = first; r < first + SETUP_BATCH && r <= ranges; r++) {
      const s = engine.createReplica(r);
      s.append([1, 2, 3].map((index) => ({ term: 1, index, type: EntryType.EntryNormal, data })),
        batch);
      s.setHardState({ term: 1, vote: 1, commit: 3 }, batch);
      s.setApplied({ index: 3, descriptor,
        confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      }, batch);
      group.push(s);
    }
    await new Promise<void>((resolve, reject) =>
      engine.commit(batch, (e) => (e === null ? resolve() : reject(e))));
    for (const s of group) s.release();
  }
  await engine.close();
  return performance.now() - t0;
}

async function measure(location: string, ranges: number): Promise<void> {
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const engine = new LevelEngine({ ...IDENTITY, location });
  const listed = await engine.open();
  const openMs = performance.now() - t0;
  const heapAfter = process.memoryUsage().heapUsed;
  if (listed.length !== ranges) throw new Error(`listed ${listed.length} of ${ranges}`);
  const step = Math.max(1, Math.floor(ranges / LOAD_SAMPLE));
  const t1 = performance.now();
  let loaded = 0;
  for (let i = 0; i < listed.length && loaded < LOAD_SAMPLE; i += step, loaded++) {
    engine.loadReplica(listed[i]!);
  }
  const loadUs = ((performance.now() - t1) * 1000) / loaded;
  await engine.close();
  process.stdout.write(`${JSON.stringify({ openMs, heapBefore, heapAfter, loadUs })}\n`);
}

async function main(): Promise<void> {
  const ranges = argNumber('ranges', 100_000);
  const root = mkdtempSync(join(tmpdir(), 'flotilla-bench-restart-'));
  try {
    const location = join(root, 'db');
    const setupMs = await setup(location, ranges);
    const child = spawnSync(process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', location, String(ranges)],
      { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as
      { openMs: number; heapBefore: number; heapAfter: number; loadUs: number };
    const result = emit({
      name: 'restart.engine_open', ranges, setup_ms: Math.round(setupMs),
      open_ms: Math.round(m.openMs),
      heap_after_open_bytes: m.heapAfter,
      heap_growth_per_range_bytes: Math.round((m.heapAfter - m.heapBefore) / ranges),
      load_replica_us: Number(m.loadUs.toFixed(1)),
    });
    printTable([result], ['name', 'ranges', 'setup_ms', 'open_ms', 'heap_after_open_bytes',
      'heap_growth_per_range_bytes', 'load_replica_us']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const measureAt = process.argv.indexOf('--measure');
if (measureAt >= 0) {
  await measure(process.argv[measureAt + 1]!, Number(process.argv[measureAt + 2]));
} else {
  await main();
}
