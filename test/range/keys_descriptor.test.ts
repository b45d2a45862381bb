/** Key ordering, the descriptor codec, split and merge descriptors, and the meta layout. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareKeys,
  decodeDescriptor,
  descriptorsEqual,
  encodeDescriptor,
  KEY_MAX,
  keyNext,
  lookupRange,
  mergeDescriptors,
  metaKey,
  prefixEnd,
  putMetaRow,
  putMetaRowsForMerge,
  putMetaRowsForSplit,
  RangeErrorCode,
  ReplicaType,
  scanMeta,
  splitDescriptor,
  tilingProblem,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { MemoryKv } from '../../src/range/kv_store.js';

const k = (s: string) => new TextEncoder().encode(s);

function desc(over: Partial<RangeDescriptor> = {}): RangeDescriptor {
  return {
    rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX, generation: 0,
    replicas: [1, 2, 3].map((n) => ({ nodeId: n, replicaId: n, type: ReplicaType.Voter })),
    ...over,
  };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('keys', () => {
  it('orders bytes lexicographically, a prefix first', () => {
    expect(compareKeys(k('a'), k('b'))).toBeLessThan(0);
    expect(compareKeys(k('ab'), k('a'))).toBeGreaterThan(0);
    expect(compareKeys(k('a'), k('a'))).toBe(0);
    expect(compareKeys(Uint8Array.of(0xff), Uint8Array.of(0x01, 0xff))).toBeGreaterThan(0);
  });

  it('keyNext is the immediate successor and prefixEnd bounds a prefix', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }),
      (a, b) => {
        const n = keyNext(a);
        expect(compareKeys(a, n)).toBeLessThan(0);
        // Nothing lies strictly between a and keyNext(a).
        expect(compareKeys(a, b) < 0 && compareKeys(b, n) < 0).toBe(false);
        const end = prefixEnd(a);
        if (end === undefined) return;
        const extended = new Uint8Array([...a, ...b]);
        expect(compareKeys(extended, end)).toBeLessThan(0);
      }));
    expect(prefixEnd(Uint8Array.of(0xff, 0xff))).toBeUndefined();
    expect([...prefixEnd(Uint8Array.of(0x01, 0xff))!]).toEqual([0x02]);
  });

  it('meta keys sort like the end keys they stand for, below every user key', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fc.uint8Array({ minLength: 1, maxLength: 8 }), (a, b) => {
        expect(Math.sign(compareKeys(metaKey(a), metaKey(b)))).toBe(Math.sign(compareKeys(a, b)));
      }));
    expect(compareKeys(metaKey(KEY_MAX), USER_KEY_MIN)).toBeLessThan(0);
  });
});

const arbDescriptor = fc.record({
  rangeId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  start: fc.uint8Array({ maxLength: 12 }),
  tail: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  generation: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  nodes: fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 40 }), { minLength: 1, maxLength: 7 }),
  types: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 7, maxLength: 7 }),
}).map(({ rangeId, start, tail, generation, nodes, types }): RangeDescriptor => ({
  rangeId, startKey: start, endKey: new Uint8Array([...start, ...tail]), generation,
  replicas: nodes.map((n, i) => ({
    nodeId: n, replicaId: n + 1, type: (i === 0 ? 0 : types[i]!) as ReplicaType,
  })),
}));

describe('descriptor codec', () => {
  it('round-trips every valid descriptor', () => {
    fc.assert(fc.property(arbDescriptor, (d) => {
      expect(descriptorsEqual(decodeDescriptor(encodeDescriptor(d)), d)).toBe(true);
    }));
  });

  it('refuses every truncation and any trailing byte with a typed error', () => {
    const bytes = encodeDescriptor(desc());
    for (let n = 0; n < bytes.length; n++) {
      const cut = bytes.subarray(0, n);
      expect(codeOf(() => decodeDescriptor(cut))).toBe(RangeErrorCode.BadDescriptor);
    }
    const longer = new Uint8Array([...bytes, 0]);
    expect(codeOf(() => decodeDescriptor(longer))).toBe(RangeErrorCode.BadDescriptor);
  });

  it('refuses inconsistent content: empty span, duplicate node, unknown type, no voter', () => {
    const bytes = encodeDescriptor(desc({ replicas: [{ nodeId: 1, replicaId: 1, type: 0 }] }));
    const typeAt = bytes.length - 1;
    const badType = bytes.slice();
    badType[typeAt] = 9;
    expect(codeOf(() => decodeDescriptor(badType))).toBe(RangeErrorCode.BadDescriptor);
    const learnerOnly = bytes.slice();
    learnerOnly[typeAt] = ReplicaType.Learner;
    expect(codeOf(() => decodeDescriptor(learnerOnly))).toBe(RangeErrorCode.BadDescriptor);
    const fuzz = fc.uint8Array({ maxLength: 80 });
    fc.assert(fc.property(fuzz, (b) => {
      try {
        decodeDescriptor(b);
      } catch (error) {
        expect((error as { code?: string }).code).toBe(RangeErrorCode.BadDescriptor);
      }
    }));
  });
});

describe('split and merge descriptors', () => {
  it('splits strictly inside the span, both sides at generation + 1', () => {
    const d = desc({ generation: 4 });
    const { left, right } = splitDescriptor(d, k('m'), 9);
    expect(left.rangeId).toBe(2);
    expect(right.rangeId).toBe(9);
    expect([left.generation, right.generation]).toEqual([5, 5]);
    expect(compareKeys(left.endKey, k('m'))).toBe(0);
    expect(compareKeys(right.startKey, k('m'))).toBe(0);
    expect(tilingProblem([left, right])).toBeNull();
  });

  it('refuses a split at the start, outside, or at a non-user key', () => {
    const d = desc({ startKey: k('c'), endKey: k('p') });
    for (const bad of [k('c'), k('b'), k('p'), k('q'), Uint8Array.of(0)]) {
      expect(codeOf(() => splitDescriptor(d, bad, 9))).toBe(RangeErrorCode.InvalidSplitKey);
    }
  });

  it('merges adjacent colocated ranges above both generations, refuses the others', () => {
    const { left, right } = splitDescriptor(desc({ generation: 1 }), k('m'), 9);
    const merged = mergeDescriptors(left, { ...right, generation: 7 });
    expect(merged.rangeId).toBe(2);
    expect(merged.generation).toBe(8);
    expect(tilingProblem([merged])).toBeNull();
    expect(codeOf(() => mergeDescriptors(right, left))).toBe(RangeErrorCode.MergeNotAdjacent);
    const moved = { ...right, replicas: right.replicas.map((r, i) =>
      i === 2 ? { ...r, nodeId: 4 } : r) };
    expect(codeOf(() => mergeDescriptors(left, moved))).toBe(RangeErrorCode.MergeNotColocated);
    const joint = { ...right, replicas: right.replicas.map((r, i) =>
      i === 2 ? { ...r, type: ReplicaType.VoterOutgoing } : r) };
    expect(codeOf(() => mergeDescriptors(left, joint))).toBe(RangeErrorCode.MergeNotColocated);
  });
});

describe('meta layout', () => {
  it('routes every key with one seek through splits and merges', () => {
    const meta = new MemoryKv();
    let all = desc();
    putMetaRow(meta, all);
    const s1 = splitDescriptor(all, k('g'), 3);
    putMetaRowsForSplit(meta, s1.left, s1.right);
    const s2 = splitDescriptor(s1.right, k('t'), 4);
    putMetaRowsForSplit(meta, s2.left, s2.right);
    expect(tilingProblem(scanMeta(meta, 100))).toBeNull();
    expect(lookupRange(meta, k('a'))!.rangeId).toBe(2);
    expect(lookupRange(meta, k('g'))!.rangeId).toBe(3);
    expect(lookupRange(meta, k('s\xff'))!.rangeId).toBe(3);
    expect(lookupRange(meta, k('t'))!.rangeId).toBe(4);
    expect(lookupRange(meta, Uint8Array.of(0xff, 0xfe))!.rangeId).toBe(4);
    all = mergeDescriptors(s1.left, s2.left);
    putMetaRowsForMerge(meta, s1.left, all);
    const descs = scanMeta(meta, 100);
    expect(descs.map((d) => d.rangeId)).toEqual([2, 4]);
    expect(tilingProblem(descs)).toBeNull();
    expect(lookupRange(meta, k('h'))!.rangeId).toBe(2);
  });

  it('names a gap and an overlap', () => {
    const { left, right } = splitDescriptor(desc(), k('g'), 3);
    expect(tilingProblem([left])).toMatch(/last range/);
    expect(tilingProblem([{ ...left, endKey: k('f') }, right])).toMatch(/gap after range 2/);
    expect(tilingProblem([{ ...left, endKey: k('h') }, right])).toMatch(/overlaps/);
  });
});
