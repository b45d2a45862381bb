/**
 * The child process of `npm run crash` (store mode): three `Store`s in one process over the
 * in-process loopback network, each on its own LevelDB directory, under a write load of
 * unique values proposed through the Store API.
 *
 *   node --import tsx test/crash/store_child.ts <dir> <first id> <ranges>
 *
 * START. Reopens the three stores from their engines (`Store.open`; the first start finds
 * empty engines and creates the ranges), reads every replica's HardState before anything
 * runs, starts the stores and waits until every replica has applied what its disk holds
 * committed (the replay of a crash between a commit and its apply). Then it checks, against
 * the files the parent keeps in `<dir>` (`acked`: `<store> <id>` per acknowledged write;
 * `hardstates.json`: the HardStates the previous start read):
 *
 * - every write acknowledged before any earlier kill is applied on its store exactly once;
 * - nothing (acknowledged or not) is applied twice on any store;
 * - no HardState moved back since the previous start, and commit <= last index;
 *
 * prints one `check <json>` line (counts and the first violations), saves the HardStates, and
 * prints `ready`. WRITE: from then on, each turn, it proposes a new id on the leader of every
 * range with fewer than `IN_FLIGHT_MAX` proposals in flight. The state machine applies an id
 * by staging user key `u/<id>` = `<range>:<index>` in the batch of the applied index (so the
 * two are atomic); if the key exists already it stages `d/<id>/<index>` instead, a durable
 * record of a duplicate application. A write is acknowledged (`ack <store> <id>` on stdout)
 * when it is applied on the store it was proposed to. Runs until killed.
 *
 * `FLOTILLA_CRASH_BUG=ack-before-sync` plants a bug the check should catch: each store's
 * engine reports a commit durable the moment it is handed over, before its sync. A kill
 * rarely lands in that window (LevelDB has the write in the OS's cache within the same turn,
 * and a SIGKILL loses only what the process still holds), so the tests plant
 * `FLOTILLA_CRASH_BUG=ack-before-commit` instead: a write is acknowledged when it is
 * proposed, before Raft committed or synced it, and a kill always finds some in flight.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StateType, type Entry } from '../../src/raft/index.js';
import {
  Store, newReplicaStatus, newStoreSummary, type StateMachine, type StoreOptions,
} from '../../src/multiraft/index.js';
import { LevelEngine, type EngineBatch, type StorageEngine } from '../../src/storage/index.js';
import { LoopbackNetwork } from '../../src/transport/index.js';
import { FlotillaError, SeededRandom } from '../../src/util/index.js';

const STORES = 3;
const CLUSTER = 'crash';
/** Proposals in flight per range (a short kill window still sees many writes). */
const IN_FLIGHT_MAX = 4;
/** Longest wait for the replay and the first leaders after a start. */
const START_WAIT_MS_MAX = 20_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What one start checked (the parent sums these). */
export interface StartCheck {
  acknowledged: number;
  lost: number;
  duplicated: number;
  violations: string[];
}

type HardStates = Record<string, { term: number; vote: number; commit: number }>;

class CrashStateMachine implements StateMachine {
  /** Ids proposed on this store and not yet applied here. */
  readonly proposed = new Set<number>();
  engine: StorageEngine | null = null;

  constructor(private readonly storeId: number) {}

  apply(rangeId: number, entry: Entry, batch: EngineBatch): void {
    const text = decoder.decode(entry.data);
    if (!text.startsWith('id')) return;
    const id = Number(text.slice(2));
    const engine = this.engine!;
    const key = encoder.encode(`u/${id}`);
    const where = encoder.encode(`${rangeId}:${entry.index}`);
    if (engine.getUser(key) === undefined) engine.putUser(key, where, batch);
    else engine.putUser(encoder.encode(`d/${id}/${entry.index}`), where, batch);
    if (this.proposed.delete(id)) process.stdout.write(`ack ${this.storeId} ${id}\n`);
  }

