/**
 * Status types of a Raft node (etcd's status.go): what `RawNode.status()` and
 * `basicStatus()` return, and etcd's JSON form. Building them from a live `Raft` is in
 * status_build.ts; this file only defines the data and its printing.
 */

import type { HardState } from './raftpb.js';
import { stateTypeNames, type StateType } from './raft_state.js';
import { stateTypeName, type Progress, type TrackerConfig } from './tracker/index.js';

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

/**
 * etcd's `Status.MarshalJSON` (and `String()`): ids in hex, progress in ascending id order
 * (Go iterates its map in random order; sorted output is one of its possible outputs).
 */
export function statusToJSON(s: Status): string {
  const hs = s.hardState;
  let j = `{"id":"${s.id.toString(16)}","term":${hs.term},"vote":"${hs.vote.toString(16)}",` +
    `"commit":${hs.commit},"lead":"${s.softState.lead.toString(16)}",` +
    `"raftState":${JSON.stringify(raftStateName(s.softState.raftState))},` +
    `"applied":${s.applied},"progress":{`;
  const ids = [...s.progress.keys()].sort((a, b) => a - b);
  for (let i = 0; i < ids.length; i++) {
    const pr = s.progress.get(ids[i]!)!;
    if (i > 0) j += ',';
    j += `"${ids[i]!.toString(16)}":{"match":${pr.match},"next":${pr.next},` +
      `"state":${JSON.stringify(stateTypeName(pr.state))}}`;
  }
  return `${j}},"leadtransferee":"${s.leadTransferee.toString(16)}"}`;
}
