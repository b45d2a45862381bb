/**
 * A single-voter RawNode: propose + ready + persist + advance, per operation.
 *
 * The same loop as etcd's BenchmarkRawNode (single voter): the node campaigns, then each
 * operation proposes a small payload, takes the Ready, appends its entries and HardState to
 * MemoryStorage, and advances. Two shapes of one operation:
 *
 * - `rawnode.single_voter`: one Ready per proposal. Flotilla's single voter acknowledges its
 *   own append when that Ready is accepted, so the entry commits and is handed out for
 *   applying in the same Ready.
 * - `rawnode.single_voter_etcd_shape`: etcd's own loop, Readys until `hasReady()` is false
 *   (etcd needs two per proposal: one to persist, one to apply), with `readys_per_op`.
 *
 * Reference: etcd's BenchmarkRawNode (Go) on this kind of machine, 1,275 ns/op (issue 3).
 *
 * A second line, `rawnode.idle_memory`, reports the heap an idle RawNode holds: `--groups`
 * three-voter groups (MemoryStorage each) elect a leader, commit one write and go idle; the
 * heap is measured after full GCs with all nodes, without the followers' RawNodes, and without
 * any RawNode (storages kept). Leader and follower differ (the leader's replication windows).
 *
 * Run: npm run bench:rawnode [-- --ops N] [-- --groups N]
 */
import { MemoryStorage } from '../src/raft/storage.js';
import { RawNode } from '../src/raft/rawnode.js';
import { SeededRandom } from '../src/raft/rand.js';
import { isEmptyHardState, type ConfState, type Message } from '../src/raft/raftpb.js';
import { argNumber, emit, printTable, references, type BenchResult } from './_report.js';
import { bytesPerOp, stopAllocObserver } from './_alloc.js';
import { raftOf } from '../src/raft/rawnode_internal.js';

const REFERENCE = references(
  { etcd_go_ns_per_op: 1275 },
  "etcd raft BenchmarkRawNode/single-voter (Go) on this kind of machine, as reported in issue 3",
);
const OPS = argNumber('ops', 1_000_000);
const ROUNDS = 5;
const IDLE_GROUPS = argNumber('groups', 2_000);
const PAYLOAD = new TextEncoder().encode('foo');

function newLeader(): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  const cs: ConfState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  storage.applySnapshot({ data: new Uint8Array(0), metadata: { confState: cs, index: 1, term: 1 } });
  const node = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, random: new SeededRandom(1) });
  node.campaign();
  for (let i = 0; i < 4 && node.hasReady(); i++) handleReady(node, storage);
  if (node.basicStatus().softState.raftState !== 2) throw new Error('the single voter did not become leader');
  return { node, storage };
}

let applied = 0;
let readys = 0;

function handleReady(node: RawNode, storage: MemoryStorage): void {
  const rd = node.ready();
  readys++;
  if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
  if (rd.entries.length > 0) storage.append(rd.entries);
  applied += rd.committedEntries.length;
  node.advance();
}

/** One proposal handled with one Ready. */
function op(node: RawNode, storage: MemoryStorage): void {
  node.propose(PAYLOAD);
  handleReady(node, storage);
}

/** One proposal handled as etcd's benchmark does: Readys until nothing is ready. */
function opEtcdShape(node: RawNode, storage: MemoryStorage): void {
  node.propose(PAYLOAD);
  while (node.hasReady()) handleReady(node, storage);
}

type Op = (node: RawNode, storage: MemoryStorage) => void;

interface Timing {
  nsPerOp: number;
  nsPerOpBest: number;
  cpuNsPerOp: number;
  bytesPerOp: number;
  readysPerOp: number;
}

/** Median wall and CPU ns per op over ROUNDS fresh nodes, and bytes allocated per op. */
async function measure(operation: Op): Promise<Timing> {
  const samples: number[] = [];
  // CPU time of the process per op: on a shared machine, wall time also counts the time this
  // process waited for a core; CPU time does not (caches shared with others still count).
  const cpuSamples: number[] = [];
  let readysPerOp = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // A fresh node per round keeps the log (and so the heap) from growing across rounds.
    const { node, storage } = newLeader();
    for (let i = 0; i < 20_000; i++) operation(node, storage);
    const readys0 = readys;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < OPS; i++) operation(node, storage);
    samples.push(Number(process.hrtime.bigint() - t0) / OPS);
    const cpu = process.cpuUsage(cpu0);
    cpuSamples.push(((cpu.user + cpu.system) * 1000) / OPS);
    readysPerOp = (readys - readys0) / OPS;
  }
  const { node, storage } = newLeader();
  for (let i = 0; i < 20_000; i++) operation(node, storage);
  const bytesPerOpMeasured = await bytesPerOp(() => operation(node, storage), 20_000);
  samples.sort((a, b) => a - b);
  cpuSamples.sort((a, b) => a - b);
  return {
    nsPerOp: samples[samples.length >> 1]!,
    nsPerOpBest: samples[0]!,
    cpuNsPerOp: cpuSamples[cpuSamples.length >> 1]!,
    bytesPerOp: bytesPerOpMeasured,
    readysPerOp,
  };
}

