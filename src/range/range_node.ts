/**
 * `RangeNode`: the range layer of one node. It is the store's state machine (every replica's
 * committed commands apply here), holds each replica's `RangeState`, proposes commands with
 * ids and settles their promises, splits ranges behind the split-delay helper, and keeps
 * the meta range's rows up to date after its splits.
 *
 * DATA. One `KvStore` per store holds the user keys of every range, the range-local rows
 * and (on the meta range's replicas) the meta rows: a range owns the span of its descriptor,
 * so a split moves no data. On a real store it is an `EngineKv` over the store's own engine:
 * every apply binds the store's apply batch, so a command's writes commit atomically with
 * the applied index and ConfState the store stages in that batch.
 *
 * ORDER. `apply` runs in the store's batch end, in log order per range. A split creates the
 * right-hand replica on the store from inside `apply` (`Store.createRange` only allocates a
 * slot and queues work, like `propose`), so that by the time any message of the new range
 * can reach this store from a peer that applied the split first, the replica is normally
 * there already; the left's leader campaigns for the new range at once.
 *
 * PROPOSALS. Any replica may propose: a follower's proposal is forwarded to the leader by
 * Raft, and the promise settles when the entry applies on the proposing replica (every
 * replica applies every entry). A dropped proposal times out (`ProposalTimeoutError`); a
 * client retries it with the same command id and it still applies once (dedupe table).
 */
import type { Logger } from 'pino';
import { assert, assertNever } from '../util/index.js';
import type { EngineBatch } from '../storage/index.js';
import {
  ProposalDroppedError,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type RandomSource,
  type Snapshot,
} from '../raft/index.js';
import {
  ConfChangeQuorumError,
  newReplicaStatus,
  newStoreSummary,
  NotLeaderError as StoreNotLeaderError,
  RangeBusyError,
  RangeExistsError,
  RangeNotFoundError,
  RangeNotInitializedError,
  type StateMachine,
  type Store,
} from '../multiraft/index.js';
import { CommandIdSource, type RangeIdAllocator } from './command_ids.js';
import {
  type RangeDescriptor,
  decodeDescriptor,
  descriptorContainsKey,
  encodeDescriptor,
  isJoint,
  isVoterIncoming,
  replicaOnNode,
  ReplicaType,
} from './descriptor.js';
import { mergeProblem, splitKeyProblem } from './descriptor_ops.js';
import {
  ConditionFailedError,
  InvalidSplitKeyError,
  MergeNotAdjacentError,
  NotLeaderError,
  ProposalTimeoutError,
  QuorumLossError,
  RangeKeyMismatchError,
  RangeUnavailableError,
} from './errors.js';
import { applyKvOps, type OpResult } from './kv_apply.js';
import {
  CommandKind,
  encodeCommand,
  OpType,
  resolveKvLimits,
  validateKvOps,
  type KvLimits,
  type KvOp,
  type MergeCommand,
  type RangeCommand,
} from './kv_command.js';
import { applyMerge, applySubsume } from './merge_apply.js';
import { inProcessMergeWaiter, type MergeWaiter } from './merge_wait.js';
import { compareKeys, metaKey } from './keys.js';
import { MemoryKv, type KvStore } from './kv_store.js';
import { ProposalTracker } from './proposals.js';
import { ReadIndexBatcher } from './read_index.js';
import { RangeState } from './range_state.js';
import { RoutingCache } from './routing_cache.js';
import { applySplit } from './split_apply.js';
import { delaySplit, type SplitDelayOptions, type SplitDelayReport } from './split_delay.js';
import {
  findSizeSplitKey,
  LoadSplitDecider,
  sizeSplitReason,
  type LoadSplitOptions,
  type SizeSplitOptions,
} from './split_decider.js';
import type { DedupeRecord } from './dedupe.js';
import { Membership, type MembershipStats } from './_membership.js';
import { GcReason } from './replica_gc.js';
import { Rebalancer, type RebalancerOptions } from './rebalancer.js';
import { scanMeta } from './meta.js';
import {
  changeReplicas,
  type ChangeReplicasOptions,
  type ReplicaChange,
} from './change_replicas.js';

/** A meta row to bring up to date: `desc` (null: delete the row) as of `generation`. */
interface MetaWrite {
  key: Uint8Array;
  desc: RangeDescriptor | null;
  generation: number;
}

/** Proposal timeouts a range stays frozen before its leader resumes its merge. */
const MERGE_RESUME_AFTER = 2;
/** Keys deleted per scan while a span's data is cleared (bounds one scan). */
const CLEAR_CHUNK_KEYS = 1024;

/** The range id of the meta range (it never splits). */
export const META_RANGE_ID = 1;

/** What a proposal settles with. */
export type ProposalResult =
  | { kind: 'kv'; results: OpResult[] }
  /** The command had applied before (a retry): how it went then. */
  | { kind: 'duplicate'; record: DedupeRecord }
  | { kind: 'split'; left: RangeDescriptor; right: RangeDescriptor }
  | { kind: 'subsume'; freezeIndex: number }
  | { kind: 'merge'; merged: RangeDescriptor };

/** Options of a `RangeNode`. */
export interface RangeNodeOptions {
  /** This node's id (its store's node id). */
  nodeId: number;
  /** The process's random source (the command id epoch). */
  random: RandomSource;
  /** Where split right-hand sides get their range ids. */
  rangeIds: RangeIdAllocator;
  /**
   * The store's data: an `EngineKv` over the same engine as the store's `storageEngine`
   * (durable, atomic with the applied index). @default a new `MemoryKv` (tests only: its
   * writes are neither durable nor atomic with the store's batches)
   */
  kv?: KvStore;
  /** Command limits. @default `defaultKvLimits` */
  limits?: Partial<KvLimits>;
  /** Ticks a proposal may take to apply. @default 50 (ticks) */
  proposalTimeoutTicks?: number;
  /** Proposals in flight on this node. @default 65536 (proposals) */
  proposalsMax?: number;
  /** The split-delay helper's bounds. @default its defaults */
  splitDelay?: SplitDelayOptions;
  /** Size thresholds that trigger splits; null: no size-triggered splits. @default null */
  sizeSplit?: SizeSplitOptions | null;
  /**
   * Load-based splits: every request this node serves is recorded in its range's
   * `LoadSplitDecider`; when it suggests a key, the range splits there, started on the
   * leader's node (this one, or through `peers`) behind the split-delay helper.
   * null: no load-based splits. @default null
   */
  loadSplit?: LoadSplitOptions | null;
  /** Milliseconds one tick stands for (the load decider's clock). @default 200 (ms) */
  tickMs?: number;
  /** Dedupe table bound per range. @default 4096 (ids) */
  dedupeEntriesMax?: number;
  /** Structured logger (adds `nodeId`; ranges are logged as `rangeId`). @default silent */
  logger?: Logger;
  /**
   * The range nodes of the other stores in this process (tests, simulations): load splits
   * start on the leader's node through it, and without `mergeWaiter` it is the merge's
   * wait for application. @default none
   */
  peers?: (nodeId: number) => RangeNode | undefined;
  /**
   * How a merge waits until the right range's replicas on other stores applied its freeze
   * (merge_wait.ts; across processes the node layer's RPC). Without it and without `peers`,
   * merges are refused. @default `inProcessMergeWaiter(peers)` when `peers` is given
   */
  mergeWaiter?: MergeWaiter;
  /** The rebalancer loop (rebalancer.ts); null: no loop. @default null */
  rebalance?: RebalancerOptions | null;
  /**
   * Ticks between two scans of the local meta rows for replicas removed, or merged away,
   * unseen (`collectRemoved`). @default 50 (ticks)
   */
  staleScanTicks?: number;
}

