/**
 * Private: rebuilding a released (dormant) replica's Raft node so that it behaves exactly
 * as the node it replaces would have, had it been kept.
 *
 * A dormant replica keeps its storage (log, HardState, snapshot) plus three scalars: term,
 * leader and applied index. A fresh `RawNode` over that storage comes up as a follower that
 * knows no leader. That is right for nothing: a follower would campaign or drop proposals,
 * and the leader would have to win a new election (a term bump on every wake-up). So the
 * role is restored from the record:
 *
 * - a follower is made the follower of the recorded leader in the same term (etcd's
 *   `becomeFollower(term, lead)`, which keeps the vote);
 * - a leader is made leader again in the same term WITHOUT a new election or the empty
 *   entry `becomeLeader` appends. Safe because: it won this term (its persisted vote is
 *   itself and no one else can lead the term); the empty entry's purpose, committing the
 *   earlier terms' entries, is already achieved (it quiesced with commit = last index); and
 *   the progress it had when it quiesced is known: every follower outside the lagging set
 *   was in StateReplicate with match = last index and had just been active. Lagging
 *   followers restart in StateProbe, as after any leader change.
 *
 * This reaches into `RawNode.raft`, the way etcd's own tests do. It belongs in src/raft as
 * a RawNode method; until then it is confined to this file.
 */
import { assert } from '../util/index.js';
import { ProgressState, StateType, type RawNode } from '../raft/index.js';

/** Makes the freshly built `node` the leader of its current term again (see above). */
export function restoreLeadership(node: RawNode, lagging: readonly number[] | undefined): void {
  const r = node.raft;
  const log = r.raftLog;
  const lastIndex = log.lastIndex();
  assert(r.state === StateType.StateFollower && r.lead === 0, 'restore a fresh node only');
  assert(r.vote === r.id, 'a leader voted for itself in its term');
  assert(log.committed === lastIndex, 'a quiesced leader had committed its whole log');
  r.reset(r.term);
  r.lead = r.id;
  r.state = StateType.StateLeader;
  // As becomeLeader: treat everything in the log as a possibly pending conf change.
  r.pendingConfIndex = lastIndex;
  const ids = r.trk.progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const pr = r.trk.progress.get(id)!;
    if (id !== r.id && lagging !== undefined && lagging.includes(id)) continue;
    pr.match = lastIndex;
    pr.becomeReplicate();
    pr.recentActive = true;
    pr.sentCommit(log.committed);
  }
  node.prevSoftSt = r.softState();
  assert(r.trk.progress.get(r.id)?.state === ProgressState.StateReplicate, 'self replicates');
}

/** Makes the freshly built `node` a follower of `lead` in its current term. */
export function restoreFollower(node: RawNode, lead: number): void {
  const r = node.raft;
  assert(r.state === StateType.StateFollower && r.lead === 0, 'restore a fresh node only');
  assert(lead !== r.id, 'a follower follows another node');
  const vote = r.vote;
  r.becomeFollower(r.term, lead);
  node.prevSoftSt = r.softState();
  assert(r.vote === vote && r.lead === lead, 'same term, same vote, known leader');
}
