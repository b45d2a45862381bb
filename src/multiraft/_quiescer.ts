/**
 * Private: quiescing a group (leader and follower side), releasing its node, and waking it
 * (rebuilding the node if released). The decisions themselves are in quiesce.ts; the flag
 * transitions are the table's.
 */
import { assert } from '../util/index.js';
import { EMPTY_BYTES, MessageType, StateType, newMessage, type RawNode } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import type { Envelope } from '../transport/index.js';
import { shouldFollowerQuiesce, shouldLeaderQuiesce, type QuiesceRefusal } from './quiesce.js';
import { NO_LAGGING, WakeReason, type StoreContext } from './_context.js';
import { rebuildNode } from './_replicas.js';

/** Fills the leader view, decides, and quiesces the group if it may. */
export function maybeQuiesceLeader(st: StoreContext, gid: GroupId, node: RawNode): boolean {
  const t = st.table;
  const facts = st.scratch.facts;
  const peers = st.scratch.peers;
  node.readFacts(facts);
  node.readPeers(peers);
  const v = st.scratch.leaderView;
  v.quiescenceEnabled = st.quiescence;
  v.initialized = true;
  v.id = st.nodeId;
  v.isLeader = facts.raftState === StateType.StateLeader;
  v.leadTransferee = facts.leadTransferee;
  v.ticksSinceProposal = t.idleTicks[gid]!;
  v.quiesceAfterTicks = st.config.quiesceAfterTicks;
  v.applied = facts.applied;
  v.commit = facts.commit;
  v.lastIndex = facts.lastIndex;
  v.hasReady = t.isReadyPending(gid) || node.hasReady();
  v.readsPending = facts.readsPending;
  v.selfInProgress = false;
  v.followerCount = 0;
  for (let i = 0; i < peers.count; i++) {
    const id = peers.ids[i]!;
    if (id === st.nodeId) {
      v.selfInProgress = true;
      continue;
    }
    const k = v.followerCount++;
    v.followerIds[k] = id;
    v.followerMatch[k] = peers.match[i]!;
    v.followerState[k] = peers.state[i]!;
    v.followerLive[k] = st.liveness.isLive(id);
  }
  const lagging = st.scratch.lagging;
  const refusal = shouldLeaderQuiesce(v, lagging);
  if (refusal !== null) {
    refuse(st, gid, refusal);
    return false;
  }
  sendQuiesceHeartbeats(st, gid, lagging);
  quiesce(st, gid, node, lagging);
  return true;
}

/** One quiesce heartbeat per follower not left behind (from the facts just read). */
function sendQuiesceHeartbeats(st: StoreContext, gid: GroupId, lagging: readonly number[]): void {
  const facts = st.scratch.facts;
  const peers = st.scratch.peers;
  const rangeId = st.table.rangeIds[gid]!;
  for (let i = 0; i < peers.count; i++) {
    const to = peers.ids[i]!;
    if (to === st.nodeId || lagging.includes(to)) continue;
    const message = newMessage(MessageType.MsgHeartbeat);
    message.to = to;
    message.from = st.nodeId;
    message.term = facts.term;
    message.commit = facts.commit;
    st.staging.send({ rangeId, message, quiesce: true });
  }
}

/** A follower quiesces on a quiesce heartbeat if the rules allow; else it steps it. */
export function maybeQuiesceFollower(
  st: StoreContext,
  gid: GroupId,
  node: RawNode,
  envelope: Envelope,
): boolean {
  const t = st.table;
  const facts = st.scratch.facts;
  node.readFacts(facts);
  const v = st.scratch.followerView;
  v.quiescenceEnabled = st.quiescence;
  v.initialized = t.isInitialized(gid);
  v.term = facts.term;
  v.commit = facts.commit;
  v.lastIndex = facts.lastIndex;
  v.lead = facts.lead;
  v.ticksSinceProposal = t.idleTicks[gid]!;
  v.quiesceAfterTicks = st.config.quiesceAfterTicks;
  v.hasReady = node.hasReady();
  v.heartbeatTerm = envelope.message.term;
  v.heartbeatCommit = envelope.message.commit;
  v.heartbeatFrom = envelope.message.from;
  const refusal = shouldFollowerQuiesce(v);
  if (refusal !== null) {
    refuse(st, gid, refusal);
    return false;
  }
  quiesce(st, gid, node, NO_LAGGING);
  return true;
}