/** Counters of a `RangeNode`. */
export interface RangeNodeStats {
  commandsApplied: number;
  duplicatesSkipped: number;
  badCommands: number;
  splitsApplied: number;
  /** Split right-hand replicas that existed already (created by a message, uninitialized). */
  splitRightExisted: number;
  /** Entries or snapshots of ranges this node never held state for (should stay 0). */
  snapshotsWithoutState: number;
  /** Entries of ranges merged away here (before replica GC destroyed their group). */
  entriesAfterMerge: number;
  /** Snapshots offered to uninitialized replicas here (a split's right side, mostly). */
  snapshotsOffered: number;
  /** Of those, refused: the split had not applied here yet. */
  snapshotsRefused: number;
  sizeSplitsStarted: number;
  loadSplitsStarted: number;
  mergesApplied: number;
}

/** The range layer of one node (see the file header). */
export class RangeNode implements StateMachine {
  readonly nodeId: number;
  readonly kv: KvStore;
  readonly limits: KvLimits;
  readonly stats: RangeNodeStats = {
    commandsApplied: 0, duplicatesSkipped: 0, badCommands: 0, splitsApplied: 0,
    splitRightExisted: 0, snapshotsWithoutState: 0, snapshotsOffered: 0, snapshotsRefused: 0,
    sizeSplitsStarted: 0, loadSplitsStarted: 0, mergesApplied: 0, entriesAfterMerge: 0,
  };
  private store: Store | null = null;
  private readonly replicas = new Map<number, RangeState>();
  /** Descriptors of the local replicas, by span: routes a key to a local replica. */
  private readonly local = new RoutingCache(1 << 30);
  private readonly proposals: ProposalTracker<ProposalResult>;
  private readonly ids: CommandIdSource;
  private readonly log: Logger | null;
  private nowTick = 0;
  private readonly sleepers: { atTick: number; wake: () => void }[] = [];
  private readonly splitting = new Set<number>();
  private readonly sizeChecks = new Set<number>();
  /** Split right-hand replicas that existed uninitialized: initialized at the next tick. */
  private readonly pendingInits: RangeDescriptor[] = [];
  private readonly reads: ReadIndexBatcher;
  private readonly scratch = newReplicaStatus();
  /** Ranges merged away on this store (bounded by the merges; a merge waits on it). */
  private readonly mergedAway = new Set<number>();
  /** Right-hand ranges of the merges this node coordinates now. */
  private readonly merging = new Set<number>();
  /** Frozen ranges held here (a merge in flight), with the tick they were seen frozen. */
  private readonly frozen = new Map<number, number>();
  private readonly appliedWaiters: { rangeId: number; index: number; wake: () => void }[] = [];
  /** Membership changes, replica GC and range snapshots (_membership.ts). */
  private readonly membership: Membership;
  /** The rebalancer loop, if `options.rebalance`. */
  readonly rebalancer: Rebalancer | null;
  /** Load deciders of the ranges this node served requests of (load splits on). */
  private readonly loadDeciders = new Map<number, LoadSplitDecider>();

  constructor(private readonly options: RangeNodeOptions) {
    this.nodeId = options.nodeId;
    this.kv = options.kv ?? new MemoryKv();
    this.limits = resolveKvLimits(options.limits);
    this.proposals = new ProposalTracker({ timeoutTicks: options.proposalTimeoutTicks ?? 50,
      proposalsMax: options.proposalsMax ?? 65536 });
    this.ids = new CommandIdSource(options.nodeId, options.random);
    this.log = options.logger?.child({ nodeId: options.nodeId }) ?? null;
    this.reads = new ReadIndexBatcher({
      send: (rangeId, ctx) => {
        try {
          this.mustStore().readIndex(rangeId, ctx);
        } catch (error) {
          throw translateStoreError(rangeId, error);
        }
      },
      appliedIndex: (rangeId) =>
        this.mustStore().readStatus(rangeId, this.scratch) ? this.scratch.applied : 0,
    }, options.proposalTimeoutTicks ?? 50, options.proposalsMax ?? 65536);
    this.membership = new Membership({ nodeId: this.nodeId, kv: this.kv, limits: this.limits,
      dedupeEntriesMax: options.dedupeEntriesMax, replicas: this.replicas, local: this.local,
      proposals: this.proposals as ProposalTracker<unknown>, reads: this.reads,
      log: this.log, store: () => this.mustStore() });
    this.rebalancer = options.rebalance ? new Rebalancer({
      nodeId: this.nodeId,
      knownDescriptors: () => [...(this.replicas.has(META_RANGE_ID)
        ? scanMeta(this.kv, 1 << 20) : []), ...this.descriptors()],
      raftStatus: (rangeId) => this.mustStore().hasRange(rangeId)
        ? this.mustStore().raftStatus(rangeId) : undefined,
      isNodeLive: (nodeId) => this.mustStore().isNodeLive(nodeId),
      changeReplicas: (rangeId, change) => this.changeReplicas(rangeId, change),
      transferLeadership: (rangeId, toNodeId) => this.transferLeadership(rangeId, toNodeId),
    }, options.rebalance, this.log) : null;
  }

  /** Counters of membership changes, replica GC and range snapshots. */
  get membershipStats(): Readonly<MembershipStats> {
    return this.membership.stats;
  }