  applySnapshot(): void {}
}

/** PLANTED BUG (see the file header): acknowledged when proposed. */
const ACK_BEFORE_COMMIT = process.env['FLOTILLA_CRASH_BUG'] === 'ack-before-commit';

/** PLANTED BUG: the engine acknowledges a commit before its sync. */
function plantAckBeforeSync(engine: LevelEngine): void {
  const commit = engine.commit.bind(engine);
  engine.commit = (batch, done): void => {
    commit(batch, () => {});
    done(null);
  };
}

async function openStores(dir: string, ranges: number, seed: number):
  Promise<{ stores: Store[]; machines: CrashStateMachine[]; fresh: boolean }> {
  const network = new LoopbackNetwork({ seed });
  const random = new SeededRandom(seed);
  const stores: Store[] = [];
  const machines: CrashStateMachine[] = [];
  let fresh = false;
  for (let s = 1; s <= STORES; s++) {
    const location = join(dir, `s${s}`);
    const engine = new LevelEngine({ storeId: s, clusterId: CLUSTER, location });
    if (process.env['FLOTILLA_CRASH_BUG'] === 'ack-before-sync') plantAckBeforeSync(engine);
    const machine = new CrashStateMachine(s);
    machine.engine = engine;
    const options: StoreOptions = {
      nodeId: s, transport: network.createTransport({ nodeId: s, autoFlush: true }),
      stateMachine: machine, random, storageEngine: engine,
      electionTimeoutTicks: 10, heartbeatIntervalTicks: 1,
      ticker: { tickIntervalMs: 20, tickSpreadSlots: 4 },
    };
    const store = await Store.open(options);
    if (store.summary(newStoreSummary()).replicas === 0) fresh = true;
    stores.push(store);
    machines.push(machine);
  }
  if (fresh) {
    for (const store of stores) {
      for (let r = 1; r <= ranges; r++) store.createRange(r, { voters: [1, 2, 3] });
    }
  }
  return { stores, machines, fresh };
}

/** HardStates as the disks hold them (read before any tick or message). */
function readHardStates(stores: Store[], ranges: number, check: StartCheck): HardStates {
  const out: HardStates = {};
  const st = newReplicaStatus();
  for (const store of stores) {
    for (let r = 1; r <= ranges; r++) {
      const where = `store ${store.nodeId} range ${r}`;
      if (!store.readStatus(r, st)) {
        check.violations.push(`${where}: missing after restart`);
        continue;
      }
      if (st.commit > st.lastIndex) {
        check.violations.push(`${where}: commit ${st.commit} > last index ${st.lastIndex}`);
      }
      out[where] = { term: st.term, vote: st.vote, commit: st.commit };
    }
  }
  return out;
}

function checkHardStates(dir: string, now: HardStates, check: StartCheck): void {
  const file = join(dir, 'hardstates.json');
  if (existsSync(file)) {
    const before = JSON.parse(readFileSync(file, 'utf8')) as HardStates;
    for (const [where, b] of Object.entries(before)) {
      const n = now[where];
      if (n === undefined) continue;
      if (n.term < b.term || n.commit < b.commit ||
        (n.term === b.term && b.vote !== 0 && n.vote !== b.vote)) {
        check.violations.push(`${where}: HardState moved back (${b.term},${b.vote},` +
          `${b.commit}) -> (${n.term},${n.vote},${n.commit})`);
      }
    }
  }
  writeFileSync(file, JSON.stringify(now));
}

/** Waits until every replica has applied all it holds committed, and every range has a leader. */
async function awaitReplay(stores: Store[], ranges: number): Promise<boolean> {
  const st = newReplicaStatus();
  for (let waited = 0; waited < START_WAIT_MS_MAX; waited += 5) {
    let done = true;
    for (let r = 1; r <= ranges && done; r++) {
      let leader = false;
      for (const store of stores) {
        if (!store.readStatus(r, st) || st.applied < st.commit) done = false;
        if (st.raftState === StateType.StateLeader) leader = true;
      }
      if (!leader) done = false;
    }
    if (done) return true;
    await sleep(5);
  }
  return false;
}

