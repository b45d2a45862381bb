/**
 * Private: the transport side: inbound envelopes into per-group inboxes (creating replicas of
 * unknown groups), stepping them into the nodes, and the transport's reports.
 */
import { FlotillaError } from '../util/index.js';
import { MessageType, newMessage, type SnapshotStatus } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import type { Envelope, HeartbeatCursor } from '../transport/index.js';
import { LIVENESS_GROUP_ID } from './liveness.js';
import { WakeReason, createsReplica, type StoreContext } from './_context.js';
import { createUninitialized } from './_replicas.js';
import { ROW_VALUE_LIMIT, RowKind } from './_heartbeat_rows.js';
import { maybeQuiesceFollower, wake } from './_quiescer.js';

/** Emptied inboxes kept for reuse, at most. */
const INBOX_POOL_MAX = 1024;

/** Queues each envelope in its group's inbox, creating replicas of unknown groups. */
export function handleBatch(st: StoreContext, fromNodeId: number, envelopes: Envelope[]): void {
  if (st.closed) return;
  st.liveness.heardFrom(fromNodeId, st.storeTicks);
  for (let i = 0; i < envelopes.length; i++) enqueue(st, envelopes[i]!);
}

/**
 * Fans in a frame's coalesced heartbeat rows: a row of a known group with an empty inbox and
 * no row pending is recorded in `st.rows` (no objects); any other row becomes the envelope
 * `handleBatch` would have got, in the same order.
 */
export function handleHeartbeats(
  st: StoreContext,
  fromNodeId: number,
  rows: HeartbeatCursor,
): void {
  if (st.closed) {
    while (rows.next()) continue;
    return;
  }
  st.liveness.heardFrom(fromNodeId, st.storeTicks);
  const t = st.table;
  const pending = st.rows;
  while (rows.next()) {
    const rangeId = rows.rangeId;
    if (rangeId === LIVENESS_GROUP_ID) continue;
    const id = t.slotOfRange.get(rangeId);
    if (id !== undefined && t.inboxes[id] === null && !pending.has(id) &&
      rows.fromNodeId < ROW_VALUE_LIMIT && rows.term < ROW_VALUE_LIMIT &&
      rows.commit < ROW_VALUE_LIMIT) {
      st.stats.messagesReceived++;
      const kind = rows.type === MessageType.MsgHeartbeatResp ? RowKind.Response
        : rows.quiesce ? RowKind.QuiesceHeartbeat : RowKind.Heartbeat;
      pending.put(id, t.capacity, kind, rows.fromNodeId, rows.term, rows.commit);
      st.scheduler.enqueue(id, WorkFlag.Message);
      continue;
    }
    const message = newMessage(rows.type, { from: rows.fromNodeId, to: rows.toNodeId,
      term: rows.term, commit: rows.commit });
    enqueue(st, { rangeId, message, quiesce: rows.quiesce });
  }
}

/** Queues one envelope in its group's inbox, creating the replica of an unknown group. */
function enqueue(st: StoreContext, envelope: Envelope): void {
  const rangeId = envelope.rangeId;
  if (rangeId === LIVENESS_GROUP_ID) return;
  st.stats.messagesReceived++;
  const t = st.table;
  let id = t.slotOfRange.get(rangeId);
  if (id === undefined) {
    const full = st.replicaCount >= st.config.replicasMax;
    if (full || !createsReplica(envelope.message.type)) {
      st.stats.messagesDropped++;
      return;
    }
    id = createUninitialized(st, rangeId);
  }
  let inbox = t.inboxes[id]!;
  if (inbox === null) {
    inbox = st.inboxPool.pop() ?? [];
    t.inboxes[id] = inbox;
  }
  if (inbox.length >= st.config.inboxMessagesMax) {
    st.stats.messagesDropped++;
    return;
  }
  inbox.push(envelope);
  st.scheduler.enqueue(id, WorkFlag.Message);
}

/** Steps the group's pending heartbeat row, then its inbox, into its node. */
export function processMessages(st: StoreContext, gid: GroupId): boolean {
  const t = st.table;
  let stepped = false;
  const row = st.rows.has(gid);
  if (row) {
    // The row arrived before anything in the inbox (see _heartbeat_rows.ts).
    stepped = receive(st, gid, st.rows.take(gid, t.rangeIds[gid]!));
    st.rows.release();
  }
  const inbox = gid < t.allocated ? t.inboxes[gid]! : null;
  if (inbox === null && !row) return false;
  if (inbox !== null) {
    t.inboxes[gid] = null;
    for (let i = 0; i < inbox.length; i++) {
      if (receive(st, gid, inbox[i]!)) stepped = true;
    }
    inbox.length = 0;
    if (st.inboxPool.length < INBOX_POOL_MAX) st.inboxPool.push(inbox);
  }
  t.maybeGrantTickCredit(gid, st.quiescence);
  return stepped;
}

/** Handles one inbound envelope. @returns whether it was stepped into the node. */
function receive(st: StoreContext, gid: GroupId, envelope: Envelope): boolean {
  const t = st.table;
  const m = envelope.message;
  const isQuiesceHeartbeat = envelope.quiesce === true && m.type === MessageType.MsgHeartbeat;
  if (t.isQuiesced(gid)) {
    // Already quiesced on this very heartbeat's terms (the leader quiesced again after a
    // wake-up): nothing to do, and no reason to wake.
    if (isQuiesceHeartbeat && m.term === t.term[gid] && m.from === t.lead[gid] &&
      m.commit === t.applied[gid]) return false;
    wake(st, gid, WakeReason.Message);
  }
  const node = st.settled(gid);
  if (isQuiesceHeartbeat && maybeQuiesceFollower(st, gid, node, envelope)) return false;
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
  st: StoreContext,
  toNodeId: number,
  rangeIds: readonly number[],
): void {
  for (const rangeId of rangeIds) {
    const id = st.table.slotOfRange.get(rangeId);
    if (id === undefined || st.table.nodes[id] === null) continue;
    st.settled(id).reportUnreachable(toNodeId);
    st.scheduler.enqueue(id, WorkFlag.Ready);
  }
}

/** Tells an awake leader how its snapshot to `toNodeId` ended. */
export function reportSnapshot(
  st: StoreContext,
  rangeId: number,
  toNodeId: number,
  status: SnapshotStatus,
): void {
  const id = st.table.slotOfRange.get(rangeId);
  if (id === undefined || st.table.nodes[id] === null) return;
  st.settled(id).reportSnapshot(toNodeId, status);
  st.scheduler.enqueue(id, WorkFlag.Ready);
}
