/**
 * Private: reading a replica's status (without waking it) and folding a whole store.
 */
import { ProgressState, StateType } from '../raft/index.js';
import { ReplicaFlag } from './_table.js';
import {
  newReplicaStatus,
  type RaftStatus,
  type ReplicaStatus,
  type StoreSummary,
} from './status.js';
import type { StoreCore } from './_core.js';
import { rebuildNode } from './_replicas.js';

/**
 * Fills `out` with the basic status of the range's replica without allocating and without
 * waking it. @returns false if the store has no replica of `rangeId`.
 */
export function readStatus(st: StoreCore, rangeId: number, out: ReplicaStatus): boolean {
  const id = st.groupOfRange.get(rangeId);
  if (id === undefined) return false;
  readStatusOf(st, id, out);
  return true;
}

/**
 * The full status, with every peer's progress on a leader (allocates; for on-demand use).
 * A dormant replica is rebuilt for the occasion (and released again), not woken.
 */
export function raftStatus(st: StoreCore, rangeId: number): RaftStatus | undefined {
  const id = st.groupOfRange.get(rangeId);
  if (id === undefined) return undefined;
  const status: RaftStatus = { ...newReplicaStatus(), progress: [] };
  readStatusOf(st, id, status);
  const node = st.table.nodes[id] ?? rebuildNode(st, id);
  if (node.raft.state !== StateType.StateLeader) return status;
  const progress = node.raft.trk.progress;
  for (const peer of progress.ids) {
    const pr = progress.get(peer)!;
    status.progress.push({ nodeId: peer, match: pr.match, next: pr.next, state: pr.state,
      recentActive: pr.recentActive, isLearner: pr.isLearner, inflight: pr.inflights.count() });
  }
  return status;
}

/** Folds every replica into `out` (which it zeroes first). O(replicas), no allocation. */
export function summary(st: StoreCore, out: StoreSummary): StoreSummary {
  for (const key of Object.keys(out) as (keyof StoreSummary)[]) out[key] = 0;
  const t = st.table;
  const s = st.scratchStatus;
  for (let id = 0; id < t.allocated; id++) {
    if ((t.flags[id]! & ReplicaFlag.Used) === 0) continue;
    readStatusOf(st, id, s);
    summarize(st, id, s, out);
  }
  out.awake = st.ticker.awakeCount;
  return out;
}

function summarize(st: StoreCore, id: number, s: ReplicaStatus, out: StoreSummary): void {
  out.replicas++;
  if (!s.initialized) {
    out.uninitialized++;
    return;
  }
  if (s.quiesced) out.quiesced++;
  if (s.dormant) out.dormant++;
  if (s.lead === 0) out.leaderless++;
  out.termMax = Math.max(out.termMax, s.term);
  out.termSum += s.term;
  if (s.raftState === StateType.StateFollower) out.followers++;
  else if (s.raftState !== StateType.StateLeader) out.candidates++;
  else summarizeLeader(st, id, out);
}

function summarizeLeader(st: StoreCore, id: number, out: StoreSummary): void {
  out.leaders++;
  const node = st.table.nodes[id];
  if (node === null || node === undefined) {
    const lagging = st.laggingByGroup.get(id)?.length ?? 0;
    out.followersLagging += lagging;
    out.followersReplicate += st.table.peers[id]! - 1 - lagging;
    return;
  }
  const progress = node.raft.trk.progress;
  const ids = progress.ids;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === st.nodeId) continue;
    const state = progress.get(ids[i]!)!.state;
    if (state === ProgressState.StateReplicate) out.followersReplicate++;
    else if (state === ProgressState.StateProbe) out.followersProbe++;
    else out.followersSnapshot++;
  }
}

function readStatusOf(st: StoreCore, id: number, out: ReplicaStatus): void {
  const t = st.table;
  const flags = t.flags[id]!;
  out.rangeId = t.rangeIds[id]!;
  out.replicaId = st.nodeId;
  out.initialized = (flags & ReplicaFlag.Initialized) !== 0;
  out.quiesced = (flags & ReplicaFlag.Quiesced) !== 0;
  out.dormant = (flags & ReplicaFlag.Dormant) !== 0;
  const node = t.nodes[id];
  if (node !== null && node !== undefined) {
    const r = node.raft;
    out.raftState = r.state;
    out.term = r.term;
    out.vote = r.vote;
    out.commit = r.raftLog.committed;
    out.applied = r.raftLog.applied;
    out.lastIndex = r.raftLog.lastIndex();
    out.lead = r.lead;
    out.leadTransferee = r.leadTransferee;
    return;
  }
  const storage = t.storages[id]!;
  out.term = t.term[id]!;
  out.lead = t.lead[id]!;
  out.raftState = out.lead === st.nodeId ? StateType.StateLeader : StateType.StateFollower;
  out.vote = storage.hardState.vote;
  out.commit = storage.hardState.commit;
  out.applied = t.applied[id]!;
  out.lastIndex = storage.lastIndex();
  out.leadTransferee = 0;
}
