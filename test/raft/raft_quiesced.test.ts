/**
 * `RawNode.restoreQuiesced`: a node rebuilt from storage in the role it held when it quiesced
 * behaves like the node it replaces (commits, heartbeats, elections, CheckQuorum), and wrong
 * records fail an assertion instead of producing a second leader or a stale one.
 */
import { describe, expect, it } from 'vitest';
import type { ConfigOptions } from '../../src/raft/config.js';
import { ProposalDroppedError } from '../../src/raft/errors.js';
import {
  MessageType,
  isEmptyHardState,
  type Message,
} from '../../src/raft/raftpb.js';
import { SeededRandom } from '../../src/raft/rand.js';
import type { ReadState } from '../../src/raft/read_only.js';
import { StateType } from '../../src/raft/raft_state.js';
import { RawNode, type QuiescedRole } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { StateType as ProgressState } from '../../src/raft/tracker/index.js';
import { AssertionError } from '../../src/util/index.js';
import { raftOf } from '../../src/raft/rawnode_internal.js';

const VOTERS = [1, 2, 3];

interface TestNode {
  rn: RawNode;
  storage: MemoryStorage;
}
type Cluster = Map<number, TestNode>;

function config(id: number, storage: MemoryStorage, options: Partial<ConfigOptions>) {
  return {
    id,
    storage,
    electionTick: 10,
    heartbeatTick: 1,
    maxSizePerMsg: Number.POSITIVE_INFINITY,
    maxInflightMsgs: 256,
    random: new SeededRandom(id),
    checkQuorum: true,
    preVote: true,
    ...options,
  };
}

function newCluster(options: Partial<ConfigOptions> = {}): Cluster {
  const nodes: Cluster = new Map();
  for (const id of VOTERS) {
    const storage = new MemoryStorage();
    storage.snap.metadata.confState = {
      voters: VOTERS, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
    };
    nodes.set(id, { rn: new RawNode(config(id, storage, options)), storage });
  }
  return nodes;
}

/** Handles Readys (persist, send, apply) and delivers messages until nothing moves. */
function stabilize(
  nodes: Cluster, drop: (m: Message) => boolean = () => false, reads: ReadState[] = [],
): Message[] {
  const sent: Message[] = [];
  for (let round = 0; round < 1000; round++) {
    const inflight: Message[] = [];
    for (const { rn, storage } of nodes.values()) {
      if (!rn.hasReady()) continue;
      const rd = rn.ready();
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      storage.append(rd.entries);
      inflight.push(...rd.messages);
      reads.push(...rd.readStates);
      rn.advance();
    }
    if (inflight.length === 0) return sent;
    for (const m of inflight) {
      sent.push(m);
      const to = nodes.get(m.to);
      if (drop(m) || to === undefined) continue;
      try {
        to.rn.step(m);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
      }
    }
  }
  throw new Error('cluster did not stabilize');
}

/** A three-node cluster with node 1 leading and a committed, applied proposal. */
function quiescedCluster(options: Partial<ConfigOptions> = {}): Cluster {
  const nodes = newCluster(options);
  nodes.get(1)!.rn.campaign();
  stabilize(nodes);
  nodes.get(1)!.rn.propose(new Uint8Array([1]));
  stabilize(nodes);
  for (const { rn } of nodes.values()) {
    expect(raftOf(rn).raftLog.applied).toBe(raftOf(rn).raftLog.committed);
    expect(rn.hasReady()).toBe(false);
  }
  return nodes;
}

function roleOf(rn: RawNode): QuiescedRole {
  return { term: raftOf(rn).term, lead: raftOf(rn).lead };
}

/** Releases node `id` and rebuilds it from its storage in its recorded role. */
function rebuild(
  nodes: Cluster, id: number, options: Partial<ConfigOptions> = {}, role?: QuiescedRole,
): RawNode {
  const old = nodes.get(id)!;
  const applied = raftOf(old.rn).raftLog.applied;
  const rn = RawNode.restoreQuiesced({ ...config(id, old.storage, options), applied },
    role ?? roleOf(old.rn));
  nodes.set(id, { rn, storage: old.storage });
  return rn;
}