  /**
   * Hands the leadership of `rangeId` to the voter on `toNodeId` and resolves once that
   * node leads (as this store sees it), within `ticksMax`.
   * @throws NotLeaderError, RangeUnavailableError (not done in time), the store's refusals
   */
  async transferLeadership(rangeId: number, toNodeId: number, ticksMax = 100): Promise<void> {
    const store = this.mustStore();
    try {
      store.transferLeadership(rangeId, toNodeId);
    } catch (error) {
      throw translateStoreError(rangeId, error);
    }
    for (let waited = 0; waited < ticksMax; waited++) {
      await this.sleepTicks(1);
      if (store.raftStatus(rangeId)?.lead === toNodeId) return;
    }
    throw new RangeUnavailableError(rangeId, `leadership not moved to ${toNodeId} in time`);
  }

  /** Replicas waiting for replica GC on this store. */
  get replicasAwaitingGc(): number {
    return this.membership.gc.size;
  }

  /**
   * Changes the replicas of `rangeId` (change_replicas.ts): a new replica is added as a
   * learner, caught up by snapshot, then promoted while the removed voter goes, in one joint
   * configuration that is then left; the meta range is updated. Only on the leader.
   * @throws InvalidReplicaChangeError, NotLeaderError, QuorumLossError, LearnerTimeoutError,
   *   ConfChangeTimeoutError, RangeUnavailableError, the store's typed refusals
   */
  async changeReplicas(rangeId: number, change: ReplicaChange,
    options: ChangeReplicasOptions = {}): Promise<RangeDescriptor> {
    const store = this.mustStore();
    const desc = await changeReplicas({
      rangeId, nodeId: this.nodeId,
      descriptor: () => this.replicas.get(rangeId)?.descriptor,
      raftStatus: () => store.raftStatus(rangeId),
      isNodeLive: (nodeId) => store.isNodeLive(nodeId),
      proposeConfChange: (cc: ConfChangeV2) => {
        try {
          store.proposeConfChange(rangeId, cc);
        } catch (error) {
          throw translateStoreError(rangeId, error);
        }
      },
      waitDescriptor: (done, ticks) => this.membership.waitDescriptor(rangeId, done, ticks),
      sleepTicks: (n) => this.sleepTicks(n),
    }, change, options);
    // The change is done: the meta row must follow, however long a leader change takes.
    // (The meta range has no row of its own.)
    if (rangeId !== META_RANGE_ID) {
      await this.updateMeta([{ key: metaKey(desc.endKey), desc, generation: desc.generation }]);
    }
    return desc;
  }

  /** Binds the store whose state machine this is (once, before any range exists). */
  attach(store: Store): void {
    assert(this.store === null && store.nodeId === this.nodeId, 'attach once, to our store');
    this.store = store;
  }

  /** Creates the replicas of `descs` on this store (a new cluster's first ranges). */
  bootstrap(descs: readonly RangeDescriptor[]): void {
    const states: RangeState[] = [];
    for (const desc of descs) {
      assert(!this.replicas.has(desc.rangeId), 'bootstrap a range once');
      const state = new RangeState(desc, this.limits, this.options.dedupeEntriesMax);
      this.replicas.set(desc.rangeId, state);
      this.local.insert(desc);
      states.push(state);
    }
    // The rows first (one batch of their own), then the groups: no entry applies before.
    this.kv.writeAlone(() => {
      for (const state of states) {
        state.saveDescriptor(this.kv);
        if (state.rangeId !== META_RANGE_ID) this.writeMetaRowLocally(state.descriptor);
      }
    });
    for (const desc of descs) this.mustStore().createRange(desc.rangeId, configOf(desc));
  }

  /**
   * Rebuilds the state of the replicas a reopened store holds (a restart): each range's
   * descriptor, statistics and dedupe table from its rows in `kv`. Ranges without a
   * descriptor row (uninitialized, or merged away) get no state. Call once, after
   * `Store.open` and before the store runs.
   * @returns the ranges restored
   */
  restore(): number {
    const store = this.mustStore();
    assert(this.replicas.size === 0, 'restore into an empty range node');
    store.forEachRange((rangeId) => {
      const desc = RangeState.storedDescriptor(this.kv, rangeId);
      if (desc === undefined) return;
      const state = new RangeState(desc, this.limits, this.options.dedupeEntriesMax);
      state.load(this.kv);
      this.replicas.set(rangeId, state);
      this.local.insert(desc);
      if (state.frozenAt > 0) this.frozen.set(rangeId, this.nowTick);
    });
    assert(this.replicas.size <= store.summary(newStoreSummary()).replicas, 'one per replica');
    return this.replicas.size;
  }

  /** The descriptor of the local replica of `rangeId`, if any. */
  descriptor(rangeId: number): RangeDescriptor | undefined {
    return this.replicas.get(rangeId)?.descriptor;
  }

  /** The local replica's statistics, if any (a copy). */
  rangeStats(rangeId: number): { keyCount: number; byteCount: number } | undefined {
    const s = this.replicas.get(rangeId)?.stats;
    return s === undefined ? undefined : { ...s };
  }

  /** Descriptors of every local replica, in key order (the meta range's first). */
  descriptors(): RangeDescriptor[] {
    return [...this.replicas.values()].map((s) => s.descriptor)
      .sort((a, b) => (a.rangeId === META_RANGE_ID ? -1 : b.rangeId === META_RANGE_ID ? 1
        : compareStart(a, b)));
  }

  /** The local replica whose span holds `key`, if any. */
  localRangeFor(key: Uint8Array): RangeDescriptor | undefined {
    return this.local.lookup(key)?.descriptor;
  }

  /** Proposals in flight. */
  get proposalsInFlight(): number {
    return this.proposals.size;
  }

  /**
   * Proposes a batch to the range holding its first key (or `rangeId`) and resolves with its
   * results once it applied here. `id` lets a client retry with the same id.
   * @throws (rejects) the validation errors of `validateKvOps`, RangeKeyMismatchError,
   *   NotLeaderError, RangeUnavailableError, ProposalTimeoutError, ConditionFailedError
   */
  async execute(
    ops: KvOp[], options: { rangeId?: number; id?: Uint8Array } = {},
  ): Promise<ProposalResult> {
    validateKvOps(ops, this.limits);
    const key = firstKey(ops[0]!);
    const rangeId = options.rangeId ?? this.localRangeFor(key)?.rangeId;
    const state = rangeId === undefined ? undefined : this.replicas.get(rangeId);
    if (state === undefined) {
      // Name the local range that holds the key, if any: the client routes there next.
      throw new RangeKeyMismatchError(rangeId ?? 0, key, this.localRangeFor(key));
    }
    if (!descriptorContainsKey(state.descriptor, key)) {
      // Name the local range that holds the key now, if any: the client routes there next.
      throw new RangeKeyMismatchError(state.rangeId, key, this.localRangeFor(key) ??
        state.descriptor);
    }
    if (this.options.loadSplit) this.recordLoad(state.rangeId, ops);
    if (ops.every((op) => op.type === OpType.Get || op.type === OpType.Scan)) {
      return this.read(state.rangeId, ops);
    }
    const id = options.id ?? this.ids.next();
    return this.propose(state.rangeId, { kind: CommandKind.Kv, id, ops });
  }

