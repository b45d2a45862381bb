/**
 * The range layer of the simulation: four real stores, each with its `RangeNode` and its
 * data on a crash-model engine (range_stores.ts), on the faulty loopback network and one
 * `VirtualClock`, all from one seed; ranges have three replicas, so replicas move between
 * stores. Only the public faces of `src/range`, `src/multiraft`, `src/storage` and
 * `src/transport` are used (and the node layer's `DeferredKv` for a restart).
 *
 * A seed draws a scenario (fault rates, workload, split, merge and rebalance rates),
 * bootstraps the meta range and one user range on stores 1 to 3, then runs `steps` ticks of
 * chaos. Each tick: the clock advances, a fault may start or heal (message loss and
 * duplication, a partition, a paused store, a CRASHED store, a stalled disk), clients issue
 * gets and puts through `RangeClient`, a split, a merge or a rebalance may start
 * (range_changes.ts), every running store and range node ticks, the stores run until nothing
 * moves, each disk completes its writes (or, during a stall, keeps them pending: a crash then
 * loses them), and promises run. After every tick the running stores' ranges must tile the
 * key space with no gap and no overlap (range_tiling.ts). A heal resumes paused stores and
 * restarts crashed ones from what their disks kept. At the end every fault heals, the work
 * in flight settles, every key is read back, and the whole history is checked for
 * linearizability: an acknowledged write a crash lost shows there.
 *
 * Planted bug `split-loses-writes`: each store's data is wrapped so that when a split's
 * right-hand range is born, the writes of the last few commands that fell in its span are
 * undone: the right-hand side is created without the data written just before the split.
 */
import { VirtualClock } from '../../src/util/index.js';
import { SeededRandom } from '../../src/raft/index.js';
import { LoopbackNetwork } from '../../src/transport/index.js';
import {
  CounterRangeIdAllocator,
  KEY_MAX,
  META_KEY_MAX,
  META_KEY_MIN,
  META_RANGE_ID,
  OpType,
  RangeClient,
  ReplicaType,
  scanMeta,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { checkKvHistory, type KvOperation } from './linearizability.js';
import { SimStores } from './range_stores.js';
import { RangeChanges, userRanges } from './range_changes.js';
import { rangeTilingProblem } from './range_tiling.js';

/** The bugs a range seed can plant. */
export const RANGE_BUGS = ['split-loses-writes'] as const;
/** A plantable bug. */
export type RangeBug = (typeof RANGE_BUGS)[number];

/** Options of one range seed. */
export interface RangeSimOptions {
  seed: number;
  /** Ticks of chaos. @default drawn (20 to 40) */
  steps?: number;
  bug?: RangeBug;
  /**
   * The classic layout: three stores holding every range, pauses but no crashes, no
   * rebalances; it replays the seeds of this layer before crashes and rebalances came
   * exactly (regression seeds). @default false
   */
  classic?: boolean;
  /** Prints events. @default none */
  trace?: (line: string) => void;
}

/** What a seed drew. */
export interface RangeScenario {
  steps: number;
  keys: string[];
  dropRate: number;
  duplicateRate: number;
  faultRate: number;
  splitRate: number;
  mergeRate: number;
  rebalanceRate: number;
  clients: number;
}

/** Counters of one or more seeds. */
export interface RangeSimStats {
  ticks: number;
  puts: number;
  putsAcked: number;
  gets: number;
  getsServed: number;
  splitsStarted: number;
  splitsDone: number;
  mergesStarted: number;
  mergesDone: number;
  rebalancesStarted: number;
  rebalancesDone: number;
  partitions: number;
  pauses: number;
  crashes: number;
  restarts: number;
  diskStalls: number;
  tilingChecks: number;
  maxRanges: number;
}

/** A new, zeroed statistics record. */
export function emptyRangeStats(): RangeSimStats {
  return { ticks: 0, puts: 0, putsAcked: 0, gets: 0, getsServed: 0, splitsStarted: 0,
    splitsDone: 0, mergesStarted: 0, mergesDone: 0, rebalancesStarted: 0, rebalancesDone: 0,
    partitions: 0, pauses: 0, crashes: 0, restarts: 0, diskStalls: 0, tilingChecks: 0,
    maxRanges: 0 };
}

/** The outcome of one seed. */
export interface RangeSimResult {
  seed: number;
  scenario: RangeScenario;
  stats: RangeSimStats;
  failure: { invariant: string; message: string; tick: number } | null;
}

/** An invariant broken at a tick (the seed's failure). */
export class RangeInvariantViolation extends Error {
  constructor(readonly invariant: string, message: string) {
    super(message);
  }
}

/** The stores; the first three hold the first ranges. */
const NODES = [1, 2, 3, 4];
const CLASSIC_NODES = [1, 2, 3];
const REPLICAS = 3;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Draws a scenario from the seed. */
export function drawRangeScenario(o: RangeSimOptions): RangeScenario {
  const r = new SeededRandom(o.seed * 104729 + 17);
  const keyCount = 4 + r.intn(5);
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) keys.push(String.fromCharCode(98 + 3 * i));
  return {
    steps: o.steps ?? 20 + r.intn(21), keys,
    dropRate: [0, 0.02, 0.08][r.intn(3)]!, duplicateRate: [0, 0.02, 0.05][r.intn(3)]!,
    faultRate: [0.02, 0.05, 0.1][r.intn(3)]!, splitRate: [0.1, 0.2, 0.3][r.intn(3)]!,
    mergeRate: [0, 0.05, 0.1][r.intn(3)]!, clients: 2 + r.intn(2),
    // Drawn last: the classic layout's draws stay what they were.
    rebalanceRate: o.classic === true ? 0 : [0, 0.05, 0.1][r.intn(3)]!,
  };
}

