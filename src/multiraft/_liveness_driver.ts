/**
 * Private: the store's own clock (one tick per tick interval): pings to the peer nodes and
 * reactions to their liveness changes.
 */
import { assert } from '../util/index.js';
import { MessageType, newMessage } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import { LIVENESS_GROUP_ID, type LivenessChange } from './liveness.js';
import { WakeReason, type StoreContext } from './_context.js';
import { wake } from './_quiescer.js';
import { collectUninitialized } from './_boundary.js';

/** One tick of the store's clock: pings on the liveness interval, then liveness changes. */
export function tickStore(st: StoreContext): void {
  st.storeTicks++;
  if (st.storeTicks % st.config.livenessIntervalTicks === 0) pingPeers(st);
  const changes = st.scratch.livenessChanges;
  st.liveness.update(st.storeTicks, changes);
  for (let i = 0; i < changes.length; i++) onLivenessChange(st, changes[i]!);
  if (st.leaderDownWakes.pending > 0) wakeDue(st);
  collectUninitialized(st);
}

/**
 * Wakes the followers whose jittered wake-up is due, unless something woke them first (a
 * peer's campaign) or their leader came back.
 */
function wakeDue(st: StoreContext): void {
  const due = st.scratch.dueWakes;
  st.leaderDownWakes.takeDue(st.storeTicks, due);
  const t = st.table;
  for (let i = 0; i < due.length; i++) {
    const gid = due[i]!;
    if (!t.isQuiesced(gid) || st.liveness.isLive(t.lead[gid]!)) continue;
    wake(st, gid, WakeReason.LeaderDown);
  }
  due.length = 0;
}

/**
 * A follower of a dead leader wakes now or after a jitter in [0, spread) store ticks,
 * drawn from the store's one random source (see _wake_schedule.ts).
 */
function wakeFollowerOfDeadLeader(st: StoreContext, gid: GroupId): void {
  const spread = st.config.leaderDownWakeSpreadTicks;
  const delayTicks = spread === 1 ? 0 : st.config.random.intn(spread);
  if (delayTicks === 0) {
    wake(st, gid, WakeReason.LeaderDown);
    return;
  }
  st.leaderDownWakes.add(gid, st.storeTicks, delayTicks);
  st.stats.wakesDeferred++;
}

/**
 * One ping per peer node, sent at once: the store's clock runs between batches, so this is
 * a send of its own, not part of any batch's one send (no write precedes a ping).
 */
function pingPeers(st: StoreContext): void {
  const peers = st.liveness.nodeIds;
  if (peers.length === 0) return;
  assert(st.staging.outbox.length === 0, 'pings go out between batches');
  for (let i = 0; i < peers.length; i++) {
    const message = newMessage(MessageType.MsgHeartbeat);
    message.to = peers[i]!;
    message.from = st.nodeId;
    st.staging.send({ rangeId: LIVENESS_GROUP_ID, message });
  }
  st.sendOutbox();
}

/**
 * A peer went down: wake the quiesced followers of its leaders (spread over a few ticks)
 * so that they elect new ones. A peer came back: wake the leaders that left it behind so
 * that they catch it up. Both scans are O(replicas) but run only on liveness changes.
 */
function onLivenessChange(st: StoreContext, change: LivenessChange): void {
  st.stats.livenessChanges++;
  st.log?.info({ peerNodeId: change.nodeId, live: change.live }, 'peer liveness changed');
  const t = st.table;
  let woken = 0;
  if (!change.live) {
    for (let i = 0; i < t.allocated; i++) {
      if (!t.isQuiesced(i) || t.lead[i] !== change.nodeId) continue;
      wakeFollowerOfDeadLeader(st, t.slotAt(i));
      woken++;
    }
  } else {
    for (const [id, lagging] of [...st.laggingByGroup]) {
      if (!lagging.includes(change.nodeId)) continue;
      wake(st, id, WakeReason.LaggingBack);
      st.scheduler.enqueue(id, WorkFlag.Ready);
      woken++;
    }
  }
  assert(woken <= t.allocated, 'woke known groups only');
}
