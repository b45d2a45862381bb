import { describe, expect, it } from 'vitest';
import {
  ConfChangeDecodeError,
  ConfChangeParseError,
  asV1,
  asV2,
  confChangeSize,
  confChangeV2Size,
  confChangesFromString,
  confChangesToString,
  decodeConfChange,
  decodeConfChangeV2,
  encodeConfChange,
  encodeConfChangeV2,
  enterJoint,
  leaveJoint,
  marshalConfChange,
  unmarshalConfChange,
} from '../../src/raft/confchange_codec.js';
import {
  ConfChangeTransition as T,
  ConfChangeType as C,
  EMPTY_BYTES,
  EntryType,
  type ConfChange,
  type ConfChangeV2,
} from '../../src/raft/raftpb.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const ascii = (s: string) => new TextEncoder().encode(s);

function v1(type: C, nodeId: number, id = 0, context = EMPTY_BYTES): ConfChange {
  return { type, nodeId, id, context };
}

describe('ConfChange encoding', () => {
  // Expected bytes follow raft.proto: id=1, type=2, node_id=3, context=4 (tags 08 10 18 22).
  it.each([
    ['add node 2', v1(C.ConfChangeAddNode, 2), bytes(0x10, 0x00, 0x18, 0x02)],
    ['remove node 3', v1(C.ConfChangeRemoveNode, 3), bytes(0x10, 0x01, 0x18, 0x03)],
    ['with id', v1(C.ConfChangeUpdateNode, 1, 5), bytes(0x08, 0x05, 0x10, 0x02, 0x18, 0x01)],
    ['node 300 (2-byte varint)', v1(C.ConfChangeAddLearnerNode, 300), bytes(0x10, 0x03, 0x18, 0xac, 0x02)],
    [
      'with context',
      v1(C.ConfChangeAddNode, 1, 0, ascii('ab')),
      bytes(0x10, 0x00, 0x18, 0x01, 0x22, 0x02, 0x61, 0x62),
    ],
    ['present empty context', v1(C.ConfChangeAddNode, 1, 0, new Uint8Array(0)), bytes(0x10, 0x00, 0x18, 0x01, 0x22, 0x00)],
  ])('%s', (_name, cc, want) => {
    const got = encodeConfChange(cc);
    expect(got).toEqual(want);
    expect(confChangeSize(cc)).toBe(want.length);
    const back = decodeConfChange(got);
    expect({ ...back, context: Array.from(back.context) }).toEqual({
      ...cc, context: Array.from(cc.context),
    });
  });

  it('decodes gogo encodings (zero fields present, any order, unknown fields)', () => {
    expect(decodeConfChange(bytes(0x08, 0x00, 0x10, 0x00, 0x18, 0x02))).toEqual(v1(0, 2));
    expect(decodeConfChange(bytes(0x18, 0x07, 0x10, 0x01))).toEqual(v1(1, 7));
    expect(decodeConfChange(bytes(0x78, 0x01, 0x18, 0x07))).toEqual(v1(0, 7));
    expect(decodeConfChange(new Uint8Array(0))).toEqual(v1(0, 0));
  });

  it('round-trips the largest exact node id', () => {
    const cc = v1(C.ConfChangeAddNode, Number.MAX_SAFE_INTEGER);
    expect(decodeConfChange(encodeConfChange(cc)).nodeId).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    ['truncated varint', bytes(0x18, 0x80), 'unexpected EOF'],
    ['truncated bytes', bytes(0x22, 0x05, 0x61), 'unexpected EOF'],
    ['wrong wire type', bytes(0x1a, 0x00), 'proto: wrong wireType = 2 for field NodeID'],
    ['tag 0', bytes(0x00, 0x00), 'proto: ConfChange: illegal tag 0 (wire type 0)'],
    ['end group', bytes(0x0c), 'proto: ConfChange: wiretype end group for non-group'],
  ])('rejects %s', (_name, data, message) => {
    expect(() => decodeConfChange(data)).toThrow(new ConfChangeDecodeError(message));
  });
});

describe('ConfChangeV2 encoding', () => {
  // transition=1, changes=2 (nested: type=1, node_id=2), context=3 (tags 08 12 1a).
  it.each([
    ['zero (leave joint)', { transition: T.ConfChangeTransitionAuto, changes: [], context: EMPTY_BYTES }, bytes()],
    [
      'v2 l3',
      {
        transition: T.ConfChangeTransitionAuto,
        changes: [{ type: C.ConfChangeAddNode, nodeId: 2 }, { type: C.ConfChangeAddLearnerNode, nodeId: 3 }],
        context: EMPTY_BYTES,
      },
      bytes(0x12, 0x04, 0x08, 0x00, 0x10, 0x02, 0x12, 0x04, 0x08, 0x03, 0x10, 0x03),
    ],
    [
      'explicit r1 with context',
      {
        transition: T.ConfChangeTransitionJointExplicit,
        changes: [{ type: C.ConfChangeRemoveNode, nodeId: 1 }],
        context: ascii('x'),
      },
      bytes(0x08, 0x02, 0x12, 0x04, 0x08, 0x01, 0x10, 0x01, 0x1a, 0x01, 0x78),
    ],
  ] as [string, ConfChangeV2, Uint8Array][])('%s', (_name, cc, want) => {
    const got = encodeConfChangeV2(cc);
    expect(got).toEqual(want);
    expect(confChangeV2Size(cc)).toBe(want.length);
    const back = decodeConfChangeV2(got);
    expect(back.transition).toBe(cc.transition);
    expect(back.changes).toEqual(cc.changes);
    expect(Array.from(back.context)).toEqual(Array.from(cc.context));
  });

  it('decodes gogo encodings with the zero transition present', () => {
    const got = decodeConfChangeV2(bytes(0x08, 0x00, 0x12, 0x04, 0x08, 0x00, 0x10, 0x02));
    expect(got).toEqual({ transition: 0, changes: [{ type: 0, nodeId: 2 }], context: EMPTY_BYTES });
  });

  it('rejects a truncated change', () => {
    expect(() => decodeConfChangeV2(bytes(0x12, 0x04, 0x08, 0x00))).toThrow(
      new ConfChangeDecodeError('unexpected EOF'),
    );
  });
});

