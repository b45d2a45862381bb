/**
 * Heartbeats without a message object: a follower taking its leader's plain heartbeat, and a
 * leader taking a follower's plain answer, the two steps that make up most of an awake
 * group's traffic. A host that holds the heartbeat as numbers (a coalesced row) calls these
 * instead of building a `Message` for `step`; each either does exactly what `step` of that
 * message would do, or declines and does nothing (the host then steps the message).
 *
 * WHY EACH IS `step` (plain = no context; `RawNode.step`, then `Raft.step`):
 * - `RawNode.step` refuses local messages and responses from unknown peers: a heartbeat is
 *   not local; for an answer, an unknown sender makes it throw, so the leader path declines
 *   when the sender has no progress (and for the local storage ids).
 * - `Raft.step` compares terms first. At equal, non-zero terms it changes nothing and answers
 *   nothing; both paths decline any other term. A heartbeat is not a hup, vote or storage
 *   message, so `step` dispatches on the role.
 * - Follower (`stepFollower`, MsgHeartbeat): `electionElapsed = 0`, `lead = from`, then
 *   `handleHeartbeat`: `commitTo(commit)` and a MsgHeartbeatResp to `from` (term set by
 *   `send`, context empty) queued in `msgs`. Here the same three writes, and the answer is
 *   left to the caller, who sends the message `send` would have queued. Declined unless
 *   `msgs` is empty, so that the answer would have been the first message of the next Ready
 *   (whose messages are `msgs`, then the answers held until an append): sent first, it keeps
 *   the order; and unless the sender differs from this node, as `send` asserts.
 * - Leader (`stepLeader`, MsgHeartbeatResp): its first switch ignores the type, the sender's
 *   progress is looked up, and `stepHeartbeatResp` runs, which this path calls itself with
 *   the empty context. Any append it sends is queued in `msgs` as usual.
 * A candidate's heartbeat, a heartbeat with a context and every other case take `step`.
 */
import { EMPTY_BYTES } from './raftpb.js';
import type { Raft } from './raft.js';
import { NONE, StateType } from './raft_state.js';
import { stepHeartbeatResp } from './raft_leader.js';
import { isLocalMsgTarget } from './util.js';

/** The outcome of a message-free heartbeat step. */
export const HeartbeatStep = {
  /** Nothing done: step the message instead. */
  Declined: 0,
  /** Stepped; nothing new for a Ready (no role, leader, commit or message change). */
  Settled: 1,
  /** Stepped; the node may have work for a Ready (a new leader or commit, an append). */
  ReadyPending: 2,
} as const;
export type HeartbeatStep = (typeof HeartbeatStep)[keyof typeof HeartbeatStep];

/**
 * A follower steps its leader's plain heartbeat `(from, term, commit)`. On a non-Declined
 * outcome the caller must send the answer, a MsgHeartbeatResp from `r.id` to `from` at
 * `r.term` with no context, as the first message of this turn.
 */
export function stepHeartbeatPlain(r: Raft, from: number, term: number, commit: number):
  HeartbeatStep {
  if (term === 0 || term !== r.term || r.state !== StateType.StateFollower) {
    return HeartbeatStep.Declined;
  }
  if (from === NONE || from === r.id || isLocalMsgTarget(from) || r.msgs.length !== 0) {
    return HeartbeatStep.Declined;
  }
  const lead = r.lead;
  const committed = r.raftLog.committed;
  r.electionElapsed = 0;
  r.lead = from;
  r.raftLog.commitTo(commit);
  return r.lead !== lead || r.raftLog.committed !== committed
    ? HeartbeatStep.ReadyPending : HeartbeatStep.Settled;
}

/** A leader steps a follower's plain heartbeat answer `(from, term)`. */
export function stepHeartbeatRespPlain(r: Raft, from: number, term: number): HeartbeatStep {
  if (term === 0 || term !== r.term || r.state !== StateType.StateLeader) {
    return HeartbeatStep.Declined;
  }
  if (isLocalMsgTarget(from)) return HeartbeatStep.Declined;
  const pr = r.trk.progress.get(from);
  if (pr === undefined) return HeartbeatStep.Declined;
  const msgs = r.msgs;
  const queued = msgs.length;
  stepHeartbeatResp(r, from, EMPTY_BYTES, pr);
  return r.msgs !== msgs || r.msgs.length !== queued
    ? HeartbeatStep.ReadyPending : HeartbeatStep.Settled;
}
