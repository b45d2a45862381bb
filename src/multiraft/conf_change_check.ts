/**
 * Raft's rules for membership changes, as a pure function over a `ConfState`: the
 * configuration a `ConfChangeV2` leads to, or the reason Raft would refuse it. It mirrors
 * the Raft core's `Changer` (simple changes, entering and leaving joint consensus) so that
 * the store can refuse at its boundary what Raft would otherwise panic on when the change
 * applies (see _conf_change.ts). Tests call it directly.
 */
import { assert } from '../util/index.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
} from '../raft/index.js';

/** Whether `cc` leaves a joint configuration (Raft's zero change). */
export function leavesJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto &&
    cc.changes.length === 0;
}

/** Whether `cc` enters a joint configuration (more than one change, or a joint transition). */
function entersJoint(cc: ConfChangeV2): boolean {
  return !(cc.transition === ConfChangeTransition.ConfChangeTransitionAuto &&
    cc.changes.length <= 1);
}

/**
 * The configuration `cc` leads to from `cs`, by Raft's rules, or the reason Raft would
 * refuse it (its wording). Pure: tests call it directly.
 */
export function nextConfState(cs: ConfState, cc: ConfChangeV2): ConfState | string {
  const incoming = new Set(cs.voters);
  const outgoing = new Set(cs.votersOutgoing);
  const learners = new Set(cs.learners);
  const learnersNext = new Set(cs.learnersNext);
  let autoLeave = cs.autoLeave;
  if (leavesJoint(cc)) {
    if (outgoing.size === 0) return 'not in a joint configuration: nothing to leave';
    for (const id of learnersNext) learners.add(id);
    learnersNext.clear();
    outgoing.clear();
    autoLeave = false;
  } else if (outgoing.size > 0) {
    return 'config is already joint: leave it first';
  } else if (entersJoint(cc)) {
    if (incoming.size === 0) return "can't make a zero-voter config joint";
    for (const id of incoming) outgoing.add(id);
    for (const c of cc.changes) applyOne(c, incoming, outgoing, learners, learnersNext);
    autoLeave = cc.transition !== ConfChangeTransition.ConfChangeTransitionJointExplicit;
  } else {
    for (const c of cc.changes) applyOne(c, incoming, outgoing, learners, learnersNext);
    let changed = 0;
    for (const id of incoming) if (!cs.voters.includes(id)) changed++;
    for (const id of cs.voters) if (!incoming.has(id)) changed++;
    if (changed > 1) return 'more than one voter changed without entering joint config';
  }
  if (incoming.size === 0) return 'removed all voters';
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  const next: ConfState = { voters: sorted(incoming), learners: sorted(learners),
    votersOutgoing: sorted(outgoing), learnersNext: sorted(learnersNext), autoLeave };
  assert(next.learners.every((id) => !incoming.has(id) && !outgoing.has(id)),
    'a learner votes in no half');
  return next;
}

function applyOne(c: ConfChangeSingle, incoming: Set<number>, outgoing: Set<number>,
  learners: Set<number>, learnersNext: Set<number>): void {
  const id = c.nodeId;
  switch (c.type) {
    case ConfChangeType.ConfChangeAddNode:
      learners.delete(id);
      learnersNext.delete(id);
      incoming.add(id);
      return;
    case ConfChangeType.ConfChangeAddLearnerNode:
      if (learners.has(id)) return;
      incoming.delete(id);
      // An outgoing voter cannot be a learner at once: it becomes one on leaving the joint.
      if (outgoing.has(id)) learnersNext.add(id);
      else learners.add(id);
      return;
    case ConfChangeType.ConfChangeRemoveNode:
      incoming.delete(id);
      learners.delete(id);
      learnersNext.delete(id);
      return;
    case ConfChangeType.ConfChangeUpdateNode:
      return;
    default:
      assert(false, 'change types are checked at the boundary');
  }
}

