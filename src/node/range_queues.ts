/**
 * The node's range queues (CockroachDB's merge queue and lease rebalancing, reduced): one
 * run every `intervalMs`, at most one merge and one leadership transfer in flight, each
 * decided by a pure function of what this node's replicas report (`RaftStatus`, statistics,
 * descriptors) that tests call directly.
 *
 * MERGES (`--merge-range-bytes`). For each pair of adjacent user ranges held here whose left
 * range this node leads: a right range frozen by an earlier merge whose wait failed is
 * merged again at once (merge_wait.ts: a freeze never thaws); otherwise the range layer's
 * `shouldMerge` decides, over both sides' statistics and their load. The load is what Raft
 * shows of it: entries applied per second, sampled at each run; a side's load is its highest
 * rate over the last `LOAD_SAMPLES` runs and unknown before that many (so that a range does
 * not merge in the first quiet second after a burst). Reads, served by ReadIndex, add no
 * entries: a range that is only read is cold here. Refusals are counted by reason.
 *
 * LEADERSHIP (`--rebalance`). `planLeaseTransfer` counts the leaders of the ranges held here,
 * the meta range included (from each replica's `lead`); when this node leads more than
 * `slack` ranges more than the live voter that leads the fewest among one of its ranges'
 * voters, it hands that range's leadership over (`RangeNode.transferLeadership`, Raft's MsgTimeoutNow). Each node runs
 * the same rule over nearly the same view, so leaders spread out without coordination.
 * Replica moves (a node with fewer replicas) are the range layer's rebalancer (rebalancer.ts),
 * switched on by the node when it has more members than replicas per range.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { newReplicaStatus, type Store } from '../multiraft/index.js';
import {
  META_RANGE_ID,
  ReplicaType,
  compareKeys,
  shouldMerge,
  type MergeOptions,
  type MergeSide,
  type RangeDescriptor,
  type RangeNode,
} from '../range/index.js';

/** Runs over which a side's load is measured (its highest rate counts). */
export const LOAD_SAMPLES = 5;
/** `StateType` of a leader (the store's `raftState`). */
const STATE_LEADER = 2;

/** One range as the leadership rule sees it. */
export interface LeaseView {
  rangeId: number;
  /** Its leader as this node's replica knows it (0: none). */
  lead: number;
  /** Node ids of its voters. */
  voters: readonly number[];
}

/** A leadership transfer the rule chose. */
export interface LeaseTransfer {
  rangeId: number;
  to: number;
}

/**
 * The transfer this node makes next, or undefined (see the file header). Pure.
 * `slack`: leaders-count difference tolerated (≥ 1, else two nodes would trade forever).
 */
export function planLeaseTransfer(views: readonly LeaseView[], selfNodeId: number,
  isLive: (nodeId: number) => boolean, slack = 1): LeaseTransfer | undefined {
  assert(Number.isSafeInteger(slack) && slack >= 1, 'slack keeps the rule from oscillating');
  const leads = new Map<number, number>();
  for (const v of views) {
    for (const id of v.voters) if (!leads.has(id)) leads.set(id, 0);
    if (v.lead !== 0 && v.voters.includes(v.lead)) leads.set(v.lead, leads.get(v.lead)! + 1);
  }
  const mine = leads.get(selfNodeId) ?? 0;
  const sorted = [...views].sort((a, b) => a.rangeId - b.rangeId);
  for (const v of sorted) {
    if (v.lead !== selfNodeId) continue;
    let best: number | undefined;
    for (const id of v.voters) {
      if (id === selfNodeId || !isLive(id)) continue;
      if (best === undefined || leads.get(id)! < leads.get(best)!) best = id;
    }
    if (best !== undefined && mine - leads.get(best)! > slack) {
      assert(best !== selfNodeId, 'a transfer goes to another node');
      return { rangeId: v.rangeId, to: best };
    }
  }
  return undefined;
}

/** Highest rates of the last `LOAD_SAMPLES` runs, per range (entries applied per second). */
export class LoadMeter {
  private readonly last = new Map<number, { applied: number; atMs: number; rates: number[] }>();

  /** Records `applied` of `rangeId` at `nowMs`. */
  sample(rangeId: number, applied: number, nowMs: number): void {
    const seen = this.last.get(rangeId);
    if (seen === undefined || applied < seen.applied || nowMs <= seen.atMs) {
      // New here, or restarted from a snapshot: start measuring again.
      this.last.set(rangeId, { applied, atMs: nowMs, rates: [] });
      return;
    }
    seen.rates.push((applied - seen.applied) * 1000 / (nowMs - seen.atMs));
    if (seen.rates.length > LOAD_SAMPLES) seen.rates.shift();
    seen.applied = applied;
    seen.atMs = nowMs;
    assert(seen.rates.length <= LOAD_SAMPLES, 'a bounded window');
  }

  /** The range's load, or undefined before a full window. */
  maxQps(rangeId: number): number | undefined {
    const rates = this.last.get(rangeId)?.rates;
    return rates === undefined || rates.length < LOAD_SAMPLES ? undefined : Math.max(...rates);
  }

  /** Forgets ranges not in `keep` (merged away, moved off this node). */
  retain(keep: ReadonlySet<number>): void {
    for (const id of this.last.keys()) if (!keep.has(id)) this.last.delete(id);
  }
}

/** Options of the queues. */
export interface RangeQueuesOptions {
  ranges: RangeNode;
  store: Store;
  /** Merge thresholds; null: no merges. */
  merge: MergeOptions | null;
  /** Whether leaderships are balanced. */
  balanceLeases: boolean;
  /** Time between two runs. @default 1000 (milliseconds) */
  intervalMs?: number;
  /** @default silent */
  logger?: Logger | null;
}

