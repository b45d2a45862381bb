/**
 * The safety checker of the store-layer simulation: the single-group invariants of
 * `invariants.ts`, per Raft group, plus the quiescence invariants of the store.
 *
 * The store keeps each replica's log in a storage it does not export, so this checker cannot
 * walk replicas' logs as `SafetyChecker` does through `NodeView`. It sees, through public API
 * only: every replica's `ReplicaStatus` (term, vote, commit, applied, last index, role,
 * leader, quiesced), every message a store hands its transport (MsgApp entries, vote grants,
 * quiesce heartbeats), and every entry and snapshot the store applies to the state machine.
 * The invariants keep their names and meaning; where they are checked differently it says so:
 *
 * - election-safety: at most one leader per term and group (statuses);
 * - vote-once: a replica grants at most one vote per term (MsgVoteResp on the wire);
 * - log-matching: two entries with the same index and term carry the same data and follow
 *   entries of the same term (every MsgApp on the wire: the leaders' logs);
 * - leader-completeness: a leader of term L holds every entry committed before L: its last
 *   index reaches them (statuses) and every entry it sends at such an index is the committed
 *   one (wire);
 * - committed-stable: an index committed once is never committed, applied or snapshotted with
 *   another entry (MsgApp entries under the message's commit, applies, snapshots);
 * - state-machine-safety: every replica applies one history, in increasing index order
 *   (a chained hash over the non-empty entries, which are all the store hands over);
 * - hardstate-monotonic: term, vote within a term and commit never go back (statuses);
 * - applied-within-commit: applied <= commit <= last index (statuses), applies <= commit.
 *
 * Quiescence:
 * - quiesce-agreement: a quiesced follower's (leader, term, commit) is the (sender, term,
 *   commit) of a quiesce heartbeat its leader sent: it never quiesces on a stale or foreign
 *   heartbeat, and its log holds nothing beyond its commit (a replica `Store.open` seated
 *   dormant, under no leader, is exempt until it first wakes);
 * - quiesced-frozen: a replica quiesced at two consecutive checks, on a store that woke no
 *   group in between, did not change at all (no tick, no message reached it), except that
 *   its applied index may catch up with its commit (a Ready in flight when it quiesced);
 * - quiesced-no-ticks: a store delivers at most one tick per awake group per sub-tick, and
 *   none when every group is quiesced (`StoreStats.ticks` against `summary().awake`);
 * - quiesce-liveness: after the faults heal, every group elects a leader, commits, and
 *   quiesces again within a bound; no follower stays quiesced under a leader that is down.
 */
import type { Entry, Message } from '../../src/raft/index.js';
import { MessageType, StateType } from '../../src/raft/index.js';
import type { ReplicaStatus } from '../../src/multiraft/index.js';
import { assert } from '../../src/util/index.js';
import { CHAIN_HASH_EMPTY, chainHash, type InvariantName } from './invariants.js';
import { hashBytes } from './events.js';

/** The invariants of the store layer, as named in reports. */
export type StoreInvariantName =
  | InvariantName
  | 'quiesce-agreement'
  | 'quiesced-frozen'
  | 'quiesced-no-ticks'
  | 'quiesce-liveness'
  | 'acknowledged-durable';

/** Thrown by the checker; the simulation reports it with the seed and replay command. */
export class StoreInvariantViolation extends Error {
  override readonly name = 'StoreInvariantViolation';
  constructor(
    readonly invariant: StoreInvariantName,
    readonly nodeId: number,
    readonly rangeId: number,
    detail: string,
  ) {
    super(`${invariant} violated at node ${nodeId}, range ${rangeId}: ${detail}`);
  }
}

interface Committed {
  term: number;
  hash: number;
  /** A term at which it was known committed (leaders above it must hold it). */
  seenAtTerm: number;
}

interface ReplicaTrack {
  term: number;
  vote: number;
  commit: number;
  /** Last index handed to the state machine, and the chain hash of what was. */
  applied: number;
  chain: number;
  /** The status at the previous check if it was quiesced, else null. */
  quiescedAs: ReplicaStatus | null;
  /**
   * Seated dormant by `Store.open` and not woken since: quiesced under no leader (lead 0),
   * which no quiesce heartbeat explains; the first wake clears it.
   */
  openedDormant: boolean;
  wakesAtCheck: number;
}

