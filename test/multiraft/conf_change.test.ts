/**
 * Membership changes and replica destruction on the store: the boundary checks (Raft's
 * rules, quorum, bad input), the `confChanged` report, a learner caught up by a snapshot
 * and promoted through a joint configuration, destroying a replica (slot reused, a stale
 * message recreating only an empty replica that keeps the last vote).
 */
import { describe, expect, it } from 'vitest';
import {
  ConfChangeQuorumError,
  ConfChangeRefusedError,
  InvalidConfChangeError,
  LocalCluster,
  NotLeaderError,
  RangeNotFoundError,
  checkConfChangeV2,
  newReplicaStatus,
  nextConfState,
} from '../../src/multiraft/index.js';
import {
  ConfChangeTransition as T,
  ConfChangeType as C,
  EMPTY_BYTES,
  MessageType,
  newMessage,
  type ConfChangeV2,
  type ConfState,
} from '../../src/raft/index.js';
import { RecordingStateMachine, TEST_STORE_OPTIONS, bytes } from './_helpers.js';

const cs = (voters: number[], learners: number[] = [], votersOutgoing: number[] = [],
  learnersNext: number[] = [], autoLeave = false): ConfState =>
  ({ voters, learners, votersOutgoing, learnersNext, autoLeave });
const cc = (changes: [number, number][], transition: number = T.ConfChangeTransitionAuto):
  ConfChangeV2 => ({ transition: transition as ConfChangeV2['transition'],
  changes: changes.map(([type, nodeId]) => ({ type: type as C, nodeId })), context: EMPTY_BYTES });
const LEAVE = cc([]);
const JOINT = T.ConfChangeTransitionJointExplicit;

describe('nextConfState (Raft rules)', () => {
  it('adds a learner, promotes it and demotes a voter through a joint state, leaves', () => {
    const withLearner = nextConfState(cs([1, 2, 3]), cc([[C.ConfChangeAddLearnerNode, 4]]));
    expect(withLearner).toEqual(cs([1, 2, 3], [4]));
    const joint = nextConfState(withLearner as ConfState,
      cc([[C.ConfChangeAddNode, 4], [C.ConfChangeAddLearnerNode, 3]], JOINT));
    expect(joint).toEqual(cs([1, 2, 4], [], [1, 2, 3], [3], false));
    expect(nextConfState(joint as ConfState, LEAVE)).toEqual(cs([1, 2, 4], [3]));
    const removing = nextConfState(cs([1, 2, 3], [4]),
      cc([[C.ConfChangeAddNode, 4], [C.ConfChangeRemoveNode, 3]]));
    expect(removing).toEqual(cs([1, 2, 4], [], [1, 2, 3], [], true));
    expect(nextConfState(removing as ConfState, LEAVE)).toEqual(cs([1, 2, 4]));
  });

  it('refuses what Raft would refuse, with its reason', () => {
    const joint = cs([1, 2, 4], [], [1, 2, 3]);
    expect(nextConfState(joint, cc([[C.ConfChangeAddLearnerNode, 5]]))).toMatch(/already joint/);
    expect(nextConfState(cs([1, 2, 3]), LEAVE)).toMatch(/not in a joint/);
    expect(nextConfState(cs([1]), cc([[C.ConfChangeRemoveNode, 1]]))).toMatch(/all voters/);
  });
});

describe('checkConfChangeV2 (boundary)', () => {
  it('refuses bad node ids, types, transitions and shapes', () => {
    const bad: unknown[] = [null, 7, { changes: 'x' }, { transition: 9, changes: [] },
      { changes: [{ type: 9, nodeId: 2 }] }, { changes: [{ type: 0, nodeId: 0 }] },
      { changes: [{ type: 0, nodeId: -1 }] }, { changes: [{ type: 0, nodeId: 2 ** 31 }] },
      { changes: [{ type: 0, nodeId: '2' }] },
      { changes: [{ type: 0, nodeId: 2 }, { type: 1, nodeId: 2 }] }];
    for (const b of bad) expect(() => checkConfChangeV2(b)).toThrow(InvalidConfChangeError);
    const ok = checkConfChangeV2({ changes: [{ type: 3, nodeId: 4 }] });
    expect(ok).toEqual(cc([[C.ConfChangeAddLearnerNode, 4]]));
  });
});

/** Stores 1..4 with range 7 on stores 1, 2, 3 (store 4 holds nothing yet), 1 leading. */
function fourStores(): { cluster: LocalCluster; machines: Map<number, Recorder> } {
  const machines = new Map<number, Recorder>();
  const cluster = new LocalCluster({ nodeIds: [1, 2, 3, 4], store: TEST_STORE_OPTIONS,
    stateMachine: (nodeId) => {
      const m = new Recorder();
      machines.set(nodeId, m);
      return m;
    } });
  for (const id of [1, 2, 3]) cluster.store(id).createRange(7, { voters: [1, 2, 3] });
  cluster.store(1).campaign(7);
  cluster.settle();
  return { cluster, machines };
}

class Recorder extends RecordingStateMachine {
  readonly changes: { rangeId: number; cs: ConfState; index: number }[] = [];
  snapshots = 0;
  override applySnapshot(): void {
    this.snapshots++;
  }
  confChanged(rangeId: number, confState: ConfState, index: number): void {
    this.changes.push({ rangeId, cs: confState, index });
  }
}

function tickUntil(cluster: LocalCluster, done: () => boolean, ticksMax = 200): void {
  for (let i = 0; i < ticksMax && !done(); i++) cluster.tick(1);
  expect(done()).toBe(true);
}

