/**
 * The cluster-wide safety checker of the simulation (TigerBeetle's `state_checker`, for Raft).
 *
 * It sees each node only through `NodeView`, a narrow read-only interface (term, vote, commit,
 * role, applied index, log), so it can be unit-tested with planted violations on fake nodes,
 * independently of the real core. The simulation calls `checkNode` after every step that
 * touched a node (a node only changes when an event is delivered to it, so checking the
 * touched node after each step is the same as checking every node after each step), and the
 * `on*` hooks at the moments that matter: persistence, restart, application, vote grants.
 *
 * Invariants (Raft paper, Figure 3, plus what a storage system owes its users):
 * - election-safety: at most one leader per term;
 * - vote-once: a node grants at most one vote per term (seen on the wire);
 * - log-matching: two entries with the same index and term hold the same data and follow
 *   entries of the same term (hence, by induction, identical prefixes);
 * - leader-completeness: a leader of term L holds every entry committed before term L;
 * - committed-stable: an entry, once committed, never changes or disappears from a log that
 *   has it committed (no node's commit index points past or into a rewritten log);
 * - state-machine-safety: every node applies a prefix of one history, contiguously (snapshots
 *   jump forward to a point of that same history, identified by a chained hash);
 * - hardstate-monotonic: term never decreases; the vote never changes within a term; commit
 *   never decreases (both the persisted HardState and the in-memory one between restarts);
 * - applied-within-commit: no node applies an entry beyond its commit index.
 */
import type { Entry, HardState } from '../../src/raft/index.js';
import { hashBytes } from './events.js';

