/**
 * How a range is created on a store: its configuration (`RangeConfig`) and the index and
 * term of the snapshot every created range starts from.
 */

/**
 * Index and term of the snapshot a range is created with (CockroachDB's raftInitialLogIndex
 * and raftInitialLogTerm idea): above zero, so that a replica created empty by a message
 * (index 0) is told apart and gets this snapshot instead of a log replay from index 1.
 */
export const RANGE_INITIAL_INDEX = 5;
/** See `RANGE_INITIAL_INDEX`. */
export const RANGE_INITIAL_TERM = 5;

/** The configuration of a range created on this store. */
export interface RangeConfig {
  /** Node ids of the voters; this store's node must be a voter or a learner. */
  voters: readonly number[];
  /** Node ids of the learners. @default [] */
  learners?: readonly number[];
}
