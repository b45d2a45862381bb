/**
 * Unit tests of the Raft state machine and RawNode beyond the etcd corpus: election safety,
 * one vote per term, commitment by counting only for current-term entries, leader transfer,
 * ReadIndex, learners.
 */
import { describe, expect, it } from 'vitest';
import { ReadOnlyOption, type ConfigOptions } from '../../src/raft/config.js';
import { ProposalDroppedError } from '../../src/raft/errors.js';
import {
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  MessageType,
  isEmptyHardState,
  newMessage,
  type Entry,
  type Message,
} from '../../src/raft/raftpb.js';
import { LogLevel, silentLogger } from '../../src/raft/logger.js';
import { SeededRandom } from '../../src/raft/rand.js';
import { floatsOf } from '../../src/util/index.js';
import { StateType } from '../../src/raft/raft_state.js';
import { RawNode, SnapshotStatus } from '../../src/raft/rawnode.js';
import type { ReadState } from '../../src/raft/read_only.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { raftOf } from '../../src/raft/rawnode_internal.js';

interface TestNode {
  rn: RawNode;
  storage: MemoryStorage;
}

const random = new SeededRandom(42);

function newNode(
  id: number,
  voters: number[],
  learners: number[] = [],
  options: Partial<ConfigOptions> = {},
  entries: Entry[] = [],
  term = 0,
): TestNode {
  const storage = new MemoryStorage();
  storage.snap.metadata.confState = {
    voters,
    learners,
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  if (entries.length > 0) storage.append(entries);
  if (term > 0) storage.setHardState({ term, vote: 0, commit: 0 });
  const rn = new RawNode({
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: Number.POSITIVE_INFINITY,
    maxInflightMsgs: 256,
    random,
    ...options,
  });
  return { rn, storage };
}

function cluster(
  ids: number[],
  learners: number[] = [],
  options: Partial<ConfigOptions> = {},
): Map<number, TestNode> {
  const nodes = new Map<number, TestNode>();
  for (const id of [...ids, ...learners]) nodes.set(id, newNode(id, ids, learners, options));
  return nodes;
}

/** What a stabilize run saw: every message sent, and the read states each node got. */
interface Trace {
  sent: Message[];
  readStates: Map<number, ReadState[]>;
}

/** Handles Readys and delivers messages until nothing moves. */
function stabilize(
  nodes: Map<number, TestNode>,
  drop: (m: Message) => boolean = () => false,
): Trace {
  const trace: Trace = { sent: [], readStates: new Map() };
  for (let round = 0; round < 1000; round++) {
    const inflight: Message[] = [];
    for (const [id, { rn, storage }] of nodes) {
      if (!rn.hasReady()) continue;
      const rd = rn.ready();
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      inflight.push(...rd.messages);
      if (rd.readStates.length > 0) {
        trace.readStates.set(id, [...(trace.readStates.get(id) ?? []), ...rd.readStates]);
      }
      rn.advance();
    }
    if (inflight.length === 0) return trace;
    for (const m of inflight) {
      trace.sent.push(m);
      if (drop(m)) continue;
      const to = nodes.get(m.to);
      if (to === undefined) continue;
      try {
        to.rn.step(m);
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
      }
    }
  }
  throw new Error('cluster did not stabilize');
}

function leaders(nodes: Map<number, TestNode>): number[] {
  return [...nodes.entries()]
    .filter(([, n]) => raftOf(n.rn).state === StateType.StateLeader)
    .map(([id]) => id);
}

describe('elections', () => {
  it('elects exactly one leader per term, even with competing candidates', () => {
    const nodes = cluster([1, 2, 3, 4, 5]);
    const leadersByTerm = new Map<number, Set<number>>();
    for (let step = 0; step < 200; step++) {
      for (const n of nodes.values()) n.rn.tick();
      // Drop a third of the messages to provoke split votes and retries.
      let k = step;
      stabilize(nodes, () => ++k % 3 === 0);
      for (const [id, n] of nodes) {
        if (raftOf(n.rn).state !== StateType.StateLeader) continue;
        const set = leadersByTerm.get(raftOf(n.rn).term) ?? new Set<number>();
        set.add(id);
        leadersByTerm.set(raftOf(n.rn).term, set);
      }
    }
    expect(leadersByTerm.size).toBeGreaterThan(0);
    for (const set of leadersByTerm.values()) expect(set.size).toBe(1);
  });

  it('grants at most one vote per term', () => {
    const nodes = cluster([1, 2, 3]);
    const n1 = nodes.get(1)!.rn;
    const vote = (from: number): Message =>
      newMessage(MessageType.MsgVote, { from, to: 1, term: 1, index: 0, logTerm: 0 });
    n1.step(vote(2));
    n1.step(vote(3));
    n1.step(vote(2)); // a repeat of the vote already cast is granted again
    const rd = n1.ready();
    const resps = rd.messages.filter((m) => m.type === MessageType.MsgVoteResp);
    expect(resps.map((m) => [m.to, m.reject])).toEqual([
      [2, false],
      [3, true],
      [2, false],
    ]);
    expect(rd.hardState.vote).toBe(2);
  });

  it('campaign on a leader is a no-op', () => {
    const nodes = cluster([1]);
    const rn = nodes.get(1)!.rn;
    rn.campaign();
    stabilize(nodes);
    expect(raftOf(rn).state).toBe(StateType.StateLeader);
    const term = raftOf(rn).term;
    rn.campaign();
    expect(raftOf(rn).term).toBe(term);
    expect(raftOf(rn).state).toBe(StateType.StateLeader);
  });

  it('learners never campaign, by timeout or on request', () => {
    const nodes = cluster([1, 2], [3]);
    const learner = nodes.get(3)!.rn;
    for (let i = 0; i < 100; i++) learner.tick();
    learner.campaign();
    expect(raftOf(learner).state).toBe(StateType.StateFollower);
    expect(raftOf(learner).term).toBe(0);
    expect(learner.hasReady()).toBe(false);
  });

  it('a pre-vote does not change the term of its receiver', () => {
    const nodes = cluster([1, 2, 3], [], { preVote: true });
    const n2 = nodes.get(2)!.rn;
    n2.step(newMessage(MessageType.MsgPreVote, { from: 1, to: 2, term: 5, index: 0, logTerm: 0 }));
    expect(raftOf(n2).term).toBe(0);
    const rd = n2.ready();
    expect(rd.messages[0]).toMatchObject({
      type: MessageType.MsgPreVoteResp,
      term: 5,
      reject: false,
    });
  });
});

describe('commitment', () => {
  it('commits entries of earlier terms only through an entry of the current term', () => {
    // Node 1 holds two term-1 entries and becomes leader at term 2.
    const ents: Entry[] = [
      { term: 1, index: 1, type: EntryType.EntryNormal, data: EMPTY_BYTES },
      { term: 1, index: 2, type: EntryType.EntryNormal, data: EMPTY_BYTES },
    ];
    const { rn } = newNode(1, [1, 2, 3], [], {}, ents, 1);
    const r = raftOf(rn);
    r.becomeCandidate();
    r.becomeLeader();
    expect(r.term).toBe(2);
    expect(r.raftLog.lastIndex()).toBe(3);
    // The leader's own log is durable, and follower 2 acknowledges index 2 (a term-1 entry):
    // a quorum holds index 2, but counting replicas must not commit an older term's entry.
    r.trk.progress.get(1)!.maybeUpdate(3);
    r.step(newMessage(MessageType.MsgAppResp, { from: 2, to: 1, term: 2, index: 2 }));
    expect(r.raftLog.committed).toBe(0);
    // Once the quorum holds the term-2 entry, everything up to it commits.
    r.step(newMessage(MessageType.MsgAppResp, { from: 2, to: 1, term: 2, index: 3 }));
    expect(r.raftLog.committed).toBe(3);
  });

  it('replicates and commits proposals in a three-node cluster', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    const data = new Uint8Array([1, 2, 3]);
    nodes.get(1)!.rn.propose(data);
    stabilize(nodes);
    for (const n of nodes.values()) {
      expect(raftOf(n.rn).raftLog.committed).toBe(2);
      const last = n.storage.ents[n.storage.ents.length - 1]!;
      expect(last.data).toBe(data); // payloads are never copied
    }
  });

  it('drops proposals without a leader', () => {
    const nodes = cluster([1, 2, 3]);
    expect(() => nodes.get(2)!.rn.propose(new Uint8Array([1]))).toThrow(ProposalDroppedError);
  });
});

