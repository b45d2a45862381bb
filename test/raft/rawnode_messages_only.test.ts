/**
 * RawNode's messages-only turn (`pendingReady` + `takeMessages`) against the full Ready
 * (`ready` + `advance`): two identical nodes fed the same inputs stay identical, and the
 * cheap path is offered only when a Ready would carry nothing but messages.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/rand.js';
import { StateType } from '../../src/raft/raft_state.js';
import { MessageType, newMessage, type ConfChange, type Message } from '../../src/raft/raftpb.js';
import { RawNode, ReadyKind } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';

interface Twin {
  node: RawNode;
  storage: MemoryStorage;
}

function newTwin(): Twin {
  const storage = new MemoryStorage();
  storage.snap.metadata.confState = {
    voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
  };
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 2,
    random: new SeededRandom(7) });
  return { node, storage };
}

/** The full Ready path: persist, then advance. */
function fullTurn(t: Twin): Message[] {
  if (!t.node.hasReady()) return [];
  const rd = t.node.ready();
  if (rd.entries.length > 0) t.storage.append(rd.entries);
  if (rd.hardState.term !== 0) t.storage.setHardState(rd.hardState);
  t.node.advance();
  return rd.messages;
}

/** The messages-only path where offered, else the full one. @returns the kind it took. */
function cheapTurn(t: Twin, out: Message[][]): ReadyKind {
  const kind = t.node.pendingReady();
  out.push(kind === ReadyKind.MessagesOnly ? t.node.takeMessages() : fullTurn(t));
  return kind;
}

/** A peer's answer to each of `messages` that needs one (votes granted, appends taken). */
function answers(messages: readonly Message[]): Message[] {
  const out: Message[] = [];
  for (const m of messages) {
    const base = { from: m.to, to: 1, term: m.term };
    if (m.type === MessageType.MsgVote) {
      out.push(newMessage(MessageType.MsgVoteResp, base));
    } else if (m.type === MessageType.MsgHeartbeat) {
      out.push(newMessage(MessageType.MsgHeartbeatResp, base));
    } else if (m.type === MessageType.MsgApp) {
      out.push(newMessage(MessageType.MsgAppResp,
        { ...base, index: m.index + m.entries.length }));
    }
  }
  return out;
}

describe('RawNode messages-only turns', () => {
  it('hand out what ready() would, and leave the node as ready() + advance() would', () => {
    const full = newTwin();
    const cheap = newTwin();
    const kinds = new Set<ReadyKind>();
    let inbox: Message[] = [];
    full.node.campaign();
    cheap.node.campaign();
    for (let turn = 0; turn < 60; turn++) {
      for (const m of inbox) {
        full.node.step({ ...m });
        cheap.node.step({ ...m });
      }
      if (turn % 3 === 0) {
        full.node.tick();
        cheap.node.tick();
      }
      if (turn === 20 || turn === 41) {
        full.node.propose(new Uint8Array([turn]));
        cheap.node.propose(new Uint8Array([turn]));
      }
      const sent = fullTurn(full);
      const taken: Message[][] = [];
      kinds.add(cheapTurn(cheap, taken));
      expect(taken[0]).toEqual(sent);
      expect(cheap.node.basicStatus()).toEqual(full.node.basicStatus());
      expect(cheap.node.hasReady()).toBe(full.node.hasReady());
      inbox = answers(sent);
    }
    expect(full.node.raftState).toBe(StateType.StateLeader);
    // All three kinds were seen: the comparison covered the cheap path and the fallback.
    expect([...kinds].sort()).toEqual([ReadyKind.None, ReadyKind.MessagesOnly, ReadyKind.Full]);
  });

  it('is not offered while a role, HardState, entry or commit is pending', () => {
    const t = newTwin();
    t.node.campaign();
    // A new term and vote, and the role change: a full Ready although messages are pending.
    expect(t.node.pendingReady()).toBe(ReadyKind.Full);
    fullTurn(t);
    expect(t.node.pendingReady()).toBe(ReadyKind.None);
    for (const m of [2, 3]) {
      t.node.step(newMessage(MessageType.MsgVoteResp, { from: m, to: 1,
        term: t.node.term }));
    }
    expect(t.node.raftState).toBe(StateType.StateLeader);
    expect(t.node.pendingReady()).toBe(ReadyKind.Full); // the leader's empty entry
  });
});

describe('RawNode check accessors', () => {
  it('hasPeer answers membership; lastIndexUpTo caps the last index', () => {
    const t = newTwin();
    expect([t.node.hasPeer(1), t.node.hasPeer(3), t.node.hasPeer(4)]).toEqual([true, true, false]);
    const last = t.storage.lastIndex();
    expect(t.node.lastIndexUpTo(Infinity)).toBe(last);
    expect(t.node.lastIndexUpTo(last + 5)).toBe(last);
    expect(t.node.lastIndexUpTo(0)).toBe(0);
  });

  it('hasPeer follows configuration changes, beyond the cached members too', () => {
    const t = newTwin();
    expect(t.node.hasPeer(0)).toBe(false);
    const change = (type: number, nodeId: number): void => {
      t.node.applyConfChange({ type, nodeId, context: new Uint8Array(0), id: 0 } as ConfChange);
    };
    change(0, 4); // ConfChangeAddNode
    expect([1, 2, 3, 4, 5].map((id) => t.node.hasPeer(id)))
      .toEqual([true, true, true, true, false]);
    change(1, 2); // ConfChangeRemoveNode
    change(1, 4);
    expect([1, 2, 3, 4].map((id) => t.node.hasPeer(id))).toEqual([true, false, true, false]);
  });
});