/** One line describing a scenario. */
export function describeRangeScenario(s: RangeScenario): string {
  return `${s.steps} ticks, keys ${s.keys.join('')}, drop ${s.dropRate}, dup ` +
    `${s.duplicateRate}, faults ${s.faultRate}/tick, splits ${s.splitRate}/tick, merges ` +
    `${s.mergeRate}/tick, rebalances ${s.rebalanceRate}/tick, ${s.clients} clients`;
}

/** The world of one seed (see the file header). */
class RangeWorld {
  readonly scenario: RangeScenario;
  readonly stats = emptyRangeStats();
  readonly rng: SeededRandom;
  readonly classic: boolean;
  readonly nodeIds: readonly number[];
  private readonly clock = new VirtualClock();
  private readonly network: LoopbackNetwork;
  readonly stores: SimStores;
  private readonly changes: RangeChanges;
  private readonly clients: RangeClient[] = [];
  private readonly stalled = new Map<number, number>();
  readonly history: KvOperation[] = [];
  private now = 0;
  tick = 0;
  private valueSeq = 0;
  private readonly waiters: { at: number; wake: () => void }[] = [];
  private readonly busyClients = new Set<number>();
  private inFlight = 0;
  /** A violation found inside a client's promise, thrown at the end of the tick. */
  private violation: RangeInvariantViolation | null = null;

  constructor(readonly options: RangeSimOptions) {
    this.scenario = drawRangeScenario(options);
    this.classic = options.classic === true;
    this.nodeIds = this.classic ? CLASSIC_NODES : NODES;
    this.rng = new SeededRandom(options.seed);
    this.network = new LoopbackNetwork({ seed: options.seed, clock: this.clock,
      encodeFrames: false });
    this.setFaults();
    this.stores = new SimStores({ seed: options.seed, nodeIds: this.nodeIds, clock: this.clock,
      classic: this.classic,
      network: this.network, rangeIds: new CounterRangeIdAllocator(3),
      sleep: (ticks) => this.sleep(ticks), ...(options.bug ? { bug: options.bug } : {}) });
    this.changes = new RangeChanges(this);
  }

