/**
 * What a host (the store) may read of a Raft node, filled into objects the caller owns and
 * reuses, so that reading a node's state allocates nothing and never exposes the state
 * machine itself (`RawNode.readFacts`, `RawNode.readPeers`).
 */
import { assert } from '../util/index.js';
import type { Raft } from './raft.js';
import { StateType } from './raft_state.js';
import type { StateType as ProgressState } from './tracker/index.js';

/** A node's role, term, leader and log positions (etcd's BasicStatus, flat, plus clocks). */
export interface NodeFacts {
  raftState: StateType;
  term: number;
  vote: number;
  /** The leader this node knows of (0 = none). */
  lead: number;
  /** The node leadership is being transferred to (0 = none). */
  leadTransferee: number;
  commit: number;
  applied: number;
  lastIndex: number;
  /** Ticks on the election clock since it was last reset. */
  electionElapsedTicks: number;
  /** Peers in the progress tracker, this node included. */
  peerCount: number;
  /** Leader only: read requests awaiting their heartbeat round (0 elsewhere). */
  readsPending: number;
  /** Leader only: the read-queue position of its term so far (`QuiescedRole.readPosition`). */
  readPosition: number;
}

/** A zeroed `NodeFacts` to fill and reuse. */
export function newNodeFacts(): NodeFacts {
  return {
    raftState: StateType.StateFollower, term: 0, vote: 0, lead: 0, leadTransferee: 0,
    commit: 0, applied: 0, lastIndex: 0, electionElapsedTicks: 0, peerCount: 0,
    readsPending: 0, readPosition: 0,
  };
}

/**
 * The progress of every peer, in ascending id order, as parallel arrays: the first `count`
 * slots are valid. The arrays grow on demand and are never shrunk.
 */
export interface PeerFacts {
  count: number;
  ids: number[];
  match: number[];
  next: number[];
  state: ProgressState[];
  recentActive: boolean[];
  isLearner: boolean[];
  /** Append messages in flight to the peer. */
  inflight: number[];
}

/** An empty `PeerFacts` to fill and reuse. */
export function newPeerFacts(): PeerFacts {
  return {
    count: 0, ids: [], match: [], next: [], state: [], recentActive: [], isLearner: [],
    inflight: [],
  };
}

/** Fills `out` from `r`. */
export function fillNodeFacts(r: Raft, out: NodeFacts): void {
  const log = r.raftLog;
  out.raftState = r.state;
  out.term = r.term;
  out.vote = r.vote;
  out.lead = r.lead;
  out.leadTransferee = r.leadTransferee;
  out.commit = log.committed;
  out.applied = log.applied;
  out.lastIndex = log.lastIndex();
  out.electionElapsedTicks = r.electionElapsed;
  out.peerCount = r.trk.progress.size;
  const leader = r.state === StateType.StateLeader;
  out.readsPending = leader ? r.readOnly.pendingCount : 0;
  out.readPosition = leader ? r.readOnly.position : 0;
  assert(out.applied <= out.commit && out.commit <= out.lastIndex, 'applied <= commit <= last');
}

/** Fills `out` with every peer's progress (leaders track it; others have stale values). */
export function fillPeerFacts(r: Raft, out: PeerFacts): void {
  const progress = r.trk.progress;
  const ids = progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const pr = progress.get(ids[i]!)!;
    out.ids[i] = ids[i]!;
    out.match[i] = pr.match;
    out.next[i] = pr.next;
    out.state[i] = pr.state;
    out.recentActive[i] = pr.recentActive;
    out.isLearner[i] = pr.isLearner;
    out.inflight[i] = pr.inflights.count();
  }
  out.count = ids.length;
  assert(out.ids.length >= out.count, 'peer arrays hold every peer');
}
