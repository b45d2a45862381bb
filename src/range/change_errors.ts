/**
 * Typed errors of `RangeNode.changeReplicas` (change_replicas.ts). A refused change changes
 * nothing; a change that fails half-way is rolled back (a learner that never caught up is
 * removed again) and reported with the step it failed at.
 */
import { FlotillaError } from '../util/index.js';

/** Stable codes of the replica-change errors. */
export const ChangeReplicasErrorCode = {
  InvalidReplicaChange: 'ERR_INVALID_REPLICA_CHANGE',
  LearnerTimeout: 'ERR_LEARNER_TIMEOUT',
  ConfChangeTimeout: 'ERR_CONF_CHANGE_TIMEOUT',
} as const;
export type ChangeReplicasErrorCode =
  (typeof ChangeReplicasErrorCode)[keyof typeof ChangeReplicasErrorCode];

/** A change that makes no sense for the descriptor (adds a present node, removes an absent one). */
export class InvalidReplicaChangeError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    reason: string,
  ) {
    super(ChangeReplicasErrorCode.InvalidReplicaChange,
      `range ${rangeId}: invalid replica change: ${reason}`);
  }
}

/** The new learner did not catch up in time: it was removed again (rolled back). */
export class LearnerTimeoutError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    readonly nodeId: number,
    readonly snapshotNeed: string,
  ) {
    super(ChangeReplicasErrorCode.LearnerTimeout,
      `range ${rangeId}: learner on node ${nodeId} did not catch up (${snapshotNeed}); removed`);
  }
}

/** A membership change was not applied in time (Raft ignored it, or no quorum). */
export class ConfChangeTimeoutError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    readonly step: string,
  ) {
    super(ChangeReplicasErrorCode.ConfChangeTimeout,
      `range ${rangeId}: membership change (${step}) not applied in time`);
  }
}
