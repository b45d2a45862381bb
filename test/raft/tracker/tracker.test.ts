import { describe, expect, it } from 'vitest';
import { JointConfig, VoteResult } from '../../../src/raft/quorum/index.js';
import { Inflights, Progress, ProgressTracker } from '../../../src/raft/tracker/index.js';

function tracker(voters: number[], outgoing: number[] = [], learners: number[] = []) {
  const t = new ProgressTracker(256, 0);
  t.config.voters = JointConfig.of(voters, outgoing);
  for (const id of learners) t.config.learners.add(id);
  for (const id of new Set([...voters, ...outgoing, ...learners])) {
    t.progress.set(
      id,
      new Progress({ next: 1, inflights: new Inflights(256, 0), isLearner: learners.includes(id) }),
    );
  }
  return t;
}

describe('ProgressTracker', () => {
  it('committed follows the voters match indexes, learners excluded', () => {
    const t = tracker([1, 2, 3], [], [4]);
    t.progress.get(1)!.maybeUpdate(10);
    t.progress.get(2)!.maybeUpdate(7);
    t.progress.get(4)!.maybeUpdate(100);
    expect(t.committed()).toBe(7);
  });

  it('visits in id order and prints the progress map like etcd', () => {
    const t = tracker([3, 1, 2]);
    const seen: number[] = [];
    t.visit((id) => seen.push(id));
    expect(seen).toEqual([1, 2, 3]);
    expect(t.progress.toString()).toBe(
      '1: StateProbe match=0 next=1 inactive\n2: StateProbe match=0 next=1 inactive\n' +
        '3: StateProbe match=0 next=1 inactive\n',
    );
    expect(() => t.visit((id) => t.progress.delete(id))).toThrow(/changed during iteration/);
  });

  it('tallies votes, first vote counts, learners ignored', () => {
    const t = tracker([1, 2, 3], [], [4]);
    t.recordVote(1, true);
    t.recordVote(1, false);
    t.recordVote(4, true);
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 0, result: VoteResult.VotePending });
    t.recordVote(2, true);
    expect(t.tallyVotes().result).toBe(VoteResult.VoteWon);
    t.resetVotes();
    expect(t.votes.size).toBe(0);
  });

  it('quorumActive, isSingleton, nodes and confState', () => {
    const t = tracker([1, 2, 3], [3, 4], [5]);
    t.progress.get(1)!.recentActive = true;
    t.progress.get(3)!.recentActive = true;
    expect(t.quorumActive()).toBe(false);
    t.progress.get(4)!.recentActive = true;
    expect(t.quorumActive()).toBe(true);
    expect(t.isSingleton()).toBe(false);
    expect(tracker([1]).isSingleton()).toBe(true);
    expect(t.voterNodes()).toEqual([1, 2, 3, 4]);
    expect(t.learnerNodes()).toEqual([5]);
    expect(t.confState()).toEqual({
      voters: [1, 2, 3],
      votersOutgoing: [3, 4],
      learners: [5],
      learnersNext: [],
      autoLeave: false,
    });
    expect(t.config.toString()).toBe('voters=(1 2 3)&&(3 4) learners=(5)');
  });
});