describe('leader transfer', () => {
  it('hands leadership to an up-to-date follower', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    expect(leaders(nodes)).toEqual([1]);
    nodes.get(1)!.rn.transferLeader(2);
    stabilize(nodes);
    expect(leaders(nodes)).toEqual([2]);
    expect(raftOf(nodes.get(1)!.rn).lead).toBe(2);
    expect(raftOf(nodes.get(2)!.rn).term).toBe(2);
  });

  it('drops proposals while a transfer is in progress', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    const leader = nodes.get(1)!.rn;
    leader.propose(new Uint8Array([9])); // 3 falls behind: its messages are never delivered
    stabilize(nodes, (m) => m.to === 3);
    leader.transferLeader(3);
    expect(raftOf(leader).leadTransferee).toBe(3);
    expect(() => leader.propose(new Uint8Array([1]))).toThrow(ProposalDroppedError);
    // The transfer is abandoned after an election timeout.
    for (let i = 0; i < 10; i++) leader.tick();
    expect(raftOf(leader).leadTransferee).toBe(0);
  });
});

describe('ReadIndex', () => {
  it('answers a safe read only after a heartbeat quorum round', () => {
    const nodes = cluster([1, 2, 3]);
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    const leader = nodes.get(1)!.rn;
    const ctx = new Uint8Array([7, 7]);
    leader.readIndex(ctx);
    // Without heartbeat responses there is no answer.
    const cut = stabilize(nodes, (m) => m.type === MessageType.MsgHeartbeatResp);
    expect(cut.sent.some((m) => m.type === MessageType.MsgHeartbeat)).toBe(true);
    expect(cut.readStates.size).toBe(0);
    // A second read with a working network confirms both, in order.
    const ctx2 = new Uint8Array([8]);
    leader.readIndex(ctx2);
    const trace = stabilize(nodes);
    expect(trace.readStates.get(1)).toEqual([
      { index: 1, requestCtx: ctx },
      { index: 1, requestCtx: ctx2 },
    ]);
  });

  it('holds reads until the new leader commits an entry of its term', () => {
    const nodes = cluster([1, 2, 3]);
    const leader = nodes.get(1)!.rn;
    leader.campaign();
    // Elect, but do not let the empty entry of the new term commit.
    stabilize(nodes, (m) => m.type === MessageType.MsgAppResp);
    expect(raftOf(leader).state).toBe(StateType.StateLeader);
    leader.readIndex(new Uint8Array([1]));
    expect(raftOf(leader).pendingReadIndexMessages.length).toBe(1);
    leader.tick(); // a heartbeat round makes the leader resend the unacknowledged entry
    const trace = stabilize(nodes);
    expect(trace.readStates.get(1)).toEqual([{ index: 1, requestCtx: new Uint8Array([1]) }]);
    expect(raftOf(leader).pendingReadIndexMessages.length).toBe(0);
  });

  it('answers at once with a lease, and forwards from followers', () => {
    const nodes = cluster([1, 2, 3], [], {
      checkQuorum: true,
      readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased,
    });
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    const ctx = new Uint8Array([1]);
    nodes.get(2)!.rn.readIndex(ctx);
    const trace = stabilize(nodes);
    expect(trace.sent.filter((m) => m.type === MessageType.MsgHeartbeat)).toEqual([]);
    expect(trace.readStates.get(2)).toEqual([{ index: 1, requestCtx: ctx }]);
  });
});

