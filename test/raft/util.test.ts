import { describe, expect, it } from 'vitest';
import { LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD } from '../../src/raft/config.js';
import { RaftPanicError, silentLogger } from '../../src/raft/logger.js';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  emptyConfState,
  messageTypeNames,
  type Entry,
} from '../../src/raft/raftpb.js';
import {
  assertConfStatesEquivalent,
  confStatesEquivalent,
  entrySize,
  entsSize,
  extend,
  isLocalMsg,
  isLocalMsgTarget,
  isResponseMsg,
  limitSize,
  payloadSize,
  payloadsSize,
  varintSize,
  voteRespMsgType,
} from '../../src/raft/util.js';

function entry(index: number, term: number, data: Uint8Array = EMPTY_BYTES, type: EntryType = 0): Entry {
  return { index, term, type, data };
}

describe('entry sizes', () => {
  it.each([
    [0, 1], [127, 1], [128, 2], [16383, 2], [16384, 3], [2 ** 28 - 1, 4], [2 ** 28, 5],
    [2 ** 35 - 1, 5], [2 ** 35, 6], [Number.MAX_SAFE_INTEGER, 8],
  ])('varintSize(%d) = %d', (v, want) => {
    expect(varintSize(v)).toBe(want);
  });

  it.each([
    ['term and index only', entry(1, 1), 4],
    ['2-byte index', entry(300, 1), 5],
    ['with data', entry(1, 1, new Uint8Array(3)), 4 + 1 + 1 + 3],
    ['present empty data', entry(1, 1, new Uint8Array(0)), 4 + 2],
    ['conf change type', entry(1, 1, new Uint8Array(2), EntryType.EntryConfChangeV2), 4 + 2 + 4],
    ['200-byte data', entry(1, 1, new Uint8Array(200)), 4 + 1 + 2 + 200],
  ])('%s', (_n, e, want) => {
    expect(entrySize(e)).toBe(want);
  });

  it('sums sizes and payloads', () => {
    const e = [entry(1, 1, new Uint8Array(3)), entry(2, 1), entry(3, 1, new Uint8Array(5))];
    expect(entsSize(e)).toBe(9 + 4 + 11);
    expect(payloadSize(e[0]!)).toBe(3);
    expect(payloadsSize(e)).toBe(8);
  });

  it('limits by size but keeps at least one entry', () => {
    const e = [entry(1, 1), entry(2, 1), entry(3, 1)];
    expect(limitSize(e, 0).length).toBe(1);
    expect(limitSize(e, 7).length).toBe(1);
    expect(limitSize(e, 8).length).toBe(2);
    expect(limitSize(e, 12)).toBe(e);
    expect(limitSize([], 0)).toEqual([]);
  });

  it('extends into a fresh array', () => {
    const a = [entry(1, 1)];
    const b = [entry(2, 1)];
    const c = extend(a, b);
    expect(c.map((x) => x.index)).toEqual([1, 2]);
    expect(a.length).toBe(1);
  });
});

describe('message classification', () => {
  const local = new Set<number>([
    MessageType.MsgHup, MessageType.MsgBeat, MessageType.MsgUnreachable, MessageType.MsgSnapStatus,
    MessageType.MsgCheckQuorum, MessageType.MsgStorageAppend, MessageType.MsgStorageAppendResp,
    MessageType.MsgStorageApply, MessageType.MsgStorageApplyResp,
  ]);
  const response = new Set<number>([
    MessageType.MsgAppResp, MessageType.MsgVoteResp, MessageType.MsgHeartbeatResp,
    MessageType.MsgUnreachable, MessageType.MsgReadIndexResp, MessageType.MsgPreVoteResp,
    MessageType.MsgStorageAppendResp, MessageType.MsgStorageApplyResp,
  ]);
  it.each(messageTypeNames.map((name, t) => [name, t] as const))('%s', (_name, t) => {
    expect(isLocalMsg(t as MessageType)).toBe(local.has(t));
    expect(isResponseMsg(t as MessageType)).toBe(response.has(t));
  });

  it('is false for unknown types and knows the local targets', () => {
    expect(isLocalMsg(99 as MessageType)).toBe(false);
    expect(isResponseMsg(99 as MessageType)).toBe(false);
    expect(isLocalMsgTarget(LOCAL_APPEND_THREAD)).toBe(true);
    expect(isLocalMsgTarget(LOCAL_APPLY_THREAD)).toBe(true);
    expect(isLocalMsgTarget(1)).toBe(false);
  });

  it('maps vote requests to their responses', () => {
    expect(voteRespMsgType(MessageType.MsgVote)).toBe(MessageType.MsgVoteResp);
    expect(voteRespMsgType(MessageType.MsgPreVote)).toBe(MessageType.MsgPreVoteResp);
    expect(() => voteRespMsgType(MessageType.MsgApp)).toThrow('not a vote message: MsgApp');
  });
});

describe('ConfState equivalence', () => {
  it('ignores the order of ids', () => {
    const a = { ...emptyConfState(), voters: [1, 2, 3], learners: [5, 4] };
    const b = { ...emptyConfState(), voters: [3, 1, 2], learners: [4, 5] };
    expect(confStatesEquivalent(a, b)).toBeNull();
    assertConfStatesEquivalent(silentLogger, a, b);
  });

  it('panics with etcd text on a difference', () => {
    const a = { ...emptyConfState(), voters: [2, 1] };
    const b = { ...emptyConfState(), voters: [1], autoLeave: true };
    expect(() => assertConfStatesEquivalent(silentLogger, a, b)).toThrow(RaftPanicError);
    expect(confStatesEquivalent(a, b)).toBe(
      'ConfStates not equivalent after sorting:\n' +
        '{Voters:[1 2] Learners:[] VotersOutgoing:[] LearnersNext:[] AutoLeave:false}\n' +
        '{Voters:[1] Learners:[] VotersOutgoing:[] LearnersNext:[] AutoLeave:true}\n' +
        'Inputs were:\n' +
        '{Voters:[2 1] Learners:[] VotersOutgoing:[] LearnersNext:[] AutoLeave:false}\n' +
        '{Voters:[1] Learners:[] VotersOutgoing:[] LearnersNext:[] AutoLeave:true}',
    );
  });
});
