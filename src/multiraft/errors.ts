/**
 * Typed errors of the store. Every failure a caller may handle has its own class and a
 * stable `code`; callers switch on `code`, never on message text. Programmer errors (a bad
 * group id, a broken invariant) are assertions instead and are never caught.
 */
import { FlotillaError } from '../util/index.js';

/** Stable codes of the store's errors. */
export const StoreErrorCode = {
  RangeNotFound: 'ERR_RANGE_NOT_FOUND',
  RangeExists: 'ERR_RANGE_EXISTS',
  RangeNotInitialized: 'ERR_RANGE_NOT_INITIALIZED',
  NotLeader: 'ERR_NOT_LEADER',
  StoreClosed: 'ERR_STORE_CLOSED',
  StoreFull: 'ERR_STORE_FULL',
  RangeBusy: 'ERR_RANGE_BUSY',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/** The store has no replica of this range. */
export class RangeNotFoundError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(StoreErrorCode.RangeNotFound, `range ${rangeId} has no replica on this store`);
  }
}

/** `createRange` was called for a range this store already holds. */
export class RangeExistsError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(StoreErrorCode.RangeExists, `range ${rangeId} already has a replica on this store`);
  }
}

/**
 * The replica exists but is uninitialized: it was created by a message from a peer and has
 * not received its snapshot (or split trigger) yet, so it knows no configuration.
 */
export class RangeNotInitializedError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(StoreErrorCode.RangeNotInitialized, `replica of range ${rangeId} is uninitialized`);
  }
}

/**
 * The replica knows no leader, so a proposal cannot be accepted or forwarded. `leaderNodeId`
 * is the leader this replica last knew of (0 if none): a client may retry there.
 */
export class NotLeaderError extends FlotillaError {
  constructor(
    readonly rangeId: number,
    readonly leaderNodeId: number,
  ) {
    super(StoreErrorCode.NotLeader, `range ${rangeId}: no leader known (hint ${leaderNodeId})`);
  }
}

/** The store was closed. */
export class StoreClosedError extends FlotillaError {
  constructor() {
    super(StoreErrorCode.StoreClosed, 'store is closed');
  }
}

/** The store holds `replicasMax` replicas already. */
export class StoreFullError extends FlotillaError {
  constructor(readonly replicasMax: number) {
    super(StoreErrorCode.StoreFull, `store is full: ${replicasMax} replicas`);
  }
}

/**
 * `createRange` found the range's uninitialized replica with a Ready in flight (its writes
 * not yet durable, on an engine whose commits complete later): nothing changed; call again
 * after that batch completes (e.g. at the next tick).
 */
export class RangeBusyError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(StoreErrorCode.RangeBusy, `range ${rangeId}: replica has a batch in flight`);
  }
}
