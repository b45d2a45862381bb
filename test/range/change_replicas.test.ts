/**
 * The pure parts of rebalancing on hand-built values: descriptors following a ConfState,
 * replica-change checks, the replica GC queue, the stop-gap snapshot codec, and the
 * rebalancer's plan.
 */
import { describe, expect, it } from 'vitest';
import { ProgressState, StateType, type ConfState } from '../../src/raft/index.js';
import {
  newReplicaStatus,
  type FollowerProgress,
  type RaftStatus,
} from '../../src/multiraft/index.js';
import {
  KEY_MAX,
  localKey,
  MemoryKv,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { descriptorForConfState, replicaChangeProblem } from
  '../../src/range/change_replicas.js';
import {
  GC_ATTEMPTS_MAX,
  GcReason,
  ReplicaGcQueue,
} from '../../src/range/replica_gc.js';
import { decodeRangeSnapshot, encodeRangeSnapshot } from '../../src/range/_snapshot_stopgap.js';
import {
  newestDescriptors,
  planRebalance,
  storeLoads,
} from '../../src/range/rebalancer.js';

const k = (s: string) => new TextEncoder().encode(s);
const { Voter, Learner, VoterIncoming, VoterOutgoing, VoterDemoting } = ReplicaType;

function rangeOn(nodes: number[], rangeId = 2, generation = 0): RangeDescriptor {
  return { rangeId, startKey: USER_KEY_MIN, endKey: KEY_MAX, generation,
    replicas: nodes.map((n) => ({ nodeId: n, replicaId: n, type: Voter })) };
}
const cs = (voters: number[], learners: number[] = [], votersOutgoing: number[] = [],
  learnersNext: number[] = []): ConfState =>
  ({ voters, learners, votersOutgoing, learnersNext, autoLeave: false });
const types = (d: RangeDescriptor) => d.replicas.map((r) => [r.nodeId, r.type]);

describe('descriptorForConfState', () => {
  it('types each replica by its place in the configuration', () => {
    const d0 = rangeOn([1, 2, 3]);
    const d1 = descriptorForConfState(d0, cs([1, 2, 3], [4]));
    expect(types(d1)).toEqual([[1, Voter], [2, Voter], [3, Voter], [4, Learner]]);
    expect(d1.generation).toBe(1);
    const d2 = descriptorForConfState(d1, cs([1, 2, 4], [], [1, 2, 3]));
    expect(types(d2)).toEqual([[1, Voter], [2, Voter], [3, VoterOutgoing], [4, VoterIncoming]]);
    const demoting = descriptorForConfState(d1, cs([1, 2, 4], [], [1, 2, 3], [3]));
    expect(types(demoting)).toContainEqual([3, VoterDemoting]);
    const d3 = descriptorForConfState(d2, cs([1, 2, 4]));
    expect(types(d3)).toEqual([[1, Voter], [2, Voter], [4, Voter]]);
    expect(d3.generation).toBe(3);
  });
});

describe('replicaChangeProblem', () => {
  const d = { ...rangeOn([1, 2, 3]), replicas: [...rangeOn([1, 2, 3]).replicas,
    { nodeId: 5, replicaId: 5, type: Learner }] };
  it('accepts a move, an addition and a removal', () => {
    expect(replicaChangeProblem(d, { add: 4, remove: 3 }, 1)).toBeNull();
    expect(replicaChangeProblem(d, { add: 4 }, 1)).toBeNull();
    expect(replicaChangeProblem(d, { remove: 2 }, 1)).toBeNull();
  });
  it('refuses changes that make no sense, and the leader removing itself', () => {
    expect(replicaChangeProblem(d, {}, 1)).toMatch(/nothing/);
    expect(replicaChangeProblem(d, { add: 2 }, 1)).toMatch(/already/);
    expect(replicaChangeProblem(d, { remove: 4 }, 1)).toMatch(/no voter/);
    expect(replicaChangeProblem(d, { remove: 5 }, 1)).toMatch(/no voter/);
    expect(replicaChangeProblem(d, { add: 4, remove: 4 }, 1)).toMatch(/same node/);
    expect(replicaChangeProblem(d, { add: 0 }, 1)).toMatch(/node id/);
    expect(replicaChangeProblem(d, { add: 4, remove: 1 }, 1)).toMatch(/leader/);
  });
});

describe('ReplicaGcQueue', () => {
  it('destroys queued replicas, retries busy ones, gives up after its bound', () => {
    const q = new ReplicaGcQueue();
    q.add(7, GcReason.Removed);
    q.add(7, GcReason.MergedAway);
    q.add(8, GcReason.MergedAway);
    const seen: [number, string][] = [];
    expect(q.run((id, reason) => {
      seen.push([id, reason]);
      return id === 7 ? 'busy' : 'destroyed';
    })).toEqual([]);
    expect(seen).toEqual([[7, 'removed'], [8, 'merged-away']]);
    expect(q.size).toBe(1);
    let given: number[] = [];
    for (let i = 1; i < GC_ATTEMPTS_MAX && given.length === 0; i++) given = q.run(() => 'busy');
    expect(given).toEqual([7]);
    expect(q.has(7)).toBe(false);
  });
});

describe('range snapshot codec (stop-gap)', () => {
  it('carries the span and the range-local rows, and nothing else', () => {
    const kv = new MemoryKv();
    const desc = { ...rangeOn([1, 2]), startKey: k('b'), endKey: k('d') };
    for (const key of ['a', 'b', 'c', 'd']) kv.put(k(key), k(`v${key}`));
    kv.put(localKey(2, 0x73, new Uint8Array(0)), k('stats'));
    kv.put(localKey(3, 0x73, new Uint8Array(0)), k('other'));
    const snap = decodeRangeSnapshot(encodeRangeSnapshot(desc, kv));
    expect(snap.descriptor).toEqual(desc);
    expect(snap.user.map((r) => new TextDecoder().decode(r.key))).toEqual(['b', 'c']);
    expect(snap.local.map((r) => r.value)).toEqual([k('stats')]);
  });
  it('refuses garbage and rows outside the span', () => {
    expect(() => decodeRangeSnapshot(k('nonsense'))).toThrow(/snapshot/);
    const kv = new MemoryKv();
    const narrow = { ...rangeOn([1]), startKey: k('b'), endKey: k('c') };
    kv.put(k('b'), k('1'));
    const bytes = encodeRangeSnapshot(narrow, kv);
    // The same rows under a descriptor whose span excludes them.
    const wide = encodeRangeSnapshot({ ...narrow, startKey: k('a'), endKey: k('z') },
      (() => { kv.put(k('x'), k('2')); return kv; })());
    expect(decodeRangeSnapshot(bytes).user).toHaveLength(1);
    expect(decodeRangeSnapshot(wide).user).toHaveLength(2);
    const tampered = wide.slice();
    expect(() => decodeRangeSnapshot(tampered.slice(0, tampered.length - 3))).toThrow();
  });
});

function leaderStatus(leader: number, followers: number[]): RaftStatus {
  const progress: FollowerProgress[] = [leader, ...followers].map((nodeId) => ({ nodeId,
    match: 10, next: 11, state: ProgressState.StateReplicate, recentActive: true,
    isLearner: false, inflight: 0 }));
  return { ...newReplicaStatus(), replicaId: leader, lead: leader, commit: 10,
    raftState: StateType.StateLeader, progress };
}

describe('planRebalance', () => {
  const descs = [rangeOn([1, 2, 3], 2), rangeOn([1, 2, 3], 3), rangeOn([1, 2, 3], 4)];
  const live = () => true;
  it('counts replicas per store from the newest descriptors', () => {
    const newest = newestDescriptors([rangeOn([1, 2, 4], 2, 5), ...descs]);
    expect(newest.map((d) => d.generation)).toEqual([5, 0, 0]);
    expect(storeLoads(newest, [1, 2, 3, 4], live).map((l) => l.replicaCount))
      .toEqual([3, 3, 2, 1]);
  });
  it('moves a range it leads from the fullest store to the emptiest', () => {
    const loads = storeLoads(descs, [1, 2, 3, 4], live);
    const status = (id: number) => id === 2 ? undefined : leaderStatus(1, [2, 3]);
    // Range 2 is not led here: range 3 moves; ties on the source go to the highest id.
    expect(planRebalance(descs, loads, 1, status)).toEqual({ rangeId: 3, add: 4, remove: 3 });
  });
  it('keeps the quorum, skips joint ranges, and stops when balanced', () => {
    const loads = storeLoads(descs, [1, 2, 3, 4], live);
    // Node 2 is behind: only it may go, and it is not on the fullest store (3).
    const behind = (): RaftStatus => {
      const s = leaderStatus(1, [2, 3]);
      s.progress[1]!.state = ProgressState.StateProbe;
      return s;
    };
    expect(planRebalance(descs, loads, 1, behind)).toBeUndefined();
    const joint = descs.map((d) => ({ ...d, replicas: d.replicas.map((r) =>
      r.nodeId === 2 ? { ...r, type: VoterOutgoing } : r) }));
    expect(planRebalance(joint, loads, 1, () => leaderStatus(1, [2, 3]))).toBeUndefined();
    const balanced = storeLoads([rangeOn([1, 2, 3]), rangeOn([2, 3, 4], 3)], [1, 2, 3, 4],
      live);
    expect(planRebalance(descs, balanced, 1, () => leaderStatus(1, [2, 3]))).toBeUndefined();
    // A dead store is no target.
    const deadFour = storeLoads(descs, [1, 2, 3, 4], (id) => id !== 4);
    expect(planRebalance(descs, deadFour, 1, () => leaderStatus(1, [2, 3]))).toBeUndefined();
  });
});