/** Counters of the queues. */
export interface RangeQueuesStats {
  mergesStarted: number;
  mergesDone: number;
  mergesFailed: number;
  leaseTransfersStarted: number;
  leaseTransfersDone: number;
  leaseTransfersFailed: number;
  /** Merge refusals by reason (`MergeRefusal` strings). */
  mergeRefusals: Record<string, number>;
}

/** The queues of one node (see the file header). */
export class RangeQueues {
  readonly stats: RangeQueuesStats = { mergesStarted: 0, mergesDone: 0, mergesFailed: 0,
    leaseTransfersStarted: 0, leaseTransfersDone: 0, leaseTransfersFailed: 0,
    mergeRefusals: {} };
  private readonly load = new LoadMeter();
  private readonly scratch = newReplicaStatus();
  private timer: NodeJS.Timeout | null = null;
  private merging = false;
  private transferring = false;

  constructor(private readonly options: RangeQueuesOptions) {
    const ms = options.intervalMs ?? 1000;
    assert(Number.isSafeInteger(ms) && ms > 0, 'an interval');
  }

  /** Starts the runs. */
  start(): void {
    assert(this.timer === null, 'start once');
    this.timer = setInterval(() => this.run(Date.now()), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Stops the runs (a merge or transfer in flight settles on its own). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One run at `nowMs`. */
  run(nowMs: number): void {
    const descs = this.userDescriptors();
    const keep = new Set<number>();
    for (const d of descs) {
      keep.add(d.rangeId);
      if (this.options.store.readStatus(d.rangeId, this.scratch)) {
        this.load.sample(d.rangeId, this.scratch.applied, nowMs);
      }
    }
    this.load.retain(keep);
    if (this.options.merge !== null && !this.merging) this.maybeMerge(descs, this.options.merge);
    // Every range's leadership counts, the meta range's too.
    if (this.options.balanceLeases && !this.transferring) {
      this.maybeTransfer(this.options.ranges.descriptors());
    }
  }

  /** The local user ranges, in key order. */
  private userDescriptors(): RangeDescriptor[] {
    return this.options.ranges.descriptors().filter((d) => d.rangeId !== META_RANGE_ID)
      .sort((a, b) => compareKeys(a.startKey, b.startKey));
  }

  private leads(rangeId: number): boolean {
    const s = this.scratch;
    return this.options.store.readStatus(rangeId, s) && s.lead === this.options.store.nodeId &&
      s.raftState === STATE_LEADER;
  }

  private maybeMerge(descs: readonly RangeDescriptor[], o: MergeOptions): void {
    const rn = this.options.ranges;
    for (let i = 0; i + 1 < descs.length; i++) {
      const left = descs[i]!;
      const right = descs[i + 1]!;
      if (compareKeys(left.endKey, right.startKey) !== 0 || !this.leads(left.rangeId)) continue;
      if (rn.frozenAt(left.rangeId) > 0) continue;
      if (rn.frozenAt(right.rangeId) === 0) {
        const refusal = shouldMerge(this.side(left), this.side(right), o);
        if (refusal !== null) {
          this.stats.mergeRefusals[refusal] = (this.stats.mergeRefusals[refusal] ?? 0) + 1;
          continue;
        }
      }
      this.startMerge(left, right);
      return;
    }
  }

  private side(d: RangeDescriptor): MergeSide {
    const stats = this.options.ranges.rangeStats(d.rangeId);
    assert(stats !== undefined, 'a local range has statistics');
    return { descriptor: d, stats, maxQps: this.load.maxQps(d.rangeId) };
  }

  private startMerge(left: RangeDescriptor, right: RangeDescriptor): void {
    this.merging = true;
    this.stats.mergesStarted++;
    const log = this.options.logger;
    log?.info({ rangeId: left.rangeId, right: right.rangeId }, 'merge queue: merging');
    this.options.ranges.merge(left.rangeId).then(() => {
      this.stats.mergesDone++;
    }, (error: unknown) => {
      this.stats.mergesFailed++;
      log?.info({ rangeId: left.rangeId, right: right.rangeId, err: error }, 'merge failed');
    }).finally(() => {
      this.merging = false;
    });
  }

  /** Hands over one leadership if `planLeaseTransfer` says so (`descs`: every local range). */
  private maybeTransfer(descs: readonly RangeDescriptor[]): void {
    const store = this.options.store;
    const views: LeaseView[] = [];
    for (const d of descs) {
      if (!store.readStatus(d.rangeId, this.scratch)) continue;
      views.push({ rangeId: d.rangeId, lead: this.scratch.lead, voters: d.replicas
        .filter((r) => r.type === ReplicaType.Voter).map((r) => r.nodeId) });
    }
    const plan = planLeaseTransfer(views, store.nodeId, (id) => store.isNodeLive(id));
    if (plan === undefined || !this.leads(plan.rangeId)) return;
    this.transferring = true;
    this.stats.leaseTransfersStarted++;
    const log = this.options.logger;
    log?.info({ rangeId: plan.rangeId, to: plan.to }, 'leadership rebalance');
    this.options.ranges.transferLeadership(plan.rangeId, plan.to).then(() => {
      this.stats.leaseTransfersDone++;
    }, (error: unknown) => {
      this.stats.leaseTransfersFailed++;
      log?.info({ rangeId: plan.rangeId, to: plan.to, err: error }, 'transfer failed');
    }).finally(() => {
      this.transferring = false;
    });
  }
}
