/**
 * The logger the Raft core writes to. It is pino-compatible in spirit (levels, one text per
 * call) but narrower, so that the conformance harness can print `LEVEL text` lines exactly as
 * etcd's corpus expects, and so that a disabled level costs one integer comparison: callers
 * test `logger.level <= LogLevel.Info` before they build a string.
 */

export const LogLevel = {
  Debug: 0,
  Info: 1,
  Warn: 2,
  Error: 3,
  Fatal: 4,
  /** Nothing is written. */
  Silent: 5,
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export interface RaftLogger {
  /** The lowest level written. Callers skip building messages below it. */
  level: LogLevel;
  debug(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
  /** Logs and throws: an unrecoverable inconsistency (etcd's `Panicf`). */
  fatal(text: string): never;
}

/** Thrown by `fatal`: the Raft state is inconsistent and the group must not go on. */
export class RaftPanicError extends Error {
  override readonly name = 'RaftPanicError';
}

/** A logger that writes nothing but still throws on `fatal`. */
export const silentLogger: RaftLogger = {
  level: LogLevel.Silent,
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal(text: string): never {
    throw new RaftPanicError(text);
  },
};
