/**
 * The shared vocabulary of quorum arithmetic: log indexes, the "no limit" index, the
 * acknowledgement lookup a committed-index computation reads, and vote results.
 */

/**
 * A log index as quorum arithmetic sees it. Real indexes are non-negative integers below
 * 2^53 (see raftpb.ts); the one extra value is {@link INDEX_NO_LIMIT}.
 */
export type Index = number;

/**
 * The committed index of an empty majority config: "no limit". etcd uses the unsigned 64-bit
 * maximum; we use `Infinity` because it is exact (no real index reaches it, unlike 2^64 - 1,
 * which a double cannot even represent), compares correctly with `<` and `Math.min`, and costs
 * nothing. A joint config whose outgoing half is empty therefore takes the incoming half's
 * index unchanged. Print it with {@link formatIndex}, which writes `∞` as etcd does.
 */
export const INDEX_NO_LIMIT: Index = Infinity;

/** Formats an index as etcd's `quorum.Index.String()` does: decimal, or `∞` for no limit. */
export function formatIndex(index: Index): string {
  return index === INDEX_NO_LIMIT ? '∞' : String(index);
}

/**
 * Reports the highest log index a voter is known to have acknowledged (its match index), or
 * `undefined` when nothing is known about the voter (which differs from an acknowledged 0).
 *
 * Implementations must not call back into quorum code: committedIndex keeps its partial
 * results in a shared scratch buffer while it calls `ackedIndex`.
 */
export interface AckedIndexer {
  ackedIndex(voterId: number): Index | undefined;
}

/** An {@link AckedIndexer} over a map of voter id to acknowledged index (tests, harnesses). */
export class MapAckIndexer implements AckedIndexer {
  private readonly indexes: Map<number, Index>;

  /** `entries`: a Map, or `[id, index]` pairs, or a plain `{ id: index }` record. */
  constructor(
    entries?: Map<number, Index> | Iterable<readonly [number, Index]> | Record<number, Index>,
  ) {
    if (entries instanceof Map) this.indexes = new Map(entries);
    else if (entries === undefined) this.indexes = new Map();
    else if (Symbol.iterator in entries) this.indexes = new Map(entries);
    else {
      this.indexes = new Map();
      for (const [k, v] of Object.entries(entries)) this.indexes.set(Number(k), v);
    }
  }

  /** Records `index` as acknowledged by `voterId`. */
  set(voterId: number, index: Index): this {
    this.indexes.set(voterId, index);
    return this;
  }

  ackedIndex(voterId: number): Index | undefined {
    return this.indexes.get(voterId);
  }
}

/**
 * Votes by voter id: `true` granted, `false` rejected, `undefined` not (yet) voted.
 * A `Map<number, boolean>` is one.
 */
export interface VoteLookup {
  get(voterId: number): boolean | undefined;
}

/** The outcome of a vote, with etcd's numbering. */
export const VoteResult = {
  /** Neither a quorum of yes nor a quorum of no has been reached yet. */
  VotePending: 1,
  /** A quorum of no has been reached. */
  VoteLost: 2,
  /** A quorum of yes has been reached. */
  VoteWon: 3,
} as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

const voteResultNames: readonly string[] = ['', 'VotePending', 'VoteLost', 'VoteWon'];

/** The name etcd prints for a vote result (`VotePending`, `VoteLost`, `VoteWon`). */
export function voteResultName(result: VoteResult): string {
  const name = voteResultNames[result];
  if (name === undefined || name === '') return `VoteResult(${String(result)})`;
  return name;
}
