/**
 * The split-delay helper: the rules on hand-built statuses, the driver's waiting and report,
 * and the case that makes it trustworthy on a real Raft group (a follower caught up by a
 * snapshot at the last index of an idle group is not waited for).
 */
import { describe, expect, it } from 'vitest';
import {
  EMPTY_BYTES,
  isEmptyHardState,
  MemoryStorage,
  MessageType,
  ProgressState,
  ProposalDroppedError,
  RawNode,
  SeededRandom,
  StateType,
  type Message,
} from '../../src/raft/index.js';
import {
  newReplicaStatus,
  type FollowerProgress,
  type RaftStatus,
} from '../../src/multiraft/index.js';
import { assessSplitDelay, delaySplit } from '../../src/range/split_delay.js';

const { StateProbe, StateReplicate, StateSnapshot } = ProgressState;

function follower(nodeId: number, over: Partial<FollowerProgress> = {}): FollowerProgress {
  return { nodeId, match: 10, next: 11, state: StateReplicate, recentActive: true,
    isLearner: false, inflight: 0, ...over };
}

/** Leader 1 of a group of three at index 10, everything replicated. */
function leaderStatus(progress: FollowerProgress[] = [follower(2), follower(3)]): RaftStatus {
  return { ...newReplicaStatus(), rangeId: 5, replicaId: 1, initialized: true,
    raftState: StateType.StateLeader, term: 3, commit: 10, applied: 10, lastIndex: 10, lead: 1,
    progress: [follower(1), ...progress] };
}

describe('assessSplitDelay', () => {
  it('finds nothing to wait for when every follower replicates', () => {
    expect(assessSplitDelay(leaderStatus())).toEqual({ problems: [], inactiveNodeIds: [] });
  });

  it('waits while an election is on, or without a status', () => {
    const candidate = { ...leaderStatus(), raftState: StateType.StateCandidate, progress: [] };
    expect(assessSplitDelay(candidate).problems).toEqual(['not leader (StateCandidate)']);
    const pre = { ...candidate, raftState: StateType.StatePreCandidate };
    expect(assessSplitDelay(pre).problems).toEqual(['not leader (StatePreCandidate)']);
    expect(assessSplitDelay(undefined).problems).toEqual(['no raft status']);
  });

  it('names an active follower that probes or takes a snapshot, and ignores inactive ones', () => {
    const s = leaderStatus([follower(2, { state: StateProbe, match: 4, next: 5 }),
      follower(3, { state: StateSnapshot, recentActive: false }),
      follower(4, { state: StateSnapshot, isLearner: true })]);
    const a = assessSplitDelay(s);
    expect(a.problems).toEqual([
      'replica 2 of node 2 not caught up (StateProbe, match 4, next 5)',
      'replica 4 of node 4 not caught up (StateSnapshot, match 10, next 11)',
    ]);
    expect(a.inactiveNodeIds).toEqual([3]);
  });

  it('names replicas by their descriptor ids when given one', () => {
    const s = leaderStatus([follower(2, { state: StateProbe })]);
    const desc = { rangeId: 5, startKey: Uint8Array.of(1), endKey: Uint8Array.of(2),
      generation: 1, replicas: [{ nodeId: 1, replicaId: 1, type: 0 as const },
        { nodeId: 2, replicaId: 7, type: 0 as const }] };
    expect(assessSplitDelay(s, desc).problems[0]).toMatch(/^replica 7 of node 2 /);
  });
});

/** A host whose status changes as virtual ticks pass. */
function scriptedHost(statusAt: (tick: number) => RaftStatus) {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    host: {
      raftStatus: () => statusAt(now),
      sleepTicks: async (n: number) => {
        sleeps.push(n);
        now += n;
      },
    },
  };
}

describe('delaySplit', () => {
  it('waits while a follower probes and goes ahead after its bound, with its report', async () => {
    const probing = leaderStatus([follower(2, { state: StateProbe, match: 9 }), follower(3)]);
    const { host, sleeps } = scriptedHost(() => probing);
    const report = await delaySplit(host, { maxDelayTicks: 10, stepTicksMax: 4 });
    expect(sleeps).toEqual([1, 2, 4, 3]);
    expect(report.delayedTicks).toBe(10);
    expect(report.resolved).toBe(false);
    expect(report.message).toBe('delayed by 10 ticks to resolve: replica 2 of node 2 not ' +
      'caught up (StateProbe, match 9, next 11) (without success)');
  });

  it('stops waiting as soon as the follower replicates', async () => {
    const { host, sleeps } = scriptedHost((tick) => leaderStatus([
      follower(2, tick < 3 ? { state: StateProbe } : {}), follower(3)]));
    const report = await delaySplit(host, { maxDelayTicks: 20 });
    expect(sleeps).toEqual([1, 2]);
    expect(report.resolved).toBe(true);
    expect(report.message).toMatch(/^delayed by 3 ticks to resolve: replica 2 of node 2 not /);
    expect(report.message).not.toMatch(/without success/);
  });

  it('waits out an election, then splits at once on the new leader', async () => {
    const { host, sleeps } = scriptedHost((tick) => tick < 1
      ? { ...leaderStatus(), raftState: StateType.StatePreCandidate, progress: [] }
      : leaderStatus());
    const report = await delaySplit(host);
    expect(sleeps).toEqual([1]);
    expect(report.message).toBe('delayed by 1 ticks to resolve: not leader (StatePreCandidate)');
  });

  it('notes an inactive follower once and does not wait for it', async () => {
    const { host, sleeps } = scriptedHost(() => leaderStatus([
      follower(2, { state: StateProbe, recentActive: false }), follower(3)]));
    const report = await delaySplit(host);
    expect(sleeps).toEqual([]);
    expect(report.resolved).toBe(true);
    expect(report.inactiveNodeIds).toEqual([2]);
    expect(report.message).toBe('delayed by 0 ticks to resolve: replica 2 of node 2 inactive');
  });

  it('says nothing when nothing was in the way', async () => {
    const { host } = scriptedHost(() => leaderStatus());
    expect((await delaySplit(host)).message).toBe('');
  });
});

