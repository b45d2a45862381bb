/** The inbound message rules of message_check.ts, on plain views (no store). */
import { describe, expect, it } from 'vitest';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  marshalConfChange,
  newMessage,
  ConfChangeType,
  type Entry,
  type Message,
} from '../../src/raft/index.js';
import {
  CONTEXT_BYTES_MAX,
  LOG_INDEX_MAX,
  MESSAGE_REFUSALS,
  MessageRefusal,
  TERM_MAX,
  checkConfState,
  checkMessage,
  newMessageCheckView,
  snapshotFromVoter,
  type MessageCheckView,
} from '../../src/multiraft/message_check.js';

/** Replica on node 2, message from node 1, term 7, log up to 20, leader 1. */
function view(fields: Partial<MessageCheckView> = {}): MessageCheckView {
  return { ...newMessageCheckView(), nodeId: 2, fromNodeId: 1, initialized: true,
    senderIsMember: true, term: 7, lead: 1, lastIndex: 20, entryBytesMax: 100,
    appendIndexMin: 5, ...fields };
}

function msg(type: MessageType, fields: Partial<Message> = {}): Message {
  return newMessage(type, { from: 1, to: 2, term: 7, ...fields });
}

function entries(first: number, terms: number[], type: EntryType = EntryType.EntryNormal):
  Entry[] {
  return terms.map((term, i) => ({ term, index: first + i, type, data: new Uint8Array([i]) }));
}

