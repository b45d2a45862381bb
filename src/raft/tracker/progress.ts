/**
 * A follower's replication progress as the leader sees it (etcd's `tracker.Progress`).
 *
 * State machine (design.md of etcd raft):
 *
 *   Probe --(append acked)--> Replicate --(append rejected / unreachable)--> Probe
 *   Probe|Replicate --(log compacted past Next)--> Snapshot --(snapshot applied)--> Probe|Replicate
 *
 * Transitions are driven by the Raft core; this class keeps the per-state bookkeeping.
 */
import { assert, assertNever } from '../../util/index.js';
import { Inflights } from './inflights.js';
import { StateType, stateTypeName } from './state.js';

/** Construction options of a {@link Progress}. */
export interface ProgressOptions {
  /** The next index to send. Must exceed `match`. */
  next: number;
  /** The window of messages in flight; the Progress owns it. */
  inflights: Inflights;
  /** Highest index known to match the leader's log. @default 0 */
  match?: number;
  /** Whether this peer is a learner. @default false */
  isLearner?: boolean;
  /** Whether the peer was heard from recently. @default false */
  recentActive?: boolean;
}

/** A follower's progress; field and method names follow etcd's, in camelCase. */
export class Progress {
  /** Index up to which the follower's log is known to match the leader's. */
  match: number;
  /**
   * Index of the next entry to send; entries in (match, next) are already in flight.
   * Invariant: 0 <= match < next. In StateSnapshot, next === pendingSnapshot + 1.
   */
  next: number;
  /**
   * Highest commit index in flight to the follower (etcd's unexported `sentCommit`; renamed
   * because `sentCommit()` is the method that sets it). Usually grows, but regresses when
   * probing restarts or an append is rejected. In StateSnapshot it equals pendingSnapshot.
   */
  sentCommitIndex = 0;
  /** How the leader talks to this follower; see {@link StateType}. */
  state: StateType = StateType.StateProbe;
  /**
   * In StateSnapshot: the leader's last index when it decided a snapshot was needed (the
   * index of the MsgSnap). Replication resumes on any append response that reconnects the
   * follower to the log, not only at this index, because snapshots may be sent by other
   * sources whose index is ahead or behind.
   */
  pendingSnapshot = 0;
  /** Whether the follower was heard from in the last election timeout (CheckQuorum). */
  recentActive: boolean;
  /**
   * Appends are throttled: in StateProbe after a probe was sent, in StateReplicate when the
   * window is full. Cleared by a heartbeat response or an ack, so a message still goes out
   * once in a while and replication cannot stall.
   */
  msgAppFlowPaused = false;
  /** Messages in flight (StateReplicate only); see {@link Inflights}. */
  inflights: Inflights;
  /** Whether this progress belongs to a learner. */
  isLearner: boolean;

  constructor(options: ProgressOptions) {
    this.match = options.match ?? 0;
    this.next = options.next;
    this.inflights = options.inflights;
    this.isLearner = options.isLearner ?? false;
    this.recentActive = options.recentActive ?? false;
    assert(this.match >= 0 && this.match < this.next, `progress needs match < next`);
  }

  /**
   * A copy with its own fields but the same Inflights object, as etcd's struct copy makes:
   * the configuration changer copies progresses to edit `isLearner`, and the copies replace
   * the originals wholesale, so sharing the window is safe and saves the buffer copy.
   */
  shallowCopy(): Progress {
    const c = new Progress({
      match: this.match,
      next: this.next,
      inflights: this.inflights,
      isLearner: this.isLearner,
      recentActive: this.recentActive,
    });
    c.sentCommitIndex = this.sentCommitIndex;
    c.state = this.state;
    c.pendingSnapshot = this.pendingSnapshot;
    c.msgAppFlowPaused = this.msgAppFlowPaused;
    return c;
  }