describe('Store.proposeConfChange', () => {
  it('adds a learner that a snapshot catches up, promotes it in a joint state, leaves', () => {
    const { cluster, machines } = fourStores();
    const leader = cluster.store(1);
    leader.propose(7, bytes('a'));
    cluster.settle();
    leader.proposeConfChange(7, cc([[C.ConfChangeAddLearnerNode, 4]]));
    cluster.settle();
    for (const id of [1, 2, 3]) {
      expect(machines.get(id)!.changes.map((c) => c.cs)).toEqual([cs([1, 2, 3], [4])]);
    }
    // The bootstrap snapshot predates the learner: the log was compacted to the applied
    // point, whose snapshot holds it.
    const s = newReplicaStatus();
    tickUntil(cluster, () => cluster.store(4).readStatus(7, s) && s.initialized &&
      s.applied === leader.raftStatus(7)!.applied);
    leader.proposeConfChange(7, cc([[C.ConfChangeAddNode, 4], [C.ConfChangeRemoveNode, 3]],
      JOINT));
    cluster.settle();
    expect(leader.confState(7)).toEqual(cs([1, 2, 4], [], [1, 2, 3]));
    // Joint: only leaving is allowed.
    expect(() => leader.proposeConfChange(7, cc([[C.ConfChangeAddLearnerNode, 3]])))
      .toThrow(ConfChangeRefusedError);
    leader.proposeConfChange(7, LEAVE);
    cluster.settle();
    expect(leader.confState(7)).toEqual(cs([1, 2, 4]));
    expect(machines.get(4)!.changes.at(-1)!.cs).toEqual(cs([1, 2, 4]));
    // The new configuration commits without store 3.
    cluster.network.partition([3], [1, 2, 4]);
    leader.propose(7, bytes('b'));
    cluster.settle();
    // 'a' came in the snapshot (the applied point), 'b' as an entry.
    expect(machines.get(4)!.snapshots).toBe(1);
    expect(machines.get(4)!.of(7)).toEqual(['b']);
    expect(leader.stats.confChangesApplied).toBe(3);
  });

  it('refuses bad calls and quorum loss with nothing changed', () => {
    const { cluster } = fourStores();
    const leader = cluster.store(1);
    const before = leader.stats.confChangesProposed;
    expect(() => leader.proposeConfChange(99, LEAVE)).toThrow(RangeNotFoundError);
    expect(() => cluster.store(2).proposeConfChange(7, cc([[C.ConfChangeAddLearnerNode, 4]])))
      .toThrow(NotLeaderError);
    expect(() => leader.proposeConfChange(7, cc([[C.ConfChangeAddLearnerNode, 0]])))
      .toThrow(InvalidConfChangeError);
    // Store 3 down.
    cluster.network.partition([3], [1, 2, 4]);
    cluster.tick(TEST_STORE_OPTIONS.livenessTimeoutTicks! + 2);
    // A voter that has not caught up: {1,2,3,4} needs three, with only 1 and 2 available.
    expect(() => leader.proposeConfChange(7, cc([[C.ConfChangeAddNode, 4]])))
      .toThrow(ConfChangeQuorumError);
    // Removing 2 leaves {1, 3} with only 1 available.
    expect(() => leader.proposeConfChange(7, cc([[C.ConfChangeRemoveNode, 2]])))
      .toThrow(ConfChangeQuorumError);
    // Removing the down one keeps a quorum: allowed.
    expect(leader.stats.confChangesProposed).toBe(before);
    expect(leader.confState(7)).toEqual(cs([1, 2, 3]));
    leader.proposeConfChange(7, cc([[C.ConfChangeRemoveNode, 3]]));
    cluster.settle();
    expect(leader.confState(7)).toEqual(cs([1, 2]));
  });
});

describe('Store.destroyReplica', () => {
  it('deletes the replica, reuses its slot, and a stale message brings back no state', () => {
    const { cluster } = fourStores();
    const leader = cluster.store(1);
    leader.propose(7, bytes('a'));
    cluster.settle();
    leader.proposeConfChange(7, cc([[C.ConfChangeRemoveNode, 3]]));
    cluster.settle();
    const three = cluster.store(3);
    const s = newReplicaStatus();
    expect(three.readStatus(7, s)).toBe(true);
    const { term, vote } = s;
    expect(term).toBeGreaterThan(0);
    const bytesBefore = three.tableBytes;
    three.destroyReplica(7);
    expect(three.hasRange(7)).toBe(false);
    expect(() => three.destroyReplica(7)).toThrow(RangeNotFoundError);
    expect(three.stats.replicasDestroyed).toBe(1);
    // A new replica takes the freed slot: the table does not grow.
    three.createRange(8, { voters: [3] });
    cluster.settle();
    expect(three.tableBytes).toBe(bytesBefore);
    // A stale heartbeat of range 7 creates only an empty replica with the last term and vote.
    const hb = newMessage(MessageType.MsgHeartbeat, { from: 1, to: 3, term, commit: 0 });
    three.handleBatch(1, [{ rangeId: 7, message: hb }]);
    cluster.settle();
    expect(three.readStatus(7, s)).toBe(true);
    expect(s.initialized).toBe(false);
    expect(s.lastIndex).toBe(0);
    expect(s.term).toBe(term);
    expect(s.vote).toBe(vote);
    // No snapshot comes (store 3 is not a member): it stays empty. (Holding a vote, it is
    // kept by the collector's existing rule, within `uninitializedReplicasMax`.)
    cluster.tick(40);
    expect(three.readStatus(7, s) && !s.initialized && s.lastIndex === 0).toBe(true);
  });
});
