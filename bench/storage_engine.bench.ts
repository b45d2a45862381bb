/**
 * Micro-benchmark of the storage engines alone (no Raft): commit throughput and sync latency
 * of `LevelEngine` (sync: true on every write) against `MemoryEngine`, by batch size.
 *
 *   npm run bench:storage-engine [-- --ranges 1000 --seconds 2 --payload 100]
 *
 * Each batch holds `groups` replicas, each appending one entry (`payload` bytes) and staging
 * its HardState, as a scheduler batch of that many active groups would. Two loops:
 *   - serial:    commit, wait for it, repeat: sync latency per batch (p50/p99, ms);
 *   - pipelined: commit a new batch every event-loop turn without waiting (at most 64 in
 *                flight): the engine folds the batches committed during one sync into the
 *                next write (group commit); reports batches per sync.
 * Figures: entries per second, syncs, batches per sync, bytes per entry, latency from commit
 * to done (p50/p99, ms). Cold start per configuration: a fresh directory each time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType, type Entry } from '../src/raft/index.js';
import {
  LevelEngine,
  MemoryEngine,
  type ReplicaStorage,
  type StorageEngine,
} from '../src/storage/index.js';
import { argNumber, emit, printTable, type BenchResult } from './_report.js';

const RANGES = argNumber('ranges', 1000);
const SECONDS = argNumber('seconds', 2);
const PAYLOAD_BYTES = argNumber('payload', 100);
const GROUP_COUNTS = [1, 10, 100, 1000].filter((g) => g <= RANGES);
const IN_FLIGHT_MAX = 64;

const root = mkdtempSync(join(tmpdir(), 'flotilla-bench-storage-'));
let dirs = 0;

async function openEngine(kind: 'level' | 'memory'): Promise<StorageEngine> {
  const engine = kind === 'memory' ? new MemoryEngine()
    : new LevelEngine({ storeId: 1, clusterId: 'bench', location: join(root, `db${++dirs}`) });
  await engine.open();
  return engine;
}

interface Workload {
  engine: StorageEngine;
  replicas: ReplicaStorage[];
  next: number[];
  cursor: number;
  data: Uint8Array;
}

function stageBatch(w: Workload, groups: number): ReturnType<StorageEngine['batch']> {
  const batch = w.engine.batch();
  for (let g = 0; g < groups; g++) {
    const i = w.cursor;
    w.cursor = (w.cursor + 1) % w.replicas.length;
    const index = w.next[i]!++;
    const entry: Entry = { term: 1, index, type: EntryType.EntryNormal, data: w.data };
    w.replicas[i]!.append([entry], batch);
    w.replicas[i]!.setHardState({ term: 1, vote: 1, commit: index }, batch);
  }
  return batch;
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function run(kind: 'level' | 'memory', mode: 'serial' | 'pipelined', groups: number):
  Promise<BenchResult> {
  const engine = await openEngine(kind);
  const replicas = Array.from({ length: RANGES }, (_, i) => engine.createReplica(i + 1));
  const w: Workload = { engine, replicas, next: replicas.map(() => 1), cursor: 0,
    data: new Uint8Array(PAYLOAD_BYTES).fill(7) };
  const latencies: number[] = [];
  let batches = 0;
  let inFlight = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      if (performance.now() >= deadline) {
        if (inFlight === 0) resolve();
        return;
      }
      while (inFlight < (mode === 'serial' ? 1 : IN_FLIGHT_MAX)) {
        const batch = stageBatch(w, groups);
        const t0 = performance.now();
        inFlight++;
        engine.commit(batch, (error) => {
          if (error !== null) throw error;
          latencies.push(performance.now() - t0);
          batches++;
          inFlight--;
          if (mode === 'serial') setImmediate(step);
          else if (inFlight === 0 && performance.now() >= deadline) resolve();
        });
        break;
      }
      if (mode === 'pipelined') setImmediate(step);
    };
    step();
  });
  const elapsedS = (performance.now() - start) / 1000;
  const stats = engine.stats();
  await engine.close();
  latencies.sort((a, b) => a - b);
  const entries = batches * groups;
  return {
    name: `storage_engine.${kind}.${mode}`, engine: kind, mode, groups_per_batch: groups,
    ranges: RANGES, payload_bytes: PAYLOAD_BYTES, seconds: SECONDS,
    entries_per_s: Math.round(entries / elapsedS),
    batches_per_s: Math.round(batches / elapsedS),
    syncs: stats.writesSynced,
    batches_per_sync: stats.writesSynced === 0 ? 0 : batches / stats.writesSynced,
    bytes_per_entry: entries === 0 ? 0 : Math.round(stats.bytesCommitted / entries),
    commit_latency_p50_ms: percentile(latencies, 0.5),
    commit_latency_p99_ms: percentile(latencies, 0.99),
  };
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  try {
    for (const kind of ['memory', 'level'] as const) {
      for (const mode of ['serial', 'pipelined'] as const) {
        for (const groups of GROUP_COUNTS) results.push(emit(await run(kind, mode, groups)));
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  printTable(results, ['name', 'groups_per_batch', 'entries_per_s', 'batches_per_s', 'syncs',
    'batches_per_sync', 'bytes_per_entry', 'commit_latency_p50_ms', 'commit_latency_p99_ms']);
}

await main();