describe('checkMessage', () => {
  it('accepts what a correct peer sends', () => {
    const ok: Message[] = [
      msg(MessageType.MsgHeartbeat, { commit: 20 }),
      msg(MessageType.MsgHeartbeatResp),
      msg(MessageType.MsgApp, { index: 20, logTerm: 6, commit: 25,
        entries: entries(21, [6, 7, 7]) }),
      msg(MessageType.MsgApp, { index: 5, logTerm: 5 }),
      msg(MessageType.MsgAppResp, { index: 20 }),
      msg(MessageType.MsgAppResp, { index: 30, reject: true, rejectHint: 12, logTerm: 3 }),
      msg(MessageType.MsgVote, { term: 8, index: 19, logTerm: 7 }),
      msg(MessageType.MsgPreVote, { term: 8, index: 19, logTerm: 7 }),
      msg(MessageType.MsgVoteResp, { reject: true }),
      msg(MessageType.MsgProp, { term: 0, entries: [{ term: 0, index: 0,
        type: EntryType.EntryNormal, data: new Uint8Array(100) }] }),
      msg(MessageType.MsgReadIndex, { term: 0, context: new Uint8Array(8) }),
      msg(MessageType.MsgTimeoutNow),
      msg(MessageType.MsgSnap, { snapshot: { data: EMPTY_BYTES, metadata: { index: 30,
        term: 7, confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [],
          learnersNext: [], autoLeave: false } } } }),
    ];
    for (const m of ok) expect(checkMessage(view(), m), JSON.stringify(m)).toBeNull();
  });

  it('finding 1: refuses a heartbeat commit past the end of the log, also when empty', () => {
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, { commit: 21 })))
      .toBe(MessageRefusal.CommitBeyondLog);
    // A replica not yet created: a correct leader sends commit 0 (match is 0).
    const empty = view({ initialized: false, lastIndex: 0, term: 0, lead: 0 });
    expect(checkMessage(empty, msg(MessageType.MsgHeartbeat, { commit: 0 }))).toBeNull();
    expect(checkMessage(empty, msg(MessageType.MsgHeartbeat, { commit: 5 })))
      .toBe(MessageRefusal.CommitBeyondLog);
  });

  it('finding 1: refuses appends whose entries are not contiguous or out of term order', () => {
    const far = entries(21, [7]);
    far[0]!.index = 1e9;
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: 20, logTerm: 7, entries: far })))
      .toBe(MessageRefusal.EntriesNotContiguous);
    const gap = entries(21, [7, 7]);
    gap[1]!.index = 23;
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: 20, logTerm: 7, entries: gap })))
      .toBe(MessageRefusal.EntriesNotContiguous);
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: 20, logTerm: 6,
      entries: entries(21, [7, 6]) }))).toBe(MessageRefusal.EntryTermOrder);
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: 20, logTerm: 6,
      entries: entries(21, [5]) }))).toBe(MessageRefusal.EntryTermOrder);
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: 20, logTerm: 6,
      entries: entries(21, [8]) }))).toBe(MessageRefusal.EntryTermOrder);
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: LOG_INDEX_MAX - 1,
      logTerm: 6, entries: entries(LOG_INDEX_MAX, [7, 7]) }))).toBe(MessageRefusal.IndexTooLarge);
    expect(checkMessage(view({ initialized: false, lastIndex: 0 }), msg(MessageType.MsgApp,
      { index: 0, logTerm: 0, entries: entries(1, [7]), commit: 1 })))
      .toBe(MessageRefusal.AppendBelowLogStart);
  });

  it('finding 3: refuses terms above TERM_MAX, never a term a peer reaches', () => {
    expect(TERM_MAX).toBeLessThan(2 ** 53 / 16);
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, { term: 2 ** 53 - 1 })))
      .toBe(MessageRefusal.TermTooLarge);
    expect(checkMessage(view(), msg(MessageType.MsgVote, { term: TERM_MAX + 1 })))
      .toBe(MessageRefusal.TermTooLarge);
    expect(checkMessage(view(), msg(MessageType.MsgVote, { term: TERM_MAX, logTerm: 1 })))
      .toBeNull();
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, { term: 0 })))
      .toBe(MessageRefusal.TermZero);
    expect(checkMessage(view(), msg(MessageType.MsgReadIndex, { term: 7 })))
      .toBe(MessageRefusal.TermOnForwarded);
  });

  it('refuses a sender other than the connection, or a message for another node', () => {
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, { from: 3 })))
      .toBe(MessageRefusal.SenderMismatch);
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, { to: 3 })))
      .toBe(MessageRefusal.WrongRecipient);
    expect(checkMessage(view({ fromNodeId: 2 }), msg(MessageType.MsgHeartbeat, { from: 2 })))
      .toBe(MessageRefusal.SenderMismatch);
  });

  it('refuses members of no configuration, except on a replica without one', () => {
    const m = msg(MessageType.MsgHeartbeat);
    expect(checkMessage(view({ senderIsMember: false }), m)).toBe(MessageRefusal.SenderNotMember);
    expect(checkMessage(view({ senderIsMember: false, initialized: false }), m)).toBeNull();
  });

  it('refuses local message types and malformed fields', () => {
    for (const type of [MessageType.MsgHup, MessageType.MsgBeat, MessageType.MsgUnreachable,
      MessageType.MsgSnapStatus, MessageType.MsgCheckQuorum, MessageType.MsgStorageAppend,
      MessageType.MsgStorageApplyResp, MessageType.MsgForgetLeader]) {
      expect(checkMessage(view(), msg(type))).toBe(MessageRefusal.LocalType);
    }
    const bad: Partial<Record<keyof Message, unknown>>[] = [
      { type: 99 }, { type: -1 }, { term: 1.5 }, { term: -1 }, { term: '7' }, { index: NaN },
      { commit: 2 ** 53 }, { logTerm: Infinity }, { rejectHint: -3 }, { reject: 1 },
      { context: 'ctx' }, { entries: null }, { vote: 2 ** 60 },
    ];
    for (const fields of bad) {
      const m = { ...msg(MessageType.MsgHeartbeat), ...fields } as Message;
      expect(checkMessage(view(), m), JSON.stringify(fields)).toBe(MessageRefusal.BadField);
    }
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, {
      snapshot: { data: EMPTY_BYTES, metadata: { index: 1, term: 1, confState: {
        voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } },
    }))).toBe(MessageRefusal.BadField);
    expect(checkMessage(view(), msg(MessageType.MsgHeartbeat, {
      context: new Uint8Array(CONTEXT_BYTES_MAX + 1) }))).toBe(MessageRefusal.ContextTooLarge);
    expect(checkMessage(view(), msg(MessageType.MsgVote, { logTerm: 8 })))
      .toBe(MessageRefusal.LogTermAboveTerm);
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: LOG_INDEX_MAX + 1 })))
      .toBe(MessageRefusal.IndexTooLarge);
  });

  it('refuses acknowledgements of entries this replica never had', () => {
    expect(checkMessage(view(), msg(MessageType.MsgAppResp, { index: 21 })))
      .toBe(MessageRefusal.AckBeyondLog);
    expect(checkMessage(view(), msg(MessageType.MsgAppResp, { index: 10, reject: true,
      rejectHint: 11 }))).toBe(MessageRefusal.HintBeyondIndex);
  });

  it('refuses empty, oversized and conf-change proposals from peers', () => {
    expect(checkMessage(view(), msg(MessageType.MsgProp, { term: 0 })))
      .toBe(MessageRefusal.EmptyProposal);
    const big: Entry = { term: 0, index: 0, type: EntryType.EntryNormal,
      data: new Uint8Array(101) };
    expect(checkMessage(view(), msg(MessageType.MsgProp, { term: 0, entries: [big] })))
      .toBe(MessageRefusal.ProposalTooLarge);
    const cc = marshalConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 4,
      context: EMPTY_BYTES, id: 0 });
    expect(checkMessage(view(), msg(MessageType.MsgProp, { term: 0, entries: [{ term: 0,
      index: 0, type: cc.type, data: cc.data }] }))).toBe(MessageRefusal.RemoteConfChange);
    expect(checkMessage(view(), msg(MessageType.MsgProp, { term: 0, entries: [{ term: 0,
      index: 0, type: 7 as EntryType, data: EMPTY_BYTES }] }))).toBe(MessageRefusal.BadEntry);
  });

  it('refuses conf-change entries that do not decode, accepts those that do', () => {
    const cc = marshalConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 4,
      context: EMPTY_BYTES, id: 0 });
    const good = msg(MessageType.MsgApp, { index: 20, logTerm: 7, entries: [{ term: 7,
      index: 21, type: cc.type, data: cc.data }] });
    expect(checkMessage(view(), good)).toBeNull();
    const bad = msg(MessageType.MsgApp, { index: 20, logTerm: 7, entries: [{ term: 7,
      index: 21, type: EntryType.EntryConfChange, data: new Uint8Array([0xff, 0xff]) }] });
    expect(checkMessage(view(), bad)).toBe(MessageRefusal.BadConfChange);
    const zero = marshalConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 0,
      context: EMPTY_BYTES, id: 0 });
    expect(checkMessage(view(), msg(MessageType.MsgApp, { index: 20, logTerm: 7,
      entries: [{ term: 7, index: 21, type: zero.type, data: zero.data }] })))
      .toBe(MessageRefusal.BadConfChange);
  });

  it('refuses snapshots Raft cannot restore and timeouts not from the leader', () => {
    const snap = (index: number, term: number, voters: number[]) => msg(MessageType.MsgSnap, {
      snapshot: { data: EMPTY_BYTES, metadata: { index, term, confState: { voters,
        learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } } });
    expect(checkMessage(view(), snap(0, 7, [1, 2]))).toBe(MessageRefusal.BadSnapshot);
    expect(checkMessage(view(), snap(9, 8, [1, 2]))).toBe(MessageRefusal.BadSnapshot);
    expect(checkMessage(view(), snap(9, 0, [1, 2]))).toBe(MessageRefusal.BadSnapshot);
    expect(checkMessage(view(), snap(9, 7, [1, 1]))).toBe(MessageRefusal.BadSnapshot);
    expect(checkMessage(view(), snap(9, 7, []))).toBe(MessageRefusal.BadSnapshot);
    expect(checkMessage(view(), msg(MessageType.MsgSnap))).toBe(MessageRefusal.BadSnapshot);
    expect(checkMessage(view(), snap(9, 7, [2, 3]))).toBe(MessageRefusal.SnapshotNotFromVoter);
    expect(checkMessage(view(), msg(MessageType.MsgTransferLeader)))
      .toBe(MessageRefusal.TransferNotToLeader);
    expect(checkMessage(view({ lead: 2 }), msg(MessageType.MsgTransferLeader))).toBeNull();
    expect(checkMessage(view({ lead: 3 }), msg(MessageType.MsgTimeoutNow)))
      .toBe(MessageRefusal.TimeoutNowNotFromLeader);
    expect(checkMessage(view(), msg(MessageType.MsgTimeoutNow, { term: 8 })))
      .toBe(MessageRefusal.TimeoutNowNotFromLeader);
  });

  it('every refusal reason is a distinct stable string', () => {
    expect(new Set(MESSAGE_REFUSALS).size).toBe(MESSAGE_REFUSALS.length);
    for (const r of MESSAGE_REFUSALS) expect(r).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });
});

