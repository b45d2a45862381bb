/**
 * `RaftStatus` of the replicas of a store. Bulk reads are cheap: `Store.readStatus` fills a
 * caller-owned `ReplicaStatus` in place (no allocation, and no wake-up: a dormant replica
 * is read from its record and storage). `Store.raftStatus` builds the full status with the
 * followers' progress on demand (it allocates). `Store.summary` folds every replica into
 * one `StoreSummary` for status pages and the demo.
 */
import { StateType } from '../raft/index.js';

/** The basic Raft status of one replica (etcd's BasicStatus, flattened, plus store state). */
export interface ReplicaStatus {
  rangeId: number;
  /** This replica's Raft id (the store's node id). */
  replicaId: number;
  /** Knows its configuration (created with one, or got its snapshot). */
  initialized: boolean;
  /** Out of the tick set. */
  quiesced: boolean;
  /** Quiesced and holding no Raft node (rebuilt on wake-up). */
  dormant: boolean;
  /**
   * Isolated after Raft panicked on a peer's message: it refuses requests and messages; the
   * other fields are its last known values.
   */
  broken: boolean;
  /** `StateType` of the replica (follower, candidate, leader, pre-candidate). */
  raftState: StateType;
  term: number;
  vote: number;
  commit: number;
  applied: number;
  lastIndex: number;
  /** Leader this replica knows of (0: none). */
  lead: number;
  leadTransferee: number;
}

/** Returns a zeroed status to pass to `Store.readStatus` (reuse it for every replica). */
export function newReplicaStatus(): ReplicaStatus {
  return {
    rangeId: 0, replicaId: 0, initialized: false, quiesced: false, dormant: false, broken: false,
    raftState: StateType.StateFollower, term: 0, vote: 0, commit: 0, applied: 0, lastIndex: 0,
    lead: 0, leadTransferee: 0,
  };
}

/** A follower's replication progress as its leader sees it. */
export interface FollowerProgress {
  nodeId: number;
  match: number;
  next: number;
  /** `ProgressState`: probe, replicate or snapshot. */
  state: number;
  recentActive: boolean;
  isLearner: boolean;
  /** Append messages in flight. */
  inflight: number;
}

/** The full status of one replica: the basic status plus, on a leader, every progress. */
export interface RaftStatus extends ReplicaStatus {
  /** One entry per peer (itself included) on a leader; empty elsewhere. */
  progress: FollowerProgress[];
}

/** Counts over every replica of a store (`Store.summary`). */
export interface StoreSummary {
  replicas: number;
  uninitialized: number;
  /** In the tick set. */
  awake: number;
  quiesced: number;
  /** Quiesced replicas that released their Raft node. */
  dormant: number;
  leaders: number;
  followers: number;
  candidates: number;
  /** Initialized replicas with no known leader. */
  leaderless: number;
  termMax: number;
  /** Sum of terms over initialized replicas (mean term = termSum / initialized). */
  termSum: number;
  /** Followers of this store's leaders, by progress state. */
  followersProbe: number;
  followersReplicate: number;
  followersSnapshot: number;
  /** Followers left behind by quiesced leaders because their node is down. */
  followersLagging: number;
  /** Replicas isolated after Raft panicked on a peer's message (not counted otherwise). */
  broken: number;
}

/** Returns a zeroed summary. */
export function newStoreSummary(): StoreSummary {
  return {
    replicas: 0, uninitialized: 0, awake: 0, quiesced: 0, dormant: 0, leaders: 0,
    followers: 0, candidates: 0, leaderless: 0, termMax: 0, termSum: 0, followersProbe: 0,
    followersReplicate: 0, followersSnapshot: 0, followersLagging: 0, broken: 0,
  };
}

/** Adds `from` into `into`, field by field (termMax as a maximum). */
export function addSummary(into: StoreSummary, from: StoreSummary): void {
  for (const key of Object.keys(into) as (keyof StoreSummary)[]) {
    into[key] = key === 'termMax' ? Math.max(into[key], from[key]) : into[key] + from[key];
  }
}
