/**
 * Bad input to a RawNode is refused with a typed error, or dropped as etcd drops it, and in
 * every case leaves the state machine as it was.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfChangeError,
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  RawNode,
  SeededRandom,
  StateType,
  StepLocalMsgError,
  StepPeerNotFoundError,
  decodeConfChangeV2,
  isEmptyHardState,
  newMessage,
  type ConfChangeV2,
  type Message,
} from '../../src/raft/index.js';
import { raftOf } from '../../src/raft/rawnode_internal.js';

type Cluster = Map<number, { rn: RawNode; storage: MemoryStorage }>;

function newCluster(ids: number[]): Cluster {
  const random = new SeededRandom(7);
  const nodes: Cluster = new Map();
  for (const id of ids) {
    const storage = new MemoryStorage();
    storage.snap.metadata.confState = {
      voters: ids, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
    };
    nodes.set(id, { rn: new RawNode({ id, storage, random, electionTick: 10 }), storage });
  }
  return nodes;
}

/** Persists, delivers and applies (conf changes included) until nothing moves. */
function stabilize(nodes: Cluster): void {
  for (let round = 0; round < 500; round++) {
    const inflight: Message[] = [];
    for (const { rn, storage } of nodes.values()) {
      if (!rn.hasReady()) continue;
      const rd = rn.ready();
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      storage.append(rd.entries);
      inflight.push(...rd.messages);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.EntryConfChangeV2) rn.applyConfChange(decodeConfChangeV2(e.data));
      }
      rn.advance();
    }
    if (inflight.length === 0) return;
    for (const m of inflight) nodes.get(m.to)?.rn.step(m);
  }
  throw new Error('cluster did not stabilize');
}

function electedCluster(): { nodes: Cluster; leader: RawNode } {
  const nodes = newCluster([1, 2, 3]);
  nodes.get(1)!.rn.campaign();
  stabilize(nodes);
  const leader = nodes.get(1)!.rn;
  expect(raftOf(leader).state).toBe(StateType.StateLeader);
  return { nodes, leader };
}

function snapshotOf(rn: RawNode): string {
  const s = rn.status();
  return JSON.stringify({
    hs: s.hardState, ss: s.softState, applied: s.applied, cfg: s.config.toString(),
    last: raftOf(rn).raftLog.lastIndex(),
  });
}

describe('bad input', () => {
  it('refuses local message types from the network with StepLocalMsgError', () => {
    const { leader } = electedCluster();
    const before = snapshotOf(leader);
    const hup = newMessage(MessageType.MsgHup, { from: 2, to: 1, term: raftOf(leader).term });
    expect(() => leader.step(hup)).toThrow(StepLocalMsgError);
    expect(snapshotOf(leader)).toBe(before);
  });

  it('refuses a response from a node outside the configuration with StepPeerNotFoundError', () => {
    const { leader } = electedCluster();
    const before = snapshotOf(leader);
    const resp = newMessage(MessageType.MsgAppResp,
      { from: 9, to: 1, term: raftOf(leader).term, index: 1 });
    expect(() => leader.step(resp)).toThrow(StepPeerNotFoundError);
    expect(snapshotOf(leader)).toBe(before);
  });

  it('drops a proposal while no leader is known', () => {
    const nodes = newCluster([1, 2, 3]);
    const follower = nodes.get(2)!.rn;
    const before = snapshotOf(follower);
    expect(() => follower.propose(new Uint8Array([1]))).toThrow(ProposalDroppedError);
    expect(snapshotOf(follower)).toBe(before);
  });

  it('refuses at apply time a conf change that removes every voter, leaving the config intact', () => {
    const { leader } = electedCluster();
    const removeAll: ConfChangeV2 = {
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [1, 2, 3].map((nodeId) => ({ type: ConfChangeType.ConfChangeRemoveNode, nodeId })),
      context: EMPTY_BYTES,
    };
    const config = raftOf(leader).trk.config.toString();
    expect(() => leader.applyConfChange(removeAll)).toThrow(ConfChangeError);
    expect(() => leader.applyConfChange(removeAll)).toThrow(/removed all voters/);
    expect(raftOf(leader).trk.config.toString()).toBe(config);
  });

  it('turns a conf change proposed while joint into an empty normal entry, as etcd does', () => {
    const { nodes, leader } = electedCluster();
    const enterJoint: ConfChangeV2 = {
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3 }],
      context: EMPTY_BYTES,
    };
    leader.proposeConfChange(enterJoint);
    stabilize(nodes);
    expect(raftOf(leader).trk.config.voters.isJoint).toBe(true);
    const jointConfig = raftOf(leader).trk.config.toString();

    leader.proposeConfChange({ ...enterJoint, changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: 4 }] });
    const last = raftOf(leader).raftLog.lastIndex();
    const entry = raftOf(leader).raftLog.entries(last, Number.POSITIVE_INFINITY);
    expect(Array.isArray(entry) && entry[0]!.type).toBe(EntryType.EntryNormal);
    expect(Array.isArray(entry) && entry[0]!.data.length).toBe(0);
    stabilize(nodes);
    expect(raftOf(leader).trk.config.toString()).toBe(jointConfig);
  });
});