  /** A read-only batch: after the read index is applied here, from the local data. */
  private async read(rangeId: number, ops: KvOp[]): Promise<ProposalResult> {
    await this.reads.wait(rangeId);
    const state = this.replicas.get(rangeId);
    if (state === undefined) throw new RangeUnavailableError(rangeId, 'replica went away');
    if (state.frozenAt > 0) {
      throw new RangeKeyMismatchError(rangeId, state.descriptor.startKey, state.descriptor);
    }
    const outcome = applyKvOps(state.descriptor, ops, this.kv, { keyCount: 0, byteCount: 0 });
    if (!outcome.ok) throw outcome.error;
    return { kind: 'kv', results: outcome.results };
  }

  /**
   * Splits `rangeId` at `splitKey`: waits with the split-delay helper, then proposes the
   * split and, once it applied, updates the meta range.
   * @throws InvalidSplitKeyError, RangeUnavailableError, NotLeaderError, ...
   */
  async split(rangeId: number, splitKey: Uint8Array): Promise<{
    left: RangeDescriptor; right: RangeDescriptor; delay: SplitDelayReport;
  }> {
    const state = this.replicas.get(rangeId);
    if (state === undefined) throw new RangeUnavailableError(rangeId, 'no replica here');
    const problem = rangeId === META_RANGE_ID ? 'the meta range does not split'
      : isJoint(state.descriptor) ? 'a membership change is in progress'
        : splitKeyProblem(state.descriptor, splitKey);
    if (problem !== null) throw new InvalidSplitKeyError(rangeId, splitKey, problem);
    const delay = await delaySplit({
      raftStatus: () => this.mustStore().raftStatus(rangeId),
      descriptor: () => state.descriptor,
      sleepTicks: (n) => this.sleepTicks(n),
    }, this.options.splitDelay);
    if (delay.message !== '') this.log?.info({ rangeId }, `split: ${delay.message}`);
    const desc = state.descriptor;
    // The wait may have let a membership change in (its joint state refuses the split).
    const again = isJoint(desc) ? 'a membership change is in progress'
      : splitKeyProblem(desc, splitKey);
    if (again !== null) throw new InvalidSplitKeyError(rangeId, splitKey, again);
    const result = await this.propose(rangeId, { kind: CommandKind.Split, id: this.ids.next(),
      splitKey, rightRangeId: this.options.rangeIds.next(), generation: desc.generation });
    assert(result.kind === 'split', 'a split proposal settles with its sides');
    await this.updateMeta([result.left, result.right].map((d) => ({ key: metaKey(d.endKey),
      desc: d, generation: d.generation })));
    return { left: result.left, right: result.right, delay };
  }

  /** One tick of the node's clock: proposal deadlines, split-delay sleeps, size checks. */
  tick(): void {
    this.nowTick++;
    this.initPending();
    this.proposals.tick();
    this.reads.tick();
    for (let i = this.sleepers.length - 1; i >= 0; i--) {
      const s = this.sleepers[i]!;
      if (s.atTick > this.nowTick) continue;
      this.sleepers.splice(i, 1);
      s.wake();
    }
    for (const rangeId of this.sizeChecks) this.maybeSplitBySize(rangeId);
    this.sizeChecks.clear();
    this.wakeApplied();
    this.resumeMerges();
    this.collectRemoved();
    this.membership.tick();
    this.rebalancer?.tick();
  }

  /**
   * Replica GC of replicas removed while they could not hear it (CockroachDB's replica GC
   * queue reads meta for them): a replica whose store was down or cut off when its removal
   * committed is never told, since its leader no longer talks to it, and its stale span
   * keeps the store from taking the ranges split from it; so is one whose range merged
   * away while it was cut off from its left. Every `staleScanTicks` the local meta
   * replica's rows are read (one scan): a replica is stale if its range's row is at a later
   * generation that leaves this node out, or, with no row of its range, every row over its
   * span is of a later generation and leaves this node out. Safe: generations only grow
   * along the descriptors of a key, so those rows are the span's later history, committed
   * without this node (a later re-add is a new learner, fed by snapshot over the tombstone).
   */
  private collectRemoved(): void {
    const every = this.options.staleScanTicks ?? 50;
    if (this.nowTick % every !== 0 || !this.replicas.has(META_RANGE_ID)) return;
    const all = scanMeta(this.kv, 1 << 20);
    const rows = new Map<number, RangeDescriptor>();
    for (const d of all) rows.set(d.rangeId, d);
    const without = (d: RangeDescriptor, gen: number) => d.generation > gen &&
      replicaOnNode(d, this.nodeId) === undefined;
    for (const [rangeId, state] of this.replicas) {
      const desc = state.descriptor;
      if (rangeId === META_RANGE_ID) continue;
      const row = rows.get(rangeId);
      const over = row !== undefined ? [row] : all.filter((d) =>
        compareKeys(d.startKey, desc.endKey) < 0 && compareKeys(desc.startKey, d.endKey) < 0);
      // A frozen range without a row merged away: once no replica here ends where it
      // starts (a left that could still apply its merge), it is history too, even under
      // rows that name this node (range sim seed 6566).
      const orphan = state.frozenAt > 0 && row === undefined &&
        this.leftNeighbour(desc.startKey) === undefined &&
        over.every((d) => d.generation > desc.generation);
      if (over.length === 0 || !(orphan || over.every((d) => without(d, desc.generation)))) {
        continue;
      }
      this.log?.info({ rangeId, generation: over[0]!.generation }, 'stale replica found in meta');
      this.membership.gc.add(rangeId, GcReason.Stale);
    }
  }

  /** Merges in flight: frozen ranges held here, their merge not applied here yet. */
  get mergesInFlight(): number {
    return this.frozen.size;
  }

