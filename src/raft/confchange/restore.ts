/**
 * Rebuilding a configuration from a ConfState (etcd's `confchange.Restore`), as a node does
 * when it starts from storage or applies a snapshot.
 */
import { assert } from '../../util/index.js';
import { ConfChangeType, type ConfChangeSingle, type ConfState } from '../raftpb.js';
import { Changer, type ChangeResult } from './confchange.js';

/**
 * Splits a ConfState into `outgoing`, the changes that build the outgoing config from
 * nothing, and `incoming`, the changes that (applied while entering the joint state) turn it
 * into the ConfState. For voters=(1 2 3) learners=(5) outgoing=(1 2 4 6) learners_next=(4):
 * outgoing = v1 v2 v4 v6; incoming = r1 r2 r4 r6 v1 v2 v3 l5 l4, which gives
 * (1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4). Whether 5 was a learner before does not
 * matter.
 */
export function toConfChangeSingle(cs: ConfState): {
  outgoing: ConfChangeSingle[];
  incoming: ConfChangeSingle[];
} {
  const add = ConfChangeType.ConfChangeAddNode;
  const learner = ConfChangeType.ConfChangeAddLearnerNode;
  const outgoing = cs.votersOutgoing.map((nodeId) => ({ type: add, nodeId }));
  const incoming: ConfChangeSingle[] = [
    ...cs.votersOutgoing.map((nodeId) => ({ type: ConfChangeType.ConfChangeRemoveNode, nodeId })),
    ...cs.voters.map((nodeId) => ({ type: add, nodeId })),
    ...cs.learners.map((nodeId) => ({ type: learner, nodeId })),
    // Staged learners: outgoing voters that are to become learners.
    ...cs.learnersNext.map((nodeId) => ({ type: learner, nodeId })),
  ];
  return { outgoing, incoming };
}

/**
 * Runs the changes that enact `cs` starting from `chg`'s base, which must be an empty
 * configuration. Non-joint: each voter and learner is added by its own simple change. Joint:
 * the outgoing voters are added one by one, then one enterJoint applies the incoming changes.
 * Throws a ConfChangeError (etcd returns it) if any step is refused. `chg.base` is not modified.
 */
export function restore(chg: Changer, cs: ConfState): ChangeResult {
  // Restoring on top of an existing config would merge the two instead of replacing it.
  assert(chg.base.progress.size === 0, 'restore needs a changer over an empty configuration');
  const { outgoing, incoming } = toConfChangeSingle(cs);
  let current: ChangeResult = { config: chg.base.config, progress: chg.base.progress };
  const next = (): Changer =>
    new Changer(
      {
        config: current.config,
        progress: current.progress,
        maxInflight: chg.base.maxInflight,
        maxInflightBytes: chg.base.maxInflightBytes,
      },
      chg.lastIndex,
    );
  if (outgoing.length === 0) {
    for (const cc of incoming) current = next().simple(cc);
  } else {
    // Build the outgoing config as if it were the active one, then rotate it out by entering
    // the joint state with the incoming changes.
    for (const cc of outgoing) current = next().simple(cc);
    current = next().enterJoint(cs.autoLeave, ...incoming);
  }
  assert(current.config.voters.incoming.size <= cs.voters.length, 'restore added stray voters');
  return current;
}
