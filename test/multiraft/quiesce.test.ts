/** The quiescence rules, checked on plain views without a store. */
import { describe, expect, it } from 'vitest';
import {
  QuiesceRefusal,
  newFollowerQuiesceView,
  newLeaderQuiesceView,
  shouldFollowerQuiesce,
  shouldLeaderQuiesce,
  type FollowerQuiesceView,
  type LeaderQuiesceView,
} from '../../src/multiraft/index.js';

const REPLICATE = 1;
const PROBE = 0;

/** A leader of three at last index 10, everything replicated, idle for 5 ticks. */
function quiescentLeader(): LeaderQuiesceView {
  const v = newLeaderQuiesceView();
  Object.assign(v, {
    quiescenceEnabled: true, initialized: true, id: 1, isLeader: true, leadTransferee: 0,
    ticksSinceProposal: 5, quiesceAfterTicks: 3, applied: 10, commit: 10, lastIndex: 10,
    hasReady: false, selfInProgress: true, followerCount: 2, followerIds: [2, 3],
    followerMatch: [10, 10], followerState: [REPLICATE, REPLICATE],
    followerLive: [true, true],
  });
  return v;
}

function quiescentFollower(): FollowerQuiesceView {
  const v = newFollowerQuiesceView();
  Object.assign(v, {
    quiescenceEnabled: true, initialized: true, term: 7, commit: 10, lastIndex: 10, lead: 1,
    ticksSinceProposal: 255, quiesceAfterTicks: 3, hasReady: false, heartbeatTerm: 7,
    heartbeatCommit: 10, heartbeatFrom: 1,
  });
  return v;
}

describe('shouldLeaderQuiesce', () => {
  it('quiesces an idle, fully replicated leader', () => {
    const lagging: number[] = [99];
    expect(shouldLeaderQuiesce(quiescentLeader(), lagging)).toBeNull();
    expect(lagging).toEqual([]);
  });

  const cases: [string, (v: LeaderQuiesceView) => void, QuiesceRefusal][] = [
    ['disabled', (v) => (v.quiescenceEnabled = false), QuiesceRefusal.Disabled],
    ['uninitialized', (v) => (v.initialized = false), QuiesceRefusal.Uninitialized],
    ['not leader', (v) => (v.isLeader = false), QuiesceRefusal.NotLeader],
    ['transfer', (v) => (v.leadTransferee = 2), QuiesceRefusal.LeadTransfer],
    ['recent proposal', (v) => (v.ticksSinceProposal = 2), QuiesceRefusal.RecentProposal],
    ['unapplied', (v) => (v.applied = 9), QuiesceRefusal.Unapplied],
    ['uncommitted', (v) => (v.lastIndex = 11), QuiesceRefusal.Uncommitted],
    ['ready', (v) => (v.hasReady = true), QuiesceRefusal.RaftReady],
    ['pending reads', (v) => (v.readsPending = 1), QuiesceRefusal.PendingReads],
    ['self missing', (v) => (v.selfInProgress = false), QuiesceRefusal.SelfNotInProgress],
    ['follower behind', (v) => (v.followerMatch[1] = 9), QuiesceRefusal.FollowerBehind],
    ['follower probing', (v) => (v.followerState[0] = PROBE),
      QuiesceRefusal.FollowerNotReplicating],
  ];
  for (const [name, change, refusal] of cases) {
    it(`refuses: ${name}`, () => {
      const v = quiescentLeader();
      change(v);
      expect(shouldLeaderQuiesce(v, [])).toBe(refusal);
    });
  }

  it('leaves a down follower that is behind in the lagging set', () => {
    const v = quiescentLeader();
    v.followerMatch[1] = 4;
    v.followerState[1] = PROBE;
    v.followerLive[1] = false;
    const lagging: number[] = [];
    expect(shouldLeaderQuiesce(v, lagging)).toBeNull();
    expect(lagging).toEqual([3]);
  });

  it('does not call a caught-up down follower lagging', () => {
    const v = quiescentLeader();
    v.followerLive[0] = false;
    const lagging: number[] = [];
    expect(shouldLeaderQuiesce(v, lagging)).toBeNull();
    expect(lagging).toEqual([]);
  });
});

describe('shouldFollowerQuiesce', () => {
  it('quiesces on a matching heartbeat', () => {
    expect(shouldFollowerQuiesce(quiescentFollower())).toBeNull();
  });

  const cases: [string, (v: FollowerQuiesceView) => void, QuiesceRefusal][] = [
    ['disabled', (v) => (v.quiescenceEnabled = false), QuiesceRefusal.Disabled],
    ['uninitialized', (v) => (v.initialized = false), QuiesceRefusal.Uninitialized],
    ['stale term', (v) => (v.heartbeatTerm = 6), QuiesceRefusal.TermMismatch],
    ['newer term', (v) => (v.heartbeatTerm = 8), QuiesceRefusal.TermMismatch],
    ['other leader', (v) => (v.heartbeatFrom = 2), QuiesceRefusal.LeaderMismatch],
    ['no leader', (v) => (v.lead = 0), QuiesceRefusal.LeaderMismatch],
    ['behind', (v) => (v.commit = 9), QuiesceRefusal.CommitMismatch],
    ['stale commit', (v) => (v.heartbeatCommit = 9), QuiesceRefusal.CommitMismatch],
    ['log beyond', (v) => (v.lastIndex = 11), QuiesceRefusal.LogBeyondCommit],
    ['own proposal', (v) => (v.ticksSinceProposal = 0), QuiesceRefusal.RecentProposal],
    ['ready', (v) => (v.hasReady = true), QuiesceRefusal.RaftReady],
  ];
  for (const [name, change, refusal] of cases) {
    it(`refuses: ${name}`, () => {
      const v = quiescentFollower();
      change(v);
      expect(shouldFollowerQuiesce(v)).toBe(refusal);
    });
  }
});