function timingLine(name: string, t: Timing): BenchResult {
  return emit({
    name,
    ops_per_round: OPS,
    rounds: ROUNDS,
    ns_per_op: Number(t.nsPerOp.toFixed(1)),
    ns_per_op_best: Number(t.nsPerOpBest.toFixed(1)),
    cpu_ns_per_op: Number(t.cpuNsPerOp.toFixed(1)),
    bytes_per_op: Number(t.bytesPerOp.toFixed(0)),
    readys_per_op: Number(t.readysPerOp.toFixed(2)),
    ...REFERENCE,
  });
}

/** One three-voter group, elected (node 1 leads) with one committed write, then idle. */
function idleGroup(random: SeededRandom): { nodes: (RawNode | null)[]; storages: MemoryStorage[] } {
  const cs: ConfState = {
    voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
  };
  const storages: MemoryStorage[] = [];
  const nodes: RawNode[] = [];
  for (let id = 1; id <= 3; id++) {
    const storage = new MemoryStorage();
    const metadata = { confState: cs, index: 1, term: 1 };
    storage.applySnapshot({ data: new Uint8Array(0), metadata });
    storages.push(storage);
    nodes.push(new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage, random }));
  }
  nodes[0]!.campaign();
  settle(nodes, storages);
  nodes[0]!.propose(PAYLOAD);
  settle(nodes, storages);
  if (raftOf(nodes[0]!).raftLog.committed !== 3) throw new Error('the write did not commit');
  return { nodes, storages };
}

/** Handles Readys and delivers messages until no node has anything left to do. */
function settle(nodes: RawNode[], storages: MemoryStorage[]): void {
  for (let pass = 0; pass < 100; pass++) {
    const queue: Message[] = [];
    for (let i = 0; i < nodes.length; i++) {
      if (!nodes[i]!.hasReady()) continue;
      const rd = nodes[i]!.ready();
      if (!isEmptyHardState(rd.hardState)) storages[i]!.setHardState(rd.hardState);
      if (rd.entries.length > 0) storages[i]!.append(rd.entries);
      for (const m of rd.messages) queue.push(m);
      nodes[i]!.advance();
    }
    if (queue.length === 0) return;
    for (const m of queue) nodes[m.to - 1]!.step(m);
  }
  throw new Error('the group did not settle in 100 passes');
}

function heapUsedAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:rawnode)');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Heap bytes held per idle RawNode (storage excluded), for leaders and followers. */
function idleMemory(): { leaderBytes: number; followerBytes: number } {
  const random = new SeededRandom(7);
  const groups = Array.from({ length: IDLE_GROUPS }, () => idleGroup(random));
  const all = heapUsedAfterGc();
  for (const g of groups) g.nodes[1] = g.nodes[2] = null;
  const leadersOnly = heapUsedAfterGc();
  for (const g of groups) g.nodes[0] = null;
  const storagesOnly = heapUsedAfterGc();
  if (groups.length !== IDLE_GROUPS) throw new Error('groups were collected early');
  return {
    leaderBytes: (leadersOnly - storagesOnly) / IDLE_GROUPS,
    followerBytes: (all - leadersOnly) / (2 * IDLE_GROUPS),
  };
}

async function main(): Promise<void> {
  const oneReady = await measure(op);
  const etcdShape = await measure(opEtcdShape);
  stopAllocObserver();
  if (applied === 0) throw new Error('nothing was applied: the benchmark measured nothing');
  const results = [
    timingLine('rawnode.single_voter', oneReady),
    timingLine('rawnode.single_voter_etcd_shape', etcdShape),
  ];
  const idle = idleMemory();
  const memory: BenchResult = emit({
    name: 'rawnode.idle_memory',
    groups: IDLE_GROUPS,
    voters: 3,
    leader_bytes_per_node: Math.round(idle.leaderBytes),
    follower_bytes_per_node: Math.round(idle.followerBytes),
  });
  printTable(results, [
    'name', 'ns_per_op', 'ns_per_op_best', 'cpu_ns_per_op', 'bytes_per_op', 'readys_per_op',
    'reference_etcd_go_ns_per_op',
  ]);
  printTable([memory], ['name', 'groups', 'leader_bytes_per_node', 'follower_bytes_per_node']);
}

await main();
