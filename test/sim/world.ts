/**
 * One simulated cluster: real `RawNode`s driven as Flotilla's scheduler drives them (each
 * Ready handled synchronously: persist, then send, apply, `advance()`; input that arrives
 * while the disk is still writing waits), on virtual time, with a faulty network, slow and
 * stalling disks, crashes that keep only what was persisted, and a workload of proposals,
 * ReadIndex reads, membership changes, leader transfers, forgetLeader, campaigns and log
 * compaction. Every decision comes from one seed.
 *
 * After every event the touched node is checked by `SafetyChecker`; at the end the faults heal
 * and the cluster must elect a leader and commit within a bound (liveness), and the client
 * history must be linearizable.
 */
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MemoryStorage,
  MessageType,
  RawNode,
  SeededRandom,
  SnapshotStatus,
  StateType,
  emptyConfState,
  isEmptyHardState,
  unmarshalConfChange,
  type ConfChangeSingle,
  type ConfState,
  type Entry,
  type Message,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.js';
import { FlotillaError, assert } from '../../src/util/index.js';
import { EventQueue, TraceHash } from './events.js';
import {
  CHAIN_HASH_EMPTY,
  InvariantViolation,
  SafetyChecker,
  type NodeView,
} from './invariants.js';
import { KvStateMachine, decodePut, encodePut } from './kv.js';
import { checkKvHistory, type KvOperation } from './linearizability.js';
import { SimNetwork, reliableFaults } from './network.js';
import { pickScenario, type PlantedBug, type Scenario } from './scenario.js';
import { raftOf } from '../../src/raft/rawnode_internal.js';

const encoder = new TextEncoder();
/**
 * Messages a busy node buffers (CockroachDB bounds its raft receive queue the same way);
 * beyond it they are dropped, which Raft tolerates like any loss.
 */
const INBOX_MAX = 4096;
/**
 * Voters needed before one may be removed or demoted. From two voters, the removed one is
 * needed for any quorum of the old configuration, which the other still uses until it learns
 * that the removal committed; if the removed node was the leader and has entries the other
 * lacks, it refuses its vote, cannot campaign itself (no longer promotable) and the group is
 * stuck for ever: a two-voter quorum cannot lose a voter. The liveness check found it.
 */
const VOTERS_MIN_FOR_REMOVAL = 3;
/** How often removed nodes are considered for shutdown. */
const GC_INTERVAL_MS = 20;
const decoder = new TextDecoder();

type SimEvent =
  | { k: 'tick'; id: number; inc: number }
  | { k: 'msg'; m: Message }
  | { k: 'disk'; id: number; inc: number }
  | { k: 'snapStatus'; id: number; inc: number; to: number; ok: boolean }
  | { k: 'unreachable'; id: number; inc: number; to: number }
  | { k: 'chaos' }
  | { k: 'client' }
  | { k: 'restart'; id: number }
  | { k: 'unpartition' }
  | { k: 'heal' }
  | { k: 'liveness' }
  | { k: 'gc' };

const EVENT_CODES: Record<SimEvent['k'], number> = {
  tick: 1, msg: 2, disk: 3, snapStatus: 4, unreachable: 5, chaos: 6, client: 7, restart: 8,
  unpartition: 9, heal: 10, liveness: 11, gc: 12,
};

/** How a run ended badly: the invariant, its message, and when. */
export interface SimFailure {
  invariant: string;
  message: string;
  timeMs: number;
  step: number;
}

/** Counters of one run, for progress output and the README table. */
export interface SimStats {
  steps: number;
  virtualMs: number;
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  crashes: number;
  restarts: number;
  partitions: number;
  diskStalls: number;
  confChanges: number;
  transfers: number;
  forgetLeaders: number;
  campaigns: number;
  compactions: number;
  snapshotsApplied: number;
  proposals: number;
  reads: number;
  readsServed: number;
  putsAcked: number;
  maxTerm: number;
  maxCommit: number;
  checks: number;
}

/** All counters at zero. */
export function emptyStats(): SimStats {
  return {
    steps: 0, virtualMs: 0, messagesSent: 0, messagesDropped: 0, messagesDuplicated: 0,
    crashes: 0, restarts: 0, partitions: 0, diskStalls: 0, confChanges: 0, transfers: 0,
    forgetLeaders: 0, campaigns: 0, compactions: 0, snapshotsApplied: 0, proposals: 0,
    reads: 0, readsServed: 0, putsAcked: 0, maxTerm: 0, maxCommit: 0, checks: 0,
  };
}

/** The outcome of one seed. */
export interface SimResult {
  seed: number;
  scenario: Scenario;
  failure: SimFailure | null;
  traceHash: string;
  stats: SimStats;
}

/** Options of one run. Everything not given is drawn from the seed. */
export interface SimOptions {
  seed: number;
  /** Initial voters. @default drawn from the seed in [3, 5] */
  nodes?: number;
  /** A deliberately planted bug, to show that the checkers catch it. @default none */
  bug?: PlantedBug;
  /** Virtual milliseconds of faults before everything heals. @default drawn from the seed */
  chaosMs?: number;
  /** Receives one line per event (slow; for replaying a failing seed). */
  trace?: (line: string) => void;
  /** Receives the client history before it is checked (for debugging the checker). */
  onHistory?: (history: readonly KvOperation[]) => void;
}

