/**
 * Membership changes of a range (CockroachDB's `changeReplicas`, on the store's
 * `proposeConfChange`): moving a replica is
 *
 *   1. add the new replica as a LEARNER (it votes in nothing, so a slow catch-up risks no
 *      quorum) and wait until it has caught up: the leader sends it a snapshot of the
 *      applied point (the store compacts the log when a peer is added), then the log;
 *      caught up means not behind (`replicaIsBehind`: StateReplicate, match >= commit);
 *   2. in ONE joint configuration (ConfChangeV2, explicit transition) promote the learner and
 *      remove (or demote to learner) the old voter: every decision in the joint state needs
 *      a majority of the old voters and of the new ones;
 *   3. leave the joint state (an empty ConfChangeV2).
 *
 * ROLLBACK. A learner that does not catch up within `learnerTimeoutTicks` is removed again
 * (removing a learner never risks the quorum) and the change fails with
 * `LearnerTimeoutError`, giving the snapshot reason (`replicaMayNeedSnapshot`). A leftover
 * joint state (a coordinator that failed between 2 and 3) is left first.
 *
 * CHECKS FIRST. Before anything is proposed: this replica leads the range, the change makes
 * sense for the descriptor (and does not remove the leader itself), and a removal keeps the
 * quorum (`checkRemovalKeepsQuorum`, the
 * `filterUnremovableReplicas` rules, with the new replica forgiven). The store checks each
 * step again (Raft's rules, quorum of the configuration it leads to).
 *
 * DESCRIPTORS. The descriptor follows the configuration: every replica applies each change
 * and derives its descriptor from the new ConfState (`descriptorForConfState`, a pure
 * function), so the replica types (voter, learner, incoming, outgoing, demoting) are those
 * of the configuration on every store, and the generation grows by one per change.
 */
import { assert } from '../util/index.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
} from '../raft/index.js';
import type { RaftStatus } from '../multiraft/index.js';
import {
  isJoint,
  isVoterIncoming,
  replicaOnNode,
  ReplicaType,
  type RangeDescriptor,
  type ReplicaDescriptor,
} from './descriptor.js';
import { NotLeaderError, RangeUnavailableError } from './errors.js';
import {
  ConfChangeTimeoutError,
  InvalidReplicaChangeError,
  LearnerTimeoutError,
} from './change_errors.js';
import { checkRemovalKeepsQuorum, replicaIsBehind, replicaMayNeedSnapshot } from
  './rebalance_decision.js';

/** What to change: add a replica on `add`, remove (or demote) the voter on `remove`. */
export interface ReplicaChange {
  /** Node to add a replica on (as a voter, through a learner). */
  add?: number;
  /** Node whose voter goes. */
  remove?: number;
  /** The removed voter stays as a learner instead. @default false */
  demote?: boolean;
}

/** Bounds of one change. */
export interface ChangeReplicasOptions {
  /** Ticks a new learner may take to catch up before it is rolled back. @default 200 */
  learnerTimeoutTicks?: number;
  /** Ticks one membership change may take to apply here. @default 100 */
  confChangeTimeoutTicks?: number;
}

/** What `changeReplicas` needs of its range node (one range). */
export interface ChangeReplicasHost {
  readonly rangeId: number;
  readonly nodeId: number;
  /** The local replica's descriptor now. */
  descriptor(): RangeDescriptor | undefined;
  /** The local replica's Raft status (progress only on the leader). */
  raftStatus(): RaftStatus | undefined;
  /** `Store.proposeConfChange` (throws the store's typed errors). */
  proposeConfChange(cc: ConfChangeV2): void;
  /** Whether the store's liveness sees `nodeId` as live. */
  isNodeLive(nodeId: number): boolean;
  /**
   * Resolves with the local descriptor once it satisfies `done` (the replica may be gone by
   * the time the caller runs: removed and collected), or null after `ticks`.
   */
  waitDescriptor(done: (d: RangeDescriptor) => boolean, ticks: number):
    Promise<RangeDescriptor | null>;
  sleepTicks(ticks: number): Promise<void>;
}

