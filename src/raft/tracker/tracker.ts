/**
 * The leader's view of the group: the active configuration, every peer's Progress, and the
 * votes of the current election (etcd's `tracker.ProgressTracker`).
 */
import { assert } from '../../util/index.js';
import type { ConfState } from '../raftpb.js';
import { JointConfig, MajorityConfig, VoteResult, type VoteLookup } from '../quorum/index.js';
import type { Progress } from './progress.js';
import { ProgressMap } from './progress_map.js';

/**
 * A membership configuration (etcd's `tracker.Config`).
 *
 * Invariant: learners and voters are disjoint: a peer in either half of `voters` is not in
 * `learners`. A voter being demoted during joint consensus waits in `learnersNext` (it is
 * still a voter of the outgoing half) and becomes a learner when the joint config is left.
 */
export class TrackerConfig {
  /** The voters: incoming half, and outgoing half while joint. */
  voters: JointConfig;
  /** Whether the joint config is left automatically once it commits. Only while joint. */
  autoLeave: boolean;
  /** The learners (a sorted id set; only its ids and `toString` matter). */
  learners: MajorityConfig;
  /** Outgoing voters that become learners when the joint config is left. Only while joint. */
  learnersNext: MajorityConfig;

  constructor(
    voters: JointConfig = new JointConfig(),
    options: { autoLeave?: boolean; learners?: MajorityConfig; learnersNext?: MajorityConfig } = {},
  ) {
    this.voters = voters;
    this.autoLeave = options.autoLeave ?? false;
    this.learners = options.learners ?? new MajorityConfig();
    this.learnersNext = options.learnersNext ?? new MajorityConfig();
  }

  /** A copy that shares no memory with this config. */
  clone(): TrackerConfig {
    return new TrackerConfig(this.voters.clone(), {
      autoLeave: this.autoLeave,
      learners: this.learners.clone(),
      learnersNext: this.learnersNext.clone(),
    });
  }

  /**
   * As etcd prints it: `voters=(1 2)&&(1) learners=(3) learners_next=(4) autoleave`, the
   * optional parts only when non-empty / set.
   */
  toString(): string {
    let s = `voters=${this.voters.toString()}`;
    if (this.learners.size > 0) s += ` learners=${this.learners.toString()}`;
    if (this.learnersNext.size > 0) s += ` learners_next=${this.learnersNext.toString()}`;
    if (this.autoLeave) s += ' autoleave';
    return s;
  }
}

/** Granted and rejected vote counts and the election outcome. */
export interface VoteTally {
  granted: number;
  rejected: number;
  result: VoteResult;
}

/** The votes before any was cast. Typed read-only, so nothing can add to it. */
const NO_VOTES: ReadonlyMap<number, boolean> = new Map();

/**
 * Reads a voter's recent activity as a vote, for quorumActive. One shared instance, pointed
 * at a tracker's progress for the length of one synchronous call: a leader checks its
 * quorum every election timeout, and the check allocates nothing.
 */
class RecentActiveLookup implements VoteLookup {
  progress: ProgressMap | null = null;
  get(id: number): boolean | undefined {
    assert(this.progress !== null, 'a lookup pointed at a progress map');
    const pr = this.progress.get(id);
    return pr === undefined || pr.isLearner ? undefined : pr.recentActive;
  }
}

const RECENT_ACTIVE = new RecentActiveLookup();

/**
 * Tracks the active configuration and what is known about each peer; the committed index
 * follows from the voters' match indexes.
 */
export class ProgressTracker {
  /** The active configuration. Replaced wholesale on a configuration change. */
  config: TrackerConfig = new TrackerConfig();
  /** Progress of every voter and learner. Replaced wholesale on a configuration change. */
  progress: ProgressMap = new ProgressMap();
  /**
   * Votes of the current election: id -> granted; null outside elections. Lazy: every term
   * change resets the votes, and a group holds no vote table between elections.
   */
  private voteMap: Map<number, boolean> | null = null;

  /**
   * @param maxInflight Messages in flight per follower (MaxInflightMsgs); at least 1.
   * @param maxInflightBytes Bytes in flight per follower; 0 or Infinity for no limit.
   */
  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {
    assert(Number.isInteger(maxInflight) && maxInflight >= 1, 'maxInflight must be >= 1');
    assert(maxInflightBytes >= 0, 'maxInflightBytes must be >= 0');
  }

  /** The active configuration as a ConfState (new arrays, ascending ids). */
  confState(): ConfState {
    const c = this.config;
    return {
      voters: c.voters.incoming.slice(),
      votersOutgoing: c.voters.outgoing.slice(),
      learners: c.learners.slice(),
      learnersNext: c.learnersNext.slice(),
      autoLeave: c.autoLeave,
    };
  }

  /** Whether the configuration has exactly one voter (the leader) and is not joint. */
  isSingleton(): boolean {
    const v = this.config.voters;
    return v.incoming.size === 1 && v.outgoing.size === 0;
  }

  /**
   * The highest index acknowledged by a quorum of the voters. Allocation-free.
   * An empty configuration yields INDEX_NO_LIMIT (Infinity); the Raft core never asks then.
   */
  committed(): number {
    return this.config.voters.committedIndex(this.progress);
  }

  /** Calls `f` for every tracked peer in ascending id order (etcd's `Visit`). */
  visit(f: (id: number, pr: Progress) => void): void {
    this.progress.forEach(f);
  }

  /** Whether a quorum of voters was recently active (CheckQuorum). */
  quorumActive(): boolean {
    assert(RECENT_ACTIVE.progress === null, 'quorumActive is not reentrant');
    RECENT_ACTIVE.progress = this.progress;
    try {
      return this.config.voters.voteResult(RECENT_ACTIVE) === VoteResult.VoteWon;
    } finally {
      RECENT_ACTIVE.progress = null;
    }
  }

  /**
   * The ids of every tracked peer (voters and learners), ascending. A read-only view of the
   * progress map, allocation-free: do not keep it across configuration changes.
   */
  progressIds(): readonly number[] {
    return this.progress.ids;
  }

  /** The voters of both halves, ascending (a new array). */
  voterNodes(): number[] {
    return this.config.voters.ids();
  }

  /** The learners, ascending (a new array). */
  learnerNodes(): number[] {
    return this.config.learners.slice();
  }

  /** Votes of the current election: id -> granted (read-only view). */
  get votes(): ReadonlyMap<number, boolean> {
    return this.voteMap ?? NO_VOTES;
  }

  /** Starts a new round of vote counting. */
  resetVotes(): void {
    this.voteMap = null;
  }

  /** Records the vote of `id` (granted if `v`); only its first vote of a round counts. */
  recordVote(id: number, v: boolean): void {
    if (this.voteMap === null) this.voteMap = new Map();
    if (!this.voteMap.has(id)) this.voteMap.set(id, v);
    assert(this.voteMap.has(id), 'vote not recorded');
  }

  /**
   * Counts granted and rejected votes among tracked voters (votes from peers no longer in
   * the configuration are not counted; the counts are informational) and the outcome.
   */
  tallyVotes(): VoteTally {
    let granted = 0;
    let rejected = 0;
    this.progress.forEach((id, pr) => {
      if (pr.isLearner) return;
      const v = this.votes.get(id);
      if (v === undefined) return;
      if (v) granted++;
      else rejected++;
    });
    const result = this.config.voters.voteResult(this.votes);
    assert(granted + rejected <= this.votes.size, 'tallied more votes than were cast');
    return { granted, rejected, result };
  }
}
