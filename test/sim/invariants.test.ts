import { describe, expect, it } from 'vitest';
import { EntryType, type Entry } from '../../src/raft/index.js';
import {
  CHAIN_HASH_EMPTY,
  InvariantViolation,
  SafetyChecker,
  type InvariantName,
  type NodeView,
} from './invariants.js';

/** A node whose every field is set by hand: the checker cannot tell it from a real one. */
class FakeNode implements NodeView {
  termValue = 1;
  voteValue = 0;
  commitValue = 0;
  leader = false;
  appliedValue = 0;
  snapIndex = 0;
  snapTerm = 0;
  log: Entry[] = [];
  chain = CHAIN_HASH_EMPTY;
  constructor(readonly id: number) {}
  term = (): number => this.termValue;
  vote = (): number => this.voteValue;
  commit = (): number => this.commitValue;
  isLeader = (): boolean => this.leader;
  applied = (): number => this.appliedValue;
  firstIndex = (): number => this.snapIndex + 1;
  lastIndex = (): number => this.snapIndex + this.log.length;
  entryAt = (i: number): Entry => this.log[i - this.snapIndex - 1]!;
  snapshotTerm = (): number => this.snapTerm;
  append(term: number, text: string): Entry {
    const e = entry(this.lastIndex() + 1, term, text);
    this.log.push(e);
    return e;
  }
}

const entry = (index: number, term: number, text: string): Entry => ({
  index,
  term,
  type: EntryType.EntryNormal,
  data: new TextEncoder().encode(text),
});

function expectViolation(fn: () => void, invariant: InvariantName): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvariantViolation);
    expect((e as InvariantViolation).invariant).toBe(invariant);
    return;
  }
  throw new Error(`expected a ${invariant} violation`);
}

/** Applies everything up to commit on a fake node, through the checker. */
function applyAll(checker: SafetyChecker, n: FakeNode): void {
  while (n.appliedValue < n.commitValue) {
    const e = n.entryAt(n.appliedValue + 1);
    n.chain = checker.onApply(n, e, n.appliedValue, n.chain);
    n.appliedValue++;
  }
}

