/**
 * Quorum arithmetic of the Raft core, with the semantics of etcd raft's `quorum` package.
 *
 * Contract:
 * - {@link MajorityConfig} is a set of voter ids deciding by majority; {@link JointConfig} is
 *   two of them (incoming, outgoing) that must both agree. Ids are kept and printed ascending.
 * - `committedIndex(l)` returns the highest index acknowledged by a quorum, reading
 *   acknowledgements through an {@link AckedIndexer}; voters it does not know count as 0. An
 *   empty majority config returns {@link INDEX_NO_LIMIT} (`Infinity`, printed `∞` by
 *   {@link formatIndex}) so that it is neutral inside a joint config. The call allocates
 *   nothing and must not be re-entered from the AckedIndexer.
 * - `voteResult(votes)` returns {@link VoteResult}; an empty config wins.
 * - `toString()` and `describe(l)` print exactly what etcd prints (the corpus in
 *   ../shared/conformance/etcd-raft/quorum compares them byte for byte).
 * - Pure functions: no I/O, no clocks, no randomness.
 */
export {
  INDEX_NO_LIMIT,
  MapAckIndexer,
  VoteResult,
  formatIndex,
  voteResultName,
  type AckedIndexer,
  type Index,
  type VoteLookup,
} from './index_type.js';
export { MajorityConfig } from './majority.js';
export { JointConfig } from './joint.js';
/** Sorted-id-array helpers, shared with the tracker's ProgressMap. */
export { sortedIndexOf, sortedUnique } from './_sorted_ids.js';