  /** Opens the engines, builds stores, range nodes and clients, bootstraps the ranges. */
  async open(): Promise<void> {
    await this.stores.open();
    const replicas = this.nodeIds.slice(0, REPLICAS).map((id) => ({ nodeId: id, replicaId: id,
      type: ReplicaType.Voter }));
    const meta: RangeDescriptor = { rangeId: META_RANGE_ID, startKey: META_KEY_MIN,
      endKey: META_KEY_MAX, generation: 0, replicas };
    const user: RangeDescriptor = { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX,
      generation: 0, replicas };
    for (const r of replicas) this.stores.node(r.nodeId)!.bootstrap([meta, user]);
    // A node bootstraps durably before it serves (a crash never loses its first ranges).
    for (const store of this.stores.stores.values()) store.runUntilIdle();
    for (const engine of this.stores.engines.values()) engine.completeAll();
    this.stores.stores.get(1)!.campaign(META_RANGE_ID);
    this.stores.stores.get(1)!.campaign(2);
    for (let c = 0; c < this.scenario.clients; c++) {
      this.clients.push(new RangeClient(this.stores.nodes, { clientId: 100 + c,
        attemptsMax: 12, random: new SeededRandom(this.options.seed * 31 + c),
        backoff: () => this.sleep(1) }));
    }
  }

  /** Resolves after `ticks` ticks of the world. */
  sleep(ticks: number): Promise<void> {
    return new Promise((wake) => this.waiters.push({ at: this.tick + ticks, wake }));
  }

  trace(line: string): void {
    this.options.trace?.(`[${this.tick}] ${line}`);
  }

  /** The chaos phase, the heal, the read-back and the checks. */
  async run(): Promise<void> {
    for (let t = 0; t < this.scenario.steps; t++) {
      await this.chaos();
      this.workload();
      await this.step();
    }
    await this.healAll();
    for (let t = 0; t < 600 && this.unsettled() > 0; t++) await this.step();
    if (this.unsettled() > 0) {
      this.dumpRanges();
      throw new RangeInvariantViolation('liveness', `${this.inFlight} operations, ` +
        `${this.changes.inFlight} splits, merges or rebalances and ${this.frozenRanges()} ` +
        'frozen replicas (merges) unsettled after the heal');
    }
    await this.readBack();
    this.checkHistory();
  }

  /** Work in flight: requests, changes, and frozen replicas whose merge has not applied. */
  private unsettled(): number {
    return this.inFlight + this.changes.inFlight + this.frozenRanges();
  }

  private frozenRanges(): number {
    let n = 0;
    for (const [, node] of this.stores.running()) n += node.mergesInFlight;
    return n;
  }

  /** One tick: clocks, ticks, batches, disks, promises, then the tiling checks. */
  private async step(): Promise<void> {
    this.tick++;
    this.stats.ticks++;
    const ticker = this.stores.stores.get(1)!.ticker;
    for (let i = 0; i < ticker.config.tickSpreadSlots; i++) {
      this.clock.advance(ticker.subTickIntervalMs);
      for (const [, , store] of this.stores.running()) store.tick();
      this.settle();
    }
    for (const [, node] of this.stores.running()) node.tick();
    const due = this.waiters.filter((w) => w.at <= this.tick);
    for (const w of due) this.waiters.splice(this.waiters.indexOf(w), 1);
    for (const w of due) w.wake();
    for (let round = 0; round < 3; round++) {
      await drainMicrotasks();
      this.settle();
    }
    if (this.violation !== null) throw this.violation;
    this.checkTiling();
  }