describe('CheckQuorum and leases', () => {
  it('steps a leader down without an active quorum', () => {
    const nodes = cluster([1, 2, 3], [], { checkQuorum: true });
    const leader = nodes.get(1)!.rn;
    leader.campaign();
    stabilize(nodes);
    for (let i = 0; i < 20; i++) leader.tick(); // nothing delivered: followers look dead
    expect(raftOf(leader).state).toBe(StateType.StateFollower);
    expect(raftOf(leader).term).toBe(1);
  });

  it('ignores a higher-term vote within the lease, unless forced by a transfer', () => {
    const nodes = cluster([1, 2, 3], [], { checkQuorum: true });
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    const follower = nodes.get(2)!.rn;
    follower.step(
      newMessage(MessageType.MsgVote, { from: 3, to: 2, term: 5, index: 1, logTerm: 1 }),
    );
    expect(raftOf(follower).term).toBe(1);
    expect(follower.hasReady()).toBe(false);
  });

  it('lets a follower that forgot its leader vote at once', () => {
    const nodes = cluster([1, 2, 3], [], { checkQuorum: true });
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    const follower = nodes.get(2)!.rn;
    follower.forgetLeader();
    expect(raftOf(follower).lead).toBe(0);
    follower.step(
      newMessage(MessageType.MsgVote, { from: 3, to: 2, term: 2, index: 1, logTerm: 1 }),
    );
    expect(raftOf(follower).term).toBe(2);
    expect(raftOf(follower).vote).toBe(3);
  });
});