describe('checkConfState', () => {
  const cs = (voters: unknown[], learners: unknown[] = [], out: unknown[] = [],
    next: unknown[] = [], autoLeave = false) =>
    ({ voters, learners, votersOutgoing: out, learnersNext: next, autoLeave }) as never;

  it('accepts simple and joint configurations Raft restores', () => {
    expect(checkConfState(cs([1, 2, 3]))).toBe(true);
    expect(checkConfState(cs([1], [2, 3]))).toBe(true);
    expect(checkConfState(cs([1, 2, 4], [], [1, 2, 3], [3], true))).toBe(true);
  });

  it('refuses what restore would panic on', () => {
    for (const bad of [cs([]), cs([0]), cs([1, 1]), cs([1.5]), cs(['1']), cs([1], [1]),
      cs([1], [], [], [2]), cs([1], [], [], [], true), cs([1, 2], [], [1, 2], [2]),
      cs([1], [2], [2]), cs(Array.from({ length: 65 }, (_, i) => i + 1)), cs([1], [2], [1], [3])]) {
      expect(checkConfState(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(checkConfState(null as never)).toBe(false);
  });
});

describe('snapshotFromVoter', () => {
  it('is true only when the sender votes in the snapshot configuration', () => {
    const m = (from: number, voters: number[], out: number[] = []) =>
      newMessage(MessageType.MsgSnap, { from, to: 2, term: 3, snapshot: { data: EMPTY_BYTES,
        metadata: { index: 6, term: 3, confState: { voters, learners: [], votersOutgoing: out,
          learnersNext: [], autoLeave: false } } } });
    expect(snapshotFromVoter(m(1, [1, 2]))).toBe(true);
    expect(snapshotFromVoter(m(1, [2, 3], [1, 2]))).toBe(true);
    expect(snapshotFromVoter(m(9, [1, 2]))).toBe(false);
  });
});
