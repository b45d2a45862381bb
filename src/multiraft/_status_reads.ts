/**
 * Private: reading a replica's status (without waking it) and folding a whole store.
 */
import { ProgressState, StateType } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import {
  newReplicaStatus,
  type RaftStatus,
  type ReplicaStatus,
  type StoreSummary,
} from './status.js';
import type { StoreContext } from './_context.js';
import { loadDormantStorage, rebuildNode } from './_replicas.js';

/**
 * Fills `out` with the basic status of the range's replica without allocating and without
 * waking it. @returns false if the store has no replica of `rangeId`.
 */
export function readStatus(st: StoreContext, rangeId: number, out: ReplicaStatus): boolean {
  const id = st.table.slotOfRange.get(rangeId);
  if (id === undefined) return false;
  readStatusOf(st, id, out);
  return true;
}

/**
 * The full status, with every peer's progress on a leader (allocates; for on-demand use).
 * A dormant replica is rebuilt for the occasion (and released again), not woken.
 */
export function raftStatus(st: StoreContext, rangeId: number): RaftStatus | undefined {
  const id = st.table.slotOfRange.get(rangeId);
  if (id === undefined) return undefined;
  const status: RaftStatus = { ...newReplicaStatus(), progress: [] };
  readStatusOf(st, id, status);
  if (status.broken) return status;
  if (st.table.nodes[id] === null && !loadDormantStorage(st, id)) {
    readStatusOf(st, id, status);
    return status;
  }
  const node = st.table.nodes[id] ?? rebuildNode(st, id);
  if (node.raftState !== StateType.StateLeader) return status;
  const p = st.scratch.peers;
  node.readPeers(p);
  for (let i = 0; i < p.count; i++) {
    status.progress.push({ nodeId: p.ids[i]!, match: p.match[i]!, next: p.next[i]!,
      state: p.state[i]!, recentActive: p.recentActive[i]!, isLearner: p.isLearner[i]!,
      inflight: p.inflight[i]! });
  }
  return status;
}

/** Folds every replica into `out` (which it zeroes first). O(replicas), no allocation. */
export function summary(st: StoreContext, out: StoreSummary): StoreSummary {
  for (const key of Object.keys(out) as (keyof StoreSummary)[]) out[key] = 0;
  const t = st.table;
  const s = st.scratch.status;
  for (let i = 0; i < t.allocated; i++) {
    if (!t.isUsed(i)) continue;
    const id = t.slotAt(i);
    readStatusOf(st, id, s);
    summarize(st, id, s, out);
  }
  out.awake = st.ticker.awakeCount;
  return out;
}

function summarize(st: StoreContext, id: GroupId, s: ReplicaStatus, out: StoreSummary): void {
  out.replicas++;
  if (s.broken) {
    out.broken++;
    return;
  }
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

function summarizeLeader(st: StoreContext, id: GroupId, out: StoreSummary): void {
  out.leaders++;
  const node = st.table.nodes[id];
  if (node === null || node === undefined) {
    const lagging = st.laggingByGroup.get(id)?.length ?? 0;
    out.followersLagging += lagging;
    out.followersReplicate += st.table.peers[id]! - 1 - lagging;
    return;
  }
  const p = st.scratch.peers;
  node.readPeers(p);
  for (let i = 0; i < p.count; i++) {
    if (p.ids[i] === st.nodeId) continue;
    const state = p.state[i]!;
    if (state === ProgressState.StateReplicate) out.followersReplicate++;
    else if (state === ProgressState.StateProbe) out.followersProbe++;
    else out.followersSnapshot++;
  }
}

function readStatusOf(st: StoreContext, id: GroupId, out: ReplicaStatus): void {
  const t = st.table;
  out.rangeId = t.rangeIds[id]!;
  out.replicaId = st.nodeId;
  out.initialized = t.isInitialized(id);
  out.quiesced = t.isQuiesced(id);
  out.dormant = t.isDormant(id);
  out.broken = t.isBroken(id);
  const node = t.nodes[id];
  if (node !== null && node !== undefined) {
    const f = st.scratch.facts;
    node.readFacts(f);
    out.raftState = f.raftState;
    out.term = f.term;
    out.vote = f.vote;
    out.commit = f.commit;
    out.applied = f.applied;
    out.lastIndex = f.lastIndex;
    out.lead = f.lead;
    out.leadTransferee = f.leadTransferee;
    return;
  }
  const storage = t.storages[id];
  out.term = t.term[id]!;
  out.lead = t.lead[id]!;
  out.raftState = out.lead === st.nodeId ? StateType.StateLeader : StateType.StateFollower;
  out.applied = t.applied[id]!;
  out.leadTransferee = 0;
  if (storage === null || storage === undefined) {
    // Seated at open and never woken (_open.ts): everything committed was applied.
    out.vote = st.cold.vote[id] ?? 0;
    out.commit = out.applied;
    out.lastIndex = st.cold.lastIndex[id] ?? out.applied;
    return;
  }
  out.vote = storage.hardState().vote;
  out.commit = storage.hardState().commit;
  out.lastIndex = storage.lastIndex();
}
