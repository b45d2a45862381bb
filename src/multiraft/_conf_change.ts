/**
 * Private: membership changes at the store's boundary (`Store.proposeConfChange`).
 *
 * Raft validates a conf change twice: when the leader appends it (a change while another is
 * unapplied, or that does not fit the joint state, becomes an empty entry: silently
 * ignored) and when it applies (an invalid one is a panic, on every replica alike). So the
 * store checks a change against the leader's applied configuration before Raft sees it,
 * with Raft's own rules (conf_change_check.ts mirrors Raft's `Changer`), and refuses what Raft
 * would panic on with a typed error. What Raft may still ignore (another change pending) is
 * harmless: the caller sees no `confChanged` and times out.
 *
 * QUORUM. A change is refused if a voter set of the configuration it leads to (the incoming
 * one, and the outgoing one while joint) has no majority of AVAILABLE replicas: the leader
 * itself, or followers in StateReplicate on nodes the store's liveness sees as live. Adding
 * a voter that has not caught up (no learner first) or removing a live voter while another
 * is down is refused: the range could commit nothing after it. Leaving a joint
 * configuration is never refused for quorum: the joint state needed the incoming majority
 * already.
 */
import { assert } from '../util/index.js';
import { isNodeId, ProgressState, StateType, type ConfState } from '../raft/index.js';
import { WorkFlag } from '../scheduler/index.js';
import { NotLeaderError } from './errors.js';
import {
  ConfChangeQuorumError,
  ConfChangeRefusedError,
  InvalidConfChangeError,
} from './membership_errors.js';
import { checkConfChangeV2 } from './api_check.js';
import { leavesJoint, nextConfState } from './conf_change_check.js';
import { WakeReason, type StoreContext } from './_context.js';
import { wake } from './_quiescer.js';
import { raftStatus } from './_status_reads.js';

/**
 * Checks and proposes a membership change on the leader of `rangeId` (see the file comment).
 * @throws the errors `Store.proposeConfChange` lists.
 */
export function proposeConfChange(st: StoreContext, rangeId: number, change: unknown): void {
  const id = st.initializedGroup(rangeId);
  const cc = checkConfChangeV2(change);
  wake(st, id, WakeReason.Proposal);
  const node = st.settled(id);
  if (node.raftState !== StateType.StateLeader) throw new NotLeaderError(rangeId, node.lead);
  const current = st.table.storages[id]!.appliedState().confState;
  const next = nextConfState(current, cc);
  if (typeof next === 'string') throw new ConfChangeRefusedError(rangeId, next);
  if (!leavesJoint(cc)) checkQuorum(st, rangeId, next);
  st.table.idleTicks[id] = 0;
  node.proposeConfChange(cc);
  st.stats.confChangesProposed++;
  st.scheduler.enqueue(id, WorkFlag.Ready);
}

/** @throws ConfChangeQuorumError unless every voter set of `next` has a quorum available. */
function checkQuorum(st: StoreContext, rangeId: number, next: ConfState): void {
  const status = raftStatus(st, rangeId);
  assert(status !== undefined && status.raftState === StateType.StateLeader,
    'the leader checks quorum');
  const available = (nodeId: number): boolean => {
    if (nodeId === st.nodeId) return true;
    const pr = status.progress.find((p) => p.nodeId === nodeId);
    return pr !== undefined && pr.state === ProgressState.StateReplicate &&
      st.liveness.isLive(nodeId);
  };
  for (const set of [next.voters, next.votersOutgoing]) {
    if (set.length === 0) continue;
    const up = set.filter(available);
    if (up.length < Math.floor(set.length / 2) + 1) {
      throw new ConfChangeQuorumError(rangeId,
        `voters [${set.join(',')}] with only [${up.join(',')}] caught up and live`);
    }
  }
}


/**
 * Asks the leader of `rangeId` to hand its leadership to `toNodeId` (Raft's leader transfer:
 * once the transferee has caught up it is told to campaign at once). A leader that removed
 * itself from the configuration keeps leading until it does this (Raft does not step down
 * on removal): its followers would otherwise wait for it for ever.
 * @throws InvalidConfChangeError (not a node id), NotLeaderError, and `propose`'s errors
 */
export function transferLeadership(st: StoreContext, rangeId: number, toNodeId: number): void {
  const id = st.initializedGroup(rangeId);
  if (typeof toNodeId !== 'number' || !isNodeId(toNodeId)) {
    throw new InvalidConfChangeError(`not a node id: ${String(toNodeId)}`);
  }
  wake(st, id, WakeReason.Local);
  const node = st.settled(id);
  if (node.raftState !== StateType.StateLeader) throw new NotLeaderError(rangeId, node.lead);
  node.transferLeader(toNodeId);
  assert(node.raftState === StateType.StateLeader, 'a transfer starts on the leader');
  st.scheduler.enqueue(id, WorkFlag.Ready);
}
