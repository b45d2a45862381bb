/**
 * Typed errors of membership changes and replica destruction (`Store.proposeConfChange`,
 * `Store.destroyReplica`). As everywhere in the store, a refused call changes nothing.
 */
import { FlotillaError } from '../util/index.js';

/** Stable codes of the membership refusals. */
export const MembershipErrorCode = {
  InvalidConfChange: 'ERR_INVALID_CONF_CHANGE',
  ConfChangeRefused: 'ERR_CONF_CHANGE_REFUSED',
  ConfChangeQuorum: 'ERR_CONF_CHANGE_QUORUM',
  ReplicaBusy: 'ERR_REPLICA_BUSY',
} as const;
export type MembershipErrorCode = (typeof MembershipErrorCode)[keyof typeof MembershipErrorCode];

/** A membership change that is not well formed (a bad node id, type, transition or shape). */
export class InvalidConfChangeError extends FlotillaError {
  constructor(reason: string) {
    super(MembershipErrorCode.InvalidConfChange, `invalid membership change: ${reason}`);
  }
}

/**
 * A well-formed change that the range's current configuration does not allow: Raft's own
 * rules (leave a joint configuration before the next change, at most one voter changed
 * without joint consensus, at least one voter). `reason` is Raft's wording.
 */
export class ConfChangeRefusedError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    readonly reason: string,
  ) {
    super(MembershipErrorCode.ConfChangeRefused,
      `range ${rangeId}: membership change refused: ${reason}`);
  }
}

/**
 * The configuration the change leads to would have no quorum of replicas that are caught
 * up (StateReplicate) on live nodes: the range could commit nothing after it.
 */
export class ConfChangeQuorumError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    readonly reason: string,
  ) {
    super(MembershipErrorCode.ConfChangeQuorum,
      `range ${rangeId}: membership change would lose quorum: ${reason}`);
  }
}

/**
 * The replica has writes in flight (a Ready taken and not yet advanced): it cannot be
 * destroyed now. Retry after the store's next batch.
 */
export class ReplicaBusyError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(MembershipErrorCode.ReplicaBusy, `replica of range ${rangeId} has writes in flight`);
  }
}
