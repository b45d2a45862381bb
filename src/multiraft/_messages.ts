/**
 * Private: the transport side: inbound envelopes into per-group inboxes (creating replicas of
 * unknown groups), stepping them into the nodes, and the transport's reports.
 */
import { MessageType, newMessage, type SnapshotStatus } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import type { Envelope, HeartbeatCursor } from '../transport/index.js';
import { LIVENESS_GROUP_ID } from './liveness.js';
import { WakeReason, type StoreContext } from './_context.js';
import { MessageRefusal } from './message_check.js';
import { admit, checkStep, refuse, stepRemote } from './_boundary.js';
import { ROW_VALUE_LIMIT, RowKind } from './_heartbeat_rows.js';
import { maybeQuiesceFollower, wake } from './_quiescer.js';

/** Emptied inboxes kept for reuse, at most. */
const INBOX_POOL_MAX = 1024;

/** Queues each envelope in its group's inbox, creating replicas of unknown groups. */
export function handleBatch(st: StoreContext, fromNodeId: number, envelopes: Envelope[]): void {
  if (st.closed) {
    for (const e of envelopes) refuse(st, MessageRefusal.StoreClosed, e.rangeId, fromNodeId, null);
    return;
  }
  st.liveness.heardFrom(fromNodeId, st.storeTicks);
  for (let i = 0; i < envelopes.length; i++) enqueue(st, fromNodeId, envelopes[i]!);
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
    // The fast path admits only what `admit` would: a known, healthy replica, the sender's
    // own row. The row's content is checked when it is stepped (`checkStep` in `receive`).
    const id = t.slotOfRange.get(rangeId);
    if (id !== undefined && t.inboxes[id] === null && !pending.has(id) && !t.isBroken(id) &&
      rows.fromNodeId === fromNodeId && rows.term < ROW_VALUE_LIMIT &&
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
    enqueue(st, fromNodeId, { rangeId, message, quiesce: rows.quiesce });
  }
}

/** Queues one envelope in its group's inbox, creating the replica of an unknown group. */
function enqueue(st: StoreContext, fromNodeId: number, envelope: Envelope): void {
  const rangeId = envelope.rangeId;
  if (rangeId === LIVENESS_GROUP_ID) return;
  st.stats.messagesReceived++;
  const id = admit(st, fromNodeId, envelope);
  if (id === null) return;
  const t = st.table;
  let inbox = t.inboxes[id]!;
  if (inbox === null) {
    inbox = st.inboxPool.pop() ?? [];
    t.inboxes[id] = inbox;
  }
  if (inbox.length >= st.config.inboxMessagesMax) {
    refuse(st, MessageRefusal.InboxFull, rangeId, fromNodeId, envelope.message);
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
    const alone = gid >= t.allocated || t.inboxes[gid] === null;
    stepped = receive(st, gid, st.rows.take(gid, t.rangeIds[gid]!), alone);
    st.rows.release();
  }
  const inbox = gid < t.allocated ? t.inboxes[gid]! : null;
  if (inbox === null && !row) return false;
  if (inbox !== null) {
    t.inboxes[gid] = null;
    for (let i = 0; i < inbox.length; i++) {
      if (receive(st, gid, inbox[i]!, i === inbox.length - 1)) stepped = true;
    }
    inbox.length = 0;
    if (st.inboxPool.length < INBOX_POOL_MAX) st.inboxPool.push(inbox);
  }
  if (t.isBroken(gid)) return false;
  t.maybeGrantTickCredit(gid, st.quiescence);
  return stepped;
}

/**
 * Handles one inbound envelope; `last`: no other follows in this turn.
 * @returns whether the group needs a Ready turn for it (see `stepRemote`).
 */
function receive(st: StoreContext, gid: GroupId, envelope: Envelope, last: boolean): boolean {
  const t = st.table;
  const m = envelope.message;
  const isQuiesceHeartbeat = envelope.quiesce === true && m.type === MessageType.MsgHeartbeat;
  // Already quiesced on this very heartbeat's terms (the leader quiesced again after a
  // wake-up): nothing to do, and no reason to wake.
  if (t.isQuiesced(gid) && isQuiesceHeartbeat && m.term === t.term[gid] &&
    m.from === t.lead[gid] && m.commit === t.applied[gid]) return false;
  // Checked before waking: a refused message never wakes a group.
  if (!checkStep(st, gid, m)) return false;
  const quiesced = t.isQuiesced(gid);
  if (quiesced) {
    // A message from anyone but the leader (a late response, a stray vote) would wake the
    // follower alone, which would then campaign against its sleeping leader: wake the
    // leader too, unless the message brings a newer term (then our leader is stale anyway).
    const fromLeader = m.from === t.lead[gid] || m.term > t.term[gid]!;
    wake(st, gid, fromLeader ? WakeReason.Message : WakeReason.Local);
  }
  const node = st.settled(gid);
  if (isQuiesceHeartbeat && maybeQuiesceFollower(st, gid, node, envelope)) return false;
  if (m.type === MessageType.MsgSnap && m.snapshot !== null &&
    st.config.stateMachine.acceptsSnapshot?.(t.rangeIds[gid]!, m.snapshot) === false) {
    st.stats.messagesDropped++;
    if (!t.isInitialized(gid)) {
      // Its stream, if it came by one, fails at once (not at the sender's timeout): the
      // leader offers it again after a heartbeat.
      st.snapshots?.receiver.refused(t.rangeIds[gid]!, m.snapshot);
      return false;
    }
    // An initialized replica steps it without its snapshot: Raft answers with the commit
    // index, and the leader resumes the log from there (a probe), instead of offering the
    // refused snapshot again and again.
    return stepRemote(st, gid, node, { ...m, snapshot: null }, !quiesced, last);
  }
  return stepRemote(st, gid, node, m, !quiesced, last);
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
