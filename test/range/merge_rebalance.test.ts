/** The merge decision and the rebalancing decisions, on hand-built values. */
import { describe, expect, it } from 'vitest';
import { ProgressState, StateType } from '../../src/raft/index.js';
import {
  newReplicaStatus,
  type FollowerProgress,
  type RaftStatus,
} from '../../src/multiraft/index.js';
import { MergeRefusal, shouldMerge, type MergeSide } from '../../src/range/merge_decision.js';
import {
  checkRemovalKeepsQuorum,
  chooseAddTarget,
  chooseRebalance,
  chooseRemoveTarget,
  filterBehindReplicas,
  filterUnremovableReplicas,
  quorum,
  replicaIsBehind,
  replicaMayNeedSnapshot,
  SnapshotNeed,
  type StoreLoad,
} from '../../src/range/rebalance_decision.js';
import {
  KEY_MAX,
  RangeErrorCode,
  ReplicaType,
  splitDescriptor,
  USER_KEY_MIN,
  type RangeDescriptor,
  type ReplicaDescriptor,
} from '../../src/range/index.js';

const { StateProbe, StateReplicate, StateSnapshot } = ProgressState;
const k = (s: string) => new TextEncoder().encode(s);

function rangeOn(nodes: number[]): RangeDescriptor {
  return { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX, generation: 0,
    replicas: nodes.map((n) => ({ nodeId: n, replicaId: n, type: ReplicaType.Voter })) };
}

describe('shouldMerge', () => {
  const options = { rangeBytesMin: 1000, rangeBytesMax: 4000, rangeKeysMax: 100,
    qpsSplitThreshold: 1000 };
  const { left, right } = splitDescriptor(rangeOn([1, 2, 3]), k('m'), 3);
  const side = (descriptor: RangeDescriptor, over: Partial<MergeSide> = {}): MergeSide => ({
    descriptor, stats: { byteCount: 100, keyCount: 10 }, maxQps: 100, ...over });

  it('merges two small, quiet, adjacent, colocated ranges', () => {
    expect(shouldMerge(side(left), side(right), options)).toBeNull();
  });

  it('refuses with the first condition that fails', () => {
    const cases: [MergeSide, MergeSide, MergeRefusal][] = [
      [side(right), side(left), MergeRefusal.NotAdjacent],
      [side(left), side({ ...right, replicas: rangeOn([1, 2, 4]).replicas }),
        MergeRefusal.NotColocated],
      [side(left, { stats: { byteCount: 1000, keyCount: 1 } }), side(right),
        MergeRefusal.LeftTooBig],
      [side(left), side(right, { stats: { byteCount: 1000, keyCount: 1 } }),
        MergeRefusal.RightTooBig],
      [side(left, { stats: { byteCount: 10, keyCount: 60 } }),
        side(right, { stats: { byteCount: 10, keyCount: 41 } }), MergeRefusal.MergedTooBig],
      [side(left, { maxQps: undefined }), side(right), MergeRefusal.LoadUnknown],
      // Summed load at half the split threshold: the merged range would split by load.
      [side(left, { maxQps: 250 }), side(right, { maxQps: 250 }), MergeRefusal.TooMuchLoad],
    ];
    for (const [l, r, refusal] of cases) expect(shouldMerge(l, r, options)).toBe(refusal);
    expect(shouldMerge(side(left, { maxQps: 249 }), side(right, { maxQps: 250 }), options))
      .toBeNull();
  });
});

function pr(nodeId: number, state: number, match: number): FollowerProgress {
  return { nodeId, match, next: match + 1, state, recentActive: true, isLearner: false,
    inflight: 0 };
}

/** Leader 1 at commit 10 with the given progress. */
function status(progress: FollowerProgress[], raftState: StateType = StateType.StateLeader):
  RaftStatus {
  return { ...newReplicaStatus(), rangeId: 2, replicaId: 1, initialized: true, raftState,
    commit: 10, applied: 10, lastIndex: 10, lead: 1, progress };
}

const ids = (rs: readonly ReplicaDescriptor[]) => rs.map((r) => r.nodeId);

