/**
 * Private: taking a group's Ready in its turn, and the batch end that persists, sends,
 * applies and advances every Ready of the batch.
 */
import { assert } from '../util/index.js';
import {
  EntryType,
  StateType,
  unmarshalConfChange,
  type ConfState,
  type Ready,
} from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import { ReplicaFlag } from './_table.js';
import type { StoreCore } from './_core.js';
import { internSnapshot } from './_replicas.js';
import { maybeRelease } from './_quiescer.js';
import { grantTickCredit, maybeGrantTickCredit } from './_tick.js';

/** Takes the group's Ready; its writes, sends and applies happen at the batch end. */
export function processReady(st: StoreCore, gid: GroupId): void {
  const t = st.table;
  if (gid >= t.allocated || t.nodes[gid] === null) return;
  if ((t.flags[gid]! & ReplicaFlag.ReadyPending) !== 0) return;
  const node = t.settledNode(gid);
  if (!node.hasReady()) return;
  const rd = node.ready();
  const rangeId = t.rangeIds[gid]!;
  // Read states need nothing persisted: the reader waits until the index is applied.
  const done = st.config.stateMachine.readIndexDone;
  for (let i = 0; i < rd.readStates.length && done !== undefined; i++) {
    const rs = rd.readStates[i]!;
    done.call(st.config.stateMachine, rangeId, rs.index, rs.requestCtx);
  }
  for (let i = 0; i < rd.messages.length; i++) {
    st.outbox.push({ groupId: rangeId, message: rd.messages[i]! });
  }
  const hs = rd.hardState;
  if (rd.entries.length === 0 && rd.committedEntries.length === 0 && rd.snapshot === null &&
    hs.term === 0 && hs.vote === 0 && hs.commit === 0) {
    // Messages only (heartbeats and their responses, most of an awake group's traffic):
    // nothing to persist or apply, so nothing to wait for. Advancing now, while the node
    // is still in cache, spares the batch end a second visit. Such an advance steps
    // nothing (its acknowledgements come only with entries or a HardState), so it leaves
    // no new Ready behind. The messages still leave after the batch's writes.
    node.advance();
    grantTickCredit(st, gid, node);
    return;
  }
  t.flags[gid]! |= ReplicaFlag.ReadyPending;
  st.stagedGroups.push(gid);
  st.stagedReadies.push(rd);
  assert(st.stagedGroups.length === st.stagedReadies.length, 'staged in step');
}

/**
 * The scheduler's `onBatchEnd`. ORDER (etcd's Ready contract, for every group of the batch
 * at once): persist every staged Ready; only then send all messages (a message may promise
 * that its sender persisted something); then apply committed entries and advance.
 */
export function finishBatch(st: StoreCore): void {
  const groups = st.stagedGroups;
  const readies = st.stagedReadies;
  for (let i = 0; i < groups.length; i++) persist(st, groups[i]!, readies[i]!);
  st.flushOutbox();
  for (let i = 0; i < groups.length; i++) applyAndAdvance(st, groups[i]!, readies[i]!);
  groups.length = 0;
  readies.length = 0;
  st.stats.batches++;
  // Applying may propose (a state machine reacting to a command): send what it produced.
  st.flushOutbox();
}

/** Writes a staged Ready's snapshot, entries and HardState to the group's storage. */
function persist(st: StoreCore, gid: number, rd: Ready): void {
  const t = st.table;
  const storage = t.storages[gid]!;
  if (rd.snapshot !== null && rd.snapshot.metadata.index !== 0) {
    const snapshot = internSnapshot(st, rd.snapshot);
    const error = storage.applySnapshot(snapshot);
    assert(error === null, 'Raft hands out only snapshots newer than the storage');
    st.config.stateMachine.applySnapshot(t.rangeIds[gid]!, snapshot);
    initialize(st, gid, snapshot.metadata.confState);
  }
  if (rd.entries.length > 0) storage.append(rd.entries);
  const hs = rd.hardState;
  if (hs.term !== 0 || hs.vote !== 0 || hs.commit !== 0) storage.setHardState(hs);
}

function applyAndAdvance(st: StoreCore, gid: number, rd: Ready): void {
  const t = st.table;
  assert((t.flags[gid]! & ReplicaFlag.ReadyPending) !== 0, 'staged ready');
  const node = t.settledNode(gid);
  if (rd.softState !== null && rd.softState.raftState === StateType.StateLeader &&
    rd.softState.lead === st.nodeId) st.stats.leadershipsAcquired++;
  const rangeId = t.rangeIds[gid]!;
  const entries = rd.committedEntries;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.type === EntryType.EntryNormal) {
      if (entry.data.length === 0) continue;
      st.config.stateMachine.apply(rangeId, entry);
      st.stats.entriesApplied++;
    } else {
      const cs = node.applyConfChange(unmarshalConfChange(entry.type, entry.data));
      for (const peer of cs.voters) st.liveness.addPeer(peer, st.storeTicks);
      for (const peer of cs.learners) st.liveness.addPeer(peer, st.storeTicks);
    }
  }
  node.advance();
  t.flags[gid]! &= ~ReplicaFlag.ReadyPending;
  if (node.hasReady()) st.scheduler.enqueue(gid as GroupId, WorkFlag.Ready);
  else maybeRelease(st, gid);
  maybeGrantTickCredit(st, gid);
}

/** A lazily created replica got its snapshot: it knows its configuration and ticks. */
function initialize(st: StoreCore, gid: number, cs: ConfState): void {
  const t = st.table;
  for (const peer of cs.voters) st.liveness.addPeer(peer, st.storeTicks);
  for (const peer of cs.learners) st.liveness.addPeer(peer, st.storeTicks);
  if ((t.flags[gid]! & ReplicaFlag.Initialized) !== 0) return;
  t.flags[gid]! |= ReplicaFlag.Initialized;
  st.ticker.wake(gid as GroupId);
  assert(st.ticker.isAwake(gid as GroupId), 'an initialized replica ticks');
}