/** Everything known about one Raft group. */
class GroupTrack {
  readonly leaders = new Map<number, number>();
  readonly votes = new Map<string, number>();
  readonly slots = new Map<number, { term: number; hash: number; prevTerm: number }[]>();
  readonly committed = new Map<number, Committed>();
  /** Per term T: the highest index known committed at T. */
  readonly committedMaxByTerm = new Map<number, number>();
  /** Chain hash of the applied non-empty history ending at each index. */
  readonly chain = new Map<number, number>();
  /** `lead:term:commit` of every quiesce heartbeat sent (and every leader seen quiesced). */
  readonly quiesceIssued = new Set<string>();
  readonly replicas = new Map<number, ReplicaTrack>();
}

/** Checks the invariants above across every group of one simulated cluster. */
export class StoreSafetyChecker {
  private readonly groups = new Map<number, GroupTrack>();
  /** Counts, for reports. */
  checks = 0;
  wireChecks = 0;

  /** @param initialIndex index (and term) of the snapshot every range starts from */
  constructor(private readonly initialIndex: number, private readonly initialTerm: number) {}

  /** A store handed `m` of `rangeId` to its transport (`quiesce`: the envelope's flag). */
  onSend(rangeId: number, m: Message, quiesce: boolean): void {
    this.wireChecks++;
    const g = this.group(rangeId);
    switch (m.type) {
      case MessageType.MsgApp:
        this.checkAppend(g, rangeId, m);
        break;
      case MessageType.MsgVoteResp:
        if (!m.reject) this.onVoteGranted(g, rangeId, m.from, m.to, m.term);
        break;
      case MessageType.MsgHeartbeat:
        if (quiesce) g.quiesceIssued.add(`${m.from}:${m.term}:${m.commit}`);
        break;
      case MessageType.MsgSnap: {
        const md = m.snapshot?.metadata;
        if (md !== undefined && md.index !== 0) this.commit(g, rangeId, m.from, md.index,
          md.term, null, m.term, 'committed-stable');
        break;
      }
      default:
        break;
    }
  }

  private onVoteGranted(g: GroupTrack, rangeId: number, voter: number, cand: number,
    term: number): void {
    const key = `${voter}:${term}`;
    const earlier = g.votes.get(key);
    if (earlier === undefined) g.votes.set(key, cand);
    else if (earlier !== cand) {
      this.fail('vote-once', voter, rangeId, `voted for ${earlier} and ${cand} in term ${term}`);
    }
  }

  /** Log matching and committed entries, from one append message of a leader. */
  private checkAppend(g: GroupTrack, rangeId: number, m: Message): void {
    if (m.index > 0 && m.index <= m.commit) {
      this.commit(g, rangeId, m.from, m.index, m.logTerm, null, m.term, 'committed-stable');
    }
    let prevTerm = m.logTerm;
    for (const e of m.entries) {
      const hash = hashBytes(e.data);
      this.checkSlot(g, rangeId, m.from, e, hash, prevTerm);
      prevTerm = e.term;
      if (e.index <= m.commit) {
        this.commit(g, rangeId, m.from, e.index, e.term, hash, m.term, 'committed-stable');
        continue;
      }
      const known = g.committed.get(e.index);
      if (known !== undefined && known.seenAtTerm < m.term &&
        (known.term !== e.term || known.hash !== hash)) {
        this.fail('leader-completeness', m.from, rangeId, `leader of term ${m.term} sends ` +
          `entry ${e.index} of term ${e.term}, but term ${known.term} was committed there`);
      }
    }
  }

  private checkSlot(g: GroupTrack, rangeId: number, from: number, e: Entry, hash: number,
    prevTerm: number): void {
    if (e.term < prevTerm) this.fail('log-matching', from, rangeId, `term falls at ${e.index}`);
    let list = g.slots.get(e.index);
    if (list === undefined) g.slots.set(e.index, (list = []));
    for (const s of list) {
      if (s.term !== e.term) continue;
      if (s.hash !== hash || s.prevTerm !== prevTerm) {
        this.fail('log-matching', from, rangeId, `two different entries at index ${e.index} ` +
          `term ${e.term} (prev terms ${s.prevTerm}/${prevTerm})`);
      }
      return;
    }
    list.push({ term: e.term, hash, prevTerm });
  }

  /** Registers (or compares with) a committed entry; `hash` null: term only. */
  private commit(g: GroupTrack, rangeId: number, nodeId: number, index: number, term: number,
    hash: number | null, seenAtTerm: number, invariant: StoreInvariantName): void {
    const known = g.committed.get(index);
    if (known === undefined) {
      if (hash === null) return;
      g.committed.set(index, { term, hash, seenAtTerm });
      const max = g.committedMaxByTerm.get(seenAtTerm) ?? 0;
      if (index > max) g.committedMaxByTerm.set(seenAtTerm, index);
      return;
    }
    if (known.term !== term || (hash !== null && known.hash !== hash)) {
      this.fail(invariant, nodeId, rangeId,
        `index ${index} committed as term ${known.term}, now as term ${term}`);
    }
    if (seenAtTerm < known.seenAtTerm) known.seenAtTerm = seenAtTerm;
  }