describe('safety checker', () => {
  it('accepts a healthy replicated history', () => {
    const c = new SafetyChecker();
    const [a, b] = [new FakeNode(1), new FakeNode(2)];
    a.leader = true;
    a.voteValue = 1;
    b.voteValue = 1;
    c.onVoteGranted(b, 1, 1);
    for (const text of ['x', 'y', 'z']) {
      a.append(1, text);
      b.log.push(a.log[a.log.length - 1]!);
    }
    a.commitValue = 3;
    c.checkNode(a);
    b.commitValue = 2;
    c.checkNode(b);
    applyAll(c, a);
    applyAll(c, b);
    c.onPersist(a, { term: 1, vote: 1, commit: 3 });
    // b compacts and a new node catches up from a snapshot of b.
    const n3 = new FakeNode(3);
    n3.snapIndex = 2;
    n3.snapTerm = 1;
    n3.commitValue = 2;
    c.onApplySnapshot(n3, 2, 0, b.chain);
    n3.appliedValue = 2;
    c.checkNode(n3);
    expect(c.committedIndex).toBe(3);
  });

  it('catches two leaders in one term', () => {
    const c = new SafetyChecker();
    const [a, b] = [new FakeNode(1), new FakeNode(2)];
    a.leader = b.leader = true;
    c.checkNode(a);
    expectViolation(() => c.checkNode(b), 'election-safety');
  });

  it('catches a node that votes twice in a term', () => {
    const c = new SafetyChecker();
    const v = new FakeNode(3);
    c.onVoteGranted(v, 1, 5);
    c.onVoteGranted(v, 1, 5); // a duplicate answer to the same candidate is fine
    expectViolation(() => c.onVoteGranted(v, 2, 5), 'vote-once');
  });

  it('catches logs that disagree at the same index and term', () => {
    const c = new SafetyChecker();
    const [a, b] = [new FakeNode(1), new FakeNode(2)];
    a.append(1, 'x');
    b.append(1, 'y');
    c.checkNode(a);
    expectViolation(() => c.checkNode(b), 'log-matching');
  });

  it('catches a follower that truncates committed entries', () => {
    const c = new SafetyChecker();
    const a = new FakeNode(1);
    a.append(1, 'x');
    a.append(1, 'y');
    a.commitValue = 2;
    c.checkNode(a);
    a.log.pop();
    expectViolation(() => c.checkNode(a), 'committed-stable');
  });

  it('catches a committed entry that is overwritten', () => {
    const c = new SafetyChecker();
    const a = new FakeNode(1);
    a.append(1, 'x');
    a.commitValue = 1;
    c.checkNode(a);
    a.termValue = 2;
    a.log[0] = entry(1, 2, 'other');
    expectViolation(() => c.checkNode(a), 'committed-stable');
  });

  it('catches a leader that lacks an entry committed in an earlier term', () => {
    const c = new SafetyChecker();
    const [a, b] = [new FakeNode(1), new FakeNode(2)];
    a.append(1, 'x');
    a.commitValue = 1;
    c.checkNode(a);
    b.termValue = 2;
    b.leader = true;
    expectViolation(() => c.checkNode(b), 'leader-completeness');
  });

  it('does not ask an old, partitioned leader for entries committed after its term', () => {
    const c = new SafetyChecker();
    const [old, a] = [new FakeNode(1), new FakeNode(2)];
    old.leader = true;
    c.checkNode(old);
    a.termValue = 2;
    a.append(2, 'x');
    a.commitValue = 1;
    c.checkNode(a);
    c.checkNode(old);
  });

  it('catches state machines that apply different histories', () => {
    const c = new SafetyChecker();
    const [a, b] = [new FakeNode(1), new FakeNode(2)];
    a.append(1, 'x');
    a.commitValue = 1;
    applyAll(c, a);
    b.append(1, 'x');
    b.append(1, 'y');
    b.commitValue = 2;
    applyAll(c, b);
    const n = new FakeNode(3);
    n.append(2, 'z'); // a different entry 1, never checked as part of a log
    n.commitValue = 1;
    expectViolation(() => applyAll(c, n), 'state-machine-safety');
    // A snapshot of a history nobody applied is caught too.
    expectViolation(() => c.onApplySnapshot(n, 2, 0, 12345), 'state-machine-safety');
  });

  it('catches an apply beyond the commit index and a gap in application', () => {
    const c = new SafetyChecker();
    const a = new FakeNode(1);
    a.append(1, 'x');
    a.append(1, 'y');
    a.commitValue = 1;
    expectViolation(() => c.onApply(a, a.entryAt(2), 1, CHAIN_HASH_EMPTY), 'applied-within-commit');
    expectViolation(() => c.onApply(a, a.entryAt(2), 0, CHAIN_HASH_EMPTY), 'state-machine-safety');
    a.appliedValue = 2;
    expectViolation(() => c.checkNode(a), 'applied-within-commit');
  });

  it('catches a HardState that moves backwards, in memory and on disk', () => {
    const c = new SafetyChecker();
    const a = new FakeNode(1);
    a.termValue = 3;
    a.voteValue = 2;
    c.checkNode(a);
    a.voteValue = 3;
    expectViolation(() => c.checkNode(a), 'hardstate-monotonic');
    const b = new FakeNode(2);
    c.onPersist(b, { term: 4, vote: 1, commit: 7 });
    expectViolation(() => c.onPersist(b, { term: 4, vote: 1, commit: 6 }), 'hardstate-monotonic');
    expectViolation(() => c.onPersist(b, { term: 3, vote: 1, commit: 7 }), 'hardstate-monotonic');
    // After a restart the in-memory state starts over from what was persisted.
    c.onRestart(2, { term: 4, vote: 1, commit: 7 });
    b.termValue = 4;
    b.voteValue = 1;
    b.commitValue = 0;
    expectViolation(() => c.checkNode(b), 'hardstate-monotonic');
  });
});