/** The invariants, as named in reports and in the README table. */
export const INVARIANTS = [
  'election-safety',
  'vote-once',
  'log-matching',
  'leader-completeness',
  'committed-stable',
  'state-machine-safety',
  'hardstate-monotonic',
  'applied-within-commit',
  'liveness',
  'linearizability',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

/** Thrown by the checker; the simulation catches it and reports it with the seed. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: InvariantName,
    readonly nodeId: number,
    detail: string,
  ) {
    super(`${invariant} violated at node ${nodeId}: ${detail}`);
  }
}

/** What the checker reads of a node. Everything is the node's current in-memory view. */
export interface NodeView {
  readonly id: number;
  term(): number;
  vote(): number;
  commit(): number;
  isLeader(): boolean;
  /** Index of the last entry the node's state machine applied. */
  applied(): number;
  /** Index of the first entry present in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The entry at `i`, for `firstIndex() <= i <= lastIndex()`. */
  entryAt(i: number): Entry;
  /** The term of the entry just before `firstIndex()` (the snapshot's term). */
  snapshotTerm(): number;
}

/** Mixes one applied entry into a chained hash of the applied history. */
export function chainHash(previous: number, term: number, dataHash: number): number {
  let h = Math.imul(previous ^ term, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ dataHash, 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Whether a recorded data hash matches (0: recorded without data, the bootstrap entry). */
function sameHash(recorded: number, hash: number): boolean {
  return recorded === 0 || recorded === hash;
}

/** The chain hash of the empty history (index 0). */
export const CHAIN_HASH_EMPTY = 0x2545f491;

interface NodeTrack {
  term: number;
  vote: number;
  commit: number;
  persisted: HardState | null;
  /** Entry objects already verified, by index, with their data hashes. */
  seen: (Entry | undefined)[];
  seenHash: number[];
}

/** Per index: the (term, data hash, previous term) of every distinct entry seen there. */
interface LogSlot {
  term: number;
  hash: number;
  prevTerm: number;
}

/** Checks the invariants above across all nodes of one simulated cluster. */
export class SafetyChecker {
  private readonly leaders = new Map<number, number>();
  private readonly votes = new Map<string, number>();
  private readonly nodes = new Map<number, NodeTrack>();
  private readonly slots = new Map<number, LogSlot[]>();
  /** Committed entries by index: term, data hash, and the term at which first observed. */
  private readonly committedTerm: number[] = [];
  private readonly committedHash: number[] = [];
  private readonly committedSeenAtTerm: number[] = [];
  /** Chained hash of the applied history at each index (index 0: empty history). */
  private readonly chain: number[] = [CHAIN_HASH_EMPTY];
  /** Per term T: the highest index first seen committed at term T. */
  private readonly committedMaxByTerm: number[] = [];
  /** Counts, for reports. */
  checks = 0;

  /** The highest index known to be committed anywhere. */
  get committedIndex(): number {
    return this.committedTerm.length - 1;
  }

  /** Registers an entry known committed at its creation (the initial configuration). */
  seedCommitted(index: number, term: number, chain: number): void {
    this.committedTerm[index] = term;
    this.committedHash[index] = 0;
    this.committedSeenAtTerm[index] = 0;
    this.chain[index] = chain;
  }

  /** Verifies everything about `node` after a step that touched it. */
  checkNode(node: NodeView): void {
    this.checks++;
    const t = this.track(node.id);
    this.checkHardStateInMemory(node, t);
    this.checkElection(node);
    const first = node.firstIndex();
    const last = node.lastIndex();
    const commit = node.commit();
    if (commit > last || commit < first - 1) {
      this.fail('committed-stable', node, `commit ${commit} outside log [${first - 1}, ${last}]`);
    }
    if (node.applied() > commit) {
      this.fail('applied-within-commit', node, `applied ${node.applied()} > commit ${commit}`);
    }
    const required = node.isLeader() ? this.requiredOfLeader(node.term()) : 0;
    if (required > last) {
      this.fail('leader-completeness', node,
        `leader of term ${node.term()} lacks committed index ${required} (last ${last})`);
    }
    this.checkSnapshotPoint(node, first - 1, commit);
    for (let i = first; i <= last; i++) this.checkEntry(node, t, i, commit, required);
  }

  private checkEntry(
    node: NodeView,
    t: NodeTrack,
    i: number,
    commit: number,
    required: number,
  ): void {
    const e = node.entryAt(i);
    if (e !== t.seen[i]) {
      if (e === undefined || e.index !== i) {
        this.fail('log-matching', node, `entry at ${i} has index ${e?.index}`);
      }
      const prevTerm = i === node.firstIndex() ? node.snapshotTerm() : node.entryAt(i - 1).term;
      if (e.term < prevTerm) this.fail('log-matching', node, `term decreases at ${i}`);
      const hash = hashBytes(e.data);
      this.checkSlot(node, i, e.term, hash, prevTerm);
      t.seen[i] = e;
      t.seenHash[i] = hash;
    }
    if (i > commit && i > required) return;
    const hash = t.seenHash[i]!;
    const known = this.committedTerm[i];
    if (known === undefined) {
      if (i > commit) return;
      this.registerCommitted(i, e.term, hash, node.term());
    } else if (known !== e.term || !sameHash(this.committedHash[i]!, hash)) {
      const which = i <= commit ? 'committed-stable' : 'leader-completeness';
      this.fail(which, node, `entry ${i} is (term ${e.term}) but (term ${known}) was committed`);
    }
  }

  /** The log must agree with what is committed at its snapshot point too. */
  private checkSnapshotPoint(node: NodeView, index: number, commit: number): void {
    if (index <= 0 || index > commit) return;
    const known = this.committedTerm[index];
    if (known !== undefined && known !== node.snapshotTerm()) {
      this.fail('committed-stable', node,
        `snapshot at ${index} has term ${node.snapshotTerm()}, committed term is ${known}`);
    }
  }

  private checkSlot(node: NodeView, i: number, term: number, hash: number, prevTerm: number): void {
    let list = this.slots.get(i);
    if (list === undefined) this.slots.set(i, (list = []));
    for (const s of list) {
      if (s.term !== term) continue;
      if (s.hash !== hash || s.prevTerm !== prevTerm) {
        this.fail('log-matching', node,
          `two different entries at index ${i} term ${term} ` +
          `(prev terms ${s.prevTerm}/${prevTerm})`);
      }
      return;
    }
    list.push({ term, hash, prevTerm });
  }

  private registerCommitted(i: number, term: number, hash: number, seenAtTerm: number): void {
    this.committedTerm[i] = term;
    this.committedHash[i] = hash;
    this.committedSeenAtTerm[i] = seenAtTerm;
    const prev = this.committedMaxByTerm[seenAtTerm] ?? 0;
    if (i > prev) this.committedMaxByTerm[seenAtTerm] = i;
  }

  /** The highest index committed (as far as anyone saw) in a term before `term`. */
  private requiredOfLeader(term: number): number {
    let max = 0;
    const n = Math.min(term, this.committedMaxByTerm.length);
    for (let t = 0; t < n; t++) {
      const v = this.committedMaxByTerm[t];
      if (v !== undefined && v > max) max = v;
    }
    return max;
  }

  private checkElection(node: NodeView): void {
    if (!node.isLeader()) return;
    const term = node.term();
    const leader = this.leaders.get(term);
    if (leader === undefined) this.leaders.set(term, node.id);
    else if (leader !== node.id) {
      this.fail('election-safety', node, `nodes ${leader} and ${node.id} both lead term ${term}`);
    }
  }

  private checkHardStateInMemory(node: NodeView, t: NodeTrack): void {
    const term = node.term();
    const vote = node.vote();
    const commit = node.commit();
    const what = `(${t.term},${t.vote},${t.commit}) -> (${term},${vote},${commit})`;
    if (term < t.term) this.fail('hardstate-monotonic', node, `term went back ${what}`);
    if (term === t.term && t.vote !== 0 && vote !== t.vote) {
      this.fail('hardstate-monotonic', node, `vote changed within term ${what}`);
    }
    if (commit < t.commit) this.fail('hardstate-monotonic', node, `commit went back ${what}`);
    t.term = term;
    t.vote = vote;
    t.commit = commit;
  }

  /** A HardState reached the node's disk. */
  onPersist(node: NodeView, hs: HardState): void {
    const t = this.track(node.id);
    const p = t.persisted;
    if (p !== null) {
      const what = `(${p.term},${p.vote},${p.commit}) -> (${hs.term},${hs.vote},${hs.commit})`;
      if (hs.term < p.term) {
        this.fail('hardstate-monotonic', node, `persisted term went back ${what}`);
      }
      if (hs.term === p.term && p.vote !== 0 && hs.vote !== p.vote) {
        this.fail('hardstate-monotonic', node, `persisted vote changed within term ${what}`);
      }
      if (hs.commit < p.commit) {
        this.fail('hardstate-monotonic', node, `persisted commit went back ${what}`);
      }
    }
    t.persisted = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /** The node restarted from its disk: in-memory state starts over from what was persisted. */
  onRestart(id: number, hs: HardState): void {
    const t = this.track(id);
    t.term = hs.term;
    t.vote = hs.vote;
    t.commit = hs.commit;
    t.seen = [];
    t.seenHash = [];
  }

  /** `voter` sent a granted (non-pre-)vote for `candidate` in `term`. */
  onVoteGranted(voter: NodeView, candidate: number, term: number): void {
    const key = `${voter.id}:${term}`;
    const earlier = this.votes.get(key);
    if (earlier === undefined) this.votes.set(key, candidate);
    else if (earlier !== candidate) {
      this.fail('vote-once', voter, `voted for ${earlier} and ${candidate} in term ${term}`);
    }
  }

  /**
   * The node's state machine applied `entry`; `chainBefore` is the node's chained hash of its
   * applied history before it. Returns the chained hash after it.
   */
  onApply(node: NodeView, entry: Entry, appliedBefore: number, chainBefore: number): number {
    if (entry.index !== appliedBefore + 1) {
      this.fail('state-machine-safety', node, `applied ${entry.index} after ${appliedBefore}`);
    }
    if (entry.index > node.commit()) {
      this.fail('applied-within-commit', node, `applies ${entry.index} > commit ${node.commit()}`);
    }
    const hash = hashBytes(entry.data);
    const chain = chainHash(chainBefore, entry.term, hash);
    const known = this.chain[entry.index];
    if (known === undefined) this.chain[entry.index] = chain;
    else if (known !== chain) {
      this.fail('state-machine-safety', node,
        `applied history diverges at index ${entry.index} (term ${entry.term})`);
    }
    const term = this.committedTerm[entry.index];
    if (term === undefined) this.registerCommitted(entry.index, entry.term, hash, node.term());
    else if (term !== entry.term) {
      this.fail('state-machine-safety', node,
        `applied ${entry.index} of term ${entry.term}, committed ${term}`);
    }
    return chain;
  }

  /** The node's state machine jumped to a snapshot at `index` whose chained hash is `chain`. */
  onApplySnapshot(node: NodeView, index: number, appliedBefore: number, chain: number): void {
    if (index <= appliedBefore) {
      this.fail('state-machine-safety', node,
        `snapshot ${index} does not move past ${appliedBefore}`);
    }
    const known = this.chain[index];
    if (known === undefined) {
      this.fail('state-machine-safety', node, `snapshot at ${index}, which nobody applied`);
    } else if (known !== chain) {
      this.fail('state-machine-safety', node, `snapshot at ${index} holds a different history`);
    }
  }

  private track(id: number): NodeTrack {
    let t = this.nodes.get(id);
    if (t === undefined) {
      t = { term: 0, vote: 0, commit: 0, persisted: null, seen: [], seenHash: [] };
      this.nodes.set(id, t);
    }
    return t;
  }

  private fail(invariant: InvariantName, node: NodeView, detail: string): never {
    throw new InvariantViolation(invariant, node.id, detail);
  }
}
