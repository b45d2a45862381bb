/**
 * Typed errors of refused calls: an API argument the store will not take, and a request to
 * a replica the store isolated. As in `errors.ts`, each failure has its own class and a
 * stable `code`; a refused call leaves the store unchanged.
 */
import { FlotillaError } from '../util/index.js';

/** Stable codes of the refusals of bad calls. */
export const InputErrorCode = {
  InvalidRangeId: 'ERR_INVALID_RANGE_ID',
  InvalidRangeConfig: 'ERR_INVALID_RANGE_CONFIG',
  InvalidPayload: 'ERR_INVALID_PAYLOAD',
  PayloadTooLarge: 'ERR_PAYLOAD_TOO_LARGE',
  ReplicaBroken: 'ERR_REPLICA_BROKEN',
} as const;
export type InputErrorCode = (typeof InputErrorCode)[keyof typeof InputErrorCode];

/** A range id that is not an integer in [1, 2^32). */
export class InvalidRangeIdError extends FlotillaError {
  constructor(readonly rangeId: unknown) {
    super(InputErrorCode.InvalidRangeId,
      `range ids are integers in [1, 2^32), got ${String(rangeId)}`);
  }
}

/** A range configuration the store refuses; `message` names the rule it breaks. */
export class InvalidRangeConfigError extends FlotillaError {
  constructor(reason: string) {
    super(InputErrorCode.InvalidRangeConfig, `invalid range configuration: ${reason}`);
  }
}

/** A proposal payload that is not a `Uint8Array`; `kind` says what it was. */
export class InvalidPayloadError extends FlotillaError {
  constructor(readonly kind: string) {
    super(InputErrorCode.InvalidPayload, `a payload must be a Uint8Array, got ${kind}`);
  }
}

/** A proposal payload larger than the store's `proposalBytesMax`. */
export class PayloadTooLargeError extends FlotillaError {
  constructor(
    readonly bytes: number,
    readonly bytesMax: number,
  ) {
    super(InputErrorCode.PayloadTooLarge, `payload of ${bytes} bytes exceeds ${bytesMax}`);
  }
}

/**
 * The replica of this range was isolated: Raft panicked while stepping a message from a peer,
 * so its state can no longer be trusted. It refuses every request; the rest of the store goes
 * on. Recovery is by replacing the replica (replica GC and a new snapshot).
 */
export class ReplicaBrokenError extends FlotillaError {
  constructor(readonly rangeId: number) {
    super(InputErrorCode.ReplicaBroken, `replica of range ${rangeId} is broken (isolated)`);
  }
}