  /** Enters `state`, clearing the pause flag, the pending snapshot and the window. */
  resetState(state: StateType): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Enters StateProbe with next = match + 1; coming from StateSnapshot, the snapshot is known
   * delivered, so probing starts after it if that is higher.
   */
  becomeProbe(): void {
    if (this.state === StateType.StateSnapshot) {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(StateType.StateProbe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(StateType.StateProbe);
      this.next = this.match + 1;
    }
    this.sentCommitIndex = Math.min(this.sentCommitIndex, this.next - 1);
    assert(this.match < this.next, 'becomeProbe broke match < next');
  }

  /** Enters StateReplicate with next = match + 1. */
  becomeReplicate(): void {
    this.resetState(StateType.StateReplicate);
    this.next = this.match + 1;
    assert(this.inflights.count() === 0, 'becomeReplicate kept inflight messages');
  }

  /** Enters StateSnapshot for a snapshot at index `snapshotIndex`. */
  becomeSnapshot(snapshotIndex: number): void {
    assert(snapshotIndex >= this.match, 'snapshot behind the match index');
    this.resetState(StateType.StateSnapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommitIndex = snapshotIndex;
  }

  /**
   * Records an append of `entries` entries totalling `bytes` bytes, starting at `next`.
   * Only in StateProbe or StateReplicate.
   */
  sentEntries(entries: number, bytes: number): void {
    assert(entries >= 0 && bytes >= 0, 'negative append size');
    switch (this.state) {
      case StateType.StateReplicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        // A message that fills the window (or is sent into a full one) counts as a probe,
        // so the flow pauses until an ack or heartbeat response.
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case StateType.StateProbe:
        // etcd pauses only after non-empty probes; kept for identical behaviour.
        if (entries > 0) this.msgAppFlowPaused = true;
        break;
      case StateType.StateSnapshot:
        assert(false, `sending append in unhandled state ${stateTypeName(this.state)}`);
        break;
      default:
        assertNever(this.state, 'progress state');
    }
  }

  /** Whether sending commit index `index` may advance the follower's commit index. */
  canBumpCommit(index: number): boolean {
    // The follower's commit can reach next-1 (higher only in rare cases): send a commit index
    // eagerly only while the one already sent does not take it all the way there.
    return index > this.sentCommitIndex && this.sentCommitIndex < this.next - 1;
  }

  /** Records that commit index `commit` was sent to the follower. */
  sentCommit(commit: number): void {
    assert(commit >= 0, 'negative commit index');
    this.sentCommitIndex = commit;
  }

  /**
   * Handles an append acknowledgement up to `n`. Returns false if it is stale (n <= match);
   * otherwise raises match (and next if needed) and unpauses the flow.
   */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppFlowPaused = false;
    assert(this.match < this.next, 'maybeUpdate broke match < next');
    return true;
  }

  /**
   * Handles a rejected append at index `rejected` with the follower's hint `matchHint`.
   * Returns false for a stale rejection (duplicated or reordered messages); otherwise lowers
   * next sensibly and clears the flow for sending.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === StateType.StateReplicate) {
      // Stale if the rejected index is already known to match.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommitIndex = Math.min(this.sentCommitIndex, this.next - 1);
      return true;
    }
    // Outside StateReplicate one entry at a time is probed, so a genuine rejection is
    // always for next - 1; anything else is a reordered or duplicated message.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommitIndex = Math.min(this.sentCommitIndex, this.next - 1);
    this.msgAppFlowPaused = false;
    assert(this.match < this.next, 'maybeDecrTo broke match < next');
    return true;
  }

  /**
   * Whether appends to this follower are throttled: probing and waiting, window full, or a
   * snapshot in flight.
   */
  isPaused(): boolean {
    switch (this.state) {
      case StateType.StateProbe:
      case StateType.StateReplicate:
        return this.msgAppFlowPaused;
      case StateType.StateSnapshot:
        return true;
      default:
        return assertNever(this.state, 'progress state');
    }
  }

  /** As etcd prints it, e.g. `StateReplicate match=14 next=17 paused inflight=2[full]`. */
  toString(): string {
    let s = `${stateTypeName(this.state)} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) {
      s += ` inflight=${n}`;
      if (this.inflights.full()) s += '[full]';
    }
    return s;
  }
}
