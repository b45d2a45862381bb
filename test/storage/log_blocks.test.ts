/**
 * The durable engine stores a replica's log in blocks of LOG_BLOCK_ENTRIES indexes (_keys.ts):
 * an append rewrites the entries its first block holds, a conflicting append drops the blocks
 * past its end, a compaction deletes whole blocks only. Checked against a plain array of the
 * log under random appends (conflicts included), compactions, evictions of the entry cache and
 * crashes with writes in flight, on the crash model (the engine's code on a simulated disk).
 */
import { describe, expect, it } from 'vitest';
import { EntryType, NO_LIMIT, type Entry } from '../../src/raft/index.js';
import { CrashModelEngine, type ReplicaStorage } from '../../src/storage/index.js';
import { SimDisk } from '../../src/storage/_sim_disk.js';
import { LOG_BLOCK_ENTRIES, KeyPrefix, rangeIdOfKey } from '../../src/storage/_keys.js';
import { SeededRandom } from '../../src/util/index.js';
import { IDENTITY } from './_engines.js';

const RANGE = 7;
const cs = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

/** The model: the log as a plain array from `first`, and its truncation point. */
interface Model {
  truncatedIndex: number;
  truncatedTerm: number;
  log: Entry[];
}

const copy = (m: Model): Model => ({ ...m, log: m.log.slice() });
const lastOf = (m: Model): number => m.truncatedIndex + m.log.length;

function entry(index: number, term: number, random: SeededRandom): Entry {
  const data = new Uint8Array(random.intn(40));
  for (let i = 0; i < data.length; i++) data[i] = (index * 31 + i) & 0xff;
  return { term, index, type: EntryType.EntryNormal, data };
}

function expectLog(r: ReplicaStorage, m: Model): void {
  expect(r.firstIndex()).toBe(m.truncatedIndex + 1);
  expect(r.lastIndex()).toBe(lastOf(m));
  if (m.log.length === 0) return;
  const got = r.entries(m.truncatedIndex + 1, lastOf(m) + 1, NO_LIMIT) as Entry[];
  expect(got.map((e) => [e.index, e.term, [...e.data]]))
    .toEqual(m.log.map((e) => [e.index, e.term, [...e.data]]));
  const i = m.truncatedIndex + 1 + Math.floor(m.log.length / 2);
  expect(r.term(i)).toBe(m.log[i - m.truncatedIndex - 1]!.term);
}

/** Log keys of RANGE on the disk (the snapshot slot, index 0, aside). */
async function logKeys(disk: SimDisk): Promise<number> {
  const it = disk.iterate(Uint8Array.of(KeyPrefix.Log), Uint8Array.of(KeyPrefix.User), null);
  const rows = await it.nextv(1 << 20);
  return rows.filter(([k]) => rangeIdOfKey(k) === RANGE && k[16] !== 0).length;
}

/** One random step: an append (maybe conflicting) or a compaction, staged into a batch. */
function step(random: SeededRandom, r: ReplicaStorage, m: Model, term: { now: number },
  batch: ReturnType<CrashModelEngine['batch']>): void {
  const last = lastOf(m);
  if (random.intn(5) === 0 && m.log.length > 1) {
    const index = m.truncatedIndex + 1 + random.intn(m.log.length - 1);
    r.setApplied({ index, confState: cs, descriptor: new Uint8Array(0) }, batch);
    expect(r.compact(index, batch)).toBeNull();
    m.truncatedTerm = m.log[index - m.truncatedIndex - 1]!.term;
    m.log.splice(0, index - m.truncatedIndex);
    m.truncatedIndex = index;
    return;
  }
  // Mostly at the end; sometimes a conflict that replaces a suffix with a newer term.
  const conflict = random.intn(4) === 0 && m.log.length > 0;
  const start = conflict ? m.truncatedIndex + 1 + random.intn(m.log.length) : last + 1;
  if (conflict) term.now++;
  const n = 1 + random.intn(2 * LOG_BLOCK_ENTRIES + 3);
  const added: Entry[] = [];
  for (let i = 0; i < n; i++) added.push(entry(start + i, term.now, random));
  r.append(added, batch);
  m.log.length = start - m.truncatedIndex - 1;
  m.log.push(...added);
}

describe('log blocks on the durable engine', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`match a plain log through appends, conflicts, compactions and crashes (seed ${seed})`,
      async () => {
        const random = new SeededRandom(seed);
        // A tiny entry cache: most reads of older entries go to the disk.
        const options = { ...IDENTITY, entryCacheBytesMax: 256 };
        let engine = new CrashModelEngine(options);
        await engine.open();
        let r = engine.createReplica(RANGE);
        let model: Model = { truncatedIndex: 0, truncatedTerm: 0, log: [] };
        let durable = copy(model);
        const term = { now: 1 };
        for (let round = 0; round < 60; round++) {
          // A few batches committed back to back: later ones while earlier writes are pending.
          for (let k = 1 + random.intn(3); k > 0; k--) {
            const batch = engine.batch();
            step(random, r, model, term, batch);
            r.setHardState({ term: term.now, vote: 1, commit: 0 }, batch);
            const atCommit = copy(model);
            engine.commit(batch, (error) => {
              expect(error).toBeNull();
              durable = atCommit;
            });
            if (random.intn(2) === 0) engine.completeWrite();
          }
          expectLog(r, model);
          if (random.intn(3) === 0) r.release();
          if (random.intn(6) === 0) {
            // A crash keeps what completed: the log as of the last completed batch.
            if (random.intn(2) === 0) engine.completeAll();
            await Promise.resolve();
            engine = engine.crash(options);
            expect(await engine.open()).toEqual([RANGE]);
            r = engine.loadReplica(RANGE);
            model = copy(durable);
            expectLog(r, model);
          }
        }
        engine.completeAll();
        await Promise.resolve();
        // Only the blocks the log spans remain (and at most the one holding the truncation).
        const spanned = Math.floor(lastOf(model) / LOG_BLOCK_ENTRIES) -
          Math.floor((model.truncatedIndex + 1) / LOG_BLOCK_ENTRIES) + 1;
        expect(await logKeys(engine.disk)).toBeLessThanOrEqual(Math.max(1, spanned + 1));
        const batch = engine.batch();
        engine.destroyReplica(r, batch);
        engine.commit(batch, (error) => expect(error).toBeNull());
        engine.completeAll();
        expect(await logKeys(engine.disk)).toBe(0);
        await engine.close();
      });
  }
});