describe('RawNode', () => {
  it('runs a single-voter group through propose, ready and advance', () => {
    const { rn, storage } = newNode(1, [1]);
    rn.campaign();
    for (let i = 0; i < 3 && rn.hasReady(); i++) {
      const rd = rn.ready();
      storage.append(rd.entries);
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      rn.advance();
    }
    expect(raftOf(rn).state).toBe(StateType.StateLeader);
    rn.propose(new Uint8Array([42]));
    const rd = rn.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.mustSync).toBe(true);
    storage.append(rd.entries);
    rn.advance();
    const rd2 = rn.ready();
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([2]);
    rn.advance();
    expect(rn.hasReady()).toBe(false);
    expect(rn.basicStatus().applied).toBe(2);
  });

  it('acknowledges storage on advance, once, and refuses a second Ready before it', () => {
    const { rn, storage } = newNode(1, [1]);
    rn.campaign();
    for (let i = 0; i < 3 && rn.hasReady(); i++) {
      const rd = rn.ready();
      storage.append(rd.entries);
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      rn.advance();
    }
    rn.propose(new Uint8Array([1]));
    const rd = rn.ready();
    storage.append(rd.entries);
    rn.advance();
    // The append ack made the entry stable: the unstable log is empty.
    expect(raftOf(rn).raftLog.unstable.entries.length).toBe(0);
    const rd2 = rn.ready();
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([2]);
    // Only the apply ack is pending: a second Ready must still wait for advance().
    expect(() => rn.ready()).toThrow(/without call to Advance/);
    rn.advance();
    expect(rn.basicStatus().applied).toBe(2);
    rn.advance(); // nothing left to acknowledge: a no-op
    expect(rn.basicStatus().applied).toBe(2);
  });

  it('ignores the storage ack of a Ready whose term was overtaken during advance', () => {
    const lines: string[] = [];
    const logger = {
      ...silentLogger, level: LogLevel.Info, info: (t: string) => void lines.push(t),
    };
    // A single voter with PreVote that follows some other leader at term 1.
    const { rn } = newNode(1, [1], [], { preVote: true, logger }, [], 1);
    const app = newMessage(MessageType.MsgApp, { from: 2, to: 1, term: 1, index: 0, logTerm: 0 });
    app.entries = [{ term: 1, index: 1, type: EntryType.EntryNormal, data: new Uint8Array([7]) }];
    rn.step(app);
    rn.campaign(); // a pre-vote round: the term stays 1 until the self-vote is stepped
    const rd = rn.ready();
    expect([rd.entries.length, raftOf(rn).term]).toEqual([1, 1]);
    lines.length = 0;
    // Stepping the self pre-vote wins the pre-election and starts an election at term 2; the
    // append ack of term 1 that follows is stale: the entry stays unstable.
    rn.advance();
    expect(raftOf(rn).term).toBe(2);
    expect(lines).toContain(
      '1 [term: 2] ignored entry appends from a MsgStorageAppendResp message with lower term ' +
        '[term: 1]',
    );
    expect(raftOf(rn).raftLog.unstable.entries.length).toBe(1);
  });

  it('tickQuiesced advances only the election clock', () => {
    const nodes = cluster([1, 2, 3]);
    const rn = nodes.get(2)!.rn;
    for (let i = 0; i < 100; i++) rn.tickQuiesced();
    expect(raftOf(rn).electionElapsed).toBe(100);
    expect(raftOf(rn).state).toBe(StateType.StateFollower);
    expect(rn.hasReady()).toBe(false);
  });
});

