/**
 * The structural changes a range seed draws: splits at random keys, merges of a range with
 * its right neighbour, and rebalances (a replica moved to a store that has none: learner,
 * snapshot, joint configuration, leave; `RangeNode.changeReplicas`). Each starts on the node
 * that leads the range (as its store sees it) and runs while the world goes on; a crash of
 * that node abandons it (its outcome is then whatever the log holds).
 *
 * A merge needs both sides on the same stores: when they are not, the right range is moved
 * one step toward the left's stores instead (CockroachDB's merge queue relocates the right
 * side first), so merges keep happening with more stores than replicas. Merges and
 * rebalances run one at a time (splits alongside): the range layer has no descriptor lock
 * yet, and a membership change of a range frozen for a merge would keep the merge from
 * ever matching its descriptor (see the report of this helper).
 */
import type { SeededRandom } from '../../src/raft/index.js';
import {
  isVoterIncoming,
  META_RANGE_ID,
  replicaOnNode,
  ReplicaType,
  type RangeDescriptor,
  type RangeNode,
} from '../../src/range/index.js';
import type { ReplicaChange } from '../../src/range/change_replicas.js';
import type { SimStores } from './range_stores.js';
import type { RangeSimStats } from './range_world.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Ticks a new learner may take to catch up (then it is rolled back). */
const LEARNER_TIMEOUT_TICKS = 40;
/** Ticks one membership step may take to apply on the leader. */
const CONF_CHANGE_TIMEOUT_TICKS = 40;

/** What the changes need of their world. */
export interface ChangeHost {
  readonly rng: SeededRandom;
  readonly stores: SimStores;
  readonly stats: RangeSimStats;
  readonly nodeIds: readonly number[];
  /** The classic layout: merges run concurrently (as that layer always did). */
  readonly classic: boolean;
  trace(line: string): void;
}

/** Starts splits, merges and rebalances (see the file header). */
export class RangeChanges {
  /** Changes in flight (the heal waits for them). */
  inFlight = 0;
  /** A merge or rebalance is in flight. */
  private structural = false;

  constructor(private readonly h: ChangeHost) {}

  /** The node whose store leads `rangeId` now (running), if any. */
  leaderOf(rangeId: number): RangeNode | undefined {
    for (const [id, node, store] of this.h.stores.running()) {
      const s = store.raftStatus(rangeId);
      if (s !== undefined && s.lead === id && s.raftState === 2) return node;
    }
    return undefined;
  }

  /** A random node, unless it crashed (a paused one's view is its last). */
  private anyNode(): RangeNode | undefined {
    return this.h.stores.alive(this.h.nodeIds[this.h.rng.intn(this.h.nodeIds.length)]!);
  }

