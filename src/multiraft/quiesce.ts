/**
 * When a group may quiesce, decided from a narrow, plain view of one replica so that the
 * rules can be tested without a store (CockroachDB's `shouldReplicaQuiesce` and
 * `shouldFollowerQuiesceOnNotify`). Each refusal names its condition; the store counts
 * refusals by reason and logs them at trace level.
 *
 * LEADER. A leader quiesces its group, at a tick, only if all of these hold:
 *   a) quiescence is enabled and the replica is initialized;
 *   b) it is the leader and no leadership transfer is under way;
 *   c) nothing was proposed on this replica for `quiesceAfterTicks` ticks;
 *   d) every committed entry is applied (applied = commit);
 *   e) every entry is committed (commit = last index): no proposal is pending in the log;
 *   f) it has no Ready to handle (nothing to persist, send or apply);
 *   g) it appears in its own progress;
 *   h) every follower is in StateReplicate with match = last index, except followers on
 *      nodes that are down: those are left behind in the lagging set, so that a dead node
 *      cannot keep a group awake forever; the group wakes when one of them comes back.
 * It then sends each caught-up follower a heartbeat flagged `quiesce` carrying its term and
 * commit, and leaves the tick set.
 *
 * FOLLOWER. A follower that receives a quiesce heartbeat quiesces only if it is initialized,
 * has the same term, the same commit (and no entry beyond it), believes the sender is the
 * leader, proposed nothing itself within `quiesceAfterTicks` ticks and has no Ready pending.
 * Otherwise it steps the heartbeat as an ordinary one: it stays awake and its response wakes
 * the leader, which quiesces again later if it still may. A stale heartbeat (older term,
 * other leader, other commit) therefore never quiesces a follower.
 */
import { assert } from '../util/index.js';

/** Why a replica did not quiesce. Stable strings: they are counted and logged. */
export const QuiesceRefusal = {
  Disabled: 'disabled',
  Uninitialized: 'uninitialized',
  NotLeader: 'not-leader',
  LeadTransfer: 'lead-transfer',
  RecentProposal: 'recent-proposal',
  Unapplied: 'unapplied',
  Uncommitted: 'uncommitted',
  RaftReady: 'raft-ready',
  PendingReads: 'pending-reads',
  SelfNotInProgress: 'self-not-in-progress',
  FollowerBehind: 'follower-behind',
  FollowerNotReplicating: 'follower-not-replicating',
  TermMismatch: 'term-mismatch',
  CommitMismatch: 'commit-mismatch',
  LeaderMismatch: 'leader-mismatch',
  LogBeyondCommit: 'log-beyond-commit',
} as const;
export type QuiesceRefusal = (typeof QuiesceRefusal)[keyof typeof QuiesceRefusal];

/** Every refusal reason, for counters keyed by reason. */
export const QUIESCE_REFUSALS: readonly QuiesceRefusal[] = Object.values(QuiesceRefusal);

/** Most peers a group may have in the quiescence view (Raft groups are small). */
export const QUIESCE_PEERS_MAX = 64;

/**
 * What the leader-side rules read. The store keeps one instance and refills it in place for
 * every decision (no allocation per tick). Follower arrays hold `followerCount` entries.
 */
export interface LeaderQuiesceView {
  quiescenceEnabled: boolean;
  initialized: boolean;
  /** This replica's id (its node id). */
  id: number;
  isLeader: boolean;
  /** Node the leadership is being transferred to, 0 if none. */
  leadTransferee: number;
  ticksSinceProposal: number;
  quiesceAfterTicks: number;
  applied: number;
  commit: number;
  lastIndex: number;
  hasReady: boolean;
  /** Read requests awaiting their heartbeat round. */
  readsPending: number;
  /** Whether this replica's own id is in its progress tracker. */
  selfInProgress: boolean;
  followerCount: number;
  followerIds: number[];
  followerMatch: number[];
  /** `ProgressState` of each follower. */
  followerState: number[];
  followerLive: boolean[];
}

/** Returns an empty view to be refilled for every decision. */
export function newLeaderQuiesceView(): LeaderQuiesceView {
  return {
    quiescenceEnabled: false, initialized: false, id: 0, isLeader: false, leadTransferee: 0,
    ticksSinceProposal: 0, quiesceAfterTicks: 1, applied: 0, commit: 0, lastIndex: 0,
    hasReady: false, readsPending: 0, selfInProgress: false, followerCount: 0, followerIds: [],
    followerMatch: [], followerState: [], followerLive: [],
  };
}

