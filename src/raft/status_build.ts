/**
 * Building status snapshots of a Raft node (etcd's getStatus / getBasicStatus). The types are
 * those of status.ts; this file only fills them from a live `Raft`.
 */

import type { Raft } from './raft.js';
import { StateType } from './raft_state.js';
import type { BasicStatus, Status } from './status.js';
import type { Progress } from './tracker/index.js';

/** The status without progress; allocates only the returned objects. */
export function getBasicStatus(r: Raft): BasicStatus {
  return {
    id: r.id,
    hardState: r.hardState(),
    softState: r.softState(),
    applied: r.raftLog.applied,
    leadTransferee: r.leadTransferee,
  };
}

/** Copies of every peer's progress (with a cloned inflights window), by id. */
function getProgressCopy(r: Raft): Map<number, Progress> {
  const m = new Map<number, Progress>();
  const progress = r.trk.progress;
  const ids = progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const pr = progress.get(ids[i]!)!;
    const copy = pr.shallowCopy();
    copy.inflights = pr.inflights.clone();
    m.set(ids[i]!, copy);
  }
  return m;
}

/** The full status: progress (leaders only) and a copy of the configuration. */
export function getStatus(r: Raft): Status {
  const basic = getBasicStatus(r);
  return {
    ...basic,
    progress: basic.softState.raftState === StateType.StateLeader ? getProgressCopy(r) : new Map(),
    config: r.trk.config.clone(),
  };
}
