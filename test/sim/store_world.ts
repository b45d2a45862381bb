/**
 * The store layer of the simulation: many Raft groups on several stores, driven by the real
 * `Store`, its scheduler and ticker, and the `LoopbackNetwork` on one `VirtualClock`, all from
 * one seed. Only the public faces of `src/multiraft`, `src/transport` and `src/raft` are used.
 *
 * A seed draws a scenario (stores, ranges, timeouts, fault rates), creates every range (some
 * on every store, some lazily on one store only, the others creating their replicas on the
 * first message), then runs a chaos phase of sub-ticks. Each sub-tick: the clock advances
 * (delayed batches arrive), a chaos action may run, clients propose, every running store
 * ticks, and the stores' schedulers run until nothing moves; after every `runUntilIdle` of
 * a store, every replica of that store is checked (`StoreSafetyChecker`), and every message
 * is checked as the store hands it to its transport. The workload alternates busy and idle
 * spells so that groups quiesce and wake over and over under the faults.
 *
 * Faults: message loss, duplication, delay and reordering (the loopback's injector), symmetric
 * partitions, isolated stores, one-way cuts (most often of the store holding the most quiesced
 * leaders), pauses and crashes of stores, forced campaigns and wake-ups.
 *
 * Disks. Every store runs on a `CrashModelEngine`: the durable engine (LevelDB's code path)
 * on a simulated disk whose writes complete when the simulation says, each pending write
 * with the scenario's chance per settle round (the disk's latency), and whose crash keeps
 * only completed writes. The state machine keeps its state on that engine: one apply record
 * per applied entry, staged in the batch of the applied index (store_disk.ts).
 *
 * What a crash is at this layer. The store stops and is cut from the network (everything in
 * flight to and from it is lost); what its disk completed is reopened and checked at once
 * (store_durability.ts: acknowledged means durable, exactly once, HardState never back);
 * at its restart a new `Store` is opened (`Store.open`) on an engine holding only those
 * writes, its KV rebuilt from the apply records alone. Crash points: besides the chaos
 * phase's random crashes, each seed names one store and one write position (1 to
 * `CRASH_WRITE_MAX`), and that store crashes with that write in flight, so that across
 * seeds the disk dies at every write position. A pause keeps memory and disk (a GC pause,
 * SIGSTOP): the store just stops and resumes.
 *
 * Reads go through the log (the store has no ReadIndex), so a get answers the value at its
 * place in the log, at the proposing store. Histories are checked per range for
 * linearizability at the end.
 *
 * After the chaos every fault heals and liveness is checked in four phases, each with a bound
 * in ticks: (1) every range commits a marker on every replica; (2) every group quiesces; (3)
 * the store holding the most (quiesced) leaders crashes and stays down: every range elects a
 * leader among the others and commits; (4) it comes back, everything quiesces again, then the
 * store holding the most leaders is cut one way (it hears the others, they do not hear it):
 * again every range must move its leadership and commit.
 */
import { FlotillaError, VirtualClock, assert } from '../../src/util/index.js';
import {
  MessageType,
  SeededRandom,
  StateType,
  type Entry,
  type Snapshot,
} from '../../src/raft/index.js';
import {
  LoopbackNetwork,
  type Envelope,
  type LoopbackTransport,
  type Transport,
  type TransportHandler,
  type TransportStats,
} from '../../src/transport/index.js';
import { CrashModelEngine, type EngineBatch } from '../../src/storage/index.js';
import {
  RANGE_INITIAL_INDEX,
  RANGE_INITIAL_TERM,
  Store,
  newReplicaStatus,
  newStoreSummary,
  type ReplicaStatus,
  type StateMachine,
  type StoreOptions,
} from '../../src/multiraft/index.js';
import { TraceHash, hashBytes } from './events.js';
import { KvStateMachine, encodePut } from './kv.js';
import { checkKvHistory, type KvOperation } from './linearizability.js';
import {
  StoreInvariantViolation,
  StoreSafetyChecker,
  type StoreInvariantName,
} from './store_invariants.js';
import { DurabilityChecker } from './store_durability.js';
import {
  appliedRecordKey, decodeCommand, encodeAppliedRecord, readDurableImage, rebuildKv,
} from './store_disk.js';

/** Bugs planted in the simulation's own wrappers, to show the checkers catch them. */
export const STORE_BUGS = ['stale-quiesce', 'zombie-liveness', 'ack-before-sync'] as const;
export type StoreBug = (typeof STORE_BUGS)[number];

/** Options of one store-layer run. */
export interface StoreSimOptions {
  seed: number;
  /** Stores (3..5; default drawn per seed). */
  nodes?: number;
  /** Ranges (default drawn per seed in 4..24). */
  ranges?: number;
  /** Length of the chaos phase. @default drawn in 150..400 (ticks) */
  chaosTicks?: number;
  bug?: StoreBug;
  /** Receives one line per notable event. */
  trace?: (line: string) => void;
}

/** What a seed drew. */
export interface StoreScenario {
  nodes: number;
  ranges: number;
  lazyRanges: number;
  chaosTicks: number;
  electionTimeoutTicks: number;
  heartbeatIntervalTicks: number;
  livenessTimeoutTicks: number;
  quiesceAfterTicks: number;
  releaseQuiescedNodes: boolean;
  /** Groups per scheduler batch (small: many batch ends, hence many write/send points). */
  batchGroupsMax: number;
  dropRate: number;
  duplicateRate: number;
  delayMsMax: number;
  reorderRate: number;
  chaosRate: number;
  /** Chance that a pending disk write completes in one settle round (the disk's latency). */
  diskCompleteRate: number;
  /** The crash point: the store whose disk dies with its `write`-th write in flight. */
  crashPoint: { nodeId: number; write: number };
}