  /**
   * The state machine of `nodeId` applied `entry` of `rangeId` (non-empty entries only);
   * `term`: the replica's current term (the entry is known committed at that term).
   */
  onApply(nodeId: number, rangeId: number, entry: Entry, term: number): void {
    const g = this.group(rangeId);
    const r = this.replica(g, nodeId);
    if (entry.index <= r.applied) {
      this.fail('state-machine-safety', nodeId, rangeId,
        `applied ${entry.index} after ${r.applied}`);
    }
    const hash = hashBytes(entry.data);
    const chain = chainHash(r.chain, entry.term, hash);
    const known = g.chain.get(entry.index);
    if (known === undefined) g.chain.set(entry.index, chain);
    else if (known !== chain) {
      this.fail('state-machine-safety', nodeId, rangeId,
        `applied history diverges at index ${entry.index} (term ${entry.term})`);
    }
    this.commit(g, rangeId, nodeId, entry.index, entry.term, hash, term, 'state-machine-safety');
    r.applied = entry.index;
    r.chain = chain;
  }

  /** The state machine of `nodeId` replaced its state of `rangeId` with a snapshot. */
  onApplySnapshot(nodeId: number, rangeId: number, index: number, term: number): void {
    const g = this.group(rangeId);
    const r = this.replica(g, nodeId);
    if (index <= r.applied) {
      this.fail('state-machine-safety', nodeId, rangeId,
        `snapshot ${index} does not move past ${r.applied}`);
    }
    const known = index === this.initialIndex ? CHAIN_HASH_EMPTY : g.chain.get(index);
    if (known === undefined) {
      this.fail('state-machine-safety', nodeId, rangeId,
        `snapshot at ${index} (term ${term}) whose history nobody applied: its data is lost`);
    }
    this.commit(g, rangeId, nodeId, index, term, null, r.term, 'committed-stable');
    r.applied = index;
    r.chain = known;
  }

  /**
   * Checks one replica's status after a step. `wakes`: its store's `stats.wakes`, which
   * tells whether any group of the store woke since the previous check.
   */
  checkReplica(nodeId: number, s: ReplicaStatus, wakes: number): void {
    this.checks++;
    const rangeId = s.rangeId;
    const g = this.group(rangeId);
    const r = this.replica(g, nodeId);
    if (!s.initialized) return;
    const what = `(${r.term},${r.vote},${r.commit}) -> (${s.term},${s.vote},${s.commit})`;
    if (s.term < r.term) this.fail('hardstate-monotonic', nodeId, rangeId, `term ${what}`);
    if (s.term === r.term && r.vote !== 0 && s.vote !== r.vote) {
      this.fail('hardstate-monotonic', nodeId, rangeId, `vote within term ${what}`);
    }
    if (s.commit < r.commit) this.fail('hardstate-monotonic', nodeId, rangeId, `commit ${what}`);
    r.term = s.term;
    r.vote = s.vote;
    r.commit = s.commit;
    if (s.applied > s.commit || s.commit > s.lastIndex) {
      this.fail('applied-within-commit', nodeId, rangeId,
        `applied ${s.applied}, commit ${s.commit}, last index ${s.lastIndex}`);
    }
    if (r.applied > s.commit) {
      this.fail('applied-within-commit', nodeId, rangeId,
        `state machine at ${r.applied} > commit ${s.commit}`);
    }
    if (s.raftState === StateType.StateLeader) this.checkLeader(g, nodeId, s);
    this.checkQuiesced(g, r, nodeId, s, wakes);
  }

  private checkLeader(g: GroupTrack, nodeId: number, s: ReplicaStatus): void {
    const leader = g.leaders.get(s.term);
    if (leader === undefined) g.leaders.set(s.term, nodeId);
    else if (leader !== nodeId) {
      this.fail('election-safety', nodeId, s.rangeId,
        `nodes ${leader} and ${nodeId} both lead term ${s.term}`);
    }
    let required = 0;
    for (const [term, index] of g.committedMaxByTerm) {
      if (term < s.term && index > required) required = index;
    }
    if (s.lastIndex < required) {
      this.fail('leader-completeness', nodeId, s.rangeId,
        `leader of term ${s.term} has last index ${s.lastIndex} < committed ${required}`);
    }
    if (s.quiesced) g.quiesceIssued.add(`${nodeId}:${s.term}:${s.commit}`);
  }

