/**
 * Status types of a Raft node (etcd's status.go): what `RawNode.status()` and
 * `basicStatus()` return, and etcd's JSON form. Building them from a live `Raft` is in
 * status_build.ts; this file only defines the data and its printing.
 */

import type { HardState } from './raftpb.js';
import { stateTypeNames, type StateType } from './raft_state.js';
import type { Progress, TrackerConfig } from './tracker/index.js';

/** The volatile state of a node (etcd's `SoftState`): leader and role. Never persisted. */
export interface SoftState {
  /** The leader this node knows of (0 = none). */
  lead: number;
  /** The node's role. */
  raftState: StateType;
}

/**
 * The basic facts about a node (etcd's `BasicStatus`); etcd embeds HardState and SoftState,
 * which are nested objects here.
 */
export interface BasicStatus {
  id: number;
  hardState: HardState;
  softState: SoftState;
  /** The highest index applied by the application. */
  applied: number;
  /** The node leadership is being transferred to (0 = none). */
  leadTransferee: number;
}

/** The full status (etcd's `Status`): progress is filled only on the leader. */
export interface Status extends BasicStatus {
  /** A copy of the tracker's configuration. */
  config: TrackerConfig;
  /** Copies of the followers' progress, by node id (empty unless leader). */
  progress: Map<number, Progress>;
}

/** The name of a role as etcd prints it (`StateLeader`). */
export function raftStateName(state: StateType): string {
  return stateTypeNames[state] ?? `StateType(${String(state)})`;
}