  /**
   * A frozen range's coordinator may be gone (it crashed between the freeze and the merge):
   * a frozen range never thaws, so the leader of one frozen for `MERGE_RESUME_AFTER`
   * proposal timeouts drives its merge itself. Two coordinators at once are harmless: the
   * merge applies once (the second finds the right merged away, or is refused).
   */
  private resumeMerges(): void {
    const after = MERGE_RESUME_AFTER * (this.options.proposalTimeoutTicks ?? 50);
    for (const [rangeId, since] of this.frozen) {
      const state = this.replicas.get(rangeId);
      if (state === undefined || state.frozenAt === 0) {
        this.frozen.delete(rangeId);
        continue;
      }
      const waiter = this.mergeWaiter();
      if (waiter === undefined || this.merging.has(rangeId) || this.nowTick - since < after ||
        this.mustStore().raftStatus(rangeId)?.lead !== this.nodeId) continue;
      this.merging.add(rangeId);
      this.log?.info({ rangeId }, 'resuming the merge of a frozen range');
      const right = state.descriptor;
      this.waitFrozen(right, state.frozenAt, waiter)
        .then(() => this.mergeFrozen(right, state.frozenAt))
        .catch((error: unknown) => this.log?.warn({ rangeId, err: error }, 'merge resume failed'))
        .finally(() => this.merging.delete(rangeId));
    }
  }

  /**
   * Resolves once this store's replica of `rangeId` has applied `index`. The replica is
   * woken if it sleeps: a restarted one is seated dormant, knowing no leader, and a
   * quiesced leader that saw it acknowledge the entry before the crash never tells it the
   * commit again (range sim seed 7201: a merge waited for ever).
   */
  waitApplied(rangeId: number, index: number): Promise<void> {
    const p = new Promise<void>((wake) => this.appliedWaiters.push({ rangeId, index, wake }));
    this.wakeApplied();
    const store = this.mustStore();
    const pending = this.appliedWaiters.some((w) => w.rangeId === rangeId && w.index === index);
    try {
      if (pending && store.hasRange(rangeId)) store.wakeRange(rangeId);
    } catch (error) {
      // Uninitialized yet: its snapshot (or the split) brings it, awake.
      if (!(error instanceof RangeNotInitializedError)) throw error;
    }
    return p;
  }

