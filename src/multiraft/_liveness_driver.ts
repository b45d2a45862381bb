/**
 * Private: the store's own clock (one tick per tick interval): pings to the peer nodes and
 * reactions to their liveness changes.
 */
import { assert } from '../util/index.js';
import { MessageType, newMessage } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import { LIVENESS_GROUP_ID, type LivenessChange } from './liveness.js';
import { ReplicaFlag } from './_table.js';
import { WakeReason, type StoreCore } from './_core.js';
import { wake } from './_quiescer.js';

/** One tick of the store's clock: pings on the liveness interval, then liveness changes. */
export function tickStore(st: StoreCore): void {
  st.storeTicks++;
  if (st.storeTicks % st.config.livenessIntervalTicks === 0) pingPeers(st);
  const changes = st.livenessChanges;
  st.liveness.update(st.storeTicks, changes);
  for (let i = 0; i < changes.length; i++) onLivenessChange(st, changes[i]!);
}

function pingPeers(st: StoreCore): void {
  const peers = st.liveness.nodeIds;
  if (peers.length === 0) return;
  for (let i = 0; i < peers.length; i++) {
    const message = newMessage(MessageType.MsgHeartbeat);
    message.to = peers[i]!;
    message.from = st.nodeId;
    st.outbox.push({ groupId: LIVENESS_GROUP_ID, message });
  }
  st.flushOutbox();
}

/**
 * A peer went down: wake the quiesced followers of its leaders so that they elect new
 * ones. A peer came back: wake the leaders that left it behind so that they catch it up.
 * Both scans are O(replicas) but run only on liveness changes.
 */
function onLivenessChange(st: StoreCore, change: LivenessChange): void {
  st.stats.livenessChanges++;
  st.log?.info({ peerNodeId: change.nodeId, live: change.live }, 'peer liveness changed');
  const t = st.table;
  let woken = 0;
  if (!change.live) {
    for (let id = 0; id < t.allocated; id++) {
      if ((t.flags[id]! & ReplicaFlag.Quiesced) === 0 || t.lead[id] !== change.nodeId) continue;
      wake(st, id, WakeReason.LeaderDown);
      woken++;
    }
  } else {
    for (const [id, lagging] of [...st.laggingByGroup]) {
      if (!lagging.includes(change.nodeId)) continue;
      wake(st, id, WakeReason.LaggingBack);
      st.scheduler.enqueue(id as GroupId, WorkFlag.Ready);
      woken++;
    }
  }
  assert(woken <= t.allocated, 'woke known groups only');
}
