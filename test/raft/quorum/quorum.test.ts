import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INDEX_NO_LIMIT,
  JointConfig,
  MajorityConfig,
  MapAckIndexer,
  VoteResult,
  formatIndex,
  voteResultName,
  type AckedIndexer,
} from '../../../src/raft/quorum/index.js';

/** etcd's quick_test alternative: count, for each acked index, how many voters reached it. */
function naiveCommittedIndex(ids: readonly number[], l: AckedIndexer): number {
  if (ids.length === 0) return INDEX_NO_LIMIT;
  const acked = ids.map((id) => l.ackedIndex(id)).filter((x): x is number => x !== undefined);
  const quorum = Math.floor(ids.length / 2) + 1;
  let best = 0;
  for (const candidate of acked) {
    const reached = acked.filter((x) => x >= candidate).length;
    if (reached >= quorum && candidate > best) best = candidate;
  }
  return best;
}

describe('MajorityConfig', () => {
  it('keeps ids sorted and unique, and prints like etcd', () => {
    const c = new MajorityConfig([3, 1, 2, 3]);
    expect(c.toString()).toBe('(1 2 3)');
    expect(c.size).toBe(3);
    expect(c.add(10)).toBe(true);
    expect(c.add(10)).toBe(false);
    expect(c.delete(2)).toBe(true);
    expect(c.slice()).toEqual([1, 3, 10]);
    expect(new MajorityConfig().toString()).toBe('()');
  });

  it('empty config: committed index is no limit and the vote is won', () => {
    const c = new MajorityConfig();
    expect(c.committedIndex(new MapAckIndexer())).toBe(INDEX_NO_LIMIT);
    expect(formatIndex(c.committedIndex(new MapAckIndexer()))).toBe('∞');
    expect(c.voteResult(new Map())).toBe(VoteResult.VoteWon);
    expect(c.describe(new MapAckIndexer())).toBe('<empty majority quorum>');
  });

  it('committed index of three voters is the median, missing acks count as 0', () => {
    const c = MajorityConfig.of(1, 2, 3);
    expect(c.committedIndex(new MapAckIndexer({ 1: 100, 2: 101, 3: 99 }))).toBe(100);
    expect(c.committedIndex(new MapAckIndexer({ 1: 100 }))).toBe(0);
    expect(c.committedIndex(new MapAckIndexer({ 1: 100, 3: 5 }))).toBe(5);
  });

  it('describes like etcd, equal indexes sharing a bar', () => {
    const c = MajorityConfig.of(1, 2, 3);
    expect(c.describe(new MapAckIndexer({ 1: 100, 2: 102, 3: 102 }))).toBe(
      '       idx\n>      100    (id=1)\nx>     102    (id=2)\nx>     102    (id=3)\n',
    );
    expect(c.describe(new MapAckIndexer({ 1: 101, 3: 103 }))).toBe(
      '       idx\nx>     101    (id=1)\n?        0    (id=2)\nxx>    103    (id=3)\n',
    );
  });

  it('clones stay independent of later changes to either copy', () => {
    const a = MajorityConfig.of(3, 1);
    const b = a.clone();
    b.add(2);
    a.delete(3);
    expect([a.ids, b.ids]).toEqual([[1], [1, 2, 3]]);
    const empty = new MajorityConfig();
    const other = new MajorityConfig();
    empty.add(5);
    expect([empty.ids, other.ids]).toEqual([[5], []]);
    expect(empty.delete(5)).toBe(true);
    expect(empty.delete(5)).toBe(false);
    b.clear();
    expect([a.ids, b.ids, empty.size]).toEqual([[1], [], 0]);
  });

  it('vote results', () => {
    const c = MajorityConfig.of(2, 4, 7);
    const v = (e: [number, boolean][]) => c.voteResult(new Map(e));
    expect(v([])).toBe(VoteResult.VotePending);
    expect(v([[2, false], [4, false]])).toBe(VoteResult.VoteLost);
    expect(v([[2, true], [4, true]])).toBe(VoteResult.VoteWon);
    expect(v([[2, true], [4, false]])).toBe(VoteResult.VotePending);
    expect(voteResultName(VoteResult.VoteLost)).toBe('VoteLost');
  });

  it('handles configs larger than the insertion-sort cutoff', () => {
    const ids = Array.from({ length: 101 }, (_, i) => i + 1);
    const l = new MapAckIndexer(ids.map((id) => [id, 1000 - id] as const));
    expect(new MajorityConfig(ids).committedIndex(l)).toBe(naiveCommittedIndex(ids, l));
  });

  it('committedIndex matches a naive computation (property)', () => {
    const arb = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }).chain((ids) =>
      fc.tuple(
        fc.constant(ids),
        fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), {
          minLength: ids.length,
          maxLength: ids.length,
        }),
      ),
    );
    fc.assert(
      fc.property(arb, ([ids, acks]) => {
        const l = new MapAckIndexer();
        ids.forEach((id, i) => {
          const a = acks[i];
          if (a !== undefined) l.set(id, a);
        });
        const c = new MajorityConfig(ids);
        expect(c.committedIndex(l)).toBe(naiveCommittedIndex(c.ids, l));
        // Joined with the empty config or itself, a majority decides the same.
        const zeroJoint = new JointConfig(c, new MajorityConfig());
        expect(zeroJoint.committedIndex(l)).toBe(c.committedIndex(l));
        expect(new JointConfig(c, c.clone()).committedIndex(l)).toBe(c.committedIndex(l));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('JointConfig', () => {
  it('prints incoming&&outgoing, and only incoming when not joint', () => {
    expect(JointConfig.of([1, 2, 3], [4, 5]).toString()).toBe('(1 2 3)&&(4 5)');
    expect(JointConfig.of([2, 1]).toString()).toBe('(1 2)');
    expect(JointConfig.of([1, 3], [2, 3]).ids()).toEqual([1, 2, 3]);
  });

  it('an empty half is neutral', () => {
    const l = new MapAckIndexer({ 1: 10, 2: 20, 3: 30 });
    expect(JointConfig.of([1, 2, 3]).committedIndex(l)).toBe(20);
    expect(JointConfig.of([], [1, 2, 3]).committedIndex(l)).toBe(20);
    expect(JointConfig.of([]).committedIndex(l)).toBe(INDEX_NO_LIMIT);
    expect(JointConfig.of([], [1]).voteResult(new Map([[1, true]]))).toBe(VoteResult.VoteWon);
  });

  it('committed index is the smaller of the halves', () => {
    const c = JointConfig.of([1], [2]);
    expect(c.committedIndex(new MapAckIndexer({ 1: 13, 2: 100 }))).toBe(13);
    expect(c.committedIndex(new MapAckIndexer({ 1: 100 }))).toBe(0);
  });

  it('vote results combine: lost wins over pending, pending over won', () => {
    const c = JointConfig.of([1, 2, 3], [3, 4, 5]);
    const v = (e: [number, boolean][]) => c.voteResult(new Map(e));
    expect(v([[1, true], [2, true]])).toBe(VoteResult.VotePending);
    expect(v([[1, true], [2, true], [4, false], [5, false]])).toBe(VoteResult.VoteLost);
    expect(v([[1, true], [3, true], [4, true]])).toBe(VoteResult.VoteWon);
    expect(v([[1, false], [2, false]])).toBe(VoteResult.VoteLost);
  });

  it('describes the union of both halves', () => {
    const l = new MapAckIndexer({ 1: 100, 2: 100, 3: 99, 4: 98 });
    expect(JointConfig.of([1, 2, 3], [2, 3, 4]).describe(l)).toBe(
      '        idx\nxx>     100    (id=1)\nxx>     100    (id=2)\n' +
        'x>       99    (id=3)\n>        98    (id=4)\n',
    );
  });
});
