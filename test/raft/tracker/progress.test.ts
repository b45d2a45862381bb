import { describe, expect, it } from 'vitest';
import { Inflights, Progress, StateType } from '../../../src/raft/tracker/index.js';

function progress(match: number, next: number, size = 256): Progress {
  return new Progress({ match, next, inflights: new Inflights(size, 0), recentActive: true });
}

describe('Progress', () => {
  it('prints like etcd', () => {
    const pr = progress(1, 2, 2);
    expect(pr.toString()).toBe('StateProbe match=1 next=2');
    pr.isLearner = true;
    pr.recentActive = false;
    expect(pr.toString()).toBe('StateProbe match=1 next=2 learner inactive');
    pr.isLearner = false;
    pr.recentActive = true;
    pr.becomeReplicate();
    pr.sentEntries(1, 10);
    pr.sentEntries(1, 10);
    expect(pr.toString()).toBe('StateReplicate match=1 next=4 paused inflight=2[full]');
    pr.becomeSnapshot(12);
    expect(pr.toString()).toBe('StateSnapshot match=1 next=13 paused pendingSnap=12');
  });

  it('becomeProbe from snapshot probes after the snapshot', () => {
    const pr = progress(1, 5);
    pr.becomeSnapshot(10);
    pr.becomeProbe();
    expect(pr.state).toBe(StateType.StateProbe);
    expect(pr.next).toBe(11);
    expect(pr.pendingSnapshot).toBe(0);
    const pr2 = progress(11, 5 + 10);
    pr2.becomeSnapshot(11);
    pr2.match = 20;
    pr2.next = 21;
    pr2.becomeProbe();
    expect(pr2.next).toBe(21);
  });

  it('becomeProbe from replicate restarts at match + 1 and clears the window', () => {
    const pr = progress(1, 2);
    pr.becomeReplicate();
    pr.sentEntries(3, 30);
    expect(pr.next).toBe(5);
    expect(pr.inflights.count()).toBe(1);
    pr.becomeProbe();
    expect(pr.next).toBe(2);
    expect(pr.inflights.count()).toBe(0);
  });

  it('pauses in probe after a non-empty append, unpauses on ack', () => {
    const pr = progress(0, 1);
    pr.sentEntries(0, 0);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(1, 1);
    expect(pr.isPaused()).toBe(true);
    expect(pr.next).toBe(1); // probe does not advance next
    expect(pr.maybeUpdate(1)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect(pr.next).toBe(2);
    expect(pr.maybeUpdate(1)).toBe(false);
  });

  it('maybeDecrTo in replicate: stale below match, else back to match + 1', () => {
    const pr = progress(5, 10);
    pr.state = StateType.StateReplicate;
    pr.sentCommit(9);
    expect(pr.maybeDecrTo(5, 5)).toBe(false);
    expect(pr.maybeDecrTo(9, 2)).toBe(true);
    expect(pr.next).toBe(6);
    expect(pr.sentCommitIndex).toBe(5);
  });

  it('maybeDecrTo in probe: only next - 1 counts, hint bounded by match', () => {
    const pr = progress(0, 10);
    pr.msgAppFlowPaused = true;
    expect(pr.maybeDecrTo(5, 5)).toBe(false);
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
    expect(pr.isPaused()).toBe(false);
    const pr2 = progress(5, 10);
    expect(pr2.maybeDecrTo(9, 1)).toBe(true);
    expect(pr2.next).toBe(6);
  });

  it('canBumpCommit and sentCommit', () => {
    const pr = progress(0, 5);
    expect(pr.canBumpCommit(3)).toBe(true);
    pr.sentCommit(3);
    expect(pr.canBumpCommit(3)).toBe(false);
    expect(pr.canBumpCommit(4)).toBe(true);
    pr.sentCommit(4);
    expect(pr.canBumpCommit(10)).toBe(false); // already at next - 1
  });

  it('rejects sending appends while in StateSnapshot, and match >= next', () => {
    const pr = progress(0, 1);
    pr.becomeSnapshot(5);
    expect(() => pr.sentEntries(1, 1)).toThrow();
    expect(() => progress(3, 3)).toThrow();
  });
});
