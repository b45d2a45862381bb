/**
 * Private: quiescing a group (leader and follower side), releasing its node, and waking it
 * (rebuilding the node if released). The decisions themselves are in quiesce.ts.
 */
import { assert } from '../util/index.js';
import { EMPTY_BYTES, MessageType, StateType, newMessage, type RawNode } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import type { Envelope } from '../transport/index.js';
import { shouldFollowerQuiesce, shouldLeaderQuiesce, type QuiesceRefusal } from './quiesce.js';
import { ReplicaFlag } from './_table.js';
import { NO_LAGGING, WakeReason, type StoreCore } from './_core.js';
import { rebuildNode } from './_replicas.js';

/** Fills the leader view, decides, and quiesces the group if it may. */
export function maybeQuiesceLeader(st: StoreCore, gid: number, node: RawNode): boolean {
  const t = st.table;
  const r = node.raft;
  const v = st.leaderView;
  v.quiescenceEnabled = st.quiescence;
  v.initialized = true;
  v.id = st.nodeId;
  v.isLeader = r.state === StateType.StateLeader;
  v.leadTransferee = r.leadTransferee;
  v.ticksSinceProposal = t.idleTicks[gid]!;
  v.quiesceAfterTicks = st.config.quiesceAfterTicks;
  v.applied = r.raftLog.applied;
  v.commit = r.raftLog.committed;
  v.lastIndex = r.raftLog.lastIndex();
  v.hasReady = (t.flags[gid]! & ReplicaFlag.ReadyPending) !== 0 || node.hasReady();
  v.selfInProgress = false;
  v.followerCount = 0;
  const progress = r.trk.progress;
  const ids = progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === st.nodeId) {
      v.selfInProgress = true;
      continue;
    }
    const pr = progress.get(id)!;
    const k = v.followerCount++;
    v.followerIds[k] = id;
    v.followerMatch[k] = pr.match;
    v.followerState[k] = pr.state;
    v.followerLive[k] = st.liveness.isLive(id);
  }
  const lagging = st.laggingScratch;
  const refusal = shouldLeaderQuiesce(v, lagging);
  if (refusal !== null) {
    refuse(st, gid, refusal);
    return false;
  }
  sendQuiesceHeartbeats(st, gid, node, lagging);
  quiesce(st, gid, node, lagging);
  return true;
}

function sendQuiesceHeartbeats(
  st: StoreCore,
  gid: number,
  node: RawNode,
  lagging: readonly number[],
): void {
  const r = node.raft;
  const rangeId = st.table.rangeIds[gid]!;
  const ids = r.trk.progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const to = ids[i]!;
    if (to === st.nodeId || lagging.includes(to)) continue;
    const message = newMessage(MessageType.MsgHeartbeat);
    message.to = to;
    message.from = st.nodeId;
    message.term = r.term;
    message.commit = r.raftLog.committed;
    st.outbox.push({ groupId: rangeId, message, quiesce: true });
  }
}

