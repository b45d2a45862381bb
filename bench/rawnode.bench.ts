/**
 * A single-voter RawNode: propose + ready + persist + advance, per operation.
 *
 * The same loop as etcd's BenchmarkRawNode (single voter): the node campaigns, then each
 * operation proposes a small payload, takes the Ready, appends its entries and HardState to
 * MemoryStorage, and advances. Reference: etcd (Go) on this kind of machine, 1,275 ns/op.
 *
 * Run: npm run bench:rawnode [-- --ops N]
 */
import { MemoryStorage } from '../src/raft/storage.js';
import { RawNode } from '../src/raft/rawnode.js';
import { SeededRandom } from '../src/raft/rand.js';
import { isEmptyHardState, type ConfState } from '../src/raft/raftpb.js';
import { argNumber, emit, printTable, type BenchResult } from './_report.js';
import { bytesPerOp, stopAllocObserver } from './_alloc.js';

const ETCD_NS_PER_OP = 1275;
const OPS = argNumber('ops', 1_000_000);
const ROUNDS = 5;
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

function handleReady(node: RawNode, storage: MemoryStorage): void {
  const rd = node.ready();
  if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
  if (rd.entries.length > 0) storage.append(rd.entries);
  applied += rd.committedEntries.length;
  node.advance();
}

function op(node: RawNode, storage: MemoryStorage): void {
  node.propose(PAYLOAD);
  handleReady(node, storage);
}

async function main(): Promise<void> {
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // A fresh node per round keeps the log (and so the heap) from growing across rounds.
    const { node, storage } = newLeader();
    for (let i = 0; i < 20_000; i++) op(node, storage);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < OPS; i++) op(node, storage);
    samples.push(Number(process.hrtime.bigint() - t0) / OPS);
  }
  const { node, storage } = newLeader();
  for (let i = 0; i < 20_000; i++) op(node, storage);
  const bytes = await bytesPerOp(() => op(node, storage), 20_000);
  stopAllocObserver();
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[samples.length >> 1]!;
  if (applied === 0) throw new Error('nothing was applied: the benchmark measured nothing');
  const result: BenchResult = emit({
    name: 'rawnode.single_voter',
    ops_per_round: OPS,
    rounds: ROUNDS,
    ns_per_op: Number(nsPerOp.toFixed(1)),
    ns_per_op_best: Number(samples[0]!.toFixed(1)),
    bytes_per_op: Number(bytes.toFixed(0)),
    etcd_go_ns_per_op: ETCD_NS_PER_OP,
  });
  printTable([result], ['name', 'ns_per_op', 'ns_per_op_best', 'bytes_per_op', 'etcd_go_ns_per_op']);
}

await main();
