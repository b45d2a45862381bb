/**
 * The rebalancer: a loop on every node that evens replica counts across stores, one move
 * at a time, on the ranges this node leads (CockroachDB's replicate queue, reduced to
 * counts). Each run:
 *
 *   1. counts the replicas of every store from the descriptors this node knows (the meta
 *      rows it holds, and its own replicas' descriptors, newest generation first);
 *   2. `chooseRebalance`: from the store with the most replicas to the live store with the
 *      fewest, when they differ by more than `slack`;
 *   3. picks the first range (by id) that this node leads, not in a joint state, with a
 *      voter on the source and no replica on the target, whose source voter may go
 *      (`filterUnremovableReplicas`, the target forgiven as brand new);
 *   4. moves it with `changeReplicas` (learner, snapshot, joint promote and remove, leave);
 *      when the voter to go is this node's own (the leader never removes itself), it hands
 *      the leadership to another voter instead, whose loop makes the move.
 *
 * The choice (`planRebalance`) is a pure function of descriptors, liveness and statuses;
 * tests call it directly. Moves that fail are counted and logged; the next run chooses again.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import type { RaftStatus } from '../multiraft/index.js';
import { isJoint, isVoterIncoming, replicaOnNode, type RangeDescriptor } from './descriptor.js';
import { chooseRebalance, filterUnremovableReplicas, type StoreLoad } from
  './rebalance_decision.js';
import type { ReplicaChange } from './change_replicas.js';

/** Options of the rebalancer loop. */
export interface RebalancerOptions {
  /** Node ids of every store of the cluster (the candidates for new replicas). */
  nodeIds: readonly number[];
  /** Ticks between two runs. @default 20 (ticks) */
  intervalTicks?: number;
  /** Replica-count difference tolerated between stores. @default 1 (replicas) */
  slack?: number;
}

/** One move the rebalancer chose. */
export interface RebalanceMove {
  rangeId: number;
  add: number;
  remove: number;
}

/** What the rebalancer needs of its range node. */
export interface RebalancerHost {
  readonly nodeId: number;
  /** Every descriptor this node knows (possibly stale; several generations of one range). */
  knownDescriptors(): RangeDescriptor[];
  raftStatus(rangeId: number): RaftStatus | undefined;
  isNodeLive(nodeId: number): boolean;
  changeReplicas(rangeId: number, change: ReplicaChange): Promise<RangeDescriptor>;
  transferLeadership(rangeId: number, toNodeId: number): Promise<void>;
}

/** The newest descriptor of each range, by range id. */
export function newestDescriptors(descs: readonly RangeDescriptor[]): RangeDescriptor[] {
  const byId = new Map<number, RangeDescriptor>();
  for (const d of descs) {
    const seen = byId.get(d.rangeId);
    if (seen === undefined || seen.generation < d.generation) byId.set(d.rangeId, d);
  }
  return [...byId.values()].sort((a, b) => a.rangeId - b.rangeId);
}

/** Replica counts per store of `nodeIds` over `descs` (load 0: counts only). */
export function storeLoads(descs: readonly RangeDescriptor[], nodeIds: readonly number[],
  isLive: (nodeId: number) => boolean): StoreLoad[] {
  const loads = nodeIds.map((nodeId) => ({ nodeId, replicaCount: 0, load: 0,
    live: isLive(nodeId) }));
  for (const d of descs) {
    for (const r of d.replicas) {
      const s = loads.find((l) => l.nodeId === r.nodeId);
      if (s !== undefined) s.replicaCount++;
    }
  }
  return loads;
}

/** The move the loop makes next, or undefined (see the file comment). Pure. */
export function planRebalance(
  descs: readonly RangeDescriptor[], loads: readonly StoreLoad[], leaderNodeId: number,
  statusOf: (rangeId: number) => RaftStatus | undefined, slack = 1,
): RebalanceMove | undefined {
  const move = chooseRebalance(loads, slack);
  if (move === undefined) return undefined;
  for (const d of descs) {
    if (isJoint(d) || replicaOnNode(d, move.toNodeId) !== undefined) continue;
    const from = replicaOnNode(d, move.fromNodeId);
    if (from === undefined || !isVoterIncoming(from.type)) continue;
    const status = statusOf(d.rangeId);
    if (status === undefined || status.lead !== leaderNodeId) continue;
    const voters = d.replicas.filter((r) => isVoterIncoming(r.type));
    const removable = filterUnremovableReplicas(status, voters, move.toNodeId);
    if (!removable.some((r) => r.nodeId === move.fromNodeId)) continue;
    assert(move.fromNodeId !== move.toNodeId, 'a move has two ends');
    return { rangeId: d.rangeId, add: move.toNodeId, remove: move.fromNodeId };
  }
  return undefined;
}

/** Counters of the loop. */
export interface RebalancerStats {
  runs: number;
  movesStarted: number;
  movesDone: number;
  movesFailed: number;
  /** Leaderships handed over because the move would remove this node's own replica. */
  leadershipsTransferred: number;
}

/** The loop (see the file comment). Call `tick` once per node tick. */
export class Rebalancer {
  readonly stats: RebalancerStats = { runs: 0, movesStarted: 0, movesDone: 0, movesFailed: 0,
    leadershipsTransferred: 0 };
  private ticks = 0;
  private busy = false;
  private readonly intervalTicks: number;
  private readonly slack: number;

  constructor(private readonly host: RebalancerHost, private readonly options: RebalancerOptions,
    private readonly log: Logger | null) {
    this.intervalTicks = options.intervalTicks ?? 20;
    this.slack = options.slack ?? 1;
    assert(Number.isSafeInteger(this.intervalTicks) && this.intervalTicks >= 1, 'interval');
    assert(Number.isSafeInteger(this.slack) && this.slack >= 0, 'slack');
  }

  /** Whether a move is in flight. */
  get moving(): boolean {
    return this.busy;
  }

  /** One tick: every `intervalTicks`, plans and starts at most one move. */
  tick(): void {
    if (++this.ticks % this.intervalTicks !== 0 || this.busy) return;
    this.stats.runs++;
    const h = this.host;
    const descs = newestDescriptors(h.knownDescriptors());
    const loads = storeLoads(descs, this.options.nodeIds, (id) => h.isNodeLive(id));
    const move = planRebalance(descs, loads, h.nodeId, (id) => h.raftStatus(id), this.slack);
    if (move === undefined) return;
    this.busy = true;
    const work = move.remove === h.nodeId ? this.handOver(descs, move)
      : h.changeReplicas(move.rangeId, { add: move.add, remove: move.remove }).then(() => {
        this.stats.movesDone++;
      });
    this.stats.movesStarted++;
    this.log?.info({ rangeId: move.rangeId, add: move.add, remove: move.remove }, 'rebalance');
    work.catch((error: unknown) => {
      this.stats.movesFailed++;
      this.log?.info({ rangeId: move.rangeId, err: error }, 'rebalance move failed');
    }).finally(() => {
      this.busy = false;
    });
  }

  /** The move would remove this node's replica: another voter takes the leadership. */
  private async handOver(descs: readonly RangeDescriptor[], move: RebalanceMove): Promise<void> {
    const desc = descs.find((d) => d.rangeId === move.rangeId);
    const to = desc?.replicas.find((r) => isVoterIncoming(r.type) && r.nodeId !== move.remove);
    assert(to !== undefined, 'a range of several voters');
    await this.host.transferLeadership(move.rangeId, to.nodeId);
    this.stats.leadershipsTransferred++;
  }
}