/** A follower quiesces on a quiesce heartbeat if the rules allow; else it steps it. */
export function maybeQuiesceFollower(
  st: StoreCore,
  gid: number,
  node: RawNode,
  envelope: Envelope,
): boolean {
  const t = st.table;
  const r = node.raft;
  const v = st.followerView;
  v.quiescenceEnabled = st.quiescence;
  v.initialized = (t.flags[gid]! & ReplicaFlag.Initialized) !== 0;
  v.term = r.term;
  v.commit = r.raftLog.committed;
  v.lastIndex = r.raftLog.lastIndex();
  v.lead = r.lead;
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

function refuse(st: StoreCore, gid: number, refusal: QuiesceRefusal): void {
  st.stats.quiesceRefusals[refusal]++;
  if (st.log !== null && st.log.isLevelEnabled('trace')) {
    st.log.trace({ rangeId: st.table.rangeIds[gid], reason: refusal }, 'not quiescing');
  }
}

/** Takes the group out of the tick set and records term, leader and applied index. */
export function quiesce(
  st: StoreCore,
  gid: number,
  node: RawNode,
  lagging: readonly number[],
): void {
  const t = st.table;
  const r = node.raft;
  assert((t.flags[gid]! & ReplicaFlag.Quiesced) === 0, 'quiesce an awake group');
  assert(t.ticksOwed[gid] === 0 && t.tickCredit[gid] === 0, 'a settled node quiesces');
  st.ticker.quiesce(gid as GroupId);
  t.flags[gid]! |= ReplicaFlag.Quiesced;
  t.term[gid] = r.term;
  t.lead[gid] = r.lead;
  t.applied[gid] = r.raftLog.applied;
  t.peers[gid] = Math.min(255, r.trk.progress.size);
  if (lagging.length > 0 && r.lead === st.nodeId) st.laggingByGroup.set(gid, [...lagging]);
  st.stats.quiesces++;
  maybeRelease(st, gid);
}

/**
 * Releases a quiesced group's node when nothing is in flight: no Ready taken or pending
 * and the whole log in storage. Otherwise the batch end tries again.
 */
export function maybeRelease(st: StoreCore, gid: number): void {
  const t = st.table;
  const flags = t.flags[gid]!;
  if (!st.config.releaseQuiescedNodes || (flags & ReplicaFlag.Quiesced) === 0) return;
  if ((flags & (ReplicaFlag.Dormant | ReplicaFlag.ReadyPending)) !== 0) return;
  const node = t.nodes[gid]!;
  const storage = t.storages[gid]!;
  const log = node.raft.raftLog;
  assert(t.ticksOwed[gid] === 0, 'a quiesced group owes no ticks');
  if (node.hasReady() || log.lastIndex() !== storage.lastIndex()) return;
  assert(log.applied === log.committed, 'a quiesced group applied everything committed');
  assert(node.raft.term === t.term[gid] && node.raft.lead === t.lead[gid], 'record current');
  t.applied[gid] = log.applied;
  // The log array grew by doubling while the group was busy: a three-entry log may sit in
  // a seventeen-slot backing store. A sleeping replica keeps an exact-size copy.
  storage.ents = storage.ents.slice();
  t.nodes[gid] = null;
  t.flags[gid] = flags | ReplicaFlag.Dormant;
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
export function wake(st: StoreCore, gid: number, reason: WakeReason): void {
  const t = st.table;
  const flags = t.flags[gid]!;
  if ((flags & ReplicaFlag.Quiesced) === 0) return;
  const slept = st.ticker.wake(gid as GroupId);
  t.flags[gid] = flags & ~ReplicaFlag.Quiesced;
  const node = (flags & ReplicaFlag.Dormant) !== 0 ? rehydrate(st, gid) : t.settledNode(gid);
  st.laggingByGroup.delete(gid);
  const r = node.raft;
  const leaderLive = r.lead !== 0 && st.liveness.isLive(r.lead);
  const ticks = leaderLive
    ? Math.min(slept, Math.max(0, st.wakeElectionElapsedMax - r.electionElapsed))
    : slept;
  for (let i = 0; i < ticks; i++) node.tickQuiesced();
  st.stats.wakes++;
  const follower = r.lead !== st.nodeId;
  if (follower && leaderLive && (reason === WakeReason.Local)) {
    // A follower that wakes on its own wakes its leader, with an empty proposal that is
    // forwarded to it (CockroachDB's maybeUnquiesceAndWakeLeader).
    node.propose(EMPTY_BYTES);
    st.stats.proposals++;
    st.scheduler.enqueue(gid as GroupId, WorkFlag.Ready);
  }
  assert((t.flags[gid]! & (ReplicaFlag.Quiesced | ReplicaFlag.Dormant)) === 0, 'awake');
}

function rehydrate(st: StoreCore, gid: number): RawNode {
  const t = st.table;
  const node = rebuildNode(st, gid);
  t.nodes[gid] = node;
  t.flags[gid]! &= ~ReplicaFlag.Dormant;
  st.stats.nodesRebuilt++;
  return node;
}