describe('configuration', () => {
  it('rejects invalid configurations with etcd texts', () => {
    expect(() => newNode(0, [1])).toThrow('cannot use none as id');
    expect(() => newNode(1, [1], [], { heartbeatTick: 0 })).toThrow(
      'heartbeat tick must be greater than 0',
    );
    expect(() => newNode(1, [1], [], { electionTick: 1, heartbeatTick: 1 })).toThrow(
      'election tick must be greater than heartbeat tick',
    );
    expect(() => newNode(1, [1], [], { maxInflightMsgs: 0 })).toThrow(
      'max inflight messages must be greater than 0',
    );
    expect(() =>
      newNode(1, [1], [], { readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased }),
    ).toThrow('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  });

  it('bootstraps an empty storage and campaigns at once', () => {
    const storage = new MemoryStorage();
    const rn = new RawNode({ id: 1, storage, random, maxInflightMsgs: 16 });
    rn.bootstrap([{ id: 1 }]);
    const rd = rn.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 0, commit: 1 });
    expect(rd.entries.map((e) => e.type)).toEqual([EntryType.EntryConfChange]);
    expect(rd.committedEntries.length).toBe(1);
    storage.append(rd.entries);
    storage.setHardState(rd.hardState);
    rn.advance();
    rn.campaign();
    expect(raftOf(rn).state).toBe(StateType.StateCandidate);
    rn.ready();
    rn.advance(); // the self-vote counts once it is durable
    expect(raftOf(rn).state).toBe(StateType.StateLeader);
    expect(() => new RawNode({ id: 1, storage, random }).bootstrap([{ id: 1 }])).toThrow(
      "can't bootstrap a nonempty Storage",
    );
  });

  it('steps a removed leader down with stepDownOnRemoval', () => {
    const nodes = cluster([1, 2, 3], [], { stepDownOnRemoval: true });
    const leader = nodes.get(1)!.rn;
    leader.campaign();
    stabilize(nodes);
    leader.applyConfChange({
      type: ConfChangeType.ConfChangeRemoveNode,
      nodeId: 1,
      context: EMPTY_BYTES,
      id: 0,
    });
    expect(raftOf(leader).state).toBe(StateType.StateFollower);
    expect(raftOf(leader).trk.progress.has(1)).toBe(false);
    expect(() => leader.propose(new Uint8Array([1]))).toThrow(ProposalDroppedError);
  });

  it('refuses a second conf change while one is pending', () => {
    const nodes = cluster([1, 2, 3]);
    const leader = nodes.get(1)!.rn;
    leader.campaign();
    stabilize(nodes);
    const add = (id: number) => ({
      type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id, context: EMPTY_BYTES, id: 0,
    });
    leader.proposeConfChange(add(4));
    leader.proposeConfChange(add(5));
    const rd = leader.ready();
    // The second change is replaced by an empty normal entry.
    expect(rd.entries.map((e) => e.type)).toEqual([
      EntryType.EntryConfChange,
      EntryType.EntryNormal,
    ]);
  });

  it('ignores MsgTimeoutNow on a learner', () => {
    const nodes = cluster([1, 2], [3]);
    const learner = nodes.get(3)!.rn;
    learner.step(newMessage(MessageType.MsgTimeoutNow, { from: 1, to: 3, term: 1 }));
    expect(raftOf(learner).state).toBe(StateType.StateFollower);
    expect(raftOf(learner).term).toBe(1);
  });
});

describe('snapshots and flow control', () => {
  it('sends a snapshot to a follower behind the compacted log, never throwing', () => {
    const nodes = cluster([1, 2, 3]);
    const leader = nodes.get(1)!;
    leader.rn.campaign();
    stabilize(nodes);
    for (let i = 0; i < 5; i++) {
      leader.rn.propose(new Uint8Array([i]));
      stabilize(nodes, (m) => m.to === 3);
    }
    const applied = raftOf(leader.rn).raftLog.applied;
    expect(leader.storage.createSnapshot(applied, null, EMPTY_BYTES)).not.toBeInstanceOf(Error);
    expect(leader.storage.compact(applied)).toBeNull();
    // 3 comes back: the heartbeat response reveals it is behind the compacted log.
    leader.rn.tick();
    const trace = stabilize(nodes);
    expect(trace.sent.some((m) => m.type === MessageType.MsgSnap && m.to === 3)).toBe(true);
    leader.rn.reportSnapshot(3, SnapshotStatus.SnapshotFinish);
    leader.rn.tick();
    stabilize(nodes);
    expect(raftOf(nodes.get(3)!.rn).raftLog.committed).toBe(raftOf(leader.rn).raftLog.committed);
    expect(leader.rn.status().progress.get(3)!.match).toBe(raftOf(leader.rn).raftLog.lastIndex());
  });

  it('limits appends in flight and recovers after reportUnreachable', () => {
    const nodes = cluster([1, 2, 3], [], { maxInflightMsgs: 2 });
    const leader = nodes.get(1)!.rn;
    leader.campaign();
    stabilize(nodes);
    for (let i = 0; i < 5; i++) leader.propose(new Uint8Array([i]));
    const rd = leader.ready();
    leader.advance();
    // One append per proposal while the window has room, then the window is full.
    expect(rd.messages.filter((m) => m.to === 2 && m.type === MessageType.MsgApp).length).toBe(2);
    leader.reportUnreachable(2);
    expect(leader.status().progress.get(2)!.state).toBe(0 /* StateProbe */);
    leader.tick();
    stabilize(nodes);
    expect(leader.status().progress.get(2)!.match).toBe(raftOf(leader).raftLog.lastIndex());
  });
});

describe('async storage writes', () => {
  it('hands storage work out as local messages', () => {
    const { rn } = newNode(1, [1], [], { asyncStorageWrites: true });
    rn.campaign();
    const rd = rn.ready();
    const append = rd.messages.find((m) => m.type === MessageType.MsgStorageAppend)!;
    expect(append.responses.map((m) => m.type)).toEqual([MessageType.MsgVoteResp]);
    expect(() => rn.advance()).toThrow('Advance must not be called when using AsyncStorageWrites');
    for (const r of append.responses) rn.step(r);
    expect(raftOf(rn).state).toBe(StateType.StateLeader);
  });
});

describe('randomized safety', () => {
  /** The schedule's own seeded generator (apart from the Raft source), as floats. */
  const lcg = (seed: number): (() => number) => floatsOf(new SeededRandom(seed ^ 0x5c4ed));

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`keeps one leader per term and agreeing logs under faults (seed ${seed})`, () => {
      const next = lcg(seed);
      const options = { preVote: seed % 2 === 0, checkQuorum: seed % 3 !== 0 };
      const nodes = cluster([1, 2, 3, 4, 5], [], options);
      const applied = new Map<number, { term: number; data: number }>();
      const leaderOfTerm = new Map<number, number>();
      let network: Message[] = [];
      let proposals = 0;
      for (let step = 0; step < 3000; step++) {
        const action = next();
        if (action < 0.3) {
          for (const n of nodes.values()) n.rn.tick();
        } else if (action < 0.4) {
          for (const n of nodes.values()) {
            if (raftOf(n.rn).state !== StateType.StateLeader) continue;
            try {
              n.rn.propose(new Uint8Array([proposals++ % 256]));
            } catch (err) {
              if (!(err instanceof ProposalDroppedError)) throw err;
            }
          }
        } else if (action < 0.41) {
          const leader = [...nodes.values()].find(
            (n) => raftOf(n.rn).state === StateType.StateLeader,
          );
          leader?.rn.transferLeader(1 + Math.floor(next() * 5));
        }
        // Handle every Ready; check what gets applied.
        for (const [id, { rn, storage }] of nodes) {
          if (!rn.hasReady()) continue;
          const rd = rn.ready();
          if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
          storage.append(rd.entries);
          for (const e of rd.committedEntries) {
            const seen = applied.get(e.index);
            const mine = { term: e.term, data: e.data.length > 0 ? e.data[0]! : -1 };
            if (seen === undefined) applied.set(e.index, mine);
            else expect([id, e.index, mine]).toEqual([id, e.index, seen]);
          }
          network.push(...rd.messages);
          rn.advance();
        }
        for (const [id, n] of nodes) {
          if (raftOf(n.rn).state !== StateType.StateLeader) continue;
          const prev = leaderOfTerm.get(raftOf(n.rn).term);
          expect(prev === undefined || prev === id).toBe(true);
          leaderOfTerm.set(raftOf(n.rn).term, id);
        }
        // Deliver a random part of the network, dropping, duplicating and reordering some.
        const keep: Message[] = [];
        for (const m of network) {
          const r = next();
          if (r < 0.1) continue; // dropped
          if (r < 0.3) {
            keep.push(m); // delayed
            continue;
          }
          const to = nodes.get(m.to);
          if (to === undefined) continue;
          try {
            to.rn.step(m);
            if (r > 0.97) to.rn.step(m); // duplicated
          } catch (err) {
            if (!(err instanceof ProposalDroppedError)) throw err;
          }
        }
        network = keep.reverse();
      }
      // The faults must have caused many elections, and the cluster must still make progress.
      expect(leaderOfTerm.size).toBeGreaterThan(5);
      expect(applied.size).toBeGreaterThan(100);
    });
  }
});

