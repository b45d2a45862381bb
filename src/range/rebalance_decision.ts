/**
 * Rebalancing decisions as pure functions of the leader's `RaftStatus` and descriptors, in
 * the manner of CockroachDB's allocator (`filterBehindReplicas`, `filterUnremovableReplicas`,
 * `replicaMayNeedSnapshot`). Tests call them on hand-built statuses.
 *
 * BEHIND. A replica is behind unless the leader's status shows it in StateReplicate with
 * match ≥ commit. Without a leader's status (no progress) every replica counts as behind:
 * a follower cannot tell, and assuming the worst only ever refuses a removal.
 *
 * UNREMOVABLE. With n voters of which u are up to date:
 *   - u < quorum(n): nothing may be removed (the range cannot commit the change anyway);
 *   - u > quorum(n − 1): any voter may be removed (but not `brandNewNodeId`, which was just
 *     added and is forgiven for being behind: removing it would undo the rebalance);
 *   - otherwise only voters that are behind may be removed: each up-to-date one is needed
 *     for the quorum that remains.
 *
 * MAY NEED A SNAPSHOT. A follower may need a snapshot unless it is in StateReplicate with
 * match + 1 ≥ the leader's first index; the reason is returned, not just a boolean.
 *
 * TARGETS. A new replica goes to the live store without one of this range that holds the
 * fewest replicas, then the least load, then the lowest node id (determinism). A replica to
 * remove is chosen among the removable ones on the store with the most replicas, then the
 * most load, then the highest node id, never the leader's own (move the leadership first).
 */
import { assert } from '../util/index.js';
import type { RaftStatus, FollowerProgress } from '../multiraft/index.js';
import { ProgressState, StateType } from '../raft/index.js';
import { type RangeDescriptor, type ReplicaDescriptor, isVoterIncoming } from './descriptor.js';
import { QuorumLossError } from './errors.js';

/** A majority of `n` voters. */
export function quorum(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 0, 'voter count');
  return Math.floor(n / 2) + 1;
}

function progressOf(status: RaftStatus, nodeId: number): FollowerProgress | undefined {
  return status.progress.find((p) => p.nodeId === nodeId);
}

/** Whether the replica on `nodeId` is behind (see BEHIND above). */
export function replicaIsBehind(status: RaftStatus | undefined, nodeId: number): boolean {
  if (status === undefined || status.progress.length === 0) return true;
  const pr = progressOf(status, nodeId);
  if (pr === undefined) return true;
  return !(pr.state === ProgressState.StateReplicate && pr.match >= status.commit);
}

/** The replicas of `replicas` that are not behind. */
export function filterBehindReplicas(
  status: RaftStatus | undefined, replicas: readonly ReplicaDescriptor[],
): ReplicaDescriptor[] {
  if (status === undefined || status.progress.length === 0) return [];
  return replicas.filter((r) => !replicaIsBehind(status, r.nodeId));
}

/**
 * The voters that may be removed without losing the quorum (see UNREMOVABLE above).
 * `brandNewNodeId` (0: none) is never offered.
 */
export function filterUnremovableReplicas(
  status: RaftStatus | undefined, voterReplicas: readonly ReplicaDescriptor[],
  brandNewNodeId = 0,
): ReplicaDescriptor[] {
  const upToDate = filterBehindReplicas(status, voterReplicas);
  const n = voterReplicas.length;
  if (upToDate.length < quorum(n)) return [];
  const candidates = upToDate.length > quorum(n - 1) ? voterReplicas
    : voterReplicas.filter((r) => !upToDate.includes(r));
  const out = candidates.filter((r) => r.nodeId !== brandNewNodeId);
  assert(out.length <= n, 'candidates are voters');
  return out;
}

/** Why a follower may need a snapshot (stable strings), or `none`. */
export const SnapshotNeed = {
  None: 'none',
  NoRaftStatus: 'no-raft-status',
  NotLeader: 'local-replica-not-leader',
  ReplicaUnknown: 'replica-unknown',
  StateProbe: 'replica-state-probe',
  StateSnapshot: 'replica-state-snapshot',
  MatchBelowFirstIndex: 'match-below-leaders-first-index',
} as const;
export type SnapshotNeed = (typeof SnapshotNeed)[keyof typeof SnapshotNeed];