function refuse(st: StoreContext, gid: GroupId, refusal: QuiesceRefusal): void {
  st.stats.quiesceRefusals[refusal]++;
  if (st.log !== null && st.log.isLevelEnabled('trace')) {
    st.log.trace({ rangeId: st.table.rangeIds[gid], reason: refusal }, 'not quiescing');
  }
}

/** Takes the group out of the tick set and records term, leader and applied index. */
function quiesce(
  st: StoreContext,
  gid: GroupId,
  node: RawNode,
  lagging: readonly number[],
): void {
  const facts = st.scratch.facts;
  node.readFacts(facts);
  st.table.markQuiesced(gid, node, facts.applied, facts.peerCount);
  st.ticker.quiesce(gid);
  if (lagging.length > 0 && facts.lead === st.nodeId) st.laggingByGroup.set(gid, [...lagging]);
  st.stats.quiesces++;
  maybeRelease(st, gid);
}

/**
 * Releases a quiesced group's node when nothing is in flight: no Ready taken or pending
 * and the whole log in storage. Otherwise the batch end tries again.
 */
export function maybeRelease(st: StoreContext, gid: GroupId): void {
  const t = st.table;
  if (!st.config.releaseQuiescedNodes || !t.isQuiesced(gid)) return;
  if (t.isDormant(gid) || t.isReadyPending(gid)) return;
  const node = t.nodes[gid]!;
  const storage = t.storages[gid]!;
  const facts = st.scratch.facts;
  node.readFacts(facts);
  if (node.hasReady() || facts.lastIndex !== storage.lastIndex()) return;
  assert(facts.applied === facts.commit, 'a quiesced group applied everything committed');
  assert(facts.term === t.term[gid] && facts.lead === t.lead[gid], 'record current');
  if (facts.readPosition !== 0) st.readPositionByGroup.set(gid, facts.readPosition);
  storage.release();
  t.markDormant(gid, facts.applied);
  st.stats.nodesReleased++;
}

/**
 * Puts a quiesced group back in the tick set, rebuilding its node if released, and
 * advances its election clock by the ticks it slept through (`tickQuiesced`).
 *
 * While the leader is live the advance is capped at `wakeElectionElapsedMax` ticks: its
 * lease is intact (it quiesced the group, and liveness would have woken us had it died),
 * so this replica must neither campaign before the leader's first heartbeat after the
 * wake-up can arrive (one heartbeat interval, plus a margin of another) nor grant votes
 * to a disruptive candidate. The leader's own clock is capped the same way, so its next
 * CheckQuorum comes after its followers had time to answer. With the leader down the
 * whole sleep counts (up to the ticker's `sleptTicksMax`), so the replica campaigns at
 * once: that is what the slept ticks are for.
 */
export function wake(st: StoreContext, gid: GroupId, reason: WakeReason): void {
  const t = st.table;
  if (!t.isQuiesced(gid)) return;
  const slept = st.ticker.wake(gid);
  t.markAwake(gid);
  const node = t.isDormant(gid) ? rehydrate(st, gid) : st.settled(gid);
  st.laggingByGroup.delete(gid);
  st.readPositionByGroup.delete(gid);
  const facts = st.scratch.facts;
  node.readFacts(facts);
  const leaderLive = facts.lead !== 0 && st.liveness.isLive(facts.lead);
  const ticks = leaderLive
    ? Math.min(slept, Math.max(0, st.wakeElectionElapsedMax - facts.electionElapsedTicks))
    : slept;
  for (let i = 0; i < ticks; i++) node.tickQuiesced();
  st.stats.wakes++;
  const follower = facts.lead !== st.nodeId;
  if (follower && leaderLive && (reason === WakeReason.Local)) {
    // A follower that wakes on its own wakes its leader, with an empty proposal that is
    // forwarded to it (CockroachDB's maybeUnquiesceAndWakeLeader).
    node.propose(EMPTY_BYTES);
    st.stats.proposals++;
    st.scheduler.enqueue(gid, WorkFlag.Ready);
  }
  assert(!t.isQuiesced(gid) && !t.isDormant(gid), 'awake');
}

function rehydrate(st: StoreContext, gid: GroupId): RawNode {
  const node = rebuildNode(st, gid);
  st.table.markRestored(gid, node);
  st.stats.nodesRebuilt++;
  return node;
}