/** `ProgressState.StateReplicate`, repeated here so the rules need no Raft import. */
const STATE_REPLICATE = 1;

/**
 * Decides whether a leader may quiesce (conditions a–h above). Appends the ids of the
 * followers to leave behind (down and not caught up) to `lagging`, which it empties first.
 * @returns null if the group may quiesce, else the first condition that failed.
 */
export function shouldLeaderQuiesce(
  v: LeaderQuiesceView,
  lagging: number[],
): QuiesceRefusal | null {
  assert(v.followerCount >= 0 && v.followerCount <= QUIESCE_PEERS_MAX, 'follower count');
  lagging.length = 0;
  if (!v.quiescenceEnabled) return QuiesceRefusal.Disabled;
  if (!v.initialized) return QuiesceRefusal.Uninitialized;
  if (!v.isLeader) return QuiesceRefusal.NotLeader;
  if (v.leadTransferee !== 0) return QuiesceRefusal.LeadTransfer;
  if (v.ticksSinceProposal < v.quiesceAfterTicks) return QuiesceRefusal.RecentProposal;
  if (v.applied !== v.commit) return QuiesceRefusal.Unapplied;
  if (v.commit !== v.lastIndex) return QuiesceRefusal.Uncommitted;
  if (v.hasReady) return QuiesceRefusal.RaftReady;
  // Its heartbeats are what retry a read round whose messages were lost.
  if (v.readsPending !== 0) return QuiesceRefusal.PendingReads;
  if (!v.selfInProgress) return QuiesceRefusal.SelfNotInProgress;
  for (let i = 0; i < v.followerCount; i++) {
    const caughtUp = v.followerMatch[i] === v.lastIndex;
    const replicating = v.followerState[i] === STATE_REPLICATE;
    if (caughtUp && replicating) continue;
    if (!v.followerLive[i]) {
      lagging.push(v.followerIds[i]!);
      continue;
    }
    return caughtUp ? QuiesceRefusal.FollowerNotReplicating : QuiesceRefusal.FollowerBehind;
  }
  assert(lagging.length <= v.followerCount, 'lagging followers are followers');
  return null;
}

/** What the follower-side rules read: the replica's state and the quiesce heartbeat. */
export interface FollowerQuiesceView {
  quiescenceEnabled: boolean;
  initialized: boolean;
  term: number;
  commit: number;
  lastIndex: number;
  /** The leader this replica believes in (0 if none). */
  lead: number;
  ticksSinceProposal: number;
  quiesceAfterTicks: number;
  hasReady: boolean;
  /** The quiesce heartbeat's term, commit and sender. */
  heartbeatTerm: number;
  heartbeatCommit: number;
  heartbeatFrom: number;
}

/** Returns an empty view to be refilled for every decision. */
export function newFollowerQuiesceView(): FollowerQuiesceView {
  return {
    quiescenceEnabled: false, initialized: false, term: 0, commit: 0, lastIndex: 0, lead: 0,
    ticksSinceProposal: 0, quiesceAfterTicks: 1, hasReady: false, heartbeatTerm: 0,
    heartbeatCommit: 0, heartbeatFrom: 0,
  };
}

/**
 * Decides whether a follower may quiesce on a quiesce heartbeat.
 * @returns null if it may, else the first condition that failed.
 */
export function shouldFollowerQuiesce(v: FollowerQuiesceView): QuiesceRefusal | null {
  assert(v.heartbeatFrom !== 0, 'a quiesce heartbeat has a sender');
  if (!v.quiescenceEnabled) return QuiesceRefusal.Disabled;
  if (!v.initialized) return QuiesceRefusal.Uninitialized;
  if (v.term !== v.heartbeatTerm) return QuiesceRefusal.TermMismatch;
  if (v.lead !== v.heartbeatFrom) return QuiesceRefusal.LeaderMismatch;
  if (v.commit !== v.heartbeatCommit) return QuiesceRefusal.CommitMismatch;
  if (v.lastIndex !== v.commit) return QuiesceRefusal.LogBeyondCommit;
  if (v.ticksSinceProposal < v.quiesceAfterTicks) return QuiesceRefusal.RecentProposal;
  if (v.hasReady) return QuiesceRefusal.RaftReady;
  return null;
}
