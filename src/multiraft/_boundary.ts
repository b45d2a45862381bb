/**
 * Private: the store's boundary with its peers.
 *
 * - Admission (`admit`, at `handleBatch`): a message must name the connection's node as its
 *   sender; a message of an unknown range is checked against an empty replica before one is
 *   created, and creates one only within `uninitializedReplicasMax`.
 * - Checking (`checkStep`, in the group's turn): every message is checked against the
 *   replica's current state (message_check.ts) right before it is stepped, since the state
 *   may have moved since admission (a log truncated by a new leader). A dormant replica's
 *   node is rebuilt for the check and installed only if the message passes, so a refused
 *   message never wakes a group.
 * - Isolation (`stepRemote`): Raft panicking on a remote message means the message found a
 *   state Raft cannot handle. Only that replica is suspect: it is marked broken (out of the
 *   tick set, its node dropped, every later message refused, every request refused with
 *   `ReplicaBrokenError`, reported in status and stats) and the store goes on. A panic on a
 *   local call is not caught: that is a bug of this process.
 * - Collection (`collectUninitialized`, at each store tick): a replica a message created and
 *   no snapshot initialized within `uninitializedReplicaTimeoutTicks` is removed, unless it
 *   voted (forgetting a vote would let it vote twice in one term). A replica that never voted
 *   and holds no entry (appends below the range's initial index are refused) took part in no
 *   quorum, so removing it, and re-creating it on a later message, is safe.
 * Every refusal goes through `refuse`: counted by reason, logged at a rate limit.
 */
import { FlotillaError, assert } from '../util/index.js';
import {
  HeartbeatStep, MessageType, RaftPanicError, newMessage, type Message, type RawNode,
} from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import type { Envelope } from '../transport/index.js';
import { MessageRefusal, checkMessage, type MessageCheckView } from './message_check.js';
import { RANGE_INITIAL_INDEX } from './range_config.js';
import { createsReplica, type StoreContext } from './_context.js';
import { createUninitialized, loadDormantStorage, rebuildNode } from './_replicas.js';

/** Counts and logs one refused message. */
export function refuse(st: StoreContext, reason: MessageRefusal, rangeId: number,
  fromNodeId: number, m: Message | null): void {
  st.stats.messagesDropped++;
  st.refusals.refuse(reason, rangeId, fromNodeId, m === null ? -1 : m.type, st.storeTicks);
}

function fillEmptyView(st: StoreContext, fromNodeId: number): MessageCheckView {
  const v = st.checkView;
  v.nodeId = st.nodeId;
  v.fromNodeId = fromNodeId;
  v.initialized = false;
  v.senderIsMember = true;
  v.term = 0;
  v.lead = 0;
  v.lastIndex = 0;
  v.entryBytesMax = st.config.proposalBytesMax;
  v.appendIndexMin = RANGE_INITIAL_INDEX;
  return v;
}

/**
 * Admission of one envelope of a batch from `fromNodeId`.
 * @returns the replica's slot, creating an uninitialized replica if the range is unknown,
 *   or null if the envelope was refused (counted).
 */
export function admit(st: StoreContext, fromNodeId: number, envelope: Envelope): GroupId | null {
  const m = envelope.message;
  const rangeId = envelope.rangeId;
  const known = st.table.slotOfRange.get(rangeId);
  const vote = m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote;
  if (known !== undefined) {
    const reason = st.table.isBroken(known) ? MessageRefusal.ReplicaBroken
      : m.from !== fromNodeId ? MessageRefusal.SenderMismatch
        : vote && st.uninitialized.isResurrected(known) ? MessageRefusal.UnknownGroup : null;
    if (reason === null) return known;
    refuse(st, reason, rangeId, fromNodeId, m);
    return null;
  }
  // A destroyed range's vote request does not bring it back (see `isResurrected`).
  const resurrected = st.tombstones.has(rangeId);
  const reason = !createsReplica(m.type) || (vote && resurrected) ? MessageRefusal.UnknownGroup
    : checkMessage(fillEmptyView(st, fromNodeId), m) ??
      (st.uninitialized.full ? MessageRefusal.UninitializedCap
        : st.replicaCount >= st.config.replicasMax ? MessageRefusal.StoreFull : null);
  if (reason !== null) {
    refuse(st, reason, rangeId, fromNodeId, m);
    return null;
  }
  const gid = createUninitialized(st, rangeId);
  st.uninitialized.add(gid, st.storeTicks);
  if (resurrected) st.uninitialized.markResurrected(gid);
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
  return gid;
}

/**
 * Checks `m` against the replica right before it is stepped. For a dormant replica the node
 * is rebuilt for the check and installed (no longer dormant, still quiesced) only if the
 * message passes. @returns whether the message may be stepped.
 */
export function checkStep(st: StoreContext, gid: GroupId, m: Message): boolean {
  const t = st.table;
  const rangeId = t.rangeIds[gid]!;
  if (t.isBroken(gid)) {
    refuse(st, MessageRefusal.ReplicaBroken, rangeId, m.from, m);
    return false;
  }
  const dormant = t.isDormant(gid);
  if (dormant && !loadDormantStorage(st, gid)) {
    refuse(st, MessageRefusal.ReplicaBroken, rangeId, m.from, m);
    return false;
  }
  const node = dormant ? rebuildNode(st, gid) : t.nodes[gid];
  assert(node !== null && node !== undefined, 'a replica to check against');
  const v = fillEmptyView(st, m.from);
  v.initialized = t.isInitialized(gid);
  // The node's progress tracks every member of its configuration.
  v.senderIsMember = !v.initialized || node.hasPeer(m.from);
  v.term = node.term;
  v.lead = node.lead;
  // The check compares the last index only with a heartbeat's commit or an acknowledged
  // index, and `lastIndexUpTo` answers that comparison alike (min(bound, last) < bound iff
  // last < bound) while sparing the log's tail whenever the commit index covers the bound.
  v.lastIndex = node.lastIndexUpTo(m.type === MessageType.MsgHeartbeat ? m.commit
    : m.type === MessageType.MsgAppResp ? m.index : 0);
  const reason = checkMessage(v, m);
  if (reason !== null) {
    refuse(st, reason, rangeId, m.from, m);
    return false;
  }
  if (dormant) {
    t.markRestored(gid, node);
    st.stats.nodesRebuilt++;
  }
  return true;
}

