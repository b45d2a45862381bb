/**
 * Joint configurations: two majority configs (incoming and outgoing) that must both agree,
 * which is how Raft changes membership safely (joint consensus, Raft thesis section 4.3).
 */
import { assert } from '../../util/index.js';
import { describeIds, MajorityConfig } from './majority.js';
import { VoteResult, type AckedIndexer, type Index, type VoteLookup } from './index_type.js';

/**
 * A pair of majority configs. Outside joint consensus the outgoing half is empty, and an
 * empty half is neutral: its committed index is "no limit" and its elections are won, so a
 * joint config with an empty outgoing half decides exactly like its incoming half.
 */
export class JointConfig {
  /** The incoming (new, "left", etcd's `Voters[0]`) majority; all changes apply here. */
  incoming: MajorityConfig;
  /** The outgoing (old, "right", etcd's `Voters[1]`) majority; empty unless joint. */
  outgoing: MajorityConfig;

  /**
   * The halves are used as given, not copied; passing one object twice is fine for reading
   * (a self-joint config) but the Changer always gives each half its own object.
   */
  constructor(incoming?: MajorityConfig, outgoing?: MajorityConfig) {
    this.incoming = incoming ?? new MajorityConfig();
    this.outgoing = outgoing ?? new MajorityConfig();
  }

  /** Builds a joint config from two id lists (harnesses, tests). */
  static of(incoming: Iterable<number>, outgoing: Iterable<number> = []): JointConfig {
    return new JointConfig(new MajorityConfig(incoming), new MajorityConfig(outgoing));
  }

  /** Whether the config is joint, i.e. the outgoing half is non-empty. */
  get isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** A copy that shares no memory with this config. */
  clone(): JointConfig {
    return new JointConfig(this.incoming.clone(), this.outgoing.clone());
  }

  /** Whether `id` is a voter in either half. */
  has(id: number): boolean {
    return this.incoming.has(id) || this.outgoing.has(id);
  }

  /** The voters of both halves, ascending and without duplicates (a new array). */
  ids(): number[] {
    const a = this.incoming.ids;
    const b = this.outgoing.ids;
    const out: number[] = [];
    let i = 0;
    let j = 0;
    // Merge two ascending arrays; an id in both halves appears once.
    while (i < a.length || j < b.length) {
      const x = i < a.length ? a[i]! : Infinity;
      const y = j < b.length ? b[j]! : Infinity;
      if (x <= y) i++;
      if (y <= x) j++;
      out.push(Math.min(x, y));
    }
    assert(out.length <= a.length + b.length, 'merge produced extra ids');
    return out;
  }

  /** As etcd prints it: `(1 2 3)`, or `(1 2 3)&&(4 5)` (incoming first) when joint. */
  toString(): string {
    if (this.outgoing.size > 0) return `${this.incoming.toString()}&&${this.outgoing.toString()}`;
    return this.incoming.toString();
  }

  /** The bar chart of `MajorityConfig.describe` over the union of both halves. */
  describe(l: AckedIndexer): string {
    return describeIds(this.ids(), l);
  }

  /** The highest index committed in both halves: the smaller of their committed indexes. */
  committedIndex(l: AckedIndexer): Index {
    const a = this.incoming.committedIndex(l);
    const b = this.outgoing.committedIndex(l);
    return a < b ? a : b;
  }

  /**
   * Won only if both halves won, lost if either lost, pending otherwise.
   */
  voteResult(votes: VoteLookup): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) return VoteResult.VoteLost;
    // One half won and the other is pending: the whole is pending.
    assert(r1 === VoteResult.VotePending || r2 === VoteResult.VotePending, 'bad vote result');
    return VoteResult.VotePending;
  }
}
