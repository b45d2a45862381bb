import { describe, expect, it } from 'vitest';
import { encodeConfChange, encodeConfChangeV2 } from '../../src/raft/confchange_codec.js';
import { LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD } from '../../src/raft/config.js';
import {
  describeConfState,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeSoftState,
  goQuote,
} from '../../src/raft/describe.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  MessageType,
  emptyConfState,
  emptyHardState,
  newMessage,
  type Entry,
  type Snapshot,
} from '../../src/raft/raftpb.js';
import { StateType } from '../../src/raft/raft_state.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const utf8 = (s: string) => new TextEncoder().encode(s);
const entry = (
  term: number,
  index: number,
  data = EMPTY_BYTES,
  type: EntryType = EntryType.EntryNormal,
): Entry => ({ term, index, type, data });
const { EntryConfChange, EntryConfChangeV2 } = EntryType;

describe('goQuote (Go %q of a byte slice)', () => {
  it.each([
    [utf8(''), '""'],
    [utf8('prop_1'), '"prop_1"'],
    [utf8('"foo"'), '"\\"foo\\""'],
    [utf8('a\\b'), '"a\\\\b"'],
    [bytes(0x07, 0x08, 0x0c, 0x0a, 0x0d, 0x09, 0x0b), '"\\a\\b\\f\\n\\r\\t\\v"'],
    [bytes(0x00, 0x1f, 0x7f), '"\\x00\\x1f\\x7f"'],
    [bytes(0xff, 0x61), '"\\xffa"'],
    [bytes(0xc0, 0x80), '"\\xc0\\x80"'], // overlong encoding
    [bytes(0xed, 0xa0, 0x80), '"\\xed\\xa0\\x80"'], // surrogate
    [bytes(0xe2, 0x82), '"\\xe2\\x82"'], // truncated
    [utf8('é 😀'), '"é 😀"'],
    [utf8('\u00a0\u00ad\u2028\ue000'), '"\\u00a0\\u00ad\\u2028\\ue000"'],
    [utf8('\u{10ffff}'), '"\\U0010ffff"'],
  ])('%o -> %s', (data, quoted) => {
    expect(goQuote(data)).toBe(quoted);
  });
});