describe('behind and unremovable replicas', () => {
  it('counts a replica as behind unless it replicates with match ≥ commit', () => {
    const s = status([pr(1, StateReplicate, 10), pr(2, StateReplicate, 9), pr(3, StateProbe, 10),
      pr(4, StateSnapshot, 10), pr(5, StateReplicate, 11)]);
    expect([1, 2, 3, 4, 5, 6].map((n) => replicaIsBehind(s, n)))
      .toEqual([false, true, true, true, false, true]);
    expect(replicaIsBehind(undefined, 1)).toBe(true);
    expect(replicaIsBehind(status([], StateType.StateFollower), 1)).toBe(true);
    expect(ids(filterBehindReplicas(s, rangeOn([1, 2, 5]).replicas))).toEqual([1, 5]);
  });

  it('follows the quorum arithmetic of filterUnremovableReplicas', () => {
    expect([1, 2, 3, 4, 5].map(quorum)).toEqual([1, 2, 2, 3, 3]);
    const three = rangeOn([1, 2, 3]).replicas;
    // All up to date: any of three may go (2 remain, quorum(2) = 2).
    const all = status([pr(1, StateReplicate, 10), pr(2, StateReplicate, 10),
      pr(3, StateReplicate, 10)]);
    expect(ids(filterUnremovableReplicas(all, three))).toEqual([1, 2, 3]);
    // One behind: only it may go; removing an up-to-date one leaves one of two caught up.
    const oneBehind = status([pr(1, StateReplicate, 10), pr(2, StateReplicate, 10),
      pr(3, StateProbe, 4)]);
    expect(ids(filterUnremovableReplicas(oneBehind, three))).toEqual([3]);
    // Two behind: below the old quorum, nothing may go.
    const twoBehind = status([pr(1, StateReplicate, 10), pr(2, StateProbe, 3),
      pr(3, StateProbe, 4)]);
    expect(filterUnremovableReplicas(twoBehind, three)).toEqual([]);
    // Without a leader's status nothing may go.
    expect(filterUnremovableReplicas(undefined, three)).toEqual([]);
    // Five voters, one behind: 4 > quorum(4) = 3, any may go, but not the brand-new one.
    const five = rangeOn([1, 2, 3, 4, 5]).replicas;
    const s5 = status([1, 2, 3, 4].map((n) => pr(n, StateReplicate, 10)).concat(
      [pr(5, StateProbe, 0)]));
    expect(ids(filterUnremovableReplicas(s5, five, 5))).toEqual([1, 2, 3, 4]);
  });

  it('refuses a removal the remaining quorum needs with a typed error', () => {
    const s = status([pr(1, StateReplicate, 10), pr(2, StateReplicate, 10), pr(3, StateProbe, 4)]);
    const desc = rangeOn([1, 2, 3]);
    expect(() => checkRemovalKeepsQuorum(s, desc, 3)).not.toThrow();
    expect(() => checkRemovalKeepsQuorum(s, desc, 2)).toThrow(expect.objectContaining({
      code: RangeErrorCode.QuorumLoss }));
    expect(() => checkRemovalKeepsQuorum(s, desc, 9)).not.toThrow();
  });
});

describe('replicaMayNeedSnapshot', () => {
  it('returns the reason', () => {
    const s = status([pr(1, StateReplicate, 10), pr(2, StateReplicate, 4), pr(3, StateProbe, 9),
      pr(4, StateSnapshot, 0), pr(5, StateReplicate, 3)]);
    // The leader's log starts at 5: match 4 is fine (next is 5), match 3 is not.
    expect(replicaMayNeedSnapshot(s, 5, 2)).toBe(SnapshotNeed.None);
    expect(replicaMayNeedSnapshot(s, 5, 5)).toBe(SnapshotNeed.MatchBelowFirstIndex);
    expect(replicaMayNeedSnapshot(s, 5, 3)).toBe(SnapshotNeed.StateProbe);
    expect(replicaMayNeedSnapshot(s, 5, 4)).toBe(SnapshotNeed.StateSnapshot);
    expect(replicaMayNeedSnapshot(s, 5, 6)).toBe(SnapshotNeed.ReplicaUnknown);
    expect(replicaMayNeedSnapshot(undefined, 5, 2)).toBe(SnapshotNeed.NoRaftStatus);
    expect(replicaMayNeedSnapshot(status([], StateType.StateCandidate), 5, 2))
      .toBe(SnapshotNeed.NotLeader);
  });
});

describe('targets', () => {
  const stores: StoreLoad[] = [
    { nodeId: 1, replicaCount: 10, load: 5, live: true },
    { nodeId: 2, replicaCount: 10, load: 9, live: true },
    { nodeId: 3, replicaCount: 12, load: 1, live: true },
    { nodeId: 4, replicaCount: 3, load: 50, live: true },
    { nodeId: 5, replicaCount: 3, load: 20, live: true },
    { nodeId: 6, replicaCount: 0, load: 0, live: false },
  ];

  it('adds to the live store with the fewest replicas, then the least load', () => {
    expect(chooseAddTarget(rangeOn([1, 2, 3]), stores)).toBe(5);
    expect(chooseAddTarget(rangeOn([1, 2, 5]), stores)).toBe(4);
    expect(chooseAddTarget(rangeOn([1, 2, 3, 4, 5]), stores)).toBeUndefined();
  });

  it('removes from the fullest store among the removable, never the leader', () => {
    const all = status([1, 2, 3, 4].map((n) => pr(n, StateReplicate, 10)));
    expect(chooseRemoveTarget(all, rangeOn([1, 2, 3, 4]), stores)).toBe(3);
    expect(chooseRemoveTarget(all, rangeOn([1, 2, 4]), stores)).toBe(2);
    // Store 3 is behind: with three voters, it is the only removable one.
    const behind = status([pr(1, StateReplicate, 10), pr(2, StateReplicate, 10),
      pr(3, StateProbe, 2)]);
    expect(chooseRemoveTarget(behind, rangeOn([1, 2, 3]), stores)).toBe(3);
    expect(chooseRemoveTarget(undefined, rangeOn([1, 2, 3]), stores)).toBeUndefined();
  });

  it('moves replicas from the fullest to the emptiest live store until even', () => {
    expect(chooseRebalance(stores)).toEqual({ fromNodeId: 3, toNodeId: 5 });
    expect(chooseRebalance(stores.map((s) => ({ ...s, replicaCount: 7 })))).toBeUndefined();
    expect(chooseRebalance([stores[0]!])).toBeUndefined();
  });
});