  /** Runs batches, completes disk writes and delivers due messages until nothing moves. */
  private settle(): void {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const [id, , store] of this.stores.running()) {
        if (store.scheduler.hasWork) {
          store.runUntilIdle();
          moved = true;
        }
        if ((this.stalled.get(id) ?? 0) < this.tick &&
          this.stores.engines.get(id)!.completeAll() > 0) {
          moved = true;
        }
      }
      if (this.clock.runDue() > 0) moved = true;
      if (!moved) return;
    }
    throw new RangeInvariantViolation('livelock', 'the cluster did not settle');
  }

  // -------------------------------------------------------------------------------------
  // Faults.

  private async chaos(): Promise<void> {
    if (this.rng.float() >= this.scenario.faultRate) return;
    const nodes = this.nodeIds;
    const id = nodes[this.rng.intn(nodes.length)]!;
    const down = this.stores.down;
    // The classic layout draws no crash (its seeds replay as they were).
    const fault = this.classic ? [0, 1, 3, 4][this.rng.intn(4)]! : this.rng.intn(5);
    switch (fault) {
      case 0:
        this.stats.partitions++;
        this.network.heal();
        this.setFaults();
        this.network.partition([id], nodes.filter((n) => n !== id));
        for (const p of down.keys()) this.network.isolate(p);
        this.trace(`partition ${id} | rest`);
        return;
      case 1:
        if (down.size > 0) return;
        this.stats.pauses++;
        this.stores.pause(id);
        this.trace(`pause store ${id}`);
        return;
      case 2: {
        if (down.size > 0) return;
        this.stats.crashes++;
        const lost = this.stores.crash(id);
        this.trace(`crash store ${id} (${lost} write(s) in flight lost)`);
        return;
      }
      case 3:
        this.stats.diskStalls++;
        this.stalled.set(id, this.tick + 1 + this.rng.intn(5));
        this.trace(`disk of store ${id} stalls`);
        return;
      default:
        this.trace('heal');
        await this.healAll();
    }
  }

  /** Heals the network and the disks, resumes paused stores and restarts crashed ones. */
  private async healAll(): Promise<void> {
    this.stalled.clear();
    this.network.heal();
    this.setFaults();
    const restarts = this.stores.restarts;
    await this.stores.resumeAll();
    this.stats.restarts += this.stores.restarts - restarts;
  }

  private setFaults(): void {
    this.network.setFaults({ dropRate: this.scenario.dropRate,
      duplicateRate: this.scenario.duplicateRate, delayMsMax: 2 });
  }

  // -------------------------------------------------------------------------------------
  // Workload.

  private workload(): void {
    for (let c = 0; c < this.clients.length; c++) {
      if (this.busyClients.has(c) || this.rng.intn(2) !== 0) continue;
      const key = this.scenario.keys[this.rng.intn(this.scenario.keys.length)]!;
      if (this.rng.intn(2) === 0) void this.put(c, key);
      else void this.get(c, this.clients[c]!, key, c);
    }
    if (this.rng.float() < this.scenario.splitRate) void this.changes.split();
    if (this.rng.float() < this.scenario.mergeRate) void this.changes.merge();
    if (!this.classic && this.rng.float() < this.scenario.rebalanceRate) {
      void this.changes.rebalance();
    }
  }

  private async put(c: number, key: string): Promise<void> {
    const value = `v${++this.valueSeq}`;
    const op: KvOperation = { clientId: c, input: { kind: 'put', key, value },
      output: undefined, callTime: ++this.now, returnTime: Infinity };
    this.history.push(op);
    this.stats.puts++;
    this.busyClients.add(c);
    this.inFlight++;
    try {
      await this.clients[c]!.batch([{ type: OpType.Put, key: enc.encode(key),
        value: enc.encode(value) }]);
      op.output = { value: null };
      op.returnTime = ++this.now;
      this.stats.putsAcked++;
    } catch {
      // Unknown outcome: it may have applied (the checker lets it take effect or not).
    } finally {
      this.busyClients.delete(c);
      this.inFlight--;
    }
  }

  private async get(c: number, client: RangeClient, key: string, clientId: number):
    Promise<void> {
    const op: KvOperation = { clientId, input: { kind: 'get', key }, output: undefined,
      callTime: ++this.now, returnTime: Infinity };
    this.stats.gets++;
    if (c >= 0) this.busyClients.add(c);
    this.inFlight++;
    try {
      const r = await client.batch([{ type: OpType.Get, key: enc.encode(key) }]);
      const result = r.kind === 'kv' ? r.results[0] : undefined;
      if (result === undefined || result.type !== OpType.Get) {
        this.violation ??= new RangeInvariantViolation('read', `a get answered ${r.kind}`);
        return;
      }
      op.output = { value: result.value === undefined ? null : dec.decode(result.value) };
      op.returnTime = ++this.now;
      this.history.push(op);
      this.stats.getsServed++;
    } catch (error) {
      // Not served: a read that never answered constrains nothing.
      this.trace(`get ${key} by ${clientId} failed: ${String(error)}`);
    } finally {
      if (c >= 0) this.busyClients.delete(c);
      this.inFlight--;
    }
  }

  // -------------------------------------------------------------------------------------
  // Checks.

  /** The running stores' ranges tile the key space (range_tiling.ts). */
  private checkTiling(): void {
    const byStore = new Map<number, RangeDescriptor[]>();
    let most = 0;
    for (const [id, node] of this.stores.running()) {
      const ranges = userRanges(node);
      byStore.set(id, ranges);
      most = Math.max(most, ranges.length);
    }
    const problem = rangeTilingProblem(byStore, this.classic);
    if (problem !== null) throw new RangeInvariantViolation(problem.invariant, problem.message);
    this.stats.tilingChecks++;
    this.stats.maxRanges = Math.max(this.stats.maxRanges, most);
  }

  /** Reads every key back (part of the checked history). */
  private async readBack(): Promise<void> {
    const reader = new RangeClient(this.stores.nodes, { clientId: 999, attemptsMax: 30,
      random: new SeededRandom(this.options.seed * 13 + 5), backoff: () => this.sleep(1) });
    const from = this.history.length;
    const reads = this.scenario.keys.map((key) => this.get(-1, reader, key, 999));
    for (let t = 0; t < 300 && this.inFlight > 0; t++) await this.step();
    // A read still pending now waits on something no tick moves: a liveness failure, not a
    // hang of the run.
    if (this.inFlight > 0) {
      this.dumpRanges();
      throw new RangeInvariantViolation('liveness', `${this.inFlight} reads pending after ` +
        '300 ticks of the read-back');
    }
    await Promise.all(reads);
    const served = new Set(this.history.slice(from).map((op) => op.input.key));
    for (const key of this.scenario.keys) {
      if (!served.has(key)) {
        this.dumpRanges();
        throw new RangeInvariantViolation('liveness', `key ${key} not read back after heal`);
      }
    }
  }

  /** Each store's view of each range (traced when a seed fails liveness). */
  dumpRanges(): void {
    const span = (d: RangeDescriptor) => `r${d.rangeId}g${d.generation}` +
      `[${dec.decode(d.startKey)},${dec.decode(d.endKey)})@` +
      d.replicas.map((r) => `${r.nodeId}${r.type === ReplicaType.Voter ? '' : `:${r.type}`}`)
        .join(',');
    for (const [id, node, store] of this.stores.running()) {
      this.trace(`store ${id} meta ${scanMeta(node.kv, 100).map(span).join(' ')}`);
      this.trace(`store ${id} local ${userRanges(node).map(span).join(' ')}`);
      for (const d of node.descriptors()) {
        const st = store.raftStatus(d.rangeId);
        const progress = st?.progress?.map((p) => [p.nodeId, p.match, p.next, p.state]);
        this.trace(`store ${id} r${d.rangeId} gen ${d.generation} lead ${st?.lead} state ` +
          `${st?.raftState} term ${st?.term} commit ${st?.commit} applied ${st?.applied} ` +
          `last ${st?.lastIndex} quiesced ${st?.quiesced} progress ${JSON.stringify(progress)}`);
      }
    }
  }

  private checkHistory(): void {
    const result = checkKvHistory(this.history);
    if (result.kind === 'illegal') {
      throw new RangeInvariantViolation('linearizability', result.report);
    }
    if (result.kind === 'unknown') {
      throw new RangeInvariantViolation('linearizability', `undecided: ${result.reason}`);
    }
  }
}

/** Microtask turns per drain: deeper than any promise chain of a client request. */
const DRAIN_TURNS = 64;

/**
 * Lets the promises run that the last batches settled: turns of the microtask queue only,
 * so that nothing outside the seed (no macrotask, no timer) orders the simulation.
 */
async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < DRAIN_TURNS; i++) await Promise.resolve();
}

/** Runs one seed. Never throws: a broken invariant or an exception is its failure. */
export async function runRangeSimulation(options: RangeSimOptions): Promise<RangeSimResult> {
  const world = new RangeWorld(options);
  let failure: RangeSimResult['failure'] = null;
  try {
    await world.open();
    await world.run();
  } catch (error) {
    failure = error instanceof RangeInvariantViolation
      ? { invariant: error.invariant, message: error.message, tick: world.tick }
      : { invariant: 'exception', message: String((error as Error)?.stack ?? error),
        tick: world.tick };
  }
  return { seed: options.seed, scenario: world.scenario, stats: world.stats, failure };
}
