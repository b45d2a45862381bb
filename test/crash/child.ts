/**
 * The child process of `npm run crash`: three stores (three LevelDB engines, one directory
 * each) under a write load of unique values, or a read-back of what they hold.
 *
 *   node --import tsx test/crash/child.ts write <dir> <first id> <ranges>
 *   node --import tsx test/crash/child.ts verify <dir> <ranges>
 *
 * WRITE: first prints the read-back (as VERIFY does) prefixed `report `, then `ready`; then
 * each turn, for one range on each store, stages one log entry carrying a unique id,
 * the HardState (commit = the new last index), the applied state (index = commit) and the
 * user key `id` (value: range and index), in one batch per store: the state-machine write,
 * the applied index and the log entry are atomic. When a store's commit completes it prints
 * `ack <store> <id>`: the write is acknowledged, so it must survive a kill -9. Runs until
 * killed. `FLOTILLA_CRASH_BUG=ack-before-sync` plants the bug the check must catch: it
 * acknowledges when the write is staged, before its sync.
 *
 * VERIFY: opens the three stores, loads every replica (a bad record is a failure) and prints
 * one JSON line: per store, per range, the HardState, applied index, last index and the ids
 * in the log; and every user key with its value.
 */
import { join } from 'node:path';
import { EntryType, NO_LIMIT, type Entry } from '../../src/raft/index.js';
import { LevelEngine, type ReplicaStorage } from '../../src/storage/index.js';

const STORES = 3;
const CLUSTER = 'crash';

const idBytes = (id: number): Uint8Array => new TextEncoder().encode(`id${id}`);
const idOf = (data: Uint8Array): number => Number(new TextDecoder().decode(data).slice(2));

async function openStores(dir: string, ranges: number): Promise<[LevelEngine, ReplicaStorage[]][]> {
  const out: [LevelEngine, ReplicaStorage[]][] = [];
  for (let s = 1; s <= STORES; s++) {
    const engine = new LevelEngine({ storeId: s, clusterId: CLUSTER, location: join(dir, `s${s}`) });
    const listed = new Set(await engine.open());
    const replicas: ReplicaStorage[] = [];
    for (let r = 1; r <= ranges; r++) {
      replicas.push(listed.has(r) ? engine.loadReplica(r) : engine.createReplica(r));
    }
    out.push([engine, replicas]);
  }
  return out;
}

async function write(dir: string, firstId: number, ranges: number): Promise<void> {
  const stores = await openStores(dir, ranges);
  process.stdout.write(`report ${JSON.stringify(await reportOf(stores))}\n`);
  const ackEarly = process.env['FLOTILLA_CRASH_BUG'] === 'ack-before-sync';
  let id = firstId;
  let turn = 0;
  process.stdout.write('ready\n');
  const step = (): void => {
    for (let s = 0; s < STORES; s++) {
      const [engine, replicas] = stores[s]!;
      const r = replicas[(turn + s) % ranges]!;
      const index = r.lastIndex() + 1;
      const entry: Entry = { term: 1, index, type: EntryType.EntryNormal, data: idBytes(id) };
      const batch = engine.batch();
      r.append([entry], batch);
      r.setHardState({ term: 1, vote: s + 1, commit: index }, batch);
      r.setApplied({ ...r.appliedState(), index }, batch);
      engine.putUser(idBytes(id), new TextEncoder().encode(`${r.rangeId}:${index}`), batch);
      const acked = id++;
      if (ackEarly) process.stdout.write(`ack ${s + 1} ${acked}\n`);
      engine.commit(batch, (error) => {
        if (error !== null) throw error;
        if (!ackEarly) process.stdout.write(`ack ${s + 1} ${acked}\n`);
      });
    }
    turn++;
    setImmediate(step);
  };
  step();
}

/** What verify prints for one range. */
export interface RangeReport {
  hardState: { term: number; vote: number; commit: number };
  applied: number;
  last: number;
  ids: number[];
}

/** What verify prints for one store. */
export interface StoreReport {
  ranges: Record<number, RangeReport>;
  user: Record<string, string>;
}

async function verify(dir: string, ranges: number): Promise<void> {
  const stores = await openStores(dir, ranges);
  const report = await reportOf(stores);
  for (const [engine] of stores) await engine.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function reportOf(stores: [LevelEngine, ReplicaStorage[]][]): Promise<StoreReport[]> {
  const report: StoreReport[] = [];
  for (const [engine, replicas] of stores) {
    const out: StoreReport = { ranges: {}, user: {} };
    for (const r of replicas) {
      const last = r.lastIndex();
      const ents = last === 0 ? [] : (r.entries(r.firstIndex(), last + 1, NO_LIMIT) as Entry[]);
      out.ranges[r.rangeId] = { hardState: r.hardState(), applied: r.appliedState().index, last,
        ids: ents.map((e) => idOf(e.data)) };
    }
    const reader = engine.readSpan(idBytes(0).subarray(0, 2), null);
    for (let rows = await reader.next(1000); rows.length > 0; rows = await reader.next(1000)) {
      for (const row of rows) {
        out.user[new TextDecoder().decode(row.key)] = new TextDecoder().decode(row.value);
      }
    }
    reader.close();
    report.push(out);
  }
  return report;
}

const [mode, dir, a, b] = process.argv.slice(2);
if (mode === 'write') await write(dir!, Number(a), Number(b));
else if (mode === 'verify') await verify(dir!, Number(a));
else throw new Error('usage: child.ts write <dir> <first id> <ranges> | verify <dir> <ranges>');
