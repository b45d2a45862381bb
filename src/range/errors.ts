/**
 * Typed errors of the range layer, each with a stable `code` (callers switch on it). Two kinds:
 *
 * - Routing answers, which a client uses to correct its cache and retry: `NotLeaderError`
 *   (the leader, when known) and `RangeKeyMismatchError` (the descriptor of the range that now
 *   holds the key). `ProposalTimeoutError` and `RangeUnavailableError` say the outcome of a
 *   request is unknown or that the range cannot serve now.
 * - Bad input, refused before anything changes: a key outside the range or the key space, an
 *   oversized key, value or batch, a malformed command or descriptor, a bad split key, a merge
 *   of ranges that are not adjacent or not colocated, a change that would lose quorum.
 *
 * Programmer errors are assertions instead and are never caught.
 */
import { FlotillaError } from '../util/index.js';
import type { RangeDescriptor } from './descriptor.js';
import { printableKey } from './keys.js';

/** Stable codes of the range layer's errors. */
export const RangeErrorCode = {
  NotLeader: 'ERR_RANGE_NOT_LEADER',
  RangeKeyMismatch: 'ERR_RANGE_KEY_MISMATCH',
  ProposalTimeout: 'ERR_PROPOSAL_TIMEOUT',
  RangeUnavailable: 'ERR_RANGE_UNAVAILABLE',
  KeyOutsideRange: 'ERR_KEY_OUTSIDE_RANGE',
  KeyOutsideKeySpace: 'ERR_KEY_OUTSIDE_KEY_SPACE',
  KeyTooLarge: 'ERR_KEY_TOO_LARGE',
  ValueTooLarge: 'ERR_VALUE_TOO_LARGE',
  BatchTooLarge: 'ERR_BATCH_TOO_LARGE',
  BadCommand: 'ERR_BAD_COMMAND',
  BadDescriptor: 'ERR_BAD_DESCRIPTOR',
  ConditionFailed: 'ERR_CONDITION_FAILED',
  InvalidSplitKey: 'ERR_INVALID_SPLIT_KEY',
  MergeNotAdjacent: 'ERR_MERGE_NOT_ADJACENT',
  MergeNotColocated: 'ERR_MERGE_NOT_COLOCATED',
  QuorumLoss: 'ERR_QUORUM_LOSS',
  ProposalsFull: 'ERR_PROPOSALS_FULL',
  DuplicateProposal: 'ERR_DUPLICATE_PROPOSAL',
} as const;
export type RangeErrorCode = (typeof RangeErrorCode)[keyof typeof RangeErrorCode];

/**
 * This replica is not the range's leader. `leaderNodeId` is the leader it knows of (0 if
 * none: an election is on); a client retries there.
 */
export class NotLeaderError extends FlotillaError {
  constructor(readonly rangeId: number, readonly leaderNodeId: number) {
    super(RangeErrorCode.NotLeader,
      `range ${rangeId}: not leader (leader ${leaderNodeId === 0 ? 'unknown' : leaderNodeId})`);
  }
}

/**
 * The request's key is not in the range it was sent to (the range split or merged since the
 * client cached it). `descriptor` is the addressed replica's current descriptor, or
 * undefined when this store holds no replica of the range.
 */
export class RangeKeyMismatchError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    readonly key: Uint8Array,
    readonly descriptor: RangeDescriptor | undefined,
  ) {
    super(RangeErrorCode.RangeKeyMismatch,
      `range ${rangeId} does not hold key ${printableKey(key)}` +
      (descriptor === undefined ? ''
        : ` (now r${descriptor.rangeId} gen ${descriptor.generation})`));
  }
}

/** A proposal did not apply within its deadline: its outcome is unknown (it may apply later). */
export class ProposalTimeoutError extends FlotillaError {
  constructor(readonly rangeId: number, readonly timeoutTicks: number) {
    super(RangeErrorCode.ProposalTimeout,
      `range ${rangeId}: proposal not applied within ${timeoutTicks} ticks`);
  }
}

/** The range cannot serve now (its replica was removed, closed, or has no quorum). */
export class RangeUnavailableError extends FlotillaError {
  constructor(readonly rangeId: number, readonly reason: string) {
    super(RangeErrorCode.RangeUnavailable, `range ${rangeId} unavailable: ${reason}`);
  }
}