/** Whether the follower on `nodeId` may need a snapshot, and why (see above). */
export function replicaMayNeedSnapshot(
  status: RaftStatus | undefined, firstIndex: number, nodeId: number,
): SnapshotNeed {
  assert(Number.isSafeInteger(firstIndex) && firstIndex > 0, 'first index');
  if (status === undefined) return SnapshotNeed.NoRaftStatus;
  if (status.raftState !== StateType.StateLeader) return SnapshotNeed.NotLeader;
  const pr = progressOf(status, nodeId);
  if (pr === undefined) return SnapshotNeed.ReplicaUnknown;
  if (pr.state === ProgressState.StateProbe) return SnapshotNeed.StateProbe;
  if (pr.state === ProgressState.StateSnapshot) return SnapshotNeed.StateSnapshot;
  assert(pr.state === ProgressState.StateReplicate, 'progress state');
  if (pr.match + 1 < firstIndex) return SnapshotNeed.MatchBelowFirstIndex;
  return SnapshotNeed.None;
}

/**
 * Refuses removing the voter on `nodeId` if the remaining quorum needs it.
 * @throws QuorumLossError
 */
export function checkRemovalKeepsQuorum(
  status: RaftStatus | undefined, desc: RangeDescriptor, nodeId: number, brandNewNodeId = 0,
): void {
  const votersNow = desc.replicas.filter((r) => isVoterIncoming(r.type));
  if (!votersNow.some((r) => r.nodeId === nodeId)) return;
  const removable = filterUnremovableReplicas(status, votersNow, brandNewNodeId);
  if (!removable.some((r) => r.nodeId === nodeId)) {
    throw new QuorumLossError(desc.rangeId, `voter on node ${nodeId} is needed for the quorum`);
  }
}

/** What target choice knows of a store. */
export interface StoreLoad {
  nodeId: number;
  replicaCount: number;
  /** Any load figure (requests/s); compared only between stores. */
  load: number;
  live: boolean;
}

/** The store to add a replica of `desc` to, or undefined (see TARGETS above). */
export function chooseAddTarget(
  desc: RangeDescriptor, stores: readonly StoreLoad[],
): number | undefined {
  let best: StoreLoad | undefined;
  for (const s of stores) {
    if (!s.live || desc.replicas.some((r) => r.nodeId === s.nodeId)) continue;
    if (best === undefined || s.replicaCount < best.replicaCount ||
      (s.replicaCount === best.replicaCount && (s.load < best.load ||
        (s.load === best.load && s.nodeId < best.nodeId)))) {
      best = s;
    }
  }
  assert(best === undefined || best.live, 'targets are live');
  return best?.nodeId;
}

/** The voter of `desc` to remove, or undefined (see TARGETS above). */
export function chooseRemoveTarget(
  status: RaftStatus | undefined, desc: RangeDescriptor, stores: readonly StoreLoad[],
  brandNewNodeId = 0,
): number | undefined {
  const votersNow = desc.replicas.filter((r) => isVoterIncoming(r.type));
  const removable = filterUnremovableReplicas(status, votersNow, brandNewNodeId)
    .filter((r) => status === undefined || r.nodeId !== status.replicaId);
  const loadOf = (nodeId: number) => stores.find((s) => s.nodeId === nodeId);
  let best: ReplicaDescriptor | undefined;
  for (const r of removable) {
    if (best === undefined || worse(loadOf(r.nodeId), loadOf(best.nodeId), r, best)) best = r;
  }
  return best?.nodeId;
}

/** Whether removing `a` is preferred over `b`: more replicas, more load, higher id. */
function worse(
  la: StoreLoad | undefined, lb: StoreLoad | undefined, a: ReplicaDescriptor, b: ReplicaDescriptor,
): boolean {
  const ca = la?.replicaCount ?? 0;
  const cb = lb?.replicaCount ?? 0;
  if (ca !== cb) return ca > cb;
  const wa = la?.load ?? 0;
  const wb = lb?.load ?? 0;
  if (wa !== wb) return wa > wb;
  return a.nodeId > b.nodeId;
}

/**
 * A move that evens replica counts: from the store with the most replicas to the live store
 * with the fewest, when they differ by more than `slack` (replicas). Undefined if balanced.
 */
export function chooseRebalance(
  stores: readonly StoreLoad[], slack = 1,
): { fromNodeId: number; toNodeId: number } | undefined {
  const live = stores.filter((s) => s.live);
  if (live.length < 2) return undefined;
  const byCount = [...live].sort((a, b) => a.replicaCount - b.replicaCount || a.load - b.load ||
    a.nodeId - b.nodeId);
  const low = byCount[0]!;
  const high = byCount[byCount.length - 1]!;
  if (high.replicaCount - low.replicaCount <= slack) return undefined;
  assert(high.nodeId !== low.nodeId, 'a move has two ends');
  return { fromNodeId: high.nodeId, toNodeId: low.nodeId };
}
