/**
 * The durable engine's open: one scan of the metadata after a crash, the manifest after a
 * clean close (the same summaries), and the manifest never trusted twice: consumed by the
 * open that reads it, absent after a crash or a failed write.
 */
import { describe, expect, it } from 'vitest';
import { EntryType, type Entry } from '../../src/raft/index.js';
import {
  CrashModelEngine,
  LevelEngine,
  type ReplicaStorage,
  type ReplicaSummary,
} from '../../src/storage/index.js';
import { KeyBuilder, MetaKind } from '../../src/storage/_keys.js';
import { RecordCodec } from '../../src/storage/_records.js';
import { IDENTITY, tempDirs } from './_engines.js';

type Row = Omit<ReplicaSummary, 'error' | 'confState'> & { voters: number[]; refused: boolean };

async function summaries(engine: CrashModelEngine | LevelEngine): Promise<Row[]> {
  const rows: Row[] = [];
  await engine.open({ onReplica: (s) => void rows.push({ rangeId: s.rangeId, term: s.term,
    vote: s.vote, commit: s.commit, lastIndex: s.lastIndex, appliedIndex: s.appliedIndex,
    voters: [...s.confState.voters], refused: s.error !== null }) });
  return rows;
}

function ents(from: number, n: number, term: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ term, index: from + i,
    type: EntryType.EntryNormal, data: new Uint8Array([i]) }));
}

const cs = (voters: number[]) => ({ voters, learners: [], votersOutgoing: [], learnersNext: [],
  autoLeave: false });

/** Stages a replica with `n` entries of `term`, committed and applied up to `applied`. */
function fill(r: ReplicaStorage, batch: ReturnType<CrashModelEngine['batch']>, n: number,
  term: number, applied: number, voters: number[]): void {
  r.append(ents(1, n, term), batch);
  r.setHardState({ term, vote: voters[0]!, commit: n }, batch);
  r.setApplied({ index: applied, confState: cs(voters), descriptor: new Uint8Array(0) }, batch);
}

const expected = (rangeId: number, n: number, term: number, applied: number, voters: number[]):
  Row => ({ rangeId, term, vote: voters[0]!, commit: n, lastIndex: n, appliedIndex: applied,
  voters, refused: false });

describe('durable engine open: scan and manifest', () => {
  it('a clean close hands the next open the same summaries; consumed once', async () => {
    const e = new CrashModelEngine(IDENTITY);
    await e.open();
    const batch = e.batch();
    fill(e.createReplica(1), batch, 3, 2, 3, [1, 2, 3]);
    fill(e.createReplica(2), batch, 5, 4, 2, [1, 2]);
    fill(e.createReplica(3), batch, 1, 1, 1, [1]);
    e.commit(batch, () => undefined);
    e.completeAll();
    // A crash: no manifest, the open scans.
    const scanned = e.crash();
    expect(await summaries(scanned)).toEqual([expected(1, 3, 2, 3, [1, 2, 3]),
      expected(2, 5, 4, 2, [1, 2]), expected(3, 1, 1, 1, [1])]);
    // Range 2 loaded and written, range 3 destroyed, range 4 created; the rest untouched.
    const b2 = scanned.batch();
    const two = scanned.loadReplica(2);
    two.append(ents(6, 2, 4), b2);
    two.setHardState({ term: 4, vote: 1, commit: 7 }, b2);
    scanned.destroyReplica(scanned.loadReplica(3), b2);
    fill(scanned.createReplica(4), b2, 2, 3, 2, [4, 5]);
    scanned.commit(b2, () => undefined);
    scanned.completeAll();
    await scanned.close();
    const after = [expected(1, 3, 2, 3, [1, 2, 3]),
      { ...expected(2, 7, 4, 2, [1, 2]), vote: 1 }, expected(4, 2, 3, 2, [4, 5])];
    // A record changed behind the engine's back shows which path an open took.
    const keys = new KeyBuilder();
    const key = keys.metaKey(1, MetaKind.RaftState).slice();
    const poked = new RecordCodec().raftState(key, { term: 9, vote: 1, commit: 3 },
      { truncatedIndex: 0, truncatedTerm: 0, lastIndex: 3 }).slice();
    const clean = scanned.crash();
    clean.disk.poke(key, poked);
    expect(await summaries(clean)).toEqual(after);
    // The manifest was consumed by that open: a crash now, and the next open scans.
    const again = clean.crash();
    expect(await summaries(again)).toEqual([{ ...after[0]!, term: 9 }, after[1], after[2]]);
  });

  it('no manifest after a failed write', async () => {
    const e = new CrashModelEngine(IDENTITY);
    await e.open();
    const one = e.createReplica(1);
    const batch = e.batch();
    fill(one, batch, 2, 1, 2, [1]);
    e.commit(batch, () => undefined);
    e.completeAll();
    e.failNextWrite(new Error('EIO'));
    const failing = e.batch();
    one.setHardState({ term: 2, vote: 1, commit: 2 }, failing);
    const results: (Error | null)[] = [];
    e.commit(failing, (error) => void results.push(error));
    e.completeAll();
    await Promise.resolve();
    expect(results).toHaveLength(1);
    expect(results[0]).toBeInstanceOf(Error);
    await e.close();
    const next = e.crash();
    const key = new KeyBuilder().metaKey(1, MetaKind.RaftState).slice();
    next.disk.poke(key, new RecordCodec().raftState(key, { term: 7, vote: 1, commit: 2 },
      { truncatedIndex: 0, truncatedTerm: 0, lastIndex: 2 }).slice());
    expect((await summaries(next)).map((r) => r.term)).toEqual([7]);
  });

  it('on LevelDB: reopened from the manifest, the same summaries as a scan', async () => {
    const dir = tempDirs()();
    const e = new LevelEngine({ ...IDENTITY, location: dir });
    await e.open();
    const batch = e.batch();
    for (let r = 1; r <= 50; r++) fill(e.createReplica(r), batch, 1 + (r % 4), r, 1, [1, r + 1]);
    await new Promise<void>((resolve) => e.commit(batch, () => resolve()));
    await e.close();
    const manifest = new LevelEngine({ ...IDENTITY, location: dir });
    const fromManifest = await summaries(manifest);
    expect(fromManifest).toEqual(Array.from({ length: 50 }, (_, i) =>
      expected(i + 1, 1 + ((i + 1) % 4), i + 1, 1, [1, i + 2])));
    await manifest.close();
  });
});
