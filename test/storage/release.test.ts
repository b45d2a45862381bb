/**
 * `ReplicaStorage.release()` on the durable engine: a dormant replica keeps no log (and no
 * snapshot data) in memory, so its heap does not grow with its log. Heap is measured after
 * forced collections; the gap it must stay under is a hundred times smaller than what the
 * long logs would hold if anything kept them.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EntryType, NO_LIMIT, type Entry } from '../../src/raft/index.js';
import { LevelEngine, type ReplicaStorage } from '../../src/storage/index.js';
import { IDENTITY, tempDirs } from './_engines.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const REPLICAS = 300;
const PAYLOAD_BYTES = 64;

/** The JS heap plus array buffers (payloads live outside the heap). */
function heapUsed(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const commit = (engine: LevelEngine): ((stage: (b: ReturnType<LevelEngine['batch']>) => void) =>
  Promise<void>) => (stage) => {
  const batch = engine.batch();
  stage(batch);
  return new Promise((resolve, reject) =>
    engine.commit(batch, (e) => (e === null ? resolve() : reject(e))));
};

function entries(from: number, count: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ term: 1, index: from + i,
    type: EntryType.EntryNormal, data: new Uint8Array(PAYLOAD_BYTES).fill(i & 0xff) }));
}

/** Heap per released replica whose log holds `logLength` entries. */
async function heapPerReleasedReplica(engine: LevelEngine, firstRangeId: number,
  logLength: number): Promise<number> {
  const write = commit(engine);
  const before = heapUsed();
  const replicas: ReplicaStorage[] = [];
  for (let i = 0; i < REPLICAS; i++) replicas.push(engine.createReplica(firstRangeId + i));
  for (let at = 1; at <= logLength; at += 100) {
    const n = Math.min(100, logLength - at + 1);
    await write((b) => {
      for (const r of replicas) r.append(entries(at, n), b);
    });
  }
  await write((b) => {
    for (const r of replicas) r.setHardState({ term: 1, vote: 1, commit: logLength }, b);
  });
  for (const r of replicas) r.release();
  expect(engine.stats().entryCacheBytes).toBe(0);
  const perReplica = (heapUsed() - before) / REPLICAS;
  // Still readable after the release: from the engine.
  const read = replicas[REPLICAS - 1]!.entries(1, logLength + 1, NO_LIMIT) as Entry[];
  expect(read.map((e) => e.index)).toEqual(entries(1, logLength).map((e) => e.index));
  return perReplica;
}

describe('released replicas on the LevelDB engine', () => {
  const dir = tempDirs();

  it('keep no log in memory: heap per replica does not grow with the log', async () => {
    const engine = new LevelEngine({ ...IDENTITY, location: dir() });
    await engine.open();
    const short = await heapPerReleasedReplica(engine, 1, 4);
    const long = await heapPerReleasedReplica(engine, 10_000, 400);
    // Kept, the long logs would be about 400 x (64 + overhead) bytes = 40 KiB per replica;
    // the bound is a tenth of that, so garbage a loaded machine has not collected yet (a few
    // hundred bytes per replica) does not count as a kept log.
    expect(long - short).toBeLessThan(4096);
    expect(long).toBeLessThan(8192);
    await engine.close();
  });

  it('drop a durable snapshot with data and read it back when asked', async () => {
    const engine = new LevelEngine({ ...IDENTITY, location: dir() });
    await engine.open();
    const r = engine.createReplica(1);
    const data = new Uint8Array(100_000).fill(7);
    const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [],
      autoLeave: false };
    await commit(engine)((b) => {
      r.applySnapshot({ data: data.slice(), metadata: { index: 10, term: 2, confState } },
        new Uint8Array(0), b);
    });
    const before = heapUsed();
    r.release();
    expect(before - heapUsed()).toBeGreaterThan(data.length / 2);
    const snap = r.snapshot();
    expect(snap).toMatchObject({ metadata: { index: 10, term: 2, confState } });
    expect(new Uint8Array((snap as { data: Uint8Array }).data)).toEqual(data);
    await engine.close();
  });
});
