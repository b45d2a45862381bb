/**
 * Private: the Raft core's log lines into the store's pino logger. One adapter per store,
 * not per replica: the store points it at a range (`rangeId`) before it hands control to
 * that range's node, so each line carries the range id without a per-replica object. The
 * core checks `level` before it formats anything, so a disabled level costs a comparison.
 */
import type { Logger } from 'pino';
import { LogLevel, RaftPanicError, type RaftLogger } from '../raft/index.js';

/** pino's numeric levels (trace 10 ... fatal 60) onto the core's. */
function raftLevelOf(levelValue: number): LogLevel {
  // One step down: the core's Debug lines go out at pino's trace, its Info at debug.
  if (levelValue <= 10) return LogLevel.Debug;
  if (levelValue <= 20) return LogLevel.Info;
  if (levelValue <= 40) return LogLevel.Warn;
  if (levelValue <= 50) return LogLevel.Error;
  if (levelValue <= 60) return LogLevel.Fatal;
  return LogLevel.Silent;
}

/** A `RaftLogger` writing `{ rangeId }` lines to a pino logger. */
export class PinoRaftLogger implements RaftLogger {
  /** The range whose node runs now; set by the store before each call into a node. */
  rangeId = 0;
  /** Reused bindings object: pino serializes it at once and keeps no reference. */
  private readonly fields = { rangeId: 0 };

  constructor(private readonly log: Logger) {}

  /** Follows the pino logger's level, so that changing it there takes effect here. */
  get level(): LogLevel {
    return raftLevelOf(this.log.levelVal);
  }

  debug(text: string): void {
    this.log.trace(this.bindings(), text);
  }
  /**
   * At pino's debug, not info: every replica prints its own start, role and configuration
   * lines (etcd's per-group Info), so a store of 10,000 ranges would write tens of thousands
   * of lines at start and more on every dormant replica's wake-up. Warnings and errors keep
   * their level.
   */
  info(text: string): void {
    this.log.debug(this.bindings(), text);
  }
  warn(text: string): void {
    this.log.warn(this.bindings(), text);
  }
  error(text: string): void {
    this.log.error(this.bindings(), text);
  }
  fatal(text: string): never {
    this.log.fatal(this.bindings(), text);
    throw new RaftPanicError(text);
  }

  private bindings(): { rangeId: number } {
    this.fields.rangeId = this.rangeId;
    return this.fields;
  }
}
