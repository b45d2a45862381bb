/**
 * Private: the transport side: inbound envelopes into per-group inboxes (creating replicas of
 * unknown groups), stepping them into the nodes, and the transport's reports.
 */
import { FlotillaError } from '../util/index.js';
import { MessageType, SnapshotStatus as RaftSnapshotStatus } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import type { Envelope, SnapshotStatus } from '../transport/index.js';
import { LIVENESS_GROUP_ID } from './liveness.js';
import { ReplicaFlag } from './_table.js';
import { WakeReason, createsReplica, type StoreCore } from './_core.js';
import { createUninitialized } from './_replicas.js';
import { maybeQuiesceFollower, wake } from './_quiescer.js';
import { maybeGrantTickCredit } from './_tick.js';

/** Queues each envelope in its group's inbox, creating replicas of unknown groups. */
export function handleBatch(st: StoreCore, fromNodeId: number, envelopes: Envelope[]): void {
  if (st.closed) return;
  st.liveness.heardFrom(fromNodeId, st.storeTicks);
  const max = st.config.inboxMessagesMax;
  for (let i = 0; i < envelopes.length; i++) {
    const envelope = envelopes[i]!;
    const rangeId = envelope.groupId;
    if (rangeId === LIVENESS_GROUP_ID) continue;
    st.stats.messagesReceived++;
    let id = st.groupOfRange.get(rangeId);
    if (id === undefined) {
      const full = st.replicaCount >= st.config.replicasMax;
      if (full || !createsReplica(envelope.message.type)) {
        st.stats.messagesDropped++;
        continue;
      }
      id = createUninitialized(st, rangeId);
    }
    let inbox = st.table.inboxes[id]!;
    if (inbox === null) {
      inbox = st.inboxPool.pop() ?? [];
      st.table.inboxes[id] = inbox;
    }
    if (inbox.length >= max) {
      st.stats.messagesDropped++;
      continue;
    }
    inbox.push(envelope);
    st.scheduler.enqueue(id as GroupId, WorkFlag.Message);
  }
}

/** Steps the group's inbox into its node, handling quiesce heartbeats. */
export function processMessages(st: StoreCore, gid: GroupId): boolean {
  const t = st.table;
  const inbox = gid < t.allocated ? t.inboxes[gid]! : null;
  if (inbox === null) return false;
  t.inboxes[gid] = null;
  let stepped = false;
  for (let i = 0; i < inbox.length; i++) {
    if (receive(st, gid, inbox[i]!)) stepped = true;
  }
  inbox.length = 0;
  if (st.inboxPool.length < 1024) st.inboxPool.push(inbox);
  maybeGrantTickCredit(st, gid);
  return stepped;
}

/** Handles one inbound envelope. @returns whether it was stepped into the node. */
function receive(st: StoreCore, gid: number, envelope: Envelope): boolean {
  const t = st.table;
  const m = envelope.message;
  const isQuiesceHeartbeat = envelope.quiesce === true && m.type === MessageType.MsgHeartbeat;
  if ((t.flags[gid]! & ReplicaFlag.Quiesced) !== 0) {
    // Already quiesced on this very heartbeat's terms (the leader quiesced again after a
    // wake-up): nothing to do, and no reason to wake.
    if (isQuiesceHeartbeat && m.term === t.term[gid] && m.from === t.lead[gid] &&
      m.commit === t.applied[gid]) return false;
    wake(st, gid, WakeReason.Message);
  }
  const node = t.settledNode(gid);
  if (isQuiesceHeartbeat && maybeQuiesceFollower(st, gid, node, envelope)) return false;
  if (m.type === MessageType.MsgSnap && m.snapshot !== null &&
    (t.flags[gid]! & ReplicaFlag.Initialized) === 0 &&
    st.config.stateMachine.acceptsSnapshot?.(t.rangeIds[gid]!, m.snapshot) === false) {
    st.stats.messagesDropped++;
    return false;
  }
  try {
    node.step(m);
  } catch (error) {
    // A response from a peer no longer in the configuration, a proposal the leader drops:
    // Raft's own typed refusals. Anything else is a bug and propagates.
    if (!(error instanceof FlotillaError)) throw error;
    st.stats.messagesDropped++;
    return false;
  }
  return true;
}

/** Awake groups whose messages to `toNodeId` were dropped go back to probing it. */
export function reportUnreachable(
  st: StoreCore,
  toNodeId: number,
  groupIds: readonly number[],
): void {
  for (const rangeId of groupIds) {
    const id = st.groupOfRange.get(rangeId);
    if (id === undefined || st.table.nodes[id] === null) continue;
    st.table.settledNode(id).reportUnreachable(toNodeId);
    st.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
  }
}

/** Tells an awake leader how its snapshot to `toNodeId` ended. */
export function reportSnapshot(
  st: StoreCore,
  rangeId: number,
  toNodeId: number,
  status: SnapshotStatus,
): void {
  const id = st.groupOfRange.get(rangeId);
  if (id === undefined || st.table.nodes[id] === null) return;
  st.table.settledNode(id).reportSnapshot(toNodeId, status === 'finish'
    ? RaftSnapshotStatus.SnapshotFinish : RaftSnapshotStatus.SnapshotFailure);
  st.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
}
