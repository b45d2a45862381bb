/**
 * Ranges: splitting from one range to `--ranges` under write load, on three stores in one
 * process (memory data, virtual time, message delays up to `--delay-ms-max`), once with the
 * split-delay helper and once without it (`maxDelayTicks: 0`: it looks once and never waits).
 * Run: `npm run bench:ranges -- [--ranges N] [--writers N] [--delay-ms-max N] [--merges N]
 * [--seed N]`. Each store's data is an `EngineKv` on its own memory engine (the store's).
 *
 * Figures: puts acknowledged per wall second while splitting (the whole process: three
 * stores, the network and the client share one thread), put latency p50/p99 in virtual
 * ticks, splits done, snapshots offered to (and refused by) split-born replicas per split,
 * ticks per split (helper delay included), and the helper's mean delay. The full run of the
 * issue is `--ranges 10000`; the default is small so that it finishes in a minute.
 *
 * Rebalancing (`rebalance`): four stores, `--rebalances` user ranges of `--rebalance-keys`
 * keys (64-byte values) on stores 1-3, each moved from store 3 to store 4 with
 * `changeReplicas` (learner, snapshot with the range's data, joint promote and remove,
 * leave; a leadership handed over first where store 3 leads), one after the other, no
 * faults. Figures: wall and process CPU ms per rebalance, virtual ticks per rebalance.
 * `--rebalance-only` runs just these.
 */