/** A key of a request is outside the span of the range that serves it. */
export class KeyOutsideRangeError extends FlotillaError {
  constructor(readonly rangeId: number, readonly key: Uint8Array) {
    super(RangeErrorCode.KeyOutsideRange,
      `key ${printableKey(key)} is outside range ${rangeId}`);
  }
}

/** A key is outside the user key space (no range can ever hold it). */
export class KeyOutsideKeySpaceError extends FlotillaError {
  constructor(readonly key: Uint8Array) {
    super(RangeErrorCode.KeyOutsideKeySpace, `key ${printableKey(key)} is not a user key`);
  }
}

/** A key is longer than the limit. */
export class KeyTooLargeError extends FlotillaError {
  constructor(readonly bytes: number, readonly bytesMax: number) {
    super(RangeErrorCode.KeyTooLarge, `key of ${bytes} bytes exceeds ${bytesMax}`);
  }
}

/** A value is longer than the limit. */
export class ValueTooLargeError extends FlotillaError {
  constructor(readonly bytes: number, readonly bytesMax: number) {
    super(RangeErrorCode.ValueTooLarge, `value of ${bytes} bytes exceeds ${bytesMax}`);
  }
}

/** A batch has too many operations or bytes. */
export class BatchTooLargeError extends FlotillaError {
  constructor(readonly what: string, readonly count: number, readonly max: number) {
    super(RangeErrorCode.BatchTooLarge, `batch ${what} ${count} exceeds ${max}`);
  }
}

/** A command could not be decoded or is malformed (a remote or corrupt payload). */
export class BadCommandError extends FlotillaError {
  constructor(readonly reason: string) {
    super(RangeErrorCode.BadCommand, `bad command: ${reason}`);
  }
}

/** A descriptor could not be decoded or is inconsistent. */
export class BadDescriptorError extends FlotillaError {
  constructor(readonly reason: string) {
    super(RangeErrorCode.BadDescriptor, `bad range descriptor: ${reason}`);
  }
}

/**
 * A conditional put found another value than expected; nothing in its batch was written.
 * `actual` is the value found (undefined: no value).
 */
export class ConditionFailedError extends FlotillaError {
  constructor(readonly key: Uint8Array, readonly actual: Uint8Array | undefined) {
    super(RangeErrorCode.ConditionFailed,
      `condition failed on ${printableKey(key)} (${actual === undefined ? 'absent' : 'differs'})`);
  }
}

/** A split key is outside the range, at its start, or not a user key. */
export class InvalidSplitKeyError extends FlotillaError {
  constructor(readonly rangeId: number, readonly key: Uint8Array, readonly reason: string) {
    super(RangeErrorCode.InvalidSplitKey,
      `range ${rangeId}: cannot split at ${printableKey(key)}: ${reason}`);
  }
}

/** Two ranges to merge are not adjacent (left end ≠ right start). */
export class MergeNotAdjacentError extends FlotillaError {
  constructor(readonly leftRangeId: number, readonly rightRangeId: number) {
    super(RangeErrorCode.MergeNotAdjacent,
      `ranges ${leftRangeId} and ${rightRangeId} are not adjacent`);
  }
}

/** Two ranges to merge do not have their replicas on the same stores (or one is joint). */
export class MergeNotColocatedError extends FlotillaError {
  constructor(readonly leftRangeId: number, readonly rightRangeId: number, reason: string) {
    super(RangeErrorCode.MergeNotColocated,
      `ranges ${leftRangeId} and ${rightRangeId} are not colocated: ${reason}`);
  }
}

/** A membership change would leave the range without a quorum of caught-up voters. */
export class QuorumLossError extends FlotillaError {
  constructor(readonly rangeId: number, readonly reason: string) {
    super(RangeErrorCode.QuorumLoss, `range ${rangeId}: change would lose quorum: ${reason}`);
  }
}

/** The proposal tracker is at its bound: back off and retry. */
export class ProposalsFullError extends FlotillaError {
  constructor(readonly proposalsMax: number) {
    super(RangeErrorCode.ProposalsFull, `${proposalsMax} proposals already in flight`);
  }
}

/** A proposal with this command id is already in flight on this replica. */
export class DuplicateProposalError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(RangeErrorCode.DuplicateProposal,
      `range ${rangeId}: a proposal with this command id is in flight`);
  }
}
