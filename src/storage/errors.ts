/**
 * The typed errors of the storage layer. Each has a stable `code`; callers switch on it.
 *
 * - `StorageWriteError`: a batch could not be made durable. The engine is broken from then on:
 *   that batch and every later one fail with it, nothing they staged was acknowledged.
 * - `StorageIdentityError` / `StorageVersionError`: the directory belongs to another store or
 *   cluster, or was written by an engine format this code does not know; refused at open with
 *   nothing written.
 * - `ReplicaCorruptError`: one replica's records are damaged or inconsistent; that replica is
 *   refused (the error names the range and the key), every other replica keeps serving.
 * - `StorageArgumentError`: a caller handed a key or value outside the engine's limits.
 */
import { FlotillaError } from '../util/index.js';

/** A write batch failed (I/O error, full disk): it and every later batch fail with this. */
export class StorageWriteError extends FlotillaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORAGE_WRITE_FAILED', message, options);
  }
}

/** The data directory was written by another store or another cluster. */
export class StorageIdentityError extends FlotillaError {
  constructor(message: string) {
    super('ERR_STORAGE_IDENTITY', message);
  }
}

/** The data directory holds an engine format this code does not know. */
export class StorageVersionError extends FlotillaError {
  constructor(message: string) {
    super('ERR_STORAGE_VERSION', message);
  }
}

/** One replica's records are corrupt or inconsistent; the replica is refused. */
export class ReplicaCorruptError extends FlotillaError {
  /** The range whose replica is refused. */
  readonly rangeId: number;
  /** The damaged record's key, in hex. */
  readonly keyHex: string;

  constructor(rangeId: number, keyHex: string, what: string) {
    super('ERR_STORAGE_CORRUPT_RECORD', `range ${rangeId}: ${what} (key ${keyHex})`);
    this.rangeId = rangeId;
    this.keyHex = keyHex;
  }
}

/** A key or value is empty or over the engine's size limits. */
export class StorageArgumentError extends FlotillaError {
  constructor(message: string) {
    super('ERR_STORAGE_ARGUMENT', message);
  }
}