const change = (type: ConfChangeType, nodeId: number): ConfChangeSingle => ({ type, nodeId });
const simple = (c: ConfChangeSingle): ConfChangeV2 => ({
  transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [c], context: EMPTY_BYTES });
const LEAVE_JOINT: ConfChangeV2 = Object.freeze({
  transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context: EMPTY_BYTES });

/**
 * The descriptor that follows `cs`: one replica per node of the configuration, typed by its
 * place in it, existing replica ids kept, new ones numbered by node id; generation + 1.
 */
export function descriptorForConfState(desc: RangeDescriptor, cs: ConfState): RangeDescriptor {
  const joint = cs.votersOutgoing.length > 0;
  const typeOf = (id: number): ReplicaType | undefined => {
    const inIn = cs.voters.includes(id);
    const inOut = cs.votersOutgoing.includes(id);
    if (inIn && (inOut || !joint)) return ReplicaType.Voter;
    if (inIn) return ReplicaType.VoterIncoming;
    if (inOut) return cs.learnersNext.includes(id) ? ReplicaType.VoterDemoting
      : ReplicaType.VoterOutgoing;
    return cs.learners.includes(id) ? ReplicaType.Learner : undefined;
  };
  const replicas: ReplicaDescriptor[] = [];
  for (const r of desc.replicas) {
    const type = typeOf(r.nodeId);
    if (type !== undefined) replicas.push({ nodeId: r.nodeId, replicaId: r.replicaId, type });
  }
  const added = [...cs.voters, ...cs.votersOutgoing, ...cs.learners]
    .filter((id, i, all) => all.indexOf(id) === i && replicaOnNode(desc, id) === undefined)
    .sort((a, b) => a - b);
  for (const id of added) replicas.push({ nodeId: id, replicaId: id, type: typeOf(id)! });
  assert(replicas.length <= new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners]).size,
    'one replica per member');
  const next = { ...desc, generation: desc.generation + 1, replicas };
  assert(replicas.some((r) => isVoterIncoming(r.type)), 'a configuration has a voter');
  return next;
}

/**
 * The first problem with `c` for `desc`, made on the leader `leaderNodeId`, or null. The
 * leader never removes itself: Raft would keep it leading a configuration it is not in, and
 * a removed node's messages (its leadership transfer too) are refused by its peers; it
 * transfers the leadership first (`RangeNode.transferLeadership`).
 */
export function replicaChangeProblem(desc: RangeDescriptor, c: ReplicaChange,
  leaderNodeId: number): string | null {
  if (c.add === undefined && c.remove === undefined) return 'nothing to change';
  if (c.remove === leaderNodeId) return 'the leader cannot remove itself: transfer first';
  if (c.add !== undefined && (!Number.isSafeInteger(c.add) || c.add < 1)) return 'bad node id';
  if (c.remove !== undefined && (!Number.isSafeInteger(c.remove) || c.remove < 1)) {
    return 'bad node id';
  }
  if (c.add !== undefined && c.add === c.remove) return 'adds and removes the same node';
  if (c.add !== undefined && replicaOnNode(desc, c.add) !== undefined) {
    return `node ${c.add} holds a replica already`;
  }
  const gone = c.remove === undefined ? undefined : replicaOnNode(desc, c.remove);
  if (c.remove !== undefined && (gone === undefined || !isVoterIncoming(gone.type))) {
    return `node ${c.remove} holds no voter`;
  }
  return null;
}

/**
 * Carries out `c` on the range (see the file comment). Resolves with the final descriptor.
 * @throws InvalidReplicaChangeError, NotLeaderError, QuorumLossError, LearnerTimeoutError,
 *   ConfChangeTimeoutError, RangeUnavailableError, and the store's typed refusals
 */