/**
 * The durable storage of a simulated server. `snapshot()` builds a fresh snapshot from the
 * state machine when the stored one is behind the applied index, as CockroachDB generates
 * snapshots on demand: a stale snapshot may predate a node's addition, and a new node rejects
 * a snapshot whose configuration does not contain it (etcd: "should never happen"), so the
 * leader would send it for ever.
 */
class SimStorage extends MemoryStorage {
  constructor(private readonly owner: SimNode) {
    super();
  }

  override snapshot(): ReturnType<MemoryStorage['snapshot']> {
    const n = this.owner;
    if (n.status === 'up' && n.kv.appliedIndex > this.snap.metadata.index) {
      const made = this.createSnapshot(n.kv.appliedIndex, n.confState, n.kv.encode());
      assert(!(made instanceof Error), 'on-demand snapshot at the applied index');
    }
    return super.snapshot();
  }
}

/** Input that waits for a busy node. */
type InboxItem =
  | { k: 'msg'; m: Message }
  | { k: 'snapStatus'; to: number; ok: boolean }
  | { k: 'unreachable'; to: number };

/** A simulated server: durable storage plus, while it is up, a RawNode and a state machine. */
class SimNode implements NodeView {
  readonly storage: MemoryStorage = new SimStorage(this);
  raw: RawNode | null = null;
  kv = new KvStateMachine();
  status: 'up' | 'down' | 'retired' = 'down';
  /** Bumped on every crash, so events addressed to an earlier life are ignored. */
  inc = 0;
  /**
   * The Ready being written to disk, between `ready()` and `advance()`. While it is set the
   * node is busy: Flotilla handles a group's Ready synchronously (house rule 2, as
   * CockroachDB does under raftMu), so input that arrives meanwhile waits in `inbox`, and
   * ticks are missed, as they are for a server blocked on a slow fsync.
   */
  writing: Ready | null = null;
  /** Input received while busy, stepped right after `advance()`. Bounded by INBOX_MAX. */
  inbox: InboxItem[] = [];
  stallUntilMs = 0;
  /** The configuration as of the state machine's applied index. */
  confState: ConfState = emptyConfState();
  /** ReadIndex requests sent, by context; then answered ones waiting to be applied up to. */
  readonly readsSent = new Map<string, KvOperation>();
  readsReady: { index: number; op: KvOperation }[] = [];

  constructor(readonly id: number) {}

  private get r() {
    assert(this.raw !== null, `node ${this.id} is not running`);
    return raftOf(this.raw);
  }
  term = (): number => this.r.term;
  vote = (): number => this.r.vote;
  commit = (): number => this.r.raftLog.committed;
  isLeader = (): boolean => this.r.state === StateType.StateLeader;
  applied = (): number => this.kv.appliedIndex;
  firstIndex = (): number => this.r.raftLog.firstIndex();
  lastIndex = (): number => this.r.raftLog.lastIndex();
  entryAt = (i: number): Entry => {
    const u = this.r.raftLog.unstable;
    if (i >= u.offset && i - u.offset < u.entries.length) return u.entries[i - u.offset]!;
    const ents = this.storage.ents;
    return ents[i - ents[0]!.index]!;
  };
  snapshotTerm = (): number => {
    const u = this.r.raftLog.unstable;
    return u.snapshot !== null ? u.snapshot.metadata.term : this.storage.ents[0]!.term;
  };
}

function members(cs: ConfState): Set<number> {
  return new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
}

/** Runs one seed to completion and returns what happened. Never throws for a found bug. */
export function runSimulation(options: SimOptions): SimResult {
  return new World(options).run();
}