describe('leader transfer corner cases', () => {
  function elected(options: Partial<ConfigOptions> = {}): Map<number, TestNode> {
    const nodes = cluster([1, 2, 3], [], options);
    nodes.get(1)!.rn.campaign();
    stabilize(nodes);
    return nodes;
  }

  it('catches a slow transferee up first, then sends MsgTimeoutNow', () => {
    const nodes = elected();
    const leader = nodes.get(1)!.rn;
    leader.propose(new Uint8Array([1]));
    stabilize(nodes, (m) => m.to === 3 || m.from === 3);
    leader.transferLeader(3);
    expect(raftOf(leader).leadTransferee).toBe(3);
    const trace = stabilize(nodes);
    const appIdx = trace.sent.findIndex((m) => m.type === MessageType.MsgApp && m.to === 3);
    const nowIdx = trace.sent.findIndex((m) => m.type === MessageType.MsgTimeoutNow);
    expect(appIdx).toBeGreaterThanOrEqual(0);
    expect(nowIdx).toBeGreaterThan(appIdx);
    expect(leaders(nodes)).toEqual([3]);
  });

  it('transfers to a follower that first needs a snapshot', () => {
    const nodes = elected();
    const leader = nodes.get(1)!;
    leader.rn.propose(new Uint8Array([1]));
    stabilize(nodes, (m) => m.to === 3 || m.from === 3);
    const applied = raftOf(leader.rn).raftLog.applied;
    leader.storage.createSnapshot(applied, null, EMPTY_BYTES);
    leader.storage.compact(applied);
    leader.rn.transferLeader(3);
    const trace = stabilize(nodes);
    expect(trace.sent.some((m) => m.type === MessageType.MsgSnap && m.to === 3)).toBe(true);
    // The snapshot is reported applied; the next append response completes the transfer.
    leader.rn.reportSnapshot(3, SnapshotStatus.SnapshotFinish);
    leader.rn.tick();
    stabilize(nodes);
    expect(leaders(nodes)).toEqual([3]);
  });

  it('ignores transfers to itself and to unknown nodes', () => {
    const nodes = elected();
    const leader = nodes.get(1)!.rn;
    leader.transferLeader(1);
    expect(raftOf(leader).leadTransferee).toBe(0);
    leader.transferLeader(9);
    expect(raftOf(leader).leadTransferee).toBe(0);
    stabilize(nodes);
    expect(leaders(nodes)).toEqual([1]);
  });

  it('aborts a transfer whose transferee is removed', () => {
    const nodes = elected();
    const leader = nodes.get(1)!.rn;
    leader.propose(new Uint8Array([1]));
    stabilize(nodes, (m) => m.to === 3 || m.from === 3);
    leader.transferLeader(3);
    expect(raftOf(leader).leadTransferee).toBe(3);
    leader.applyConfChange({
      type: ConfChangeType.ConfChangeRemoveNode,
      nodeId: 3,
      context: EMPTY_BYTES,
      id: 0,
    });
    expect(raftOf(leader).leadTransferee).toBe(0);
  });

  it('switches, keeps or abandons a transfer in progress', () => {
    const nodes = elected();
    const leader = nodes.get(1)!.rn;
    leader.propose(new Uint8Array([1]));
    stabilize(nodes, (m) => m.to !== 1 && m.from === 1); // nobody catches up
    leader.transferLeader(3);
    expect(raftOf(leader).leadTransferee).toBe(3);
    leader.transferLeader(3); // same node: still in progress
    expect(raftOf(leader).leadTransferee).toBe(3);
    leader.transferLeader(2); // another node: the first transfer is aborted
    expect(raftOf(leader).leadTransferee).toBe(2);
    leader.transferLeader(1); // back to the leader itself: aborted
    expect(raftOf(leader).leadTransferee).toBe(0);
    expect(raftOf(leader).state).toBe(StateType.StateLeader);
  });

  it('lets a transferee campaign despite the lease of the old leader', () => {
    const nodes = elected({ checkQuorum: true });
    nodes.get(1)!.rn.transferLeader(2);
    stabilize(nodes);
    expect(leaders(nodes)).toEqual([2]);
    expect(raftOf(nodes.get(3)!.rn).lead).toBe(2);
  });
});