describe('RawNode.restoreQuiesced', () => {
  it('restores a leader in the same term, with no election, entry or Ready', () => {
    const nodes = quiescedCluster();
    const before = raftOf(nodes.get(1)!.rn);
    const rn = rebuild(nodes, 1);
    const r = raftOf(rn);
    expect(r.state).toBe(StateType.StateLeader);
    expect([r.term, r.vote, r.lead]).toEqual([before.term, 1, 1]);
    expect(r.raftLog.lastIndex()).toBe(before.raftLog.lastIndex());
    expect(rn.hasReady()).toBe(false);
    for (const id of VOTERS) {
      const pr = r.trk.progress.get(id)!;
      expect([pr.state, pr.match]).toEqual([ProgressState.StateReplicate, r.raftLog.lastIndex()]);
    }
  });

  it('a restored leader commits new proposals and heartbeats like the original', () => {
    const nodes = quiescedCluster();
    const term = raftOf(nodes.get(1)!.rn).term;
    for (const id of VOTERS) rebuild(nodes, id);
    const leader = nodes.get(1)!.rn;
    leader.propose(new Uint8Array([2]));
    const sent = stabilize(nodes);
    // Replicate state: the append goes out at once, without a probe round.
    expect(sent.filter((m) => m.type === MessageType.MsgApp && m.entries.length === 1).length)
      .toBe(2);
    for (const { rn } of nodes.values()) {
      expect(raftOf(rn).term).toBe(term);
      expect(raftOf(rn).raftLog.committed).toBe(raftOf(leader).raftLog.lastIndex());
    }
    leader.tick();
    const beats = stabilize(nodes).filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(beats.map((m) => m.to).sort()).toEqual([2, 3]);
  });

  it('a lagging follower restarts in probe and catches up', () => {
    const nodes = quiescedCluster();
    // Node 3 misses an entry, then the leader quiesces with it in the lagging set.
    nodes.get(1)!.rn.propose(new Uint8Array([3]));
    stabilize(nodes, (m) => m.to === 3 || m.from === 3);
    const leader = rebuild(nodes, 1, {}, { ...roleOf(nodes.get(1)!.rn), lagging: [3] });
    expect(raftOf(leader).trk.progress.get(3)!.state).toBe(ProgressState.StateProbe);
    expect(raftOf(leader).trk.progress.get(2)!.state).toBe(ProgressState.StateReplicate);
    leader.tick();
    stabilize(nodes);
    expect(raftOf(nodes.get(3)!.rn).raftLog.lastIndex()).toBe(raftOf(leader).raftLog.lastIndex());
  });

  it('a restored leader\'s reads are confirmed only by acks of its own heartbeats', () => {
    const nodes = quiescedCluster();
    const leader = nodes.get(1)!.rn;
    // Two read rounds; node 3's acknowledgements are held back (delayed in the network).
    const held: Message[] = [];
    const reads: ReadState[] = [];
    for (const ctx of [7, 8]) {
      leader.readIndex(new Uint8Array([ctx]));
      stabilize(nodes, (m) => {
        const hold = m.type === MessageType.MsgHeartbeatResp && m.from === 3;
        if (hold) held.push(m);
        return hold;
      }, reads);
    }
    expect(reads.map((s) => s.requestCtx[0])).toEqual([7, 8]);
    const role = { ...roleOf(leader), readPosition: raftOf(leader).readOnly.position };
    expect(role.readPosition).toBe(2);
    // Released and rebuilt in the same term, then cut off from both followers: no fresh
    // acknowledgement exists for a new read, only node 3's held ones from the old queue.
    const restored = rebuild(nodes, 1, {}, role);
    restored.readIndex(new Uint8Array([9]));
    reads.length = 0;
    const cutOff = (m: Message): boolean => m.from !== m.to && (m.from === 1 || m.to === 1);
    stabilize(nodes, cutOff, reads);
    for (const m of held) restored.step(m);
    stabilize(nodes, cutOff, reads);
    expect(reads).toEqual([]);
    // Once the followers answer the restored leader's own round, the read is confirmed.
    restored.tick();
    stabilize(nodes, () => false, reads);
    expect(reads.map((s) => s.requestCtx[0])).toEqual([9]);
  });

  it('a restored follower follows its leader and forwards proposals', () => {
    const nodes = quiescedCluster();
    const rn = rebuild(nodes, 2);
    expect([raftOf(rn).state, raftOf(rn).lead, raftOf(rn).vote])
      .toEqual([StateType.StateFollower, 1, 1]);
    expect(rn.hasReady()).toBe(false);
    rn.propose(new Uint8Array([4]));
    stabilize(nodes);
    expect(raftOf(nodes.get(1)!.rn).raftLog.committed).toBe(raftOf(rn).raftLog.committed);
    expect(raftOf(rn).raftLog.committed).toBe(raftOf(rn).raftLog.lastIndex());
  });

  it('restored followers elect a new leader when the restored leader is gone', () => {
    const nodes = quiescedCluster();
    const term = raftOf(nodes.get(1)!.rn).term;
    rebuild(nodes, 2);
    rebuild(nodes, 3);
    nodes.delete(1);
    for (let i = 0; i < 40 && ![2, 3].some((id) => raftOf(nodes.get(id)!.rn).lead === id); i++) {
      for (const { rn } of nodes.values()) rn.tick();
      stabilize(nodes);
    }
    const leaders = [2, 3]
      .filter((id) => raftOf(nodes.get(id)!.rn).state === StateType.StateLeader);
    expect(leaders.length).toBe(1);
    expect(raftOf(nodes.get(leaders[0]!)!.rn).term).toBe(term + 1);
  });

  it('a restored leader steps down by CheckQuorum when cut off', () => {
    const nodes = quiescedCluster();
    const leader = rebuild(nodes, 1);
    for (let i = 0; i < 10; i++) {
      leader.tick();
      stabilize(nodes, () => true);
    }
    expect(raftOf(leader).state).toBe(StateType.StateLeader);
    for (let i = 0; i < 10; i++) {
      leader.tick();
      stabilize(nodes, () => true);
    }
    expect(raftOf(leader).state).toBe(StateType.StateFollower);
  });

  it('a restored leader keeps its lease: CheckQuorum passes with answering followers', () => {
    const nodes = quiescedCluster();
    const leader = rebuild(nodes, 1);
    for (let i = 0; i < 30; i++) {
      leader.tick();
      stabilize(nodes);
    }
    expect(raftOf(leader).state).toBe(StateType.StateLeader);
  });

  it('restores a leaderless follower as a plain rebuilt node', () => {
    const nodes = quiescedCluster();
    const rn = rebuild(nodes, 2, {}, { term: raftOf(nodes.get(2)!.rn).term, lead: 0 });
    expect([raftOf(rn).state, raftOf(rn).lead]).toEqual([StateType.StateFollower, 0]);
  });

  it('fails an assertion on a wrong record', () => {
    const nodes = quiescedCluster();
    const term = raftOf(nodes.get(1)!.rn).term;
    // Wrong term: the storage holds another one.
    expect(() => rebuild(nodes, 1, {}, { term: term + 1, lead: 1 })).toThrow(AssertionError);
    // A follower recorded as leader: it voted for node 1, not itself.
    expect(() => rebuild(nodes, 2, {}, { term, lead: 2 })).toThrow(AssertionError);
    // Lagging followers on a follower's record.
    expect(() => rebuild(nodes, 2, {}, { term, lead: 1, lagging: [3] })).toThrow(AssertionError);
  });

  it('fails an assertion on a leader that had not committed its whole log', () => {
    const nodes = quiescedCluster();
    nodes.get(1)!.rn.propose(new Uint8Array([5]));
    stabilize(nodes, (m) => m.type === MessageType.MsgAppResp && m.to === 1 && m.from !== 1);
    const r = raftOf(nodes.get(1)!.rn);
    expect(r.raftLog.committed).toBeLessThan(r.raftLog.lastIndex());
    expect(() => rebuild(nodes, 1)).toThrow(AssertionError);
  });

  it('fails an assertion with asynchronous storage writes', () => {
    const nodes = quiescedCluster();
    expect(() => rebuild(nodes, 1, { asyncStorageWrites: true })).toThrow(AssertionError);
  });
});