/** Counters of one run (summed over a batch). */
export interface StoreSimStats {
  ticks: number;
  checks: number;
  wireChecks: number;
  proposals: number;
  opsAcked: number;
  partitions: number;
  oneWayCuts: number;
  pauses: number;
  crashes: number;
  /** Seeds whose crash point was reached (the disk died with that write in flight). */
  crashPoints: number;
  /** Crashed stores reopened from their disk (`Store.open`). */
  restarts: number;
  /** Crashed disks reopened and checked; acknowledged entries found durable on them. */
  imagesChecked: number;
  entriesDurable: number;
  /** Disk writes (synced batches) issued by all stores. */
  diskWrites: number;
  campaigns: number;
  quiesces: number;
  wakes: number;
  nodesReleased: number;
  replicasCreatedLazily: number;
  /** Quiesce heartbeats a follower refused as stale (term, commit or leader mismatch). */
  staleQuiesceRefused: number;
  messagesDropped: number;
  messagesDuplicated: number;
  /** Most groups quiesced at once (max over the batch). */
  maxQuiescedReplicas: number;
}

export function emptyStoreStats(): StoreSimStats {
  return {
    ticks: 0, checks: 0, wireChecks: 0, proposals: 0, opsAcked: 0, partitions: 0,
    oneWayCuts: 0, pauses: 0, crashes: 0, crashPoints: 0, restarts: 0, imagesChecked: 0, entriesDurable: 0,
    diskWrites: 0, campaigns: 0, quiesces: 0, wakes: 0,
    nodesReleased: 0, replicasCreatedLazily: 0, staleQuiesceRefused: 0, messagesDropped: 0,
    messagesDuplicated: 0,
    maxQuiescedReplicas: 0,
  };
}

/** The outcome of one run. */
export interface StoreSimResult {
  seed: number;
  scenario: StoreScenario;
  traceHash: string;
  stats: StoreSimStats;
  failure: { invariant: StoreInvariantName | 'exception'; message: string; tick: number } | null;
}

const encoder = new TextEncoder();

/** The crash point is drawn among the first this many writes of a store. */
const CRASH_WRITE_MAX = 300;

/** Bounds of the liveness phases (ticks). */
const COMMIT_TICKS_MAX = 300;
const QUIESCE_TICKS_MAX = 200;

/** Draws the scenario of a seed (its own random stream, so options do not shift the rest). */
export function drawStoreScenario(o: StoreSimOptions): StoreScenario {
  const r = new SeededRandom(o.seed ^ 0x5f0e5f0e);
  const pick = <T>(xs: readonly T[]): T => xs[r.intn(xs.length)]!;
  const nodes = o.nodes ?? 3 + r.intn(3);
  const ranges = o.ranges ?? 4 + r.intn(21);
  const heartbeatIntervalTicks = pick([1, 2, 3]);
  const electionTimeoutTicks = pick([8, 10, 15]);
  return {
    nodes, ranges, lazyRanges: r.intn(Math.ceil(ranges / 2) + 1),
    chaosTicks: o.chaosTicks ?? 150 + r.intn(251),
    electionTimeoutTicks, heartbeatIntervalTicks,
    livenessTimeoutTicks: pick([4, 8, 12]),
    quiesceAfterTicks: pick([1, 2, 3]),
    releaseQuiescedNodes: r.intn(4) !== 0,
    batchGroupsMax: pick([1, 3, 16, 4096]),
    dropRate: pick([0, 0, 0.01, 0.05, 0.1]),
    duplicateRate: pick([0, 0.02, 0.1]),
    delayMsMax: pick([0, 10, 60, 250]),
    reorderRate: pick([0, 0.05, 0.2]),
    chaosRate: pick([0.01, 0.03, 0.08]),
    diskCompleteRate: pick([1, 1, 0.5, 0.2]),
    // Uniform over the write positions a store reaches in the chaos phase (a few hundred),
    // so that across seeds the disk dies at every one of them.
    crashPoint: { nodeId: 1 + r.intn(nodes), write: 1 + r.intn(CRASH_WRITE_MAX) },
  };
}

/** One line describing a scenario. */
export function describeStoreScenario(s: StoreScenario): string {
  return `${s.nodes} stores, ${s.ranges} ranges (${s.lazyRanges} lazy), ${s.chaosTicks} chaos ` +
    `ticks, election ${s.electionTimeoutTicks}/heartbeat ${s.heartbeatIntervalTicks}/liveness ` +
    `${s.livenessTimeoutTicks}/quiesce-after ${s.quiesceAfterTicks} ticks, release ` +
    `${s.releaseQuiescedNodes}, batch <= ${s.batchGroupsMax} groups, drop ${s.dropRate}, ` +
    `dup ${s.duplicateRate}, delay <= ` +
    `${s.delayMsMax}ms, reorder ${s.reorderRate}, chaos ${s.chaosRate}/sub-tick, disk ` +
    `completes ${s.diskCompleteRate}/round, crash point n${s.crashPoint.nodeId} write ` +
    `${s.crashPoint.write}`;
}

/** A transport wrapper: records what the store sends and receives; plants wire bugs. */
class SimTransport implements Transport {
  constructor(private readonly inner: LoopbackTransport, private readonly world: StoreWorld) {}

  get nodeId(): number {
    return this.inner.nodeId;
  }

  setHandler(handler: TransportHandler): void {
    const world = this.world;
    const nodeId = this.inner.nodeId;
    this.inner.setHandler({
      handleBatch: (from, envelopes) => {
        world.onReceive(nodeId, from, envelopes);
        handler.handleBatch(from, envelopes);
      },
      reportUnreachable: (to, groups) => handler.reportUnreachable(to, groups),
      reportSnapshot: (group, to, status) => handler.reportSnapshot(group, to, status),
    });
  }

  send(envelopes: readonly Envelope[]): void {
    this.world.onSend(envelopes);
    this.inner.send(envelopes);
  }