describe('conversions', () => {
  it('turns a V1 change into the same V2 change', () => {
    const ctx = ascii('c');
    const cc = v1(C.ConfChangeAddLearnerNode, 4, 9, ctx);
    expect(asV2(cc)).toEqual({
      transition: T.ConfChangeTransitionAuto,
      changes: [{ type: C.ConfChangeAddLearnerNode, nodeId: 4 }],
      context: ctx,
    });
    expect(asV1(cc)).toBe(cc);
    const v2 = asV2(cc);
    expect(asV2(v2)).toBe(v2);
    expect(asV1(v2)).toBeNull();
  });

  it('marshals for entries as etcd does', () => {
    expect(marshalConfChange(null)).toEqual({ type: EntryType.EntryConfChangeV2, data: EMPTY_BYTES });
    expect(marshalConfChange(null).data).toBe(EMPTY_BYTES);
    const one = marshalConfChange(v1(C.ConfChangeAddNode, 2));
    expect(one.type).toBe(EntryType.EntryConfChange);
    expect(unmarshalConfChange(one.type, one.data)).toEqual(v1(C.ConfChangeAddNode, 2));
    const two = marshalConfChange(asV2(v1(C.ConfChangeAddNode, 2)));
    expect(two.type).toBe(EntryType.EntryConfChangeV2);
    expect((unmarshalConfChange(two.type, two.data) as ConfChangeV2).changes).toEqual([
      { type: C.ConfChangeAddNode, nodeId: 2 },
    ]);
    expect(unmarshalConfChange(EntryType.EntryConfChangeV2, EMPTY_BYTES)).toEqual({
      transition: 0, changes: [], context: EMPTY_BYTES,
    });
  });
});

describe('joint consensus predicates', () => {
  const ch = (n: number) => Array.from({ length: n }, (_, i) => ({ type: C.ConfChangeAddNode, nodeId: i + 1 }));
  it.each([
    [T.ConfChangeTransitionAuto, 0, false, false, true],
    [T.ConfChangeTransitionAuto, 1, false, false, false],
    [T.ConfChangeTransitionAuto, 2, true, true, false],
    [T.ConfChangeTransitionJointImplicit, 0, true, true, false],
    [T.ConfChangeTransitionJointImplicit, 1, true, true, false],
    [T.ConfChangeTransitionJointExplicit, 1, false, true, false],
    [T.ConfChangeTransitionJointExplicit, 3, false, true, false],
  ] as const)('transition %d with %d changes', (transition, n, wauto, wok, wleave) => {
    const cc: ConfChangeV2 = { transition, changes: ch(n), context: EMPTY_BYTES };
    expect(enterJoint(cc)).toEqual({ autoLeave: wauto, ok: wok });
    expect(leaveJoint(cc)).toBe(wleave);
  });

  it('ignores the context when leaving', () => {
    expect(leaveJoint({ transition: 0, changes: [], context: ascii('ctx') })).toBe(true);
  });
});

describe('conf change token syntax', () => {
  it('parses and prints the corpus syntax', () => {
    const ccs = confChangesFromString(' v1 l2 r3 u4 ');
    expect(ccs).toEqual([
      { type: C.ConfChangeAddNode, nodeId: 1 },
      { type: C.ConfChangeAddLearnerNode, nodeId: 2 },
      { type: C.ConfChangeRemoveNode, nodeId: 3 },
      { type: C.ConfChangeUpdateNode, nodeId: 4 },
    ]);
    expect(confChangesToString(ccs)).toBe('v1 l2 r3 u4');
    expect(confChangesFromString('')).toEqual([]);
    expect(confChangesToString([])).toBe('');
    expect(confChangesToString([{ type: 9 as C, nodeId: 5 }])).toBe('unknown5');
  });

  it.each([
    ['x1', 'unknown input: x1'],
    ['v', 'unknown token v'],
    ['v1  v2', 'unknown token '],
    ['va', 'strconv.ParseUint: parsing "a": invalid syntax'],
    ['v-1', 'strconv.ParseUint: parsing "-1": invalid syntax'],
    ['v99999999999999999999', 'strconv.ParseUint: parsing "99999999999999999999": value out of range'],
  ])('rejects %j', (s, message) => {
    expect(() => confChangesFromString(s)).toThrow(new ConfChangeParseError(message));
  });
});