export async function changeReplicas(
  host: ChangeReplicasHost, c: ReplicaChange, options: ChangeReplicasOptions = {},
): Promise<RangeDescriptor> {
  const stepTicks = options.confChangeTimeoutTicks ?? 100;
  let desc = mustDescriptor(host);
  if (isJoint(desc)) {
    await step(host, LEAVE_JOINT, (d) => !isJoint(d), stepTicks, 'leave a leftover joint state');
    desc = mustDescriptor(host);
  }
  const status = host.raftStatus();
  if (status === undefined || status.lead !== host.nodeId) {
    throw new NotLeaderError(host.rangeId, status?.lead ?? 0);
  }
  const problem = replicaChangeProblem(desc, c, host.nodeId);
  if (problem !== null) throw new InvalidReplicaChangeError(host.rangeId, problem);
  if (c.remove !== undefined) {
    // A follower on a node that is down counts as behind, whatever its last progress says.
    const live = { ...status, progress: status.progress.filter((p) =>
      p.nodeId === host.nodeId || host.isNodeLive(p.nodeId)) };
    checkRemovalKeepsQuorum(live, desc, c.remove, c.add ?? 0);
  }
  if (c.add !== undefined) await addLearner(host, c.add, options, stepTicks);
  const promote = c.add === undefined ? null : change(ConfChangeType.ConfChangeAddNode, c.add);
  const demote = c.remove === undefined ? null
    : change(c.demote === true ? ConfChangeType.ConfChangeAddLearnerNode
      : ConfChangeType.ConfChangeRemoveNode, c.remove);
  const settled = (d: RangeDescriptor) => !isJoint(d) &&
    (c.add === undefined || replicaOnNode(d, c.add)?.type === ReplicaType.Voter) &&
    (c.remove === undefined || !isVoterIncoming(replicaOnNode(d, c.remove)?.type ??
      ReplicaType.Learner));
  if (promote !== null && demote !== null) {
    const joint: ConfChangeV2 = { changes: [promote, demote], context: EMPTY_BYTES,
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit };
    await step(host, joint, isJoint, stepTicks, 'enter the joint state');
    return step(host, LEAVE_JOINT, settled, stepTicks, 'leave the joint state');
  }
  return step(host, simple((promote ?? demote)!), settled, stepTicks, 'simple change');
}

function mustDescriptor(host: ChangeReplicasHost): RangeDescriptor {
  const d = host.descriptor();
  if (d === undefined) throw new RangeUnavailableError(host.rangeId, 'no replica here');
  return d;
}

/** Proposes `cc` and waits until the local descriptor shows it applied; returns that one. */
async function step(host: ChangeReplicasHost, cc: ConfChangeV2,
  done: (d: RangeDescriptor) => boolean, ticks: number, what: string): Promise<RangeDescriptor> {
  host.proposeConfChange(cc);
  const desc = await host.waitDescriptor(done, ticks);
  if (desc === null) throw new ConfChangeTimeoutError(host.rangeId, what);
  return desc;
}

/** Step 1: the learner, caught up, or rolled back. */
async function addLearner(host: ChangeReplicasHost, nodeId: number,
  options: ChangeReplicasOptions, stepTicks: number): Promise<void> {
  await step(host, simple(change(ConfChangeType.ConfChangeAddLearnerNode, nodeId)),
    (d) => replicaOnNode(d, nodeId)?.type === ReplicaType.Learner, stepTicks, 'add a learner');
  const deadline = options.learnerTimeoutTicks ?? 200;
  let status = host.raftStatus();
  for (let waited = 0; replicaIsBehind(status, nodeId); waited++) {
    if (waited >= deadline) {
      // Why it is behind, for the report (the leader's first index is not known here: the
      // reason is the progress state).
      const need = replicaMayNeedSnapshot(status, 1, nodeId);
      await step(host, simple(change(ConfChangeType.ConfChangeRemoveNode, nodeId)),
        (d) => replicaOnNode(d, nodeId) === undefined, stepTicks, 'roll back the learner');
      throw new LearnerTimeoutError(host.rangeId, nodeId, need);
    }
    await host.sleepTicks(1);
    status = host.raftStatus();
  }
}