/** Calls `row` for every user key in `[start, end)`, in pages. */
async function scan(engine: StorageEngine, start: string, end: string,
  row: (key: string, value: string) => void): Promise<void> {
  const reader = engine.readSpan(encoder.encode(start), encoder.encode(end));
  try {
    for (let rows = await reader.next(4096); rows.length > 0; rows = await reader.next(4096)) {
      for (const r of rows) row(decoder.decode(r.key), decoder.decode(r.value));
    }
  } finally {
    reader.close();
  }
}

/** Every acknowledged write applied exactly once on its store; nothing applied twice. */
async function checkApplied(dir: string, machines: CrashStateMachine[], check: StartCheck):
  Promise<void> {
  const present: Set<number>[] = [];
  for (let s = 0; s < STORES; s++) {
    const engine = machines[s]!.engine!;
    const ids = new Set<number>();
    await scan(engine, 'u/', 'u0', (key) => ids.add(Number(key.slice(2))));
    present.push(ids);
    await scan(engine, 'd/', 'd0', (key, value) => {
      check.duplicated++;
      check.violations.push(`store ${s + 1}: applied twice: ${key} (${value})`);
    });
  }
  const file = join(dir, 'acked');
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const [s, id] = line.split(' ').map(Number) as [number, number];
    check.acknowledged++;
    if (!present[s - 1]!.has(id)) {
      check.lost++;
      check.violations.push(`store ${s}: acknowledged id ${id} lost`);
    }
  }
}

function writeLoad(stores: Store[], machines: CrashStateMachine[], ranges: number,
  firstId: number): void {
  let id = firstId;
  const st = newReplicaStatus();
  const step = (): void => {
    for (let r = 1; r <= ranges; r++) {
      for (let s = 0; s < STORES; s++) {
        const store = stores[s]!;
        if (!store.readStatus(r, st) || st.raftState !== StateType.StateLeader) continue;
        const machine = machines[s]!;
        if (st.lastIndex - st.applied >= IN_FLIGHT_MAX) break;
        try {
          store.propose(r, encoder.encode(`id${id}`));
          if (ACK_BEFORE_COMMIT) process.stdout.write(`ack ${s + 1} ${id++}\n`);
          else machine.proposed.add(id++);
        } catch (error) {
          if (!(error instanceof FlotillaError)) throw error;
        }
        break;
      }
    }
    setImmediate(step);
  };
  step();
}

async function main(): Promise<void> {
  const [dir, first, rangesArg] = process.argv.slice(2);
  const ranges = Number(rangesArg);
  const firstId = Number(first);
  const { stores, machines, fresh } = await openStores(dir!, ranges, firstId);
  const check: StartCheck = { acknowledged: 0, lost: 0, duplicated: 0, violations: [] };
  if (!fresh) checkHardStates(dir!, readHardStates(stores, ranges, check), check);
  for (const store of stores) store.start();
  for (let r = 1; r <= ranges; r++) {
    try {
      stores[0]!.campaign(r);
    } catch (error) {
      if (!(error instanceof FlotillaError)) throw error;
    }
  }
  if (!await awaitReplay(stores, ranges)) {
    check.violations.push(`no replay and leaders within ${START_WAIT_MS_MAX} ms`);
  }
  await checkApplied(dir!, machines, check);
  if (fresh) checkHardStates(dir!, readHardStates(stores, ranges, check), check);
  check.violations = check.violations.slice(0, 20);
  process.stdout.write(`check ${JSON.stringify(check)}\n`);
  process.stdout.write('ready\n');
  writeLoad(stores, machines, ranges, firstId);
}

await main();