  private wakeApplied(): void {
    const store = this.mustStore();
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i]!;
      if (!store.readStatus(w.rangeId, this.scratch) || this.scratch.applied < w.index) continue;
      this.appliedWaiters.splice(i, 1);
      w.wake();
    }
  }

  /** How merges wait for the right side's replicas (undefined: merges are refused). */
  private mergeWaiter(): MergeWaiter | undefined {
    const peers = this.options.peers;
    return this.options.mergeWaiter ??
      (peers === undefined ? undefined : inProcessMergeWaiter(peers));
  }

  /**
   * Merges `leftRangeId` with its right neighbour (merge_apply.ts): freezes the right,
   * waits until every right replica applied the freeze, proposes the merge on the left,
   * then updates the meta range.
   * @throws MergeNotAdjacentError, MergeNotColocatedError, RangeUnavailableError, ...
   */
  async merge(leftRangeId: number): Promise<RangeDescriptor> {
    const left = this.replicas.get(leftRangeId);
    if (left === undefined) throw new RangeUnavailableError(leftRangeId, 'no replica here');
    const right = this.localRangeFor(left.descriptor.endKey);
    if (right === undefined) throw new MergeNotAdjacentError(leftRangeId, 0);
    const problem = mergeProblem(left.descriptor, right);
    if (problem !== null) throw problem;
    const waiter = this.mergeWaiter();
    if (waiter === undefined) {
      throw new RangeUnavailableError(leftRangeId, 'merges need a merge waiter');
    }
    if (this.merging.has(right.rangeId)) {
      throw new RangeUnavailableError(right.rangeId, 'a merge of it is in progress here');
    }
    this.merging.add(right.rangeId);
    try {
      return await this.subsumeAndMerge(right, waiter);
    } finally {
      this.merging.delete(right.rangeId);
    }
  }

  private async subsumeAndMerge(right: RangeDescriptor, waiter: MergeWaiter):
    Promise<RangeDescriptor> {
    // A right range frozen here already (an earlier merge whose wait failed) is resumed at
    // its freeze: it never thaws, and a second subsume would only be refused.
    let freezeIndex = this.replicas.get(right.rangeId)?.frozenAt ?? 0;
    if (freezeIndex === 0) {
      // Once proposed, a subsume must be seen through (a frozen range serves nothing): it
      // is retried with the same id until it settles; a duplicate answer carries its index.
      const frozen = await this.proposeUntilSettled(right.rangeId, {
        kind: CommandKind.Subsume, id: this.ids.next(), generation: right.generation });
      freezeIndex = frozen.kind === 'subsume' ? frozen.freezeIndex
        : frozen.kind === 'duplicate' && frozen.record.code === '' ? frozen.record.index : 0;
    }
    assert(freezeIndex > 0, 'a subsume settles with its freeze index');
    await this.waitFrozen(right, freezeIndex, waiter);
    return this.mergeFrozen(right, freezeIndex);
  }

  /** Resolves once every replica of `right` applied its freeze (WaitForApplication). */
  private async waitFrozen(right: RangeDescriptor, freezeIndex: number, waiter: MergeWaiter):
    Promise<void> {
    await Promise.all(right.replicas.map((r) => r.nodeId === this.nodeId
      ? this.waitApplied(right.rangeId, freezeIndex)
      : waiter.waitApplied(r.nodeId, right.rangeId, freezeIndex)));
  }

  /** The freeze index of the local replica of `rangeId` (0: not frozen, or no replica). */
  frozenAt(rangeId: number): number {
    return this.replicas.get(rangeId)?.frozenAt ?? 0;
  }

  /**
   * Merges the frozen `right` into whatever range is its left neighbour now. A frozen range
   * never thaws (it refuses every command), so the merge must go through: the neighbour
   * asked for may have split or merged since the freeze (its descriptor then no longer fits
   * the merge command, which is refused), but some range always ends where `right` starts,
   * colocated with it (its replicas are the left's or a split's copy of them). So: propose
   * the merge on the current neighbour, and after a refusal or a lost answer look again.
   * Each attempt has a new id; one that applied unseen shows as `right` merged away here.
   */
  private async mergeFrozen(right: RangeDescriptor, freezeIndex: number, attemptsMax = 500):
    Promise<RangeDescriptor> {
    for (let attempt = 1; ; attempt++) {
      const left = this.leftNeighbour(right.startKey);
      if (left !== undefined && left.frozenAt === 0 && !this.mergedAway.has(right.rangeId)) {
        try {
          await this.propose(left.rangeId, { kind: CommandKind.Merge, id: this.ids.next(),
            right: encodeDescriptor(right), freezeIndex, generation: left.descriptor.generation });
        } catch (error) {
          if (attempt >= attemptsMax) throw error;
        }
      }
      if (this.mergedAway.has(right.rangeId)) {
        const merged = this.localRangeFor(right.startKey);
        assert(merged !== undefined, 'the merged range holds the right\'s span');
        await this.updateMeta([{ key: metaKey(right.startKey), desc: null,
          generation: merged.generation }, { key: metaKey(merged.endKey), desc: merged,
          generation: merged.generation }]);
        return merged;
      }
      if (attempt >= attemptsMax) throw new RangeUnavailableError(right.rangeId, 'merge stuck');
      await this.sleepTicks(1);
    }
  }

  /** Whether the local replica of `desc`'s range is gone or at a later generation. */
  private outdated(desc: RangeDescriptor): boolean {
    const state = this.replicas.get(desc.rangeId);
    return state === undefined || state.descriptor.generation > desc.generation;
  }

  /** The local replica whose span ends at `key` (a user range). */
  private leftNeighbour(key: Uint8Array): RangeState | undefined {
    for (const state of this.replicas.values()) {
      if (state.rangeId !== META_RANGE_ID && compareKeys(state.descriptor.endKey, key) === 0) {
        return state;
      }
    }
    return undefined;
  }


  /**
   * Proposes `cmd` and, while its outcome is unknown (a timeout, no leader), proposes it
   * again with the same id, a tick apart, at most `attemptsMax` times: the dedupe table
   * makes it apply once. Other errors are final.
   */
  private async proposeUntilSettled(
    rangeId: number, cmd: RangeCommand, attemptsMax = 100,
  ): Promise<ProposalResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.propose(rangeId, cmd);
      } catch (error) {
        const unknown = error instanceof ProposalTimeoutError || error instanceof NotLeaderError;
        if (!unknown || attempt >= attemptsMax) throw error;
        await this.sleepTicks(1);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // StateMachine.

  /**
   * Applies one committed command of `rangeId` (see the file header), its writes staged into
   * `batch`, the store's batch that also records the applied index.
   */
  apply(rangeId: number, entry: Entry, batch: EngineBatch): void {
    this.kv.bind(batch);
    try {
      this.applyBound(rangeId, entry);
    } finally {
      this.kv.bind(null);
    }
  }

  private applyBound(rangeId: number, entry: Entry): void {
    const state = this.replicas.get(rangeId);
    if (state === undefined && this.mergedAway.has(rangeId)) {
      this.stats.entriesAfterMerge++;
      return;
    }
    if (state === undefined) {
      // A replica without state got entries: only a split-born replica initialized by an
      // empty snapshot before the split applied here (see applySnapshot) can be here.
      this.stats.snapshotsWithoutState++;
      this.log?.warn({ rangeId, index: entry.index }, 'entry for a range without state');
      return;
    }
    const out = state.apply(entry.index, entry.data, this.kv);
    this.reads.onApplied(rangeId, entry.index);
    switch (out.kind) {
      case 'bad':
        this.stats.badCommands++;
        this.log?.warn({ rangeId, index: entry.index, code: out.error.code }, 'bad command');
        return;
      case 'duplicate':
        this.stats.duplicatesSkipped++;
        assert(out.record.code === '', 'only commands that took effect are recorded');
        this.proposals.resolve(out.id, { kind: 'duplicate', record: out.record });
        return;
      case 'kv':
        this.stats.commandsApplied++;
        if (out.outcome.ok) {
          this.proposals.resolve(out.id, { kind: 'kv', results: out.outcome.results });
          if (this.options.sizeSplit) this.sizeChecks.add(rangeId);
        } else {
          this.proposals.reject(out.id, out.outcome.error);
        }
        return;
      case 'split':
        this.applySplitEntry(state, out.command, entry.index);
        return;
      case 'frozen':
        this.proposals.reject(out.id, out.error);
        return;
      case 'subsume': {
        const error = applySubsume(state, out.command, entry.index, this.kv);
        if (error !== null) this.proposals.reject(out.id, error);
        else this.proposals.resolve(out.id, { kind: 'subsume', freezeIndex: entry.index });
        if (error === null) this.frozen.set(rangeId, this.nowTick);
        this.wakeApplied();
        return;
      }
      case 'merge':
        this.applyMergeEntry(state, out.command, entry.index);
        return;
      default:
        assertNever(out, 'apply outcome');
    }
  }

  private applyMergeEntry(state: RangeState, cmd: MergeCommand, index: number): void {
    const out = applyMerge(state, (id) => this.replicas.get(id), cmd, index, this.kv);
    if (!out.ok) {
      this.proposals.reject(cmd.id, out.error);
      return;
    }
    this.stats.mergesApplied++;
    this.loadDeciders.delete(state.rangeId);
    this.replicas.delete(out.rightRangeId);
    this.mergedAwayHere(out.rightRangeId, out.merged);
    this.proposals.resolve(cmd.id, { kind: 'merge', merged: out.merged });
  }

  /** The range `right` merged into `merged` here (its state gone): its group goes too. */
  private mergedAwayHere(right: number, merged: RangeDescriptor): void {
    assert(!this.replicas.has(right), 'the merged-away state is gone');
    this.loadDeciders.delete(right);
    this.mergedAway.add(right);
    this.frozen.delete(right);
    this.membership.gc.add(right, GcReason.MergedAway);
    this.local.insert(merged);
    const gone = () => new RangeKeyMismatchError(right, merged.startKey, merged);
    this.proposals.rejectRange(right, gone);
    this.reads.failRange(right, gone());
  }

  /** A membership change applied here: the descriptor follows the configuration. */
  confChanged(rangeId: number, confState: ConfState, _index: number, batch: EngineBatch): void {
    this.membership.confChanged(rangeId, confState, batch);
  }

  /** The range's state at its applied point, for a snapshot (STOP-GAP, _snapshot_stopgap.ts). */
  snapshotData(rangeId: number): Uint8Array {
    return this.membership.snapshotData(rangeId);
  }

  /** Reads waiting for this replica's applied index (`Store.readIndex` answered). */
  readIndexDone(rangeId: number, index: number, context: Uint8Array): void {
    this.reads.onReadIndex(rangeId, index, context);
  }

  /**
   * An uninitialized replica may take a snapshot only of a range whose state is here: a
   * split-born range's empty initial snapshot must wait for the split to apply on this
   * store (see `StateMachine.acceptsSnapshot`).
   */
  acceptsSnapshot(rangeId: number, snapshot: Snapshot): boolean {
    this.stats.snapshotsOffered++;
    // A range state here (a split applied, or an initialized replica behind) and a span that
    // overlaps no other replica here (a snapshot of a range that merged ranges this store
    // still holds: it catches up by the log instead, applying the merges in order); or a
    // range snapshot naming this node that is newer than the range's tombstone (a replica
    // being added).
    const accept = this.replicas.has(rangeId)
      ? !this.membership.snapshotOverlaps(rangeId, snapshot)
      : this.membership.acceptsRangeSnapshot(rangeId, snapshot);
    if (!accept) this.stats.snapshotsRefused++;
    return accept;
  }

  /**
   * A replica created by a message got its leader's snapshot. Ranges are created by
   * bootstrap or by a split, never by snapshot in this version (no log truncation yet), so
   * the only snapshot is a new range's empty initial one reaching a store before the split
   * applied there; its state comes from the split.
   */
  applySnapshot(rangeId: number, snapshot: Snapshot, batch?: EngineBatch): void {
    if (batch !== undefined) this.kv.bind(batch);
    let subsumed: number[] | null;
    try {
      subsumed = this.membership.installSnapshot(rangeId, snapshot.data);
    } finally {
      if (batch !== undefined) this.kv.bind(null);
    }
    if (subsumed !== null) {
      const desc = this.replicas.get(rangeId)!.descriptor;
      for (const right of subsumed) this.mergedAwayHere(right, desc);
      return;
    }
    if (this.replicas.has(rangeId)) return;
    this.stats.snapshotsWithoutState++;
    this.log?.warn({ rangeId, index: snapshot.metadata.index }, 'snapshot without range state');
  }

  // ---------------------------------------------------------------------------------------

  private applySplitEntry(
    state: RangeState, cmd: Extract<RangeCommand, { kind: 2 }>, index: number,
  ): void {
    const out = applySplit(state, cmd, index, this.kv);
    if (!out.ok) {
      this.proposals.reject(cmd.id, out.error);
      return;
    }
    this.stats.splitsApplied++;
    const { left, right, rightState } = out;
    if (replicaOnNode(right, this.nodeId) === undefined) {
      this.splitOfRemoved(left, rightState, cmd.id);
      return;
    }
    // The left's load was sampled over its old span: it starts afresh (the right has none).
    this.loadDeciders.delete(left.rangeId);
    assert(!this.replicas.has(right.rangeId), 'a split creates a new range');
    this.replicas.set(right.rangeId, rightState);
    this.local.insert(left);
    this.local.insert(right);
    const store = this.mustStore();
    if (store.hasRange(right.rangeId)) {
      // Created uninitialized by a message of the new range: initialized in place at the
      // next tick, outside the store's batch end (Store.createRange's rule).
      this.stats.splitRightExisted++;
      this.pendingInits.push(right);
    } else {
      store.createRange(right.rangeId, configOf(right));
      const known = store.readStatus(left.rangeId, this.scratch);
      if (known && this.scratch.lead === this.nodeId) store.campaign(right.rangeId);
    }
    this.proposals.resolve(cmd.id, { kind: 'split', left, right });
  }

  /**
   * A split applied on a replica removed from the range before it (a removed replica applies
   * what its log holds until GC destroys it): the right side lives on the range's stores,
   * not here; its rows and the user data of its span go in this apply's batch (the left's GC
   * clears only the left's span).
   */
  private splitOfRemoved(left: RangeDescriptor, rightState: RangeState, id: Uint8Array):
    void {
    const span = rightState.descriptor;
    rightState.destroyRows(this.kv);
    for (;;) {
      const rows = this.kv.scan(span.startKey, span.endKey, CLEAR_CHUNK_KEYS);
      for (const r of rows) this.kv.delete(r.key);
      if (rows.length < CLEAR_CHUNK_KEYS) break;
    }
    this.local.insert(left);
    assert(!this.replicas.has(span.rangeId), 'no right side on a removed replica');
    this.proposals.resolve(id, { kind: 'split', left, right: span });
  }

  /** Initializes the split right-hand replicas that existed uninitialized. */
  private initPending(): void {
    const store = this.mustStore();
    for (const desc of this.pendingInits.splice(0)) {
      try {
        store.createRange(desc.rangeId, configOf(desc));
      } catch (error) {
        // A batch of the replica in flight (a durable engine's commit not yet complete):
        // again at the next tick.
        if (error instanceof RangeBusyError) {
          this.pendingInits.push(desc);
          continue;
        }
        // Its empty initial snapshot (accepted now that the split applied) got there first:
        // the same initial state, so nothing is lost.
        if (!(error instanceof RangeExistsError)) throw error;
      }
    }
  }

  private async propose(rangeId: number, cmd: RangeCommand): Promise<ProposalResult> {
    // A range merged away here lingers as a Raft group whose entries apply to nothing: a
    // proposal to it would only time out (and a retry loop would spin for its bound).
    if (this.mergedAway.has(rangeId)) {
      throw new RangeKeyMismatchError(rangeId, new Uint8Array(0), undefined);
    }
    const promise = this.proposals.track(rangeId, cmd.id);
    try {
      this.mustStore().propose(rangeId, encodeCommand(cmd));
    } catch (error) {
      this.proposals.reject(cmd.id, translateStoreError(rangeId, error));
    }
    return promise;
  }

  private sleepTicks(ticks: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ atTick: this.nowTick + ticks, wake }));
  }

  /**
   * Records a request in its range's load decider (one request per batch, spanning the
   * batch's keys) and starts a split at the suggested key when this node leads the range.
   */
  private recordLoad(rangeId: number, ops: readonly KvOp[]): void {
    const o = this.options.loadSplit;
    if (!o || rangeId === META_RANGE_ID) return;
    let decider = this.loadDeciders.get(rangeId);
    if (decider === undefined) {
      decider = new LoadSplitDecider(this.options.random, o);
      this.loadDeciders.set(rangeId, decider);
    }
    const { start, end } = spanOf(ops);
    const nowMs = this.nowTick * (this.options.tickMs ?? 200);
    if (!decider.record(nowMs, 1, start, end)) return;
    const key = decider.splitKey();
    const state = this.replicas.get(rangeId);
    if (key === undefined || state === undefined || this.splitting.has(rangeId)) return;
    if (splitKeyProblem(state.descriptor, key) !== null) return;
    // Requests reach any replica (a follower forwards its proposals), so the load seen here
    // may be a follower's: the split is started on the leader's node, which runs the
    // split-delay helper over its own RaftStatus.
    const lead = this.mustStore().raftStatus(rangeId)?.lead ?? 0;
    const leader = lead === this.nodeId ? this : this.options.peers?.(lead);
    if (leader === undefined || leader.splitting.has(rangeId)) return;
    leader.splitting.add(rangeId);
    this.stats.loadSplitsStarted++;
    leader.split(rangeId, key).catch((error: unknown) => {
      this.log?.debug({ rangeId, err: error }, 'load split failed');
    }).finally(() => leader.splitting.delete(rangeId));
  }

  /** Starts a split of a range over its size thresholds, if this node leads it. */
  private maybeSplitBySize(rangeId: number): void {
    const state = this.replicas.get(rangeId);
    const o = this.options.sizeSplit;
    if (state === undefined || !o || this.splitting.has(rangeId) || rangeId === META_RANGE_ID) {
      return;
    }
    if (sizeSplitReason(state.stats, o) === null) return;
    if (this.mustStore().raftStatus(rangeId)?.lead !== this.nodeId) return;
    const key = findSizeSplitKey(this.kv, state.descriptor, state.stats);
    if (key === undefined) return;
    this.splitting.add(rangeId);
    this.stats.sizeSplitsStarted++;
    this.split(rangeId, key).catch((error: unknown) => {
      this.log?.debug({ rangeId, err: error }, 'size split failed');
    }).finally(() => this.splitting.delete(rangeId));
  }

  /**
   * Writes meta rows after a split or merge (through Raft, via any replica), until they
   * hold: the split or merge has applied, so its rows must follow even if a proposal is lost
   * or the meta range is electing a leader. Each row is written only over an older one: a
   * row already at `generation` or above belongs to a later change of that span (whose own
   * update may have overtaken this one) and is left alone. Generations only grow along the
   * descriptors that cover a key, so this is a compare-and-set loop on generations: read the
   * rows (linearizably), write them with conditional puts on what was read, and on a failed
   * condition (another update came in between) read again.
   */
  private async updateMeta(rows: MetaWrite[], attemptsMax = 200): Promise<void> {
    if (!this.replicas.has(META_RANGE_ID)) return;
    for (let attempt = 1; ; attempt++) {
      try {
        const ops = await this.metaOps(rows);
        if (ops.length === 0) return;
        validateKvOps(ops, this.limits, true);
        await this.propose(META_RANGE_ID, { kind: CommandKind.Kv, id: this.ids.next(), ops });
        return;
      } catch (error) {
        const again = error instanceof ProposalTimeoutError || error instanceof NotLeaderError ||
          error instanceof ConditionFailedError || error instanceof RangeUnavailableError;
        if (!again || attempt >= attemptsMax) throw error;
        await this.sleepTicks(1);
      }
    }
  }

  /** The conditional writes that bring `rows` up to date (none when they are). */
  private async metaOps(rows: MetaWrite[]): Promise<KvOp[]> {
    const read = await this.read(META_RANGE_ID, rows.map((r) => ({ type: OpType.Get,
      key: r.key })));
    assert(read.kind === 'kv' && read.results.length === rows.length, 'one read per row');
    const ops: KvOp[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const result = read.results[i]!;
      const current = result.type === OpType.Get ? result.value : undefined;
      if (current !== undefined && decodeDescriptor(current).generation >= row.generation) {
        continue;
      }
      // A descriptor this node's replica has moved past (split or merged again, or merged
      // away) is not written: the later change's own update owns its span's rows, and a late
      // write here would bring back a row that update deleted.
      if (row.desc !== null && this.outdated(row.desc)) continue;
      if (row.desc !== null) {
        ops.push({ type: OpType.ConditionalPut, key: row.key, value: encodeDescriptor(row.desc),
          expected: current ?? null });
      } else if (current !== undefined) {
        // A conditional delete: the batch applies as a whole, so the no-op put guards it.
        ops.push({ type: OpType.ConditionalPut, key: row.key, value: current, expected: current },
          { type: OpType.Delete, key: row.key });
      }
    }
    return ops;
  }

  /** The meta rows of bootstrap ranges are written on every meta replica alike. */
  private writeMetaRowLocally(desc: RangeDescriptor): void {
    assert(this.replicas.has(META_RANGE_ID), 'the meta range bootstraps first');
    assert(desc.rangeId !== META_RANGE_ID, 'the meta range has no meta row');
    const key = metaKey(desc.endKey);
    const value = encodeDescriptor(desc);
    assert(this.kv.get(key) === undefined, 'a bootstrap row is new');
    this.kv.put(key, value);
    // Counted like a row written by a command: a later, shorter row (a replica removed)
    // must not take the meta range's byte count below zero.
    const meta = this.replicas.get(META_RANGE_ID)!;
    meta.stats.keyCount++;
    meta.stats.byteCount += key.length + value.length;
    meta.saveStats(this.kv);
  }

  private mustStore(): Store {
    assert(this.store !== null, 'RangeNode.attach first');
    return this.store;
  }
}