  private checkQuiesced(g: GroupTrack, r: ReplicaTrack, nodeId: number, s: ReplicaStatus,
    wakes: number): void {
    const before = r.quiescedAs;
    r.quiescedAs = null;
    if (!s.quiesced || s.lead !== 0) r.openedDormant = false;
    if (!s.quiesced) return;
    if (before !== null && wakes === r.wakesAtCheck) {
      for (const k of ['term', 'vote', 'commit', 'applied', 'lastIndex', 'lead',
        'raftState'] as const) {
        // On a durable engine a replica may quiesce while its last Ready waits for its sync
        // (the Ready was taken, so none is pending); applying it then moves `applied` up to
        // the commit the replica quiesced at, and nothing else.
        if (k === 'applied' && s.applied > before.applied && s.applied <= s.commit) continue;
        if (before[k] !== s[k]) {
          this.fail('quiesced-frozen', nodeId, s.rangeId,
            `${k} changed from ${before[k]} to ${s[k]} while quiesced`);
        }
      }
    }
    r.quiescedAs = { ...s };
    r.wakesAtCheck = wakes;
    if (s.raftState === StateType.StateLeader || r.openedDormant) return;
    const key = `${s.lead}:${s.term}:${s.commit}`;
    if (s.lead === 0 || s.lead === nodeId || !g.quiesceIssued.has(key) ||
      s.lastIndex !== s.commit) {
      this.fail('quiesce-agreement', nodeId, s.rangeId,
        `quiesced follower (lead ${s.lead}, term ${s.term}, commit ${s.commit}, last ` +
        `${s.lastIndex}) matches no quiesce heartbeat its leader sent`);
    }
  }

  /**
   * A store restarted from its disk: the replica's HardState is the durable one (which may
   * be behind what its memory showed before the crash: nothing of that was promised), and
   * its state machine stands at `stateMachineAt` (the last non-empty entry at or below the
   * durable applied index), from which it replays.
   */
  onRestart(nodeId: number, rangeId: number, hs: { term: number; vote: number;
    commit: number }, stateMachineAt: number): void {
    const g = this.group(rangeId);
    const r = this.replica(g, nodeId);
    assert(stateMachineAt <= r.applied || r.applied === 0, 'a disk never runs ahead');
    const chain = stateMachineAt <= this.initialIndex ? CHAIN_HASH_EMPTY :
      g.chain.get(stateMachineAt);
    assert(chain !== undefined, 'the durable history was applied before the crash');
    r.term = hs.term;
    r.vote = hs.vote;
    r.commit = hs.commit;
    r.applied = stateMachineAt;
    r.chain = chain;
    r.quiescedAs = null;
    r.openedDormant = true;
  }

  /** A store delivered `ticks` Raft ticks in a sub-tick that began with `awake` awake groups. */
  checkTicks(nodeId: number, ticks: number, awake: number): void {
    if (ticks > awake) {
      this.fail('quiesced-no-ticks', nodeId, 0,
        `${ticks} ticks delivered in one sub-tick with ${awake} awake groups`);
    }
  }

  /** Reports a liveness failure found by the driver. */
  failLiveness(nodeId: number, rangeId: number, detail: string): never {
    this.fail('quiesce-liveness', nodeId, rangeId, detail);
  }

  /** The term of the snapshot ranges start from (for the driver's sanity checks). */
  get bootstrapTerm(): number {
    return this.initialTerm;
  }

  private group(rangeId: number): GroupTrack {
    let g = this.groups.get(rangeId);
    if (g === undefined) {
      g = new GroupTrack();
      g.chain.set(this.initialIndex, CHAIN_HASH_EMPTY);
      this.groups.set(rangeId, g);
    }
    return g;
  }

  private replica(g: GroupTrack, nodeId: number): ReplicaTrack {
    let r = g.replicas.get(nodeId);
    if (r === undefined) {
      r = { term: 0, vote: 0, commit: 0, applied: 0, chain: CHAIN_HASH_EMPTY,
        quiescedAs: null, wakesAtCheck: -1, openedDormant: false };
      g.replicas.set(nodeId, r);
    }
    return r;
  }

  private fail(invariant: StoreInvariantName, nodeId: number, rangeId: number,
    detail: string): never {
    throw new StoreInvariantViolation(invariant, nodeId, rangeId, detail);
  }
}
