/**
 * The output buffer of the interaction environment, which is also every node's logger
 * (etcd's rafttest `RedirectLogger`): log lines are written into the same buffer as the
 * harness's own output, as `LEVEL text`, when their level is at or above the threshold.
 *
 * The threshold `NONE` silences everything, the harness's writes included, which the corpus
 * uses to keep setup quiet; errors of a directive still reach the output through
 * {@link RedirectLogger.quiet} checks in the handler.
 */
import { LogLevel, RaftPanicError, type RaftLogger } from '../../../src/raft/logger.js';

/** Level names as the corpus writes them, indexed by LogLevel (NONE is LogLevel.Silent). */
export const LEVEL_NAMES = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'NONE'] as const;

/** A RaftLogger that writes into a string buffer. */
export class RedirectLogger implements RaftLogger {
  /** The threshold: lines below it are dropped; `Silent` (NONE) drops all output. */
  level: LogLevel = LogLevel.Debug;
  private buffer = '';

  /** Whether all output is suppressed (level NONE). */
  quiet(): boolean {
    return this.level === LogLevel.Silent;
  }

  /** Appends harness output unless quiet. */
  write(text: string): void {
    if (!this.quiet()) this.buffer += text;
  }

  /** The buffer's contents. */
  toString(): string {
    return this.buffer;
  }

  get length(): number {
    return this.buffer.length;
  }

  reset(): void {
    this.buffer = '';
  }

  /**
   * Swaps in an empty buffer and returns the previous contents to the caller's restore
   * function (the env's indented sections capture output this way).
   */
  capture(f: () => void): string {
    const saved = this.buffer;
    this.buffer = '';
    try {
      f();
      return this.buffer;
    } finally {
      this.buffer = saved;
    }
  }

  private print(level: LogLevel, text: string): void {
    if (this.level > level) return;
    this.buffer += `${LEVEL_NAMES[level]} ${text}`;
    if (text.length > 0 && !text.endsWith('\n')) this.buffer += '\n';
  }

  debug(text: string): void {
    this.print(LogLevel.Debug, text);
  }

  info(text: string): void {
    this.print(LogLevel.Info, text);
  }

  warn(text: string): void {
    this.print(LogLevel.Warn, text);
  }

  error(text: string): void {
    this.print(LogLevel.Error, text);
  }

  fatal(text: string): never {
    this.print(LogLevel.Fatal, text);
    throw new RaftPanicError(text);
  }
}