describe('RawNode.ticksWithoutAction and tickIdle', () => {
  /** Snapshot of everything a tick may change. */
  function clockState(rn: RawNode): unknown {
    const r = raftOf(rn);
    return [r.state, r.term, r.lead, r.electionElapsed, r.heartbeatElapsed, r.msgs.length,
      r.msgsAfterAppend.length, rn.hasReady()];
  }

  it('idle ticks taken at once equal as many tick() calls, on leader and follower', () => {
    for (const id of [1, 2]) {
      const a = quiescedCluster();
      const b = quiescedCluster();
      for (let round = 0; round < 12; round++) {
        const na = a.get(id)!.rn;
        const nb = b.get(id)!.rn;
        const idle = na.ticksWithoutAction();
        expect(nb.ticksWithoutAction()).toBe(idle);
        for (let i = 0; i < idle; i++) na.tick();
        nb.tickIdle(idle);
        expect(clockState(nb)).toEqual(clockState(na));
        expect(na.hasReady()).toBe(false);
        // The next tick acts (or, on a follower, would: it is past its timeout).
        na.tick();
        nb.tick();
        expect(clockState(nb)).toEqual(clockState(na));
        stabilize(a);
        stabilize(b);
      }
    }
  });

  it('a tick past the credit is refused', () => {
    const nodes = quiescedCluster();
    const rn = nodes.get(1)!.rn;
    expect(() => rn.tickIdle(rn.ticksWithoutAction() + 1)).toThrow(AssertionError);
    expect(() => rn.tickIdle(-1)).toThrow(AssertionError);
  });
});