  flush(): void {
    this.inner.flush();
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The application side of one store: a KV per range, reporting to the world. */
class SimStateMachine implements StateMachine {
  constructor(private readonly world: StoreWorld, private readonly nodeId: number) {}

  apply(rangeId: number, entry: Entry, batch: EngineBatch): void {
    this.world.onApply(this.nodeId, rangeId, entry, batch);
  }

  applySnapshot(rangeId: number, snapshot: Snapshot): void {
    this.world.onApplySnapshot(this.nodeId, rangeId, snapshot);
  }
}

interface PendingOp {
  op: KvOperation;
  nodeId: number;
  rangeId: number;
}

/** One simulated cluster of stores. */
export class StoreWorld {
  readonly scenario: StoreScenario;
  readonly stats = emptyStoreStats();
  readonly checker = new StoreSafetyChecker(RANGE_INITIAL_INDEX, RANGE_INITIAL_TERM);
  readonly durability = new DurabilityChecker();
  private readonly rng: SeededRandom;
  private readonly clock = new VirtualClock();
  private readonly network: LoopbackNetwork;
  private readonly stores: Store[] = [];
  /** Per store: its crash-model engine (replaced by the crash image at a restart). */
  private readonly engines: CrashModelEngine[] = [];
  /** Per store: the disk's write count when the engine opened (crash points count after). */
  private readonly writesAtOpen: number[] = [];
  private crashPointDone = false;
  /** Per store: its loopback transport (closed at a crash, so that the id is free again). */
  private readonly transports: LoopbackTransport[] = [];
  /** Stores replaced by a restart (their counters still count). */
  private readonly retired: Store[] = [];
  private retiredWrites = 0;
  /** What each crashed store's disk held at its crash (its restart rebuilds from it). */
  private readonly crashImages = new Map<number, Awaited<ReturnType<typeof readDurableImage>>>();
  private readonly nodeIds: number[] = [];
  private readonly rangeIds: number[] = [];
  /** Per store and range: the KV state machine. */
  private readonly kvs = new Map<string, KvStateMachine>();
  private readonly pending = new Map<number, PendingOp>();
  private readonly histories = new Map<number, KvOperation[]>();
  private readonly hash = new TraceHash();
  private readonly status: ReplicaStatus = newReplicaStatus();
  private readonly leaderStatus: ReplicaStatus = newReplicaStatus();
  private readonly summaryScratch = newStoreSummary();
  /** Stores stopped (paused or crashed), with whether the stop is a crash. */
  private readonly down = new Map<number, boolean>();
  /** Directed cuts `from>to` in force. */
  private readonly cuts = new Set<string>();
  private nextOpId = 1;
  private time = 0;
  private tickCount = 0;
  private busyTicksLeft = 0;
  private idleTicksLeft = 0;

  constructor(readonly options: StoreSimOptions) {
    this.scenario = drawStoreScenario(options);
    this.rng = new SeededRandom(options.seed);
    this.network = new LoopbackNetwork({ seed: options.seed, clock: this.clock,
      encodeFrames: true });
    this.raftRandom = new SeededRandom(options.seed * 7919 + 1);
  }

  private readonly raftRandom: SeededRandom;

  /** Opens every store's engine and starts the stores. */
  async start(): Promise<void> {
    for (let i = 1; i <= this.scenario.nodes; i++) {
      this.nodeIds.push(i);
      const engine = new CrashModelEngine({ storeId: i, clusterId: 'sim' });
      await engine.open();
      this.engines.push(engine);
      this.writesAtOpen.push(engine.writesIssued);
      if (this.options.bug === 'ack-before-sync') plantAckBeforeSync(engine);
      this.stores.push(this.newStore(i, engine));
    }
    this.setFaults();
  }

  private newStore(nodeId: number, engine: CrashModelEngine): Store {
    return new Store(this.storeOptions(nodeId, engine));
  }

  private storeOptions(nodeId: number, engine: CrashModelEngine): StoreOptions {
    const s = this.scenario;
    const inner = this.network.createTransport({ nodeId, autoFlush: true });
    this.transports[nodeId - 1] = inner;
    return {
      nodeId, transport: new SimTransport(inner, this),
      stateMachine: new SimStateMachine(this, nodeId), random: this.raftRandom,
      storageEngine: engine,
      electionTimeoutTicks: s.electionTimeoutTicks,
      heartbeatIntervalTicks: s.heartbeatIntervalTicks,
      livenessTimeoutTicks: s.livenessTimeoutTicks,
      quiesceAfterTicks: s.quiesceAfterTicks,
      releaseQuiescedNodes: s.releaseQuiescedNodes,
      // The batch budget must run on virtual time: on the default wall clock a loaded
      // machine ends batches elsewhere and the same seed replays differently.
      scheduler: { clock: this.clock, batchGroupsMax: s.batchGroupsMax },
    };
  }

  // -------------------------------------------------------------------------------------
  // Hooks from the wrappers.

  onSend(envelopes: readonly Envelope[]): void {
    for (const e of envelopes) {
      if (e.rangeId === 0) continue;
      this.checker.onSend(e.rangeId, e.message, e.quiesce === true);
      this.durability.onSend(e.rangeId, e.message);
    }
  }

  onReceive(nodeId: number, from: number, envelopes: Envelope[]): void {
    this.hash.add(nodeId * 1000 + from);
    this.hash.add(envelopes.length);
    if (this.options.bug !== 'stale-quiesce') return;
    // PLANTED BUG: a follower that takes a quiesce heartbeat without checking its term, commit
    // and sender: the heartbeat is rewritten to agree with whatever the follower believes.
    const store = this.store(nodeId);
    for (const e of envelopes) {
      const m = e.message;
      if (e.quiesce !== true || m.type !== MessageType.MsgHeartbeat) continue;
      const s = this.status;
      if (!store.readStatus(e.rangeId, s) || !s.initialized || s.lead === 0) continue;
      if (s.lead === nodeId || s.lastIndex !== s.commit) continue;
      m.term = s.term;
      m.commit = s.commit;
      m.from = s.lead;
    }
  }

  onApply(nodeId: number, rangeId: number, entry: Entry, batch: EngineBatch): void {
    const s = this.status;
    this.store(nodeId).readStatus(rangeId, s);
    this.checker.onApply(nodeId, rangeId, entry, s.term);
    this.hash.add(nodeId * 7 + entry.index);
    const cmd = decodeCommand(entry.data);
    const kv = this.kv(nodeId, rangeId);
    // A duplicated proposal takes effect once only.
    const effective = cmd !== null && !kv.applied.has(cmd.opId);
    this.recordApply(nodeId, rangeId, entry, effective, cmd?.opId ?? 0, batch);
    if (cmd === null || !effective) return;
    let value: string | null = null;
    if (cmd.kind === 'put') kv.apply(cmd);
    else {
      kv.applied.add(cmd.opId);
      value = kv.get(cmd.key);
    }
    kv.appliedIndex = entry.index;
    const p = this.pending.get(cmd.opId);
    if (p === undefined || p.nodeId !== nodeId || p.rangeId !== rangeId) return;
    this.pending.delete(cmd.opId);
    p.op.output = { value };
    p.op.returnTime = ++this.time;
    this.stats.opsAcked++;
  }

  /**
   * Stages the apply record of `entry` (store_disk.ts) in the batch of the applied index;
   * an index applied twice on one replica is a replay past the durable applied point.
   */
  private recordApply(nodeId: number, rangeId: number, entry: Entry, effective: boolean,
    opId: number, batch: EngineBatch): void {
    const engine = this.engines[nodeId - 1]!;
    const key = appliedRecordKey(rangeId, entry.index);
    if (engine.getUser(key) !== undefined) {
      throw new StoreInvariantViolation('acknowledged-durable', nodeId, rangeId,
        `entry ${entry.index} applied twice (its apply record exists)`);
    }
    engine.putUser(key, encodeAppliedRecord(effective, entry.data), batch);
    this.durability.onApply(nodeId, rangeId, entry.index,
      { term: entry.term, hash: hashBytes(entry.data), effective, opId });
  }

  onApplySnapshot(nodeId: number, rangeId: number, snapshot: Snapshot): void {
    const md = snapshot.metadata;
    this.checker.onApplySnapshot(nodeId, rangeId, md.index, md.term);
    const kv = KvStateMachine.decode(snapshot.data);
    kv.appliedIndex = md.index;
    this.kvs.set(`${nodeId}/${rangeId}`, kv);
    this.trace(`n${nodeId} r${rangeId} applies snapshot ${md.index}/${md.term}`);
  }

  // -------------------------------------------------------------------------------------
  // The run.

  /** Runs the whole seed; throws `StoreInvariantViolation` (or a bug's exception). */
  async run(): Promise<void> {
    const s = this.scenario;
    await this.start();
    for (let r = 1; r <= s.ranges; r++) this.createRange(r, r <= s.lazyRanges);
    await this.settle(false);
    this.checkAll();
    for (let t = 0; t < s.chaosTicks; t++) await this.tick(true);
    await this.heal();
    this.trace('chaos over: healed');
    await this.awaitCommit(this.nodeIds, 'after heal');
    await this.awaitQuiesced('after heal');
    await this.crashLeaderStore();
    this.checkHistories();
  }

  private createRange(rangeId: number, lazy: boolean): void {
    this.rangeIds.push(rangeId);
    this.histories.set(rangeId, []);
    const leader = this.nodeIds[this.rng.intn(this.nodeIds.length)]!;
    for (const store of this.stores) {
      if (lazy && store.nodeId !== leader) continue;
      store.createRange(rangeId, { voters: this.nodeIds });
    }
    if (lazy || this.rng.intn(2) === 0) this.store(leader).campaign(rangeId);
  }

  /** One tick interval: `tickSpreadSlots` sub-ticks. */
  private async tick(chaos: boolean): Promise<void> {
    this.tickCount++;
    this.stats.ticks++;
    const slots = this.stores[0]!.ticker.config.tickSpreadSlots;
    if (chaos) this.workloadSpell();
    for (let i = 0; i < slots; i++) await this.subTick(chaos);
  }

  private async subTick(chaos: boolean): Promise<void> {
    this.clock.advance(this.stores[0]!.ticker.subTickIntervalMs);
    if (chaos && this.rng.float() < this.scenario.chaosRate) await this.chaosAction();
    if (chaos && this.busyTicksLeft > 0 && this.rng.intn(3) === 0) this.clientOp();
    const ticksBefore: number[] = [];
    const awake: number[] = [];
    for (const store of this.stores) {
      if (this.down.has(store.nodeId)) continue;
      awake[store.nodeId] = store.summary(this.summaryScratch).awake;
      ticksBefore[store.nodeId] = store.stats.ticks;
      store.tick();
    }
    await this.settle(chaos);
    for (const store of this.stores) {
      if (this.down.has(store.nodeId)) continue;
      this.checker.checkTicks(store.nodeId, store.stats.ticks - ticksBefore[store.nodeId]!,
        awake[store.nodeId]!);
    }
    if (this.options.bug === 'zombie-liveness') this.zombiePings();
    this.countQuiesced();
  }

  /**
   * Runs every running store's batches, completes disk writes (each pending write completes
   * with the scenario's chance per round: the disk's latency) and delivers what is due,
   * until nothing moves. In the chaos phase a store whose disk reaches the seed's crash
   * point crashes there, with that write in flight.
   */
  private async settle(chaos: boolean): Promise<void> {
    for (let round = 0; round < 100_000; round++) {
      let moved = false;
      for (const store of this.stores) {
        if (this.down.has(store.nodeId)) continue;
        if (store.scheduler.hasWork) {
          store.runUntilIdle();
          this.checkStore(store);
          moved = true;
        }
        if (chaos && this.crashPointDue(store.nodeId) && await this.crashAtPoint(store.nodeId)) {
          continue;
        }
        const engine = this.engines[store.nodeId - 1]!;
        if (engine.pendingWrites > 0 && (this.scenario.diskCompleteRate >= 1 ||
          this.rng.float() < this.scenario.diskCompleteRate)) {
          engine.completeWrite();
          this.checkStore(store);
          moved = true;
          if (chaos && this.crashPointDue(store.nodeId)) await this.crashAtPoint(store.nodeId);
        }
      }
      if (this.clock.runDue() > 0) moved = true;
      if (!moved) return;
    }
    throw new Error('the cluster did not settle (a livelock)');
  }

  /** Whether `nodeId`'s disk has issued the seed's crash-point write (and it is not done). */
  private crashPointDue(nodeId: number): boolean {
    const point = this.scenario.crashPoint;
    if (this.crashPointDone || point.nodeId !== nodeId) return false;
    const engine = this.engines[nodeId - 1]!;
    return engine.writesIssued - this.writesAtOpen[nodeId - 1]! >= point.write;
  }

  /** Crashes `nodeId` at the crash point; false if it must wait (too many stores down). */
  private async crashAtPoint(nodeId: number): Promise<boolean> {
    const point = this.scenario.crashPoint;
    const engine = this.engines[nodeId - 1]!;
    if (!await this.stopStore(nodeId, true)) return false; // too many down: a later write
    this.crashPointDone = true;
    this.stats.crashPoints++;
    this.trace(`crash point: n${nodeId} dies with its write ${point.write} in flight ` +
      `(${engine.pendingWrites} pending)`);
    return true;
  }

  /** Checks every replica of every store (at start-up; after that, see `checkStore`). */
  private checkAll(): void {
    for (const store of this.stores) this.checkStore(store);
  }

  /**
   * Checks every replica of one store. Called after each of its `runUntilIdle`, that is after
   * every batch sequence of that store: replicas change in batches, or in API calls
   * (`propose`, `campaign`, wake-ups) that also queue a batch, which is then checked.
   */
  private checkStore(store: Store): void {
    const s = this.status;
    const wakes = store.stats.wakes;
    for (const rangeId of this.rangeIds) {
      if (!store.readStatus(rangeId, s)) continue;
      this.checker.checkReplica(store.nodeId, s, wakes);
      this.hash.add(s.term * 31 + s.commit + (s.quiesced ? 1 : 0));
    }
  }

  private countQuiesced(): void {
    let quiesced = 0;
    for (const store of this.stores) quiesced += store.summary(this.summaryScratch).quiesced;
    if (quiesced > this.stats.maxQuiescedReplicas) this.stats.maxQuiescedReplicas = quiesced;
  }

  // -------------------------------------------------------------------------------------
  // Workload.

  /** Alternates busy spells (clients propose) and idle ones (groups quiesce). */
  private workloadSpell(): void {
    if (this.busyTicksLeft > 0) {
      if (--this.busyTicksLeft === 0) this.idleTicksLeft = 5 + this.rng.intn(40);
      return;
    }
    if (this.idleTicksLeft > 0 && --this.idleTicksLeft > 0) return;
    this.busyTicksLeft = 1 + this.rng.intn(20);
  }

  private clientOp(): void {
    const up = this.nodeIds.filter((id) => !this.down.has(id));
    if (up.length === 0) return;
    const nodeId = up[this.rng.intn(up.length)]!;
    const rangeId = this.rangeIds[this.rng.intn(this.rangeIds.length)]!;
    const key = `r${rangeId}k${this.rng.intn(2)}`;
    const opId = this.nextOpId++;
    const put = this.rng.intn(2) === 0;
    const data = put ? encodePut({ opId, key, value: `v${opId}` })
      : encoder.encode(`g ${opId} ${key}`);
    const op: KvOperation = {
      clientId: nodeId,
      input: put ? { kind: 'put', key, value: `v${opId}` } : { kind: 'get', key },
      output: undefined, callTime: ++this.time, returnTime: Infinity,
    };
    if (!this.propose(nodeId, rangeId, data)) return;
    this.histories.get(rangeId)!.push(op);
    this.pending.set(opId, { op, nodeId, rangeId });
  }

  /** Proposes; false if the store refused (nothing entered any log). */
  private propose(nodeId: number, rangeId: number, data: Uint8Array): boolean {
    try {
      this.store(nodeId).propose(rangeId, data);
    } catch (error) {
      if (!(error instanceof FlotillaError)) throw error;
      return false;
    }
    this.stats.proposals++;
    this.hash.add(nodeId * 100_003 + rangeId);
    return true;
  }

  // -------------------------------------------------------------------------------------
  // Faults.

  private async chaosAction(): Promise<void> {
    const n = this.nodeIds.length;
    const pickNode = (): number => this.nodeIds[this.rng.intn(n)]!;
    const choice = this.rng.intn(10);
    if (choice === 0) {
      const side = this.nodeIds.filter(() => this.rng.intn(2) === 0);
      const other = this.nodeIds.filter((id) => !side.includes(id));
      for (const a of side) for (const b of other) this.cut(a, b, true);
      this.stats.partitions++;
      this.trace(`partition [${side}] | [${other}]`);
    } else if (choice === 1) {
      const id = pickNode();
      for (const b of this.nodeIds) if (b !== id) this.cut(id, b, true);
      this.stats.partitions++;
      this.trace(`isolate n${id}`);
    } else if (choice === 2 || choice === 3) {
      const from = choice === 2 ? this.mostLeadersStore(true) : pickNode();
      const to = this.rng.intn(2) === 0 ? this.nodeIds.filter((id) => id !== from) : [pickNode()];
      for (const b of to) this.cut(from, b, false);
      this.stats.oneWayCuts++;
      this.trace(`one-way cut n${from} -> [${to}]`);
    } else if (choice === 4) {
      this.cuts.clear();
      this.trace('partitions healed');
    } else if (choice === 5) {
      await this.stopStore(pickNode(), this.rng.intn(2) === 0);
    } else if (choice === 6) {
      const first = [...this.down.keys()][0];
      if (first !== undefined) await this.restartStore(first);
    } else if (choice === 7) {
      this.campaignOrWake(pickNode(), this.rangeIds[this.rng.intn(this.rangeIds.length)]!);
    } else {
      this.setFaults();
    }
    this.applyCuts();
  }

  private cut(a: number, b: number, bothWays: boolean): void {
    if (a === b) return;
    this.cuts.add(`${a}>${b}`);
    if (bothWays) this.cuts.add(`${b}>${a}`);
  }

  /** The network: the seed's link faults, the cuts, and stopped stores isolated. */
  private applyCuts(): void {
    this.network.heal();
    this.setFaults(false);
    for (const c of this.cuts) {
      const [a, b] = c.split('>').map(Number) as [number, number];
      this.network.partitionOneWay([a], [b]);
    }
    for (const id of this.down.keys()) this.network.isolate(id);
  }

  private faultsOn = true;

  private setFaults(redraw = true): void {
    const s = this.scenario;
    if (redraw) this.faultsOn = this.rng.intn(3) !== 0;
    if (!this.faultsOn) return;
    this.network.setFaults({ dropRate: s.dropRate, duplicateRate: s.duplicateRate,
      delayMsMin: 0, delayMsMax: s.delayMsMax, reorderRate: s.reorderRate });
  }

  /** Stops a store (a crash: its disk keeps only completed writes); false if not allowed. */
  private async stopStore(nodeId: number, crash: boolean): Promise<boolean> {
    if (this.down.has(nodeId) || this.down.size >= Math.floor((this.nodeIds.length - 1) / 2)) {
      return false;
    }
    this.down.set(nodeId, crash);
    if (crash) this.stats.crashes++;
    else this.stats.pauses++;
    this.trace(`${crash ? 'crash' : 'pause'} n${nodeId}`);
    this.applyCuts();
    if (crash) await this.checkCrashImage(nodeId);
    return true;
  }

  /**
   * Reopens what the crashed store's disk holds (only completed writes) and checks it
   * (store_durability.ts): everything the store applied is there or replays from its log,
   * exactly once; the durable HardState never moved back. The KV the apply records add up
   * to must replay with the same duplicate flags. The restart rebuilds from what it read.
   */
  private async checkCrashImage(nodeId: number): Promise<void> {
    const engine = this.engines[nodeId - 1]!;
    const lost = engine.pendingWrites;
    const disk = engine.crash();
    const listed = await disk.open();
    const image = await readDurableImage(disk, nodeId, listed);
    this.crashImages.set(nodeId, image);
    this.durability.checkImage(image, this.rangeIds);
    for (const r of image.replicas) {
      const { mismatch } = rebuildKv(r);
      if (mismatch !== null) {
        throw new StoreInvariantViolation('acknowledged-durable', nodeId, r.rangeId,
          `apply record ${mismatch} on disk is flagged against its replay (exactly once)`);
      }
    }
    this.stats.imagesChecked++;
    this.trace(`n${nodeId} disk image: ${image.replicas.length} replicas, ${lost} write(s) ` +
      'lost');
  }

  private async restartStore(nodeId: number): Promise<void> {
    const crash = this.down.get(nodeId);
    if (crash === undefined) return;
    this.down.delete(nodeId);
    if (crash) await this.reopenStore(nodeId);
    this.trace(`restart n${nodeId}`);
    this.applyCuts();
  }

  /**
   * A crashed store comes back as a new process would: a new `Store` opened (`Store.open`)
   * on an engine holding only what the old one's disk completed; the old store, its engine
   * (with the write that was in flight) and its transport are dropped. The KV of each
   * replica is rebuilt from its apply records alone, and the checker's view of the replica
   * restarts from the disk's HardState and applied point.
   */
  private async reopenStore(nodeId: number): Promise<void> {
    const i = nodeId - 1;
    const image = this.crashImages.get(nodeId);
    assert(image !== undefined, 'a crashed store was checked at its crash');
    this.crashImages.delete(nodeId);
    const old = this.stores[i]!;
    this.retired.push(old);
    await this.transports[i]!.close();
    const engine = this.engines[i]!.crash();
    if (this.options.bug === 'ack-before-sync') plantAckBeforeSync(engine);
    const store = await Store.open(this.storeOptions(nodeId, engine));
    this.retiredWrites += this.engines[i]!.writesIssued - this.writesAtOpen[i]!;
    this.engines[i] = engine;
    this.writesAtOpen[i] = engine.writesIssued;
    this.stores[i] = store;
    for (const r of image.replicas) {
      this.kvs.set(`${nodeId}/${r.rangeId}`, rebuildKv(r).kv);
      // An uninitialized replica (its snapshot not durable yet) stands before the start.
      let stateMachineAt = r.applied >= RANGE_INITIAL_INDEX ? RANGE_INITIAL_INDEX : 0;
      for (const index of r.records.keys()) {
        if (index > stateMachineAt && index <= r.applied) stateMachineAt = index;
      }
      this.checker.onRestart(nodeId, r.rangeId, r.hardState, stateMachineAt);
    }
    for (const rangeId of this.rangeIds) {
      if (!image.replicas.some((r) => r.rangeId === rangeId)) {
        this.kvs.delete(`${nodeId}/${rangeId}`);
        this.checker.onRestart(nodeId, rangeId, { term: 0, vote: 0, commit: 0 }, 0);
      }
    }
    this.stats.restarts++;
  }

  private campaignOrWake(nodeId: number, rangeId: number): void {
    if (this.down.has(nodeId)) return;
    const store = this.store(nodeId);
    try {
      if (this.rng.intn(2) === 0) store.campaign(rangeId);
      else store.wakeRange(rangeId);
    } catch (error) {
      if (!(error instanceof FlotillaError)) throw error;
      return;
    }
    this.stats.campaigns++;
  }

  /** The running store that leads the most groups (quiesced ones first if asked). */
  private mostLeadersStore(quiescedFirst: boolean): number {
    let best = this.nodeIds[0]!;
    let bestScore = -1;
    const s = this.status;
    for (const store of this.stores) {
      let score = 0;
      for (const rangeId of this.rangeIds) {
        if (!store.readStatus(rangeId, s) || s.raftState !== StateType.StateLeader) continue;
        score += quiescedFirst && s.quiesced ? 1000 : 1;
      }
      if (score > bestScore) {
        bestScore = score;
        best = store.nodeId;
      }
    }
    return best;
  }

  /** PLANTED BUG: a stopped store keeps looking live (a liveness record that never expires). */
  private zombiePings(): void {
    for (const id of this.down.keys()) {
      for (const store of this.stores) {
        if (!this.down.has(store.nodeId)) store.handleBatch(id, []);
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Liveness.

  private async heal(): Promise<void> {
    for (const id of [...this.down.keys()]) await this.restartStore(id);
    this.cuts.clear();
    this.network.heal();
    this.faultsOn = false;
    this.busyTicksLeft = 0;
  }

  /** Every range commits a marker on every replica of `nodes` within a bound. */
  private async awaitCommit(nodes: readonly number[], phase: string): Promise<void> {
    const markers = new Map<number, number>();
    for (let t = 0; t < COMMIT_TICKS_MAX; t++) {
      for (const rangeId of this.rangeIds) {
        if (markers.has(rangeId) && this.markerApplied(markers.get(rangeId)!, rangeId, nodes)) {
          continue;
        }
        if (t % 10 !== 0 && markers.has(rangeId)) continue;
        const nodeId = this.leaderOf(rangeId, nodes) ?? nodes[t % nodes.length]!;
        const opId = this.nextOpId++;
        const key = `r${rangeId}k0`;
        const data = encodePut({ opId, key, value: `v${opId}` });
        if (!this.propose(nodeId, rangeId, data)) continue;
        markers.set(rangeId, opId);
        const op: KvOperation = { clientId: nodeId, input: { kind: 'put', key,
          value: `v${opId}` }, output: undefined, callTime: ++this.time, returnTime: Infinity };
        this.histories.get(rangeId)!.push(op);
        this.pending.set(opId, { op, nodeId, rangeId });
      }
      const done = this.rangeIds.every((r) =>
        markers.has(r) && this.markerApplied(markers.get(r)!, r, nodes));
      if (done) return;
      await this.tick(false);
    }
    const stuck = this.rangeIds.find((r) =>
      !markers.has(r) || !this.markerApplied(markers.get(r)!, r, nodes))!;
    this.checker.failLiveness(0, stuck, `${phase}: no commit on every replica of [${nodes}] ` +
      `within ${COMMIT_TICKS_MAX} ticks (${this.describeRange(stuck)})`);
  }

  /**
   * Without any request (a proposal would wake the group by itself): within the liveness
   * timeout plus an election timeout (and a margin), no replica among `nodes` still sleeps
   * under a leader outside them; within `COMMIT_TICKS_MAX` ticks every range has a leader
   * among them. The two bounds differ on purpose: waking is the store's job and is exact;
   * electing takes as many rounds as split votes last (with one store of four down, the
   * three others must agree, and tick-granular timeouts collide often).
   */
  private async awaitLeaders(nodes: readonly number[], phase: string): Promise<void> {
    const s = this.scenario;
    const wakeBound = s.livenessTimeoutTicks + s.electionTimeoutTicks + 10;
    const st = this.status;
    const sleeping = (): number | undefined => this.rangeIds.find((r) => nodes.some((id) =>
      this.store(id).readStatus(r, st) && st.quiesced && !nodes.includes(st.lead)));
    const leaderless = (): number | undefined =>
      this.rangeIds.find((r) => this.leaderOf(r, nodes) === undefined);
    for (let t = 0; ; t++) {
      const asleep = sleeping();
      if (asleep !== undefined && t >= wakeBound) {
        this.checker.failLiveness(0, asleep, `${phase}: a replica among [${nodes}] still ` +
          `sleeps under a leader outside them after ${wakeBound} ticks without requests ` +
          `(${this.describeRange(asleep)})`);
      }
      const r = leaderless();
      if (asleep === undefined && r === undefined) return;
      if (r !== undefined && t >= COMMIT_TICKS_MAX) {
        this.checker.failLiveness(0, r, `${phase}: no leader among [${nodes}] within ` +
          `${COMMIT_TICKS_MAX} ticks without requests (${this.describeRange(r)})`);
      }
      await this.tick(false);
    }
  }

  private markerApplied(opId: number, rangeId: number, nodes: readonly number[]): boolean {
    return nodes.every((id) => this.kvs.get(`${id}/${rangeId}`)?.applied.has(opId) === true);
  }

  private leaderOf(rangeId: number, nodes: readonly number[]): number | undefined {
    const s = this.status;
    for (const id of nodes) {
      if (this.store(id).readStatus(rangeId, s) && s.raftState === StateType.StateLeader) {
        return id;
      }
    }
    return undefined;
  }

  /**
   * Every group of the running stores quiesces within a bound, and every quiesced follower's
   * leader is a running, quiesced leader of the same term.
   */
  private async awaitQuiesced(phase: string): Promise<void> {
    const s = this.status;
    const up = this.nodeIds.filter((id) => !this.down.has(id));
    for (let t = 0; t < QUIESCE_TICKS_MAX; t++) {
      const awake = this.rangeIds.find((r) => up.some((id) =>
        this.store(id).readStatus(r, s) && !s.quiesced));
      if (awake === undefined) break;
      if (t === QUIESCE_TICKS_MAX - 1) {
        this.checker.failLiveness(0, awake, `${phase}: idle group still awake after ` +
          `${QUIESCE_TICKS_MAX} ticks (${this.describeRange(awake)})`);
      }
      await this.tick(false);
    }
    for (const rangeId of this.rangeIds) {
      for (const id of up) {
        if (!this.store(id).readStatus(rangeId, s) || s.raftState === StateType.StateLeader) {
          continue;
        }
        const { lead, term } = s;
        const ls = this.leaderStatus;
        const leaderOk = up.includes(lead) && this.store(lead).readStatus(rangeId, ls) &&
          ls.raftState === StateType.StateLeader && ls.term === term && ls.quiesced;
        if (!leaderOk) {
          this.checker.failLiveness(id, rangeId, `${phase}: follower quiesced under n${lead} ` +
            `(term ${term}), which is not a running quiesced leader of that term ` +
            `(${this.describeRange(rangeId)})`);
        }
      }
    }
  }

  /**
   * Crash the store leading the most quiesced groups and keep it down: the others must elect
   * leaders and commit (liveness timeout, then an election). Then bring it back, let all
   * quiesce, and cut the store leading the most groups one way (it hears, is not heard).
   */
  private async crashLeaderStore(): Promise<void> {
    if (this.nodeIds.length < 3) return;
    const victim = this.mostLeadersStore(true);
    this.trace(`liveness: crash n${victim}, the leader of the most quiesced groups`);
    this.down.set(victim, true);
    this.stats.crashes++;
    this.applyCuts();
    await this.checkCrashImage(victim);
    const others = this.nodeIds.filter((id) => id !== victim);
    await this.awaitLeaders(others, `n${victim} crashed`);
    await this.awaitCommit(others, `n${victim} crashed`);
    await this.restartStore(victim);
    await this.awaitCommit(this.nodeIds, `n${victim} back`);
    await this.awaitQuiesced(`n${victim} back`);
    const cutOff = this.mostLeadersStore(true);
    this.trace(`liveness: one-way cut n${cutOff} -> others`);
    const rest = this.nodeIds.filter((id) => id !== cutOff);
    for (const b of rest) this.cut(cutOff, b, false);
    this.stats.oneWayCuts++;
    this.applyCuts();
    await this.awaitLeaders(rest, `n${cutOff} cut one way`);
    await this.awaitCommit(rest, `n${cutOff} cut one way`);
    await this.heal();
    await this.awaitCommit(this.nodeIds, 'final heal');
    await this.awaitQuiesced('final heal');
  }

  private describeRange(rangeId: number): string {
    const s = this.status;
    const parts: string[] = [];
    for (const store of this.stores) {
      if (!store.readStatus(rangeId, s)) {
        parts.push(`n${store.nodeId}: none`);
        continue;
      }
      const role = s.raftState === StateType.StateLeader ? 'leader'
        : s.raftState === StateType.StateFollower ? 'follower' : 'candidate';
      parts.push(`n${store.nodeId}: ${role} term ${s.term} lead ${s.lead} commit ${s.commit}/` +
        `${s.lastIndex}${s.quiesced ? ' quiesced' : ''}${s.initialized ? '' : ' uninit'}` +
        `${this.down.has(store.nodeId) ? ' DOWN' : ''}`);
    }
    return parts.join('; ');
  }

  private checkHistories(): void {
    for (const rangeId of this.rangeIds) {
      const r = checkKvHistory(this.histories.get(rangeId)!);
      if (r.kind === 'illegal') {
        throw new StoreInvariantViolation('linearizability', 0, rangeId,
          `range ${rangeId} history is not linearizable; minimal sub-history:\n${r.report}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------

  private store(nodeId: number): Store {
    return this.stores[nodeId - 1]!;
  }

  private kv(nodeId: number, rangeId: number): KvStateMachine {
    const key = `${nodeId}/${rangeId}`;
    let kv = this.kvs.get(key);
    if (kv === undefined) this.kvs.set(key, (kv = new KvStateMachine()));
    return kv;
  }

  private trace(line: string): void {
    this.hash.add(line.length);
    this.options.trace?.(`[t${this.tickCount}] ${line}`);
  }

  /** The trace hash so far. */
  get traceHash(): string {
    return this.hash.digest();
  }

  get ticks(): number {
    return this.tickCount;
  }

  /** Folds the stores' and network's counters into `stats`. */
  collectStats(): void {
    const t = this.stats;
    t.checks = this.checker.checks;
    t.wireChecks = this.checker.wireChecks;
    for (const store of [...this.stores, ...this.retired]) {
      t.quiesces += store.stats.quiesces;
      t.wakes += store.stats.wakes;
      t.nodesReleased += store.stats.nodesReleased;
      t.replicasCreatedLazily += store.stats.replicasCreatedLazily;
      const refused = store.stats.quiesceRefusals;
      t.staleQuiesceRefused += (refused['term-mismatch'] ?? 0) +
        (refused['commit-mismatch'] ?? 0) + (refused['leader-mismatch'] ?? 0);
    }
    t.diskWrites = this.retiredWrites;
    for (let i = 0; i < this.engines.length; i++) {
      t.diskWrites += this.engines[i]!.writesIssued - this.writesAtOpen[i]!;
    }
    t.entriesDurable = this.durability.entriesChecked;
    const n = this.network.stats();
    t.messagesDropped = n.envelopesDropped;
    t.messagesDuplicated = n.envelopesDuplicated;
  }
}

/** Runs one seed of the store layer. */
export async function runStoreSimulation(options: StoreSimOptions): Promise<StoreSimResult> {
  const world = new StoreWorld(options);
  let failure: StoreSimResult['failure'] = null;
  try {
    await world.run();
  } catch (error) {
    if (error instanceof StoreInvariantViolation) {
      failure = { invariant: error.invariant, message: error.message, tick: world.ticks };
    } else {
      const e = error as Error;
      const where = (e.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' | ');
      failure = { invariant: 'exception', message: `${e.name}: ${e.message} (${where})`,
        tick: world.ticks };
    }
  }
  world.collectStats();
  return { seed: options.seed, scenario: world.scenario, traceHash: world.traceHash,
    stats: world.stats, failure };
}


/**
 * PLANTED BUG: an engine that reports a commit durable as soon as it is handed over, before
 * its sync (the store then sends, applies and acknowledges what a crash can still lose).
 */
function plantAckBeforeSync(engine: CrashModelEngine): void {
  const commit = engine.commit.bind(engine);
  engine.commit = (batch, done): void => {
    commit(batch, () => {});
    done(null);
  };
}