import { emit, printTable, type BenchResult } from './_report.js';
import { parseOrExit } from '../src/node/cli_args.js';
import { LocalCluster } from '../src/multiraft/index.js';
import { MemoryEngine, type StorageEngine } from '../src/storage/index.js';
import { SeededRandom } from '../src/raft/index.js';
import {
  CounterRangeIdAllocator,
  EngineKv,
  KEY_MAX,
  META_KEY_MAX,
  META_KEY_MIN,
  META_RANGE_ID,
  OpType,
  RangeClient,
  RangeNode,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../src/range/index.js';

const COMMAND = {
  name: 'npm run bench:ranges --',
  summary: 'Throughput and split costs while ranges split from 1 to N under load.',
  flags: {
    ranges: { kind: 'integer', min: 2, max: 100_000, default: 100,
      description: 'ranges to split into' },
    writers: { kind: 'integer', min: 1, max: 1000, default: 8,
      description: 'concurrent writers' },
    'delay-ms-max': { kind: 'integer', min: 0, max: 10_000, default: 100,
      description: 'longest message delay (ms of virtual time)' },
    merges: { kind: 'integer', min: 0, max: 100_000, default: 20,
      description: 'merges timed after the splits (with the helper)' },
    seed: { kind: 'integer', min: 1, max: 2 ** 31, default: 1, description: 'seed' },
    rebalances: { kind: 'integer', min: 1, max: 10_000, default: 8,
      description: 'ranges moved in the rebalance run' },
    'rebalance-keys': { kind: 'integer', min: 0, max: 100_000, default: 200,
      description: 'keys per moved range' },
    'rebalance-only': { kind: 'boolean', default: false,
      description: 'run the rebalance figures only (not the split runs)' },
  },
} as const;
const args = parseOrExit(COMMAND, process.argv.slice(2)).values;
const enc = new TextEncoder();

function setup(seed: number, helper: boolean) {
  const rangeIds = new CounterRangeIdAllocator(2);
  const nodes = new Map<number, RangeNode>();
  const engines = new Map<number, StorageEngine>();
  const cluster = new LocalCluster({ seed,
    storageEngine: (nodeId) => {
    const engine = new MemoryEngine();
    engines.set(nodeId, engine);
    return engine;
  }, stateMachine: (nodeId) => {
    const n = new RangeNode({ nodeId, random: new SeededRandom(seed + nodeId), rangeIds,
      kv: EngineKv.empty(engines.get(nodeId)!), peers: (id) => nodes.get(id),
      ...(helper ? {} : { splitDelay: { maxDelayTicks: 0 } }) });
    nodes.set(nodeId, n);
    return n;
  } });
  attachAndBootstrap(cluster, nodes);
  cluster.store(1).campaign(META_RANGE_ID);
  cluster.store(1).campaign(2);
  cluster.network.setFaults({ delayMsMax: args['delay-ms-max'] });
  return { cluster, nodes };
}

function leaderOf(cluster: LocalCluster, nodes: Map<number, RangeNode>, rangeId: number) {
  for (const n of nodes.values()) {
    const s = cluster.store(n.nodeId).raftStatus(rangeId);
    if (s !== undefined && s.lead === n.nodeId && s.raftState === 2) return n;
  }
  return undefined;
}

const keyOf = (i: number) => enc.encode(`k${String(i).padStart(7, '0')}`);

/**
 * Attaches every node to its store and bootstraps the meta range and one user range on
 * nodes 1-3 (a fourth node, if any, starts empty: a rebalance target).
 */
function attachAndBootstrap(cluster: LocalCluster, nodes: Map<number, RangeNode>): void {
  const replicas = [1, 2, 3].map((id) => ({ nodeId: id, replicaId: id, type: ReplicaType.Voter }));
  const descs: RangeDescriptor[] = [
    { rangeId: META_RANGE_ID, startKey: META_KEY_MIN, endKey: META_KEY_MAX, generation: 0,
      replicas },
    { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX, generation: 0, replicas },
  ];
  for (const n of nodes.values()) {
    n.attach(cluster.store(n.nodeId));
    if (n.nodeId <= 3) n.bootstrap(descs);
  }
}

async function run(helper: boolean): Promise<BenchResult> {
  const { cluster, nodes } = setup(args.seed, helper);
  let ticks = 0;
  const waiters: { at: number; wake: () => void }[] = [];
  const wait = (n: number) => new Promise<void>((wake) => waiters.push({ at: ticks + n, wake }));
  const client = new RangeClient(nodes, { clientId: 9, random: new SeededRandom(args.seed),
    backoff: () => wait(1) });
  const rand = new SeededRandom(args.seed * 31);
  const latencies: number[] = [];
  let splitting = true;
  let splits = 0;
  let delayTicks = 0;
  const writer = async () => {
    while (splitting || merging) {
      const started = ticks;
      await client.batch([{ type: OpType.Put, key: keyOf(rand.intn(10_000_000)),
        value: new Uint8Array(64) }]).catch(() => undefined);
      if (splitting) latencies.push(ticks - started);
    }
  };
  const splitter = async () => {
    const step = Math.floor(10_000_000 / args.ranges);
    for (let i = 1; i < args.ranges; i++) {
      const at = keyOf(i * step);
      for (;;) {
        const holder = nodes.get(1)!.localRangeFor(at)!;
        const leader = leaderOf(cluster, nodes, holder.rangeId);
        const done = leader === undefined ? undefined
          : await leader.split(holder.rangeId, at).catch(() => undefined);
        if (done !== undefined) {
          splits++;
          delayTicks += done.delay.delayedTicks;
          break;
        }
        await wait(1);
      }
    }
    splitting = false;
    splitEndMs = performance.now();
  };
  let splitEndMs = 0;
  let mergeWallMs = 0;
  let mergeTicks = 0;
  let merges = 0;
  const merger = async () => {
    // After the splits: merge the first range with its right neighbour, `--merges` times.
    for (let i = 0; i < (helper ? args.merges : 0); i++) {
      for (;;) {
        const first = nodes.get(1)!.localRangeFor(keyOf(0))!;
        const leader = leaderOf(cluster, nodes, first.rangeId);
        const t0 = performance.now();
        const k0 = ticks;
        const done = leader === undefined ? undefined
          : await leader.merge(first.rangeId).catch(() => undefined);
        if (done !== undefined) {
          merges++;
          mergeWallMs += performance.now() - t0;
          mergeTicks += ticks - k0;
          break;
        }
        await wait(1);
      }
    }
    merging = false;
  };
  let merging = true;
  const startedMs = performance.now();
  let finished = false;
  const work = Promise.all([splitter().then(merger),
    ...Array.from({ length: args.writers }, writer)])
    .finally(() => { finished = true; });
  while (!finished) {
    cluster.tick(1);
    for (const n of nodes.values()) n.tick();
    ticks++;
    // Within a tick, let the clients' continuations run and the stores answer them, until
    // nothing moves: a put costs its round trips, not a tick per step.
    for (let round = 0; round < 64; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!cluster.stores.some((st) => st.scheduler.hasWork)) break;
      cluster.settle();
    }
    const all = waiters.splice(0);
    for (const w of all) {
      if (w.at <= ticks) w.wake();
      else waiters.push(w);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await work;
  // Throughput is that of the splitting phase (the merges after it are timed apart).
  const wallS = (splitEndMs - startedMs) / 1000;
  const offered = [...nodes.values()].reduce((s, n) => s + n.stats.snapshotsOffered, 0);
  const refused = [...nodes.values()].reduce((s, n) => s + n.stats.snapshotsRefused, 0);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1,
    Math.floor(p * latencies.length))] ?? 0;
  await cluster.close();
  return emit({
    name: helper ? 'split_with_delay_helper' : 'split_without_delay_helper',
    ranges: args.ranges, writers: args.writers, delay_ms_max: args['delay-ms-max'],
    seed: args.seed, splits, puts_acked: latencies.length,
    puts_per_s_wall: latencies.length / wallS, wall_s: wallS,
    put_latency_p50_ticks: q(0.5), put_latency_p99_ticks: q(0.99),
    snapshots_offered_per_split: offered / Math.max(1, splits),
    snapshots_refused_per_split: refused / Math.max(1, splits),
    ticks_per_split: ticks / Math.max(1, splits),
    split_delay_ticks_mean: delayTicks / Math.max(1, splits),
    merges, merge_wall_ms_mean: mergeWallMs / Math.max(1, merges),
    merge_ticks_mean: mergeTicks / Math.max(1, merges),
  });
}

