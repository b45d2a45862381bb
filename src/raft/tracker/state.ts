/**
 * The three states of a follower's Progress as the leader sees it (etcd's `tracker.StateType`).
 * See progress.ts for what each state means for replication.
 */

export const StateType = {
  /** Send at most one append per heartbeat interval while finding where the logs match. */
  StateProbe: 0,
  /** Stream appends optimistically, bounded by the Inflights window. */
  StateReplicate: 1,
  /** A snapshot is in flight; send no appends. */
  StateSnapshot: 2,
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

const stateNames = ['StateProbe', 'StateReplicate', 'StateSnapshot'] as const;

/** The name etcd prints for a state (`StateProbe`, `StateReplicate`, `StateSnapshot`). */
export function stateTypeName(state: StateType): string {
  return stateNames[state] ?? `StateType(${String(state)})`;
}

/**
 * Alias of {@link StateType} for code that also uses the Raft node's own StateType
 * (follower, candidate, leader): `ProgressState.StateReplicate` reads unambiguously there.
 */
export const ProgressState = StateType;
export type ProgressState = StateType;