describe('describe*', () => {
  const confState = { ...emptyConfState(), voters: [1, 2, 3] };
  const snap: Snapshot = { data: EMPTY_BYTES, metadata: { index: 11, term: 1, confState } };

  it('describes entries of every type', () => {
    expect(describeEntry(entry(1, 4))).toBe('1/4 EntryNormal ""');
    expect(describeEntry(entry(1, 12, utf8('"foo"')))).toBe('1/12 EntryNormal "\\"foo\\""');
    const v1 = encodeConfChange({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: 2,
      context: EMPTY_BYTES,
      id: 0,
    });
    expect(describeEntry(entry(1, 4, v1, EntryConfChange))).toBe('1/4 EntryConfChange v2');
    const v2 = encodeConfChangeV2({
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      changes: [
        { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 },
        { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3 },
        { type: ConfChangeType.ConfChangeUpdateNode, nodeId: 4 },
      ],
      context: EMPTY_BYTES,
    });
    expect(describeEntry(entry(1, 5, v2, EntryConfChangeV2))).toBe(
      '1/5 EntryConfChangeV2 l2 r3 u4',
    );
    const leave = encodeConfChangeV2({ transition: 0, changes: [], context: EMPTY_BYTES });
    expect(describeEntry(entry(1, 6, leave, EntryConfChangeV2))).toBe('1/6 EntryConfChangeV2');
    expect(describeEntry(entry(2, 7, utf8('x')), () => 'custom')).toBe('2/7 EntryNormal custom');
    expect(describeEntries([entry(1, 1), entry(1, 2)])).toBe(
      '1/1 EntryNormal ""\n1/2 EntryNormal ""\n',
    );
  });

  it('describes messages with hex endpoints, entries, snapshot and responses', () => {
    const app = newMessage(MessageType.MsgApp, {
      from: 1, to: 10, term: 1, logTerm: 1, index: 10, commit: 10, entries: [entry(1, 11)],
    });
    expect(describeMessage(app)).toBe(
      '1->a MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal ""]',
    );
    const two = newMessage(MessageType.MsgApp, {
      from: 1, to: 2, term: 1, entries: [entry(1, 1), entry(1, 2)],
    });
    expect(describeMessage(two)).toBe(
      '1->2 MsgApp Term:1 Log:0/0 Entries:[\n  1/1 EntryNormal ""\n  1/2 EntryNormal ""\n]',
    );
    const rej = newMessage(MessageType.MsgAppResp, {
      from: 3, to: 1, term: 1, logTerm: 1, index: 10, reject: true, rejectHint: 5,
    });
    expect(describeMessage(rej)).toBe('3->1 MsgAppResp Term:1 Log:1/10 Rejected (Hint: 5)');
    const msnap = newMessage(MessageType.MsgSnap, { from: 1, to: 3, term: 1, snapshot: snap });
    expect(describeMessage(msnap)).toBe(
      '1->3 MsgSnap Term:1 Log:0/0\n  Snapshot: Index:11 Term:1 ConfState:Voters:[1 2 3] ' +
        'VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false',
    );
    const storage = newMessage(MessageType.MsgStorageAppend, {
      from: 1, to: LOCAL_APPEND_THREAD, term: 1, commit: 10, vote: 1,
      responses: [
        newMessage(MessageType.MsgVoteResp, { from: 1, to: 1, term: 1 }),
        newMessage(MessageType.MsgStorageApplyResp, { from: LOCAL_APPLY_THREAD, to: 0, term: 1 }),
      ],
    });
    expect(describeMessage(storage)).toBe(
      '1->AppendThread MsgStorageAppend Term:1 Log:0/0 Commit:10 Vote:1 Responses:[\n' +
        '  1->1 MsgVoteResp Term:1 Log:0/0\n' +
        '  ApplyThread->None MsgStorageApplyResp Term:1 Log:0/0\n]',
    );
  });

  it('describes states and snapshots', () => {
    expect(describeHardState({ term: 1, vote: 0, commit: 4 })).toBe('Term:1 Commit:4');
    expect(describeHardState({ term: 1, vote: 2, commit: 4 })).toBe('Term:1 Vote:2 Commit:4');
    expect(describeSoftState({ lead: 0, raftState: StateType.StateCandidate })).toBe(
      'Lead:0 State:StateCandidate',
    );
    const joint = { voters: [2, 3], votersOutgoing: [1], learners: [4], learnersNext: [1] };
    expect(describeConfState({ ...joint, autoLeave: true })).toBe(
      'Voters:[2 3] VotersOutgoing:[1] Learners:[4] LearnersNext:[1] AutoLeave:true',
    );
    expect(describeSnapshot(snap)).toMatch(/^Index:11 Term:1 ConfState:Voters:\[1 2 3\]/);
  });

  it('describes a Ready part by part, in etcd order', () => {
    const empty = {
      softState: null, hardState: emptyHardState(), readStates: [], entries: [], snapshot: null,
      committedEntries: [], messages: [], mustSync: false,
    };
    expect(describeReady(empty)).toBe('<empty Ready>');
    expect(
      describeReady({
        ...empty,
        softState: { lead: 1, raftState: StateType.StateLeader },
        hardState: { term: 1, vote: 1, commit: 4 },
        readStates: [{ index: 5, requestCtx: utf8('ab') }],
        entries: [entry(1, 5)],
        snapshot: snap,
        committedEntries: [entry(1, 4)],
        messages: [newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2, term: 1, commit: 4 })],
        mustSync: true,
      }),
    ).toBe(
      [
        'Ready MustSync=true:',
        'Lead:1 State:StateLeader',
        'HardState Term:1 Vote:1 Commit:4',
        'ReadStates [{5 [97 98]}]',
        'Entries:',
        '1/5 EntryNormal ""',
        `Snapshot ${describeSnapshot(snap)}`,
        'CommittedEntries:',
        '1/4 EntryNormal ""',
        'Messages:',
        '1->2 MsgHeartbeat Term:1 Log:0/0 Commit:4',
        '',
      ].join('\n'),
    );
  });
});