class World {
  readonly rng: SeededRandom;
  readonly raftRandom: SeededRandom;
  readonly sc: Scenario;
  readonly queue = new EventQueue<SimEvent>();
  readonly net: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly nodes = new Map<number, SimNode>();
  readonly trace = new TraceHash();
  readonly history: KvOperation[] = [];
  /** Puts in flight: op id -> the operation and the node (and life) that proposed it. */
  readonly putsPending = new Map<number, { op: KvOperation; id: number; inc: number }>();
  /**
   * Ids removed by an applied conf change (never re-added: ids are not reused), with the
   * index of the removal and the members of the configuration it produced.
   */
  readonly removed = new Map<number, { index: number; members: number[] }>();
  readonly stats: SimStats;
  nextId: number;
  opSeq = 0;
  step = 0;
  healed = false;
  healAtMs = 0;
  done = false;
  livenessMarkerApplied = false;
  livenessProposedTerm = -1;
  private readonly touched: number[] = [];

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRandom(options.seed);
    this.raftRandom = new SeededRandom((options.seed ^ 0x5eed5eed) >>> 0);
    this.sc = pickScenario(this.rng, options);
    this.net = new SimNetwork(this.rng, this.sc.faults);
    this.nextId = this.sc.nodes + 1;
    this.stats = emptyStats();
  }

  run(): SimResult {
    let failure: SimFailure | null = null;
    try {
      this.bootstrap();
      this.loop();
      if (!this.livenessMarkerApplied) {
        throw new InvariantViolation('liveness', 0, 'event queue ran dry before liveness');
      }
      this.options.onHistory?.(this.history);
      const lin = checkKvHistory(this.history);
      if (lin.kind === 'illegal') {
        throw new InvariantViolation('linearizability', 0,
          `history not linearizable; minimal failing sub-history:\n${lin.report}`);
      }
      if (lin.kind === 'unknown') {
        throw new InvariantViolation('linearizability', 0, `checker gave up: ${lin.reason}`);
      }
    } catch (e) {
      failure = this.describeFailure(e);
    }
    this.stats.steps = this.step;
    this.stats.virtualMs = this.queue.now;
    this.stats.checks = this.checker.checks;
    for (const n of this.nodes.values()) {
      this.trace.add(n.id);
      this.trace.add(n.kv.appliedIndex);
      this.trace.add(n.kv.chain);
    }
    const traceHash = this.trace.digest();
    return { seed: this.options.seed, scenario: this.sc, failure, traceHash, stats: this.stats };
  }

  private describeFailure(e: unknown): SimFailure {
    const at = { timeMs: this.queue.now, step: this.step };
    if (e instanceof InvariantViolation) {
      return { invariant: e.invariant, message: e.message, ...at };
    }
    // A panic or assertion inside the core (or the harness) is a finding too.
    const err = e instanceof Error ? e : new Error(String(e));
    const where = (err.stack ?? '').split('\n').slice(1, 4).join('\n');
    return { invariant: 'panic', message: `${err.name}: ${err.message}\n${where}`, ...at };
  }

  // ---------------------------------------------------------------------------------------
  // Setup and the event loop.

  private bootstrap(): void {
    const voters: number[] = [];
    for (let id = 1; id <= this.sc.nodes; id++) voters.push(id);
    const cs: ConfState = { ...emptyConfState(), voters };
    const initial = new KvStateMachine();
    initial.appliedIndex = 1;
    const metadata = { confState: cs, index: 1, term: 1 };
    const snap: Snapshot = { data: initial.encode(), metadata };
    this.checker.seedCommitted(1, 1, CHAIN_HASH_EMPTY);
    for (const id of voters) {
      const n = this.addNode(id);
      n.storage.applySnapshot(snap);
      n.storage.setHardState({ term: 1, vote: 0, commit: 1 });
      this.start(n);
    }
    this.queue.after(this.rng.intn(20), { k: 'chaos' });
    this.queue.after(this.rng.intn(10), { k: 'client' });
    this.queue.at(this.sc.chaosMs, { k: 'heal' });
    this.queue.after(GC_INTERVAL_MS, { k: 'gc' });
  }

  private addNode(id: number): SimNode {
    assert(!this.nodes.has(id), `node ${id} exists`);
    const n = new SimNode(id);
    this.nodes.set(id, n);
    return n;
  }

  private loop(): void {
    while (!this.done) {
      const ev = this.queue.pop();
      if (ev === undefined) return;
      this.step++;
      if (this.step > this.sc.stepsMax) {
        throw new InvariantViolation('liveness', 0, `no progress within ${this.sc.stepsMax} steps`);
      }
      this.trace.add(EVENT_CODES[ev.k]);
      this.trace.add(this.queue.now);
      this.handle(ev);
      for (let i = 0; i < this.touched.length; i++) this.drive(this.touched[i]!);
      this.touched.length = 0;
    }
  }

  private touch(id: number): void {
    if (!this.touched.includes(id)) this.touched.push(id);
  }

  private handle(ev: SimEvent): void {
    switch (ev.k) {
      case 'tick': return this.onTick(ev.id, ev.inc);
      case 'msg': return this.deliver(ev.m);
      case 'disk': return this.onDiskDone(ev.id, ev.inc);
      case 'snapStatus': return this.onSnapStatus(ev.id, ev.inc, ev.to, ev.ok);
      case 'unreachable': return this.onUnreachable(ev.id, ev.inc, ev.to);
      case 'chaos': return this.onChaos();
      case 'client': return this.onClient();
      case 'restart': return this.onRestart(ev.id);
      case 'unpartition': this.net.heal(); return;
      case 'heal': return this.onHeal();
      case 'liveness': return this.onLiveness();
      case 'gc': return this.onGc();
    }
  }

  private log(text: string): void {
    if (this.options.trace === undefined) return;
    this.options.trace(`${String(this.queue.now).padStart(6)}ms #${this.step} ${text}`);
  }

  // ---------------------------------------------------------------------------------------
  // Node lifecycle.

  private start(n: SimNode): void {
    assert(n.status !== 'up' && n.status !== 'retired', `node ${n.id} cannot start`);
    const snapIndex = n.storage.snap.metadata.index;
    n.kv = snapIndex > 0 ? KvStateMachine.decode(n.storage.snap.data) : new KvStateMachine();
    assert(n.kv.appliedIndex === snapIndex, 'the snapshot data matches its index');
    n.confState = n.storage.snap.metadata.confState;
    n.raw = new RawNode({
      id: n.id,
      storage: n.storage,
      applied: snapIndex,
      electionTick: this.sc.electionTick,
      heartbeatTick: this.sc.heartbeatTick,
      preVote: this.sc.preVote || this.healed,
      checkQuorum: this.sc.checkQuorum,
      stepDownOnRemoval: this.sc.stepDownOnRemoval,
      maxSizePerMsg: this.sc.maxSizePerMsg,
      maxInflightMsgs: this.sc.maxInflightMsgs,
      random: this.raftRandom,
    });
    n.status = 'up';
    n.writing = null;
    n.inbox = [];
    n.readsSent.clear();
    n.readsReady = [];
    this.checker.onRestart(n.id, n.storage.hardState);
    this.queue.after(1 + this.rng.intn(this.sc.tickMs), { k: 'tick', id: n.id, inc: n.inc });
    this.touch(n.id);
  }

  private crash(n: SimNode): void {
    assert(n.status === 'up', 'only a running node crashes');
    this.log(`crash ${n.id}${n.writing ? ' (losing an unfinished write)' : ''}`);
    n.status = 'down';
    n.raw = null;
    n.writing = null;
    n.inbox = [];
    n.inc++;
    n.readsSent.clear();
    n.readsReady = [];
    this.stats.crashes++;
  }

  private retire(n: SimNode, why: string): void {
    this.log(`retire ${n.id}: ${why}`);
    n.status = 'retired';
    n.raw = null;
    n.writing = null;
    n.inbox = [];
    n.inc++;
  }

  private onRestart(id: number): void {
    const n = this.nodes.get(id)!;
    if (n.status !== 'down') return;
    if (this.collectable(id)) return this.retire(n, 'removed while down');
    this.log(`restart ${id}`);
    this.stats.restarts++;
    this.start(n);
  }

  private onTick(id: number, inc: number): void {
    const n = this.nodes.get(id)!;
    if (n.status !== 'up' || n.inc !== inc) return;
    this.queue.after(this.sc.tickMs, { k: 'tick', id, inc });
    if (n.writing !== null) return; // blocked on its disk: the tick is missed
    this.trace.add(id);
    n.raw!.tick();
    this.touch(id);
  }

  // ---------------------------------------------------------------------------------------
  // Ready handling: persist (possibly late), send, apply, advance.

  /** Takes Ready structs from `id` while its disk is free, then checks the node. */
  private drive(id: number): void {
    const n = this.nodes.get(id)!;
    if (n.status !== 'up') return;
    if (this.sc.bug === 'commit-old-term') this.plantCommitByCounting(n);
    const raw = n.raw!;
    while (n.status === 'up' && n.writing === null && raw.hasReady()) {
      const rd = raw.ready();
      n.writing = rd;
      const doneAt = Math.max(this.queue.now + this.diskLatency(), n.stallUntilMs);
      if (doneAt <= this.queue.now) this.completeWrite(n);
      else this.queue.at(doneAt, { k: 'disk', id, inc: n.inc });
    }
    if (n.status === 'up') this.checker.checkNode(n);
  }

  private diskLatency(): number {
    const max = this.sc.diskLatencyMsMax;
    return max === 0 || this.rng.intn(2) === 0 ? 0 : this.rng.intn(max + 1);
  }

  private onDiskDone(id: number, inc: number): void {
    const n = this.nodes.get(id)!;
    if (n.status !== 'up' || n.inc !== inc || n.writing === null) return;
    this.completeWrite(n);
    this.touch(id);
  }

  private completeWrite(n: SimNode): void {
    const rd = n.writing!;
    n.writing = null;
    const st = n.storage;
    const hasSnap = rd.snapshot !== null && rd.snapshot.metadata.index > 0;
    if (hasSnap) {
      const err = st.applySnapshot(rd.snapshot!);
      assert(err === null, `applySnapshot: ${err?.message}`);
    }
    if (rd.entries.length > 0) st.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) {
      const hs = { ...rd.hardState };
      st.setHardState(hs);
      this.checker.onPersist(n, hs);
      if (hs.term > this.stats.maxTerm) this.stats.maxTerm = hs.term;
    }
    this.trace.add(rd.entries.length);
    this.trace.add(rd.committedEntries.length);
    for (const m of rd.messages) this.send(n, m);
    if (hasSnap) this.applySnapshot(n, rd.snapshot!);
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    for (const rs of rd.readStates) {
      const key = decoder.decode(rs.requestCtx);
      const op = n.readsSent.get(key);
      if (op === undefined) continue;
      n.readsSent.delete(key);
      n.readsReady.push({ index: rs.index, op });
    }
    n.raw!.advance();
    this.drainInbox(n);
    this.serveReads(n);
    if (n.kv.appliedIndex > this.stats.maxCommit) this.stats.maxCommit = n.kv.appliedIndex;
    if (n.kv.appliedIndex - st.snap.metadata.index >= this.sc.compactEvery) this.compact(n);
  }

  private applySnapshot(n: SimNode, snap: Snapshot): void {
    const kv = KvStateMachine.decode(snap.data);
    assert(kv.appliedIndex === snap.metadata.index, 'snapshot data matches its metadata');
    this.checker.onApplySnapshot(n, snap.metadata.index, n.kv.appliedIndex, kv.chain);
    this.log(`node ${n.id} applies snapshot at ${snap.metadata.index}`);
    n.kv = kv;
    n.confState = snap.metadata.confState;
    this.stats.snapshotsApplied++;
  }

  /** Applies one committed entry (a KV command, a marker, or a conf change). */
  private applyEntry(n: SimNode, e: Entry): void {
    n.kv.chain = this.checker.onApply(n, e, n.kv.appliedIndex, n.kv.chain);
    n.kv.appliedIndex = e.index;
    if (e.type === EntryType.EntryNormal) {
      this.applyCommand(n, e.data);
      return;
    }
    const before = members(n.confState);
    const cc = unmarshalConfChange(e.type, e.data);
    if (this.options.trace) {
      this.log(`node ${n.id} applying ${e.index}/${e.term}: ${JSON.stringify(cc)} ` +
        `config ${raftOf(n.raw!).trk.config.toString()}`);
    }
    const cs = n.raw!.applyConfChange(cc);
    n.confState = cs;
    const after = members(cs);
    for (const id of before) {
      if (!after.has(id) && !this.removed.has(id)) {
        this.removed.set(id, { index: e.index, members: [...after] });
      }
    }
    this.log(`node ${n.id} applies conf change at ${e.index}: voters=${cs.voters} ` +
      `outgoing=${cs.votersOutgoing} learners=${cs.learners} next=${cs.learnersNext}`);
  }

  /**
   * Whether a removed node may be shut down (CockroachDB's replica GC, etcd's stopping of a
   * removed member): only once every member of the configuration that removed it has applied
   * the removal. Earlier, a new member may still sit in the joint configuration, unaware that
   * leaving it committed, and need the removed node's vote: stopping it then would block the
   * group for ever.
   */
  private collectable(id: number): boolean {
    const r = this.removed.get(id);
    if (r === undefined) return false;
    for (const m of r.members) {
      const x = this.nodes.get(m);
      if (x === undefined || x.status === 'retired') continue;
      if (x.status !== 'up' || x.kv.appliedIndex < r.index) return false;
    }
    return true;
  }

  private onGc(): void {
    this.queue.after(GC_INTERVAL_MS, { k: 'gc' });
    for (const id of this.removed.keys()) {
      const n = this.nodes.get(id)!;
      if (n.status !== 'retired' && this.collectable(id)) this.retire(n, 'removed (replica GC)');
    }
  }

  private applyCommand(n: SimNode, data: Uint8Array): void {
    if (data.length > 0 && data[0] === 0x6d /* m: liveness marker */) {
      if (this.healed) this.livenessMarkerApplied = true;
      return;
    }
    const cmd = decodePut(data);
    if (cmd === null) return;
    n.kv.apply(cmd);
    const pending = this.putsPending.get(cmd.opId);
    if (pending !== undefined && pending.id === n.id && pending.inc === n.inc) {
      pending.op.returnTime = this.step;
      this.putsPending.delete(cmd.opId);
      this.stats.putsAcked++;
    }
  }

  private serveReads(n: SimNode): void {
    if (n.readsReady.length === 0) return;
    const waiting: { index: number; op: KvOperation }[] = [];
    for (const r of n.readsReady) {
      if (r.index > n.kv.appliedIndex) {
        waiting.push(r);
        continue;
      }
      r.op.output = { value: n.kv.get(r.op.input.key) };
      r.op.returnTime = this.step;
      this.stats.readsServed++;
    }
    n.readsReady = waiting;
  }

  /** Snapshots the state machine at its applied index and compacts the log behind it. */
  private compact(n: SimNode): void {
    const st = n.storage;
    const applied = n.kv.appliedIndex;
    if (applied <= st.snap.metadata.index) return;
    const snap = st.createSnapshot(applied, n.confState, n.kv.encode());
    assert(!(snap instanceof Error), 'createSnapshot at the applied index');
    const keep = this.rng.intn(4);
    const to = applied - keep;
    if (to > st.ents[0]!.index) {
      const err = st.compact(to);
      assert(err === null, 'compact below the applied index');
    }
    this.stats.compactions++;
    this.touch(n.id);
  }

  // ---------------------------------------------------------------------------------------
  // The network.

  private send(from: SimNode, m: Message): void {
    this.stats.messagesSent++;
    const t = this.trace;
    t.add(m.type); t.add(m.from); t.add(m.to); t.add(m.term); t.add(m.index); t.add(m.commit);
    t.add(m.entries.length);
    if (m.type === MessageType.MsgVoteResp && !m.reject) {
      this.checker.onVoteGranted(from, m.to, m.term);
    }
    const fate = this.net.fate(m.from, m.to);
    const target = this.nodes.get(m.to);
    if (fate.delaysMs.length === 0 || target === undefined) {
      this.stats.messagesDropped++;
      if (fate.dropped === 'partition' && this.rng.intn(4) === 0) {
        this.queue.after(0, { k: 'unreachable', id: from.id, inc: from.inc, to: m.to });
      }
    } else {
      if (fate.delaysMs.length > 1) this.stats.messagesDuplicated++;
      for (const d of fate.delaysMs) this.queue.after(d, { k: 'msg', m });
    }
    if (m.type === MessageType.MsgSnap) {
      const ok = fate.delaysMs.length > 0;
      const at = ok ? Math.max(...fate.delaysMs) : 1 + this.rng.intn(20);
      this.queue.after(at, { k: 'snapStatus', id: from.id, inc: from.inc, to: m.to, ok });
    }
  }

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (n === undefined || n.status !== 'up' || !this.net.connected(m.from, m.to)) return;
    this.input(n, { k: 'msg', m });
  }

  private onSnapStatus(id: number, inc: number, to: number, ok: boolean): void {
    const n = this.nodes.get(id)!;
    if (n.status !== 'up' || n.inc !== inc) return;
    this.input(n, { k: 'snapStatus', to, ok });
  }

  private onUnreachable(id: number, inc: number, to: number): void {
    const n = this.nodes.get(id)!;
    if (n.status !== 'up' || n.inc !== inc) return;
    this.input(n, { k: 'unreachable', to });
  }

  /** Hands input to a node now, or queues it while the node is busy with a Ready. */
  private input(n: SimNode, item: InboxItem): void {
    if (n.writing !== null) {
      if (n.inbox.length < INBOX_MAX) n.inbox.push(item);
      return;
    }
    this.stepInput(n, item);
    this.touch(n.id);
  }

  private drainInbox(n: SimNode): void {
    const items = n.inbox;
    n.inbox = [];
    for (const item of items) this.stepInput(n, item);
  }

  private stepInput(n: SimNode, item: InboxItem): void {
    const raw = n.raw!;
    switch (item.k) {
      case 'snapStatus':
        raw.reportSnapshot(
          item.to, item.ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure);
        return;
      case 'unreachable':
        raw.reportUnreachable(item.to);
        return;
      case 'msg':
        break;
    }
    const m = item.m;
    if (this.options.trace) this.log(`deliver ${describeMessage(m)}`);
    const keptVote = this.sc.bug === 'double-vote' ? this.plantForgetVote(n, m) : 0;
    try {
      raw.step(copyMessage(m));
    } catch (e) {
      if (!(e instanceof FlotillaError)) throw e;
    }
    if (keptVote !== 0) raftOf(raw).vote = keptVote;
  }

  // ---------------------------------------------------------------------------------------
  // Faults and the workload.

  private upNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.status === 'up') out.push(n);
    return out;
  }

  /** Running nodes that can take local requests now (not busy with a Ready). */
  private readyNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.status === 'up' && n.writing === null) out.push(n);
    return out;
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.rng.intn(items.length)];
  }

  /** The leader with the highest term among running nodes, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.status !== 'up' || n.writing !== null || !n.isLeader()) continue;
      if (best === undefined || n.term() > best.term()) best = n;
    }
    return best;
  }

  private onChaos(): void {
    if (this.healed) return;
    this.queue.after(1 + this.rng.intn(this.sc.chaosIntervalMs), { k: 'chaos' });
    const w = this.sc.weights;
    const total = w.crash + w.partition + w.stall + w.confChange + w.transfer + w.forget +
      w.campaign + w.compact + w.planted;
    let r = this.rng.intn(total);
    if ((r -= w.crash) < 0) return this.chaosCrash();
    if ((r -= w.partition) < 0) return this.chaosPartition();
    if ((r -= w.stall) < 0) return this.chaosStall();
    if ((r -= w.confChange) < 0) return this.chaosConfChange();
    if ((r -= w.transfer) < 0) return this.chaosTransfer();
    if ((r -= w.forget) < 0) return this.chaosForget();
    if ((r -= w.campaign) < 0) return this.chaosCampaign();
    if ((r -= w.compact) < 0) {
      const n = this.pick(this.readyNodes());
      if (n !== undefined) this.compact(n);
      return;
    }
    this.plantTruncate();
  }

  private chaosCrash(): void {
    const n = this.pick(this.upNodes());
    if (n === undefined) return;
    this.crash(n);
    const downMs = this.sc.downMsMin + this.rng.intn(this.sc.downMsMax);
    this.queue.after(downMs, { k: 'restart', id: n.id });
  }

  private chaosPartition(): void {
    const ids = [...this.nodes.keys()];
    const kind = this.rng.intn(3);
    this.stats.partitions++;
    if (kind === 0) {
      const a: number[] = [];
      const b: number[] = [];
      for (const id of ids) (this.rng.intn(2) === 0 ? a : b).push(id);
      this.net.partition(a, b);
      this.log(`partition ${a} | ${b}`);
    } else if (kind === 1) {
      const id = this.pick(ids)!;
      this.net.isolate(id, ids);
      this.log(`isolate ${id}`);
    } else {
      for (let k = 1 + this.rng.intn(3); k > 0; k--) {
        const from = this.pick(ids)!;
        const to = this.pick(ids)!;
        if (from !== to) this.net.cutOneWay(from, to);
      }
      this.log('cut one-way links');
    }
    this.queue.after(20 + this.rng.intn(this.sc.partitionMsMax), { k: 'unpartition' });
  }

  private chaosStall(): void {
    const n = this.pick(this.upNodes());
    if (n === undefined) return;
    n.stallUntilMs = this.queue.now + 10 + this.rng.intn(this.sc.stallMsMax);
    this.stats.diskStalls++;
    this.log(`stall disk of ${n.id} until ${n.stallUntilMs}`);
  }

  private chaosTransfer(): void {
    const l = this.leader();
    if (l === undefined) return;
    const to = this.pick(raftOf(l.raw!).trk.voterNodes());
    if (to === undefined) return;
    this.log(`transfer leadership ${l.id} -> ${to}`);
    l.raw!.transferLeader(to);
    this.stats.transfers++;
    this.touch(l.id);
  }

  private chaosForget(): void {
    const n = this.pick(this.readyNodes());
    if (n === undefined) return;
    try {
      n.raw!.forgetLeader();
    } catch (e) {
      if (!(e instanceof FlotillaError)) throw e;
    }
    this.stats.forgetLeaders++;
    this.touch(n.id);
  }

  private chaosCampaign(): void {
    const n = this.pick(this.readyNodes());
    if (n === undefined) return;
    this.log(`campaign ${n.id}`);
    n.raw!.campaign();
    this.stats.campaigns++;
    this.touch(n.id);
  }

  /**
   * Proposes a random valid membership change at the leader, computed from its current
   * configuration (valid because a leader accepts a conf change only once every earlier one
   * is applied): add a learner, promote a learner, add or remove a voter (the leader too),
   * demote a voter, replace a voter through a joint configuration (auto or explicit leave),
   * or leave an explicit joint configuration.
   */
  private chaosConfChange(): void {
    const l = this.leader();
    if (l === undefined) return;
    const r = raftOf(l.raw!);
    if (r.pendingConfIndex > r.raftLog.applied) return;
    const cfg = r.trk.config;
    let changes: ConfChangeSingle[];
    let transition: ConfChangeTransition = ConfChangeTransition.ConfChangeTransitionAuto;
    if (cfg.voters.isJoint) {
      if (cfg.autoLeave) return;
      changes = [];
    } else {
      const voters = cfg.voters.incoming.slice();
      const learners = cfg.learners.slice();
      const choice = this.rng.intn(6);
      const add = ConfChangeType.ConfChangeAddNode;
      const remove = ConfChangeType.ConfChangeRemoveNode;
      const learner = ConfChangeType.ConfChangeAddLearnerNode;
      if (choice === 0 && voters.length + learners.length < this.sc.membersMax) {
        changes = [{ type: learner, nodeId: this.newNodeId() }];
      } else if (choice === 1 && learners.length > 0 && voters.length < this.sc.votersMax) {
        changes = [{ type: add, nodeId: this.pick(learners)! }];
      } else if (choice === 2 && voters.length < this.sc.votersMax) {
        changes = [{ type: add, nodeId: this.newNodeId() }];
      } else if (choice === 3 && voters.length >= VOTERS_MIN_FOR_REMOVAL) {
        changes = [{ type: remove, nodeId: this.pick(voters)! }];
      } else if (choice === 4 && voters.length >= VOTERS_MIN_FOR_REMOVAL) {
        changes = [{ type: learner, nodeId: this.pick(voters)! }];
      } else if (
        voters.length >= VOTERS_MIN_FOR_REMOVAL &&
        voters.length + learners.length < this.sc.membersMax
      ) {
        const out = this.pick(voters)!;
        const promote = learners.length > 0 && this.rng.intn(2) === 0;
        const incoming = promote ? this.pick(learners)! : this.newNodeId();
        changes = [{ type: add, nodeId: incoming }, { type: remove, nodeId: out }];
        transition = this.pick([
          ConfChangeTransition.ConfChangeTransitionAuto,
          ConfChangeTransition.ConfChangeTransitionJointImplicit,
          ConfChangeTransition.ConfChangeTransitionJointExplicit,
        ])!;
      } else {
        return;
      }
    }
    // A single change goes out as a version-1 ConfChange a third of the time.
    const v1 = changes.length === 1 && this.rng.intn(3) === 0;
    this.log(`propose conf change at ${l.id}: ${JSON.stringify(changes)} ` +
      (v1 ? '(V1)' : `transition ${transition}`));
    try {
      const context = new Uint8Array(0);
      l.raw!.proposeConfChange(v1
        ? { type: changes[0]!.type, nodeId: changes[0]!.nodeId, context, id: 0 }
        : { transition, changes, context });
      this.stats.confChanges++;
    } catch (e) {
      if (!(e instanceof FlotillaError)) throw e;
    }
    this.touch(l.id);
  }

  /** A fresh id (ids are never reused) for a node that starts empty and waits for a leader. */
  private newNodeId(): number {
    const id = this.nextId++;
    this.start(this.addNode(id));
    return id;
  }

  private onClient(): void {
    // After healing only the liveness marker is proposed: the backlog must drain, not grow.
    if (this.healed) return;
    this.queue.after(1 + this.rng.intn(this.sc.clientIntervalMs), { k: 'client' });
    if (this.opSeq >= this.sc.opsMax) return;
    const n = this.pick(this.readyNodes());
    if (n === undefined) return;
    const opId = ++this.opSeq;
    const key = `k${this.rng.intn(this.sc.keys)}`;
    if (this.rng.intn(100) < this.sc.readPercent) return this.clientRead(n, opId, key);
    const value = `v${opId}`;
    const op: KvOperation = {
      clientId: n.id, input: { kind: 'put', key, value }, output: { value: null },
      callTime: this.step, returnTime: Infinity,
    };
    try {
      n.raw!.propose(encodePut({ opId, key, value }));
    } catch (e) {
      if (!(e instanceof FlotillaError)) throw e;
      return; // dropped at once: it never happened.
    }
    this.stats.proposals++;
    this.history.push(op);
    this.putsPending.set(opId, { op, id: n.id, inc: n.inc });
    this.touch(n.id);
  }

  private clientRead(n: SimNode, opId: number, key: string): void {
    const op: KvOperation = {
      clientId: n.id, input: { kind: 'get', key }, output: undefined,
      callTime: this.step, returnTime: Infinity,
    };
    this.history.push(op);
    this.stats.reads++;
    if (this.sc.bug === 'stale-read') {
      // Planted bug: answer from the local replica without asking the leader.
      op.output = { value: n.kv.get(key) };
      op.returnTime = this.step;
      return;
    }
    const ctx = `r${opId}`;
    n.readsSent.set(ctx, op);
    n.raw!.readIndex(encoder.encode(ctx));
    this.touch(n.id);
  }

  // ---------------------------------------------------------------------------------------
  // Healing and liveness.

  private onHeal(): void {
    this.healed = true;
    this.healAtMs = this.queue.now;
    this.log('heal: network, disks, crashed nodes');
    this.net.heal();
    this.net.faults = reliableFaults(this.sc.faults.delayMsMin, this.sc.faults.delayMsMax);
    for (const n of this.nodes.values()) {
      n.stallUntilMs = 0;
      // Without PreVote, Raft does not promise liveness: a lagging voter that does not know
      // the current configuration can keep raising its term, ignore the lower-term votes of
      // the only candidate that could win, and never hear from it (the disruptive-server
      // problem; the liveness check found one in 65000 seeds). So liveness is checked the
      // way etcd and CockroachDB run, with PreVote: a rolling restart turns it on.
      if (n.status === 'up' && !this.sc.preVote) this.crash(n);
      if (n.status === 'down') this.onRestart(n.id);
    }
    this.queue.after(this.sc.tickMs, { k: 'liveness' });
  }

  private onLiveness(): void {
    if (this.livenessMarkerApplied) {
      this.done = true;
      return;
    }
    const waitedTicks = (this.queue.now - this.healAtMs) / this.sc.tickMs;
    if (waitedTicks > this.sc.livenessTicksMax) {
      throw new InvariantViolation('liveness', 0,
        `no leader committed within ${this.sc.livenessTicksMax} ticks after healing`);
    }
    const l = this.leader();
    if (l !== undefined && l.term() !== this.livenessProposedTerm) {
      try {
        l.raw!.propose(encoder.encode(`m ${this.queue.now}`));
        this.livenessProposedTerm = l.term();
      } catch (e) {
        if (!(e instanceof FlotillaError)) throw e;
      }
      this.touch(l.id);
    }
    this.queue.after(this.sc.tickMs, { k: 'liveness' });
  }

  // ---------------------------------------------------------------------------------------
  // Planted bugs (only with `options.bug`): each breaks one rule of Raft on purpose.

  /**
   * A voter that grants a second up-to-date candidate in the same term, and then puts its
   * recorded vote back as if nothing happened (its HardState looks unchanged): only the grant
   * on the wire, or the second leader it makes, can give it away. Returns the vote to restore
   * after the step, or 0.
   */
  private plantForgetVote(n: SimNode, m: Message): number {
    const r = raftOf(n.raw!);
    if (m.type !== MessageType.MsgVote || m.term !== r.term) return 0;
    if (r.vote === 0 || r.vote === m.from) return 0;
    if (!r.raftLog.isUpToDate({ index: m.index, term: m.logTerm })) return 0;
    this.log(`PLANTED: node ${n.id} also votes for ${m.from} in term ${r.term} (voted ${r.vote})`);
    const kept = r.vote;
    r.vote = 0;
    r.lead = 0;
    return kept;
  }

  /** A leader that commits whatever a quorum holds, even entries of earlier terms. */
  private plantCommitByCounting(n: SimNode): void {
    const r = raftOf(n.raw!);
    if (r.state !== StateType.StateLeader) return;
    const quorum = r.trk.committed();
    if (quorum > r.raftLog.committed && quorum <= r.raftLog.lastIndex()) {
      this.log(`PLANTED: leader ${n.id} commits ${quorum} by counting replicas`);
      r.raftLog.commitTo(quorum);
    }
  }

  /** A follower that drops the tail of its log, committed entries included. */
  private plantTruncate(): void {
    if (this.sc.bug !== 'truncate-committed') return;
    for (const n of this.upNodes()) {
      const r = raftOf(n.raw!);
      const st = n.storage;
      if (r.state !== StateType.StateFollower || n.writing !== null) continue;
      if (r.raftLog.unstable.entries.length > 0 || r.raftLog.unstable.snapshot !== null) continue;
      const commit = r.raftLog.committed;
      if (commit <= st.ents[0]!.index) continue;
      this.log(`PLANTED: follower ${n.id} truncates its log from ${commit}`);
      st.ents.length = commit - st.ents[0]!.index;
      this.touch(n.id);
      return;
    }
  }
}

/**
 * What the wire does: the receiver gets its own message and entries. Without it, duplicates
 * share Entry objects, and a leader that stamps term and index on a forwarded proposal's
 * entries (as etcd's appendEntry does) would rewrite the first copy while appending the second.
 * Payloads and snapshots are never mutated, so they stay shared.
 */
function copyMessage(m: Message): Message {
  const entries = m.entries.length === 0 ? m.entries : m.entries.map((e) => ({ ...e }));
  return { ...m, entries };
}

function describeMessage(m: Message): string {
  const name = Object.keys(MessageType)[m.type] ?? String(m.type);
  let s = `${name} ${m.from}->${m.to} term=${m.term}`;
  if (m.type === MessageType.MsgApp || m.type === MessageType.MsgAppResp) {
    s += ` logTerm=${m.logTerm} index=${m.index} commit=${m.commit} entries=${m.entries.length}`;
  }
  if (m.reject) s += ' reject';
  return s;
}

