/**
 * Replication tracking of the Raft core, with the semantics of etcd raft's `tracker` package.
 *
 * Contract:
 * - {@link Progress}: one follower's match/next indexes and flow-control state
 *   (StateProbe / StateReplicate / StateSnapshot), with etcd's transitions and `toString`.
 * - {@link Inflights}: the per-follower window of appends in flight, limited by count and by
 *   bytes; it allocates nothing until its first `add`, then doubles up to its size.
 * - {@link ProgressMap}: progress by id, iterated in ascending id order; it is the
 *   AckedIndexer (match indexes) of committed-index computations.
 * - {@link ProgressTracker}: `config` (voters as a JointConfig, learners, learnersNext,
 *   autoLeave), `progress`, `votes`; `committed()`, `visit()`, `quorumActive()`,
 *   `recordVote`/`tallyVotes`/`resetVotes`, `confState()`.
 * - Configuration changes replace `config` and `progress` wholesale with what the confchange
 *   Changer returns; nothing here validates a change.
 */
export { Inflights } from './inflights.js';
export { Progress, type ProgressOptions } from './progress.js';
export { ProgressMap } from './progress_map.js';
export { ProgressState, StateType, stateTypeName } from './state.js';
export { ProgressTracker, TrackerConfig, type VoteTally } from './tracker.js';