/**
 * Steps a remote message, isolating the replica if Raft panics on it. A plain heartbeat or
 * answer of an initialized replica is stepped without its message where Raft allows
 * (`RawNode.stepHeartbeat`), which is most of an awake group's traffic.
 * `settledBefore`: the node had nothing for a Ready before this message (true of an awake
 * group between its turns: every turn takes its Ready, and whatever makes it ready later
 * queues a turn; not of a group just woken, whose rebuilt node may hold a HardState).
 * `lastOfTurn`: no message follows in this turn (a later one, a quiesce heartbeat, would
 * read `hasReady`, which a follower's answer queued in the node would have made true).
 * @returns whether the group needs a Ready turn: false if Raft refused the message (typed)
 *   or panicked, or if a heartbeat step of a settled node left nothing new for a Ready.
 */
export function stepRemote(st: StoreContext, gid: GroupId, node: RawNode, m: Message,
  settledBefore: boolean, lastOfTurn: boolean): boolean {
  try {
    const plain = stepPlainHeartbeat(st, gid, node, m, lastOfTurn);
    if (plain !== HeartbeatStep.Declined) {
      return plain === HeartbeatStep.ReadyPending || !settledBefore;
    }
    node.step(m);
  } catch (error) {
    const rangeId = st.table.rangeIds[gid]!;
    if (error instanceof RaftPanicError) {
      refuse(st, MessageRefusal.RaftPanic, rangeId, m.from, m);
      breakReplica(st, gid, node, error);
      return false;
    }
    // Raft's own typed refusals (a response from a peer no longer in the configuration, a
    // proposal the leader drops) are expected; anything else is a bug and propagates.
    if (!(error instanceof FlotillaError)) throw error;
    refuse(st, MessageRefusal.RaftRefused, rangeId, m.from, m);
    return false;
  }
  if (!st.table.isInitialized(gid)) {
    const facts = st.scratch.facts;
    node.readFacts(facts);
    if (facts.vote !== 0) st.uninitialized.pin(gid);
  }
  return true;
}

/**
 * The message-free step of a plain heartbeat or answer (`Declined`: step `m` instead). A
 * follower's answer is queued here, as the first message of its turn, where this turn's
 * Ready would have put it: it leaves with the batch's one send like every other message.
 * Only as the turn's last message (see `stepRemote`), and not while the group's last Ready
 * is in flight or the pipeline is full: the turn then takes no Ready (_ready.ts), and the
 * answer would wait in the node for a later one.
 */
function stepPlainHeartbeat(st: StoreContext, gid: GroupId, node: RawNode, m: Message,
  lastOfTurn: boolean): HeartbeatStep {
  const t = st.table;
  if (m.context.length !== 0 || !t.isInitialized(gid)) return HeartbeatStep.Declined;
  if (m.type === MessageType.MsgHeartbeatResp) return node.stepHeartbeatResp(m.from, m.term);
  if (m.type !== MessageType.MsgHeartbeat || !lastOfTurn || t.isReadyPending(gid) ||
    st.pipeline.full) {
    return HeartbeatStep.Declined;
  }
  const outcome = node.stepHeartbeat(m.from, m.term, m.commit);
  if (outcome === HeartbeatStep.Declined) return outcome;
  assert(node.term === m.term && node.lead === m.from, 'stepped as a follower of the sender');
  const message = newMessage(MessageType.MsgHeartbeatResp);
  message.to = m.from;
  message.from = st.nodeId;
  message.term = m.term;
  st.staging.send({ rangeId: t.rangeIds[gid]!, message });
  return outcome;
}

/** Isolates a replica whose Raft panicked (see the file comment). */
function breakReplica(st: StoreContext, gid: GroupId, node: RawNode, error: RaftPanicError):
  void {
  const t = st.table;
  t.markBroken(gid, node);
  if (st.ticker.isRegistered(gid)) st.ticker.remove(gid);
  st.laggingByGroup.delete(gid);
  st.readPositionByGroup.delete(gid);
  st.uninitialized.delete(gid);
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
  st.stats.replicasBroken++;
  st.log?.error({ rangeId: t.rangeIds[gid], err: error.message },
    'Raft panicked on a message from a peer: replica isolated');
  assert(t.isBroken(gid) && t.nodes[gid] === null, 'isolated');
}

/** Removes the uninitialized replicas whose snapshot did not come in time (store tick). */
export function collectUninitialized(st: StoreContext): void {
  st.uninitialized.expire(st.storeTicks, (slot) => {
    const t = st.table;
    const gid = t.slotAt(slot);
    assert(t.isUsed(gid) && !t.isInitialized(gid), 'collect an uninitialized replica');
    const rangeId = t.rangeIds[gid]!;
    if (st.ticker.isRegistered(gid)) st.ticker.remove(gid);
    const inbox = t.inboxes[gid];
    if (inbox !== null && inbox !== undefined) inbox.length = 0;
    st.engine.destroyReplica(t.storages[gid]!, st.staging.writes());
    t.free(gid);
    st.stats.replicasCollected++;
    st.log?.debug({ rangeId }, 'collected uninitialized replica');
  });
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
}