function configOf(desc: RangeDescriptor): { voters: number[]; learners: number[] } {
  return {
    voters: desc.replicas.filter((r) => isVoterIncoming(r.type)).map((r) => r.nodeId),
    learners: desc.replicas.filter((r) => r.type === ReplicaType.Learner).map((r) => r.nodeId),
  };
}

/** The keys a batch touches: its first key and, for a span, the largest end. */
function spanOf(ops: readonly KvOp[]): { start: Uint8Array; end: Uint8Array | undefined } {
  let start = firstKey(ops[0]!);
  let end: Uint8Array | undefined;
  for (const op of ops) {
    const k = firstKey(op);
    if (compareKeys(k, start) < 0) start = k;
    const e = op.type === OpType.Scan || op.type === OpType.DeleteRange ? op.end : undefined;
    if (e !== undefined && (end === undefined || compareKeys(e, end) > 0)) end = e;
  }
  // A batch of points over several keys straddles the keys between them.
  if (end === undefined && ops.length > 1) {
    let last = start;
    for (const op of ops) if (compareKeys(firstKey(op), last) > 0) last = firstKey(op);
    if (compareKeys(last, start) > 0) end = last;
  }
  return { start, end };
}

function firstKey(op: KvOp): Uint8Array {
  return op.type === OpType.Scan || op.type === OpType.DeleteRange ? op.start : op.key;
}

function compareStart(a: RangeDescriptor, b: RangeDescriptor): number {
  return compareKeys(a.startKey, b.startKey);
}

/** The store's refusals as the range layer's typed errors. */
function translateStoreError(rangeId: number, error: unknown): Error {
  if (error instanceof StoreNotLeaderError) return new NotLeaderError(rangeId, error.leaderNodeId);
  // Dropped during a leadership transfer: no leader takes proposals now; retry elsewhere.
  if (error instanceof ProposalDroppedError) return new NotLeaderError(rangeId, 0);
  if (error instanceof ConfChangeQuorumError) return new QuorumLossError(rangeId, error.reason);
  if (error instanceof RangeNotFoundError || error instanceof RangeNotInitializedError) {
    return new RangeUnavailableError(rangeId, error.message);
  }
  return error instanceof Error ? error : new Error(String(error));
}