/** Drives `cluster` and `nodes` on virtual time until `work` settles; returns the ticks. */
async function drive<T>(cluster: LocalCluster, nodes: Map<number, RangeNode>,
  waiters: { at: number; wake: () => void }[], clock: { ticks: number }, work: Promise<T>):
  Promise<T> {
  let finished = false;
  const done = work.finally(() => { finished = true; });
  done.catch(() => undefined);
  while (!finished) {
    cluster.tick(1);
    for (const n of nodes.values()) n.tick();
    clock.ticks++;
    for (let round = 0; round < 64; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!cluster.stores.some((st) => st.scheduler.hasWork)) break;
      cluster.settle();
    }
    const all = waiters.splice(0);
    for (const w of all) {
      if (w.at <= clock.ticks) w.wake();
      else waiters.push(w);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return done;
}

async function runRebalance(): Promise<BenchResult> {
  const seed = args.seed;
  const rangeIds = new CounterRangeIdAllocator(2);
  const nodes = new Map<number, RangeNode>();
  const cluster = new LocalCluster({ seed, nodeIds: [1, 2, 3, 4], stateMachine: (nodeId) => {
    const n = new RangeNode({ nodeId, random: new SeededRandom(seed + nodeId), rangeIds });
    nodes.set(nodeId, n);
    return n;
  } });
  attachAndBootstrap(cluster, nodes);
  cluster.store(1).campaign(META_RANGE_ID);
  cluster.store(1).campaign(2);
  const clock = { ticks: 0 };
  const waiters: { at: number; wake: () => void }[] = [];
  const wait = (n: number) => new Promise<void>((wake) => waiters.push({ at: clock.ticks + n,
    wake }));
  const client = new RangeClient(nodes, { clientId: 9, random: new SeededRandom(seed),
    backoff: () => wait(1) });
  const ranges = args.rebalances;
  const perRange = args['rebalance-keys'];
  const lead = async (rangeId: number): Promise<RangeNode> => {
    for (;;) {
      const l = leaderOf(cluster, nodes, rangeId);
      if (l !== undefined) return l;
      await wait(1);
    }
  };
  // Data first, then the splits: every range holds `perRange` keys.
  await drive(cluster, nodes, waiters, clock, (async () => {
    for (let i = 0; i < ranges * perRange; i++) {
      await client.batch([{ type: OpType.Put, key: keyOf(i), value: new Uint8Array(64) }]);
    }
    for (let r = 1; r < ranges; r++) {
      const at = keyOf(r * perRange);
      const holder = nodes.get(1)!.localRangeFor(at)!;
      await (await lead(holder.rangeId)).split(holder.rangeId, at);
    }
  })());
  const user = nodes.get(1)!.descriptors().filter((d) => d.rangeId !== META_RANGE_ID);
  const startedMs = performance.now();
  const cpu = process.cpuUsage();
  const ticksBefore = clock.ticks;
  await drive(cluster, nodes, waiters, clock, (async () => {
    for (const d of user) {
      let leader = await lead(d.rangeId);
      if (leader.nodeId === 3) {
        await leader.transferLeadership(d.rangeId, 1);
        leader = nodes.get(1)!;
      }
      await leader.changeReplicas(d.rangeId, { add: 4, remove: 3 });
    }
  })());
  const wallMs = performance.now() - startedMs;
  const used = process.cpuUsage(cpu);
  const moved = user.length;
  const installed = nodes.get(4)!.membershipStats.snapshotsInstalled;
  await cluster.close();
  return emit({
    name: 'rebalance', rebalances: moved, keys_per_range: perRange, value_bytes: 64, seed,
    snapshots_installed: installed,
    rebalance_ms_wall: wallMs / moved,
    rebalance_cpu_ms: (used.user + used.system) / 1000 / moved,
    rebalance_ticks: (clock.ticks - ticksBefore) / moved,
  });
}

if (!args['rebalance-only']) {
  const results = [await run(true), await run(false)];
  printTable(results, ['name', 'splits', 'puts_per_s_wall', 'put_latency_p50_ticks',
    'put_latency_p99_ticks', 'snapshots_offered_per_split', 'ticks_per_split',
    'split_delay_ticks_mean', 'merges', 'merge_wall_ms_mean']);
}
printTable([await runRebalance()], ['name', 'rebalances', 'keys_per_range',
  'rebalance_ms_wall', 'rebalance_cpu_ms', 'rebalance_ticks', 'snapshots_installed']);