// -----------------------------------------------------------------------------------------
// On a real Raft group.

interface Peer {
  rn: RawNode;
  storage: MemoryStorage;
}

const random = new SeededRandom(7);

function group(ids: number[]): Map<number, Peer> {
  const peers = new Map<number, Peer>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    storage.snap.metadata.confState = { voters: ids, learners: [], votersOutgoing: [],
      learnersNext: [], autoLeave: false };
    const rn = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage,
      maxSizePerMsg: 1 << 20, maxInflightMsgs: 64, random, checkQuorum: true, preVote: true });
    peers.set(id, { rn, storage });
  }
  return peers;
}

/** Handles Readys and delivers messages until nothing moves; `cut` drops messages. */
function settle(peers: Map<number, Peer>, cut: (m: Message) => boolean = () => false): Message[] {
  const sent: Message[] = [];
  for (let round = 0; round < 500; round++) {
    const wire: Message[] = [];
    for (const { rn, storage } of peers.values()) {
      if (!rn.hasReady()) continue;
      const rd = rn.ready();
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      wire.push(...rd.messages);
      rn.advance();
    }
    if (wire.length === 0) return sent;
    for (const m of wire) {
      sent.push(m);
      if (cut(m)) continue;
      try {
        peers.get(m.to)?.rn.step(m);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
      }
    }
  }
  throw new Error('group did not settle');
}

/** The store's `RaftStatus` shape, built from the node's public status. */
function raftStatusOf(rn: RawNode, lastIndex: number): RaftStatus {
  const s = rn.status();
  const progress: FollowerProgress[] = [...s.progress.entries()].map(([nodeId, pr]) => ({
    nodeId, match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive,
    isLearner: pr.isLearner, inflight: 0 }));
  return { ...newReplicaStatus(), rangeId: 1, replicaId: s.id, initialized: true,
    raftState: s.softState.raftState, term: s.hardState.term, vote: s.hardState.vote,
    commit: s.hardState.commit, applied: s.applied, lastIndex, lead: s.softState.lead, progress };
}

describe('delaySplit on a real group', () => {
  it('does not wait on a follower a snapshot caught up at the last index of an idle group',
    async () => {
      const peers = group([1, 2, 3]);
      const leader = peers.get(1)!;
      leader.rn.campaign();
      settle(peers);
      // Node 3 is cut off while entries commit, then the leader compacts its whole log.
      const toThree = (m: Message) => m.to === 3 || m.from === 3;
      for (let i = 0; i < 5; i++) {
        leader.rn.propose(Uint8Array.of(i));
        settle(peers, toThree);
      }
      const applied = leader.rn.status().applied;
      const lastIndex = leader.storage.lastIndex() as number;
      expect(applied).toBe(lastIndex);
      expect(leader.storage.createSnapshot(applied, null, EMPTY_BYTES)).not.toBeInstanceOf(Error);
      expect(leader.storage.compact(applied)).toBeNull();
      // 3 comes back. The leader's heartbeat reveals it behind the compacted log: a snapshot at
      // the last index goes out, and while it is in flight the helper waits for 3.
      leader.rn.tick();
      let snapshotSeen = false;
      const sent = settle(peers, (m) => {
        if (m.type !== MessageType.MsgSnap) return false;
        snapshotSeen = true;
        const inFlight = assessSplitDelay(raftStatusOf(leader.rn, lastIndex));
        expect(inFlight.problems).toHaveLength(1);
        expect(inFlight.problems[0]).toMatch(/^replica 3 of node 3 not caught up \(StateSnapshot/);
        return false;
      });
      expect(snapshotSeen).toBe(true);
      // The group is idle: nothing else is proposed, and no ReportSnapshot is made. The
      // follower's response to the snapshot alone must move it to Replicate.
      expect(sent.some((m) => m.type === MessageType.MsgAppResp && m.from === 3 &&
        m.index === lastIndex)).toBe(true);
      const status = raftStatusOf(leader.rn, lastIndex);
      const three = status.progress.find((p) => p.nodeId === 3)!;
      expect(three.state).toBe(StateReplicate);
      expect(three.match).toBe(lastIndex);
      const report = await delaySplit({ raftStatus: () => status,
        sleepTicks: async () => { throw new Error('must not wait'); } });
      expect(report).toMatchObject({ delayedTicks: 0, resolved: true, message: '' });
    });
});
