/**
 * Restoring the role of a quiesced node whose `RawNode` was released and is now rebuilt from
 * its storage (Flotilla's extension; etcd has no counterpart: CockroachDB keeps a quiesced
 * group's RawNode, or recreates it as a leaderless follower and pays for an election).
 *
 * A node rebuilt from storage comes up as a follower that knows no leader. For a group that
 * only slept that is wrong twice over: the follower would campaign (or drop proposals) and the
 * leader would have to win a new election, a term bump on every wake-up. These functions put
 * the node back into the role it held when it quiesced, in the same term, without messages.
 *
 * SAFETY. Raft's safety rests on the persisted state only (term, vote, log); the role is
 * volatile and rebuilt from what the caller recorded at quiescence. Restoring it is safe when:
 *
 * 1. the record is true: at term `term` the node was the leader (resp. followed `lead`), and
 *    its storage still holds that term (no vote or message of a later term was persisted);
 * 2. the released node is gone for good and its whole log was durable when it was released
 *    (nothing unstable, no Ready outstanding): the rebuilt node is the same node, not a twin;
 * 3. for a leader, `committed === lastIndex` and the log ends with an entry of `term`.
 *
 * Election safety (one leader per term) then holds because the node already was the leader
 * of `term` and no one else can be (it won a majority of votes for it); nothing is elected.
 * Becoming leader again WITHOUT `becomeLeader`'s empty entry is fine because that entry's
 * job, committing the entries of earlier terms by counting one of this term, is done: the log
 * ends with this term's entry and everything is committed. The rebuilt progress is the
 * delicate part: followers outside `lagging` are put in StateReplicate with
 * `match = lastIndex`, which may overstate what a follower really holds. That cannot commit
 * anything wrongly, because the commit index is already `lastIndex` and `match` never exceeds
 * it: every later commit counts real acknowledgements of new entries. An overstated match
 * costs liveness only (the follower rejects an append and is probed), which is why the caller
 * names the followers it knows are behind in `lagging`; they restart in StateProbe, as after
 * any leader change. CheckQuorum is unaffected: followers are recently active (they just
 * answered the quiesce heartbeat) and the election clock restarts at zero, as after winning.
 *
 * A follower only learns who leads its current term, which any message from that leader
 * would teach it; `becomeFollower(term, lead)` keeps its vote. A wrong `lead` costs liveness
 * (proposals forwarded to a non-leader are dropped), never safety.
 */

import { assert } from '../util/index.js';
import type { Raft } from './raft.js';
import { NONE, StateType } from './raft_state.js';
import { StateType as ProgressState } from './tracker/index.js';

/** The role a quiesced node held when its `RawNode` was released. */
export interface QuiescedRole {
  /** The term the node quiesced in; must equal the term of its persisted HardState. */
  term: number;
  /** The leader of `term`: this node's id (it was the leader), another id, or 0 (unknown). */
  lead: number;
  /**
   * Leader only: the followers that had not acknowledged the whole log when it quiesced (or
   * were not live). They restart in StateProbe; every other follower in StateReplicate at
   * the last index. @default []
   */
  lagging?: readonly number[];
  /**
   * Leader only: `NodeFacts.readPosition` when it was released. Its read queue continues
   * from there: heartbeat acknowledgements of the released queue may still arrive in the
   * same term, and must not confirm a read queued after the restore. @default 0
   */
  readPosition?: number;
}

/** Puts a freshly built `r` back into `role` (see the file comment for when this is safe). */
export function restoreQuiescedRole(r: Raft, role: QuiescedRole): void {
  assert(r.state === StateType.StateFollower && r.lead === NONE, 'restore a fresh node only');
  assert(r.term === role.term, 'the storage holds the recorded term');
  assert(role.lagging === undefined || role.lagging.length === 0 || role.lead === r.id,
    'only a leader has lagging followers');
  assert((role.readPosition ?? 0) === 0 || role.lead === r.id, 'only a leader reads');
  if (role.lead === r.id) restoreLeader(r, role.lagging ?? [], role.readPosition ?? 0);
  else if (role.lead !== NONE) restoreFollower(r, role.lead);
}

/** Leader of `r.term` again, without an election or a new entry. */
function restoreLeader(r: Raft, lagging: readonly number[], readPosition: number): void {
  const log = r.raftLog;
  const lastIndex = log.lastIndex();
  const self = r.trk.progress.get(r.id);
  assert(self !== undefined && !self.isLearner, 'a leader is a voter of its configuration');
  assert(r.vote === r.id, 'a leader voted for itself in its term');
  assert(log.committed === lastIndex, 'a quiesced leader committed its whole log');
  assert(log.lastTerm() === r.term, 'a leader log ends with an entry of its term');
  assert(!log.hasNextOrInProgressSnapshot(), 'a quiesced leader has no pending snapshot');
  r.reset(r.term);
  r.lead = r.id;
  r.state = StateType.StateLeader;
  r.readOnly.resumeAt(readPosition);
  // As becomeLeader: treat everything in the log as a possibly pending conf change.
  r.pendingConfIndex = lastIndex;
  const ids = r.trk.progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id !== r.id && lagging.includes(id)) continue;
    const pr = r.trk.progress.get(id)!;
    pr.match = lastIndex;
    pr.becomeReplicate();
    pr.recentActive = true;
    pr.sentCommit(log.committed);
  }
  assert(self.state === ProgressState.StateReplicate && self.match === lastIndex,
    'the leader replicates to itself');
  assert(r.uncommittedSize === 0 && r.leadTransferee === NONE, 'a leader at rest');
}

/** Follower of `lead` in `r.term`, keeping the vote. */
function restoreFollower(r: Raft, lead: number): void {
  assert(lead !== r.id, 'a follower follows another node');
  const vote = r.vote;
  r.becomeFollower(r.term, lead);
  assert(r.vote === vote && r.lead === lead, 'same term, same vote, known leader');
}