  /** Runs `work` on `leader`; a failure or the leader's crash ends it (traced). */
  private async run<T>(leader: RangeNode, what: string, work: () => Promise<T>):
    Promise<T | undefined> {
    this.inFlight++;
    try {
      return await this.h.stores.handles.get(leader.nodeId)!.untilCrash(work());
    } catch (error) {
      // A bad key for the range now, a lost leadership, a timeout, a refused change, the
      // coordinator's crash: nothing to check here (the invariants judge what happened).
      this.h.trace(`${what} failed: ${String(error)}`);
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  async split(): Promise<void> {
    const r = this.h.rng;
    const at = enc.encode(String.fromCharCode(97 + r.intn(26)) +
      (r.intn(2) === 0 ? '' : String.fromCharCode(97 + r.intn(26))));
    const desc = this.anyNode()?.localRangeFor(at);
    const leader = desc === undefined ? undefined : this.leaderOf(desc.rangeId);
    if (desc === undefined || leader === undefined) return;
    this.h.stats.splitsStarted++;
    const what = `split of ${desc.rangeId} at ${dec.decode(at)} on ${leader.nodeId}`;
    this.h.trace(what);
    const done = await this.run(leader, what, () => leader.split(desc.rangeId, at));
    if (done === undefined) return;
    this.h.stats.splitsDone++;
    this.h.trace(`split of ${desc.rangeId} done: r${done.right.rangeId}`);
  }

  async merge(): Promise<void> {
    const ranges = userRanges(this.anyNode());
    if (this.structural || ranges.length < 2) return;
    const desc = ranges[this.h.rng.intn(ranges.length - 1)]!;
    const leader = this.leaderOf(desc.rangeId);
    const left = leader?.descriptor(desc.rangeId);
    const right = left === undefined ? undefined : leader!.localRangeFor(left.endKey);
    if (leader === undefined || left === undefined || right === undefined) return;
    const move = colocatingMove(left, right);
    if (move !== null) {
      await this.rebalance(right.rangeId, move);
      return;
    }
    this.h.stats.mergesStarted++;
    const what = `merge of ${desc.rangeId} with r${right.rangeId} on ${leader.nodeId}`;
    this.h.trace(what);
    this.structural = !this.h.classic;
    try {
      const merged = await this.run(leader, what, () => leader.merge(desc.rangeId));
      if (merged === undefined) return;
      this.h.stats.mergesDone++;
      this.h.trace(`merge of ${desc.rangeId} done: r${merged.rangeId} gen ${merged.generation}`);
    } finally {
      this.structural = false;
    }
  }

  /** Moves a replica of a random range (or of `rangeId` as `move` says) to another store. */
  async rebalance(rangeId?: number, move?: ReplicaChange): Promise<void> {
    if (this.structural) return;
    const ranges = userRanges(this.anyNode());
    const id = rangeId ?? ranges[this.h.rng.intn(Math.max(1, ranges.length))]?.rangeId;
    const leader = id === undefined ? undefined : this.leaderOf(id);
    const desc = leader?.descriptor(id!);
    if (leader === undefined || desc === undefined) return;
    const change = move ?? this.randomMove(desc, leader.nodeId);
    if (change === null || change.remove === leader.nodeId) return;
    this.h.stats.rebalancesStarted++;
    const what = `rebalance of r${desc.rangeId} on ${leader.nodeId}: +${change.add} ` +
      `-${change.remove}`;
    this.h.trace(what);
    this.structural = true;
    try {
      const after = await this.run(leader, what, () => leader.changeReplicas(desc.rangeId,
        change, { learnerTimeoutTicks: LEARNER_TIMEOUT_TICKS,
          confChangeTimeoutTicks: CONF_CHANGE_TIMEOUT_TICKS }));
      if (after === undefined) return;
      this.h.stats.rebalancesDone++;
      this.h.trace(`rebalance of r${desc.rangeId} done: gen ${after.generation} on ` +
        after.replicas.map((r) => r.nodeId).join(','));
    } finally {
      this.structural = false;
    }
  }

  /** A store without a replica gets one; a voter other than the leader's goes. */
  private randomMove(desc: RangeDescriptor, leaderNodeId: number): ReplicaChange | null {
    const adds = this.h.nodeIds.filter((n) => replicaOnNode(desc, n) === undefined);
    const removes = desc.replicas.filter((r) => r.type === ReplicaType.Voter &&
      r.nodeId !== leaderNodeId).map((r) => r.nodeId);
    if (adds.length === 0 || removes.length === 0) return null;
    return { add: adds[this.h.rng.intn(adds.length)]!,
      remove: removes[this.h.rng.intn(removes.length)]! };
  }
}

/** A running node's user ranges, in key order. */
export function userRanges(node: RangeNode | undefined): RangeDescriptor[] {
  return node?.descriptors().filter((d) => d.rangeId !== META_RANGE_ID) ?? [];
}

/** One move that brings `right`'s stores closer to `left`'s, or null if they match. */
function colocatingMove(left: RangeDescriptor, right: RangeDescriptor): ReplicaChange | null {
  const onLeft = (n: number) => replicaOnNode(left, n) !== undefined;
  const onRight = (n: number) => replicaOnNode(right, n) !== undefined;
  const add = left.replicas.find((r) => !onRight(r.nodeId))?.nodeId;
  const remove = right.replicas.find((r) => !onLeft(r.nodeId) && isVoterIncoming(r.type))
    ?.nodeId;
  if (add === undefined && remove === undefined) return null;
  const move: ReplicaChange = {};
  if (add !== undefined) move.add = add;
  if (remove !== undefined) move.remove = remove;
  return move;
}
