/**
 * Private: rate-limited logging of refusals. A hostile peer can make a node refuse thousands
 * of connections a second; every refusal is counted, but only the first of each code in each
 * interval is logged, and that line carries how many of the code went unlogged before it.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import type { TransportClock } from './clock.js';

/** Codes tracked at once; the codes are the transport's own plus socket errno strings. */
const CODES_MAX = 256;

interface CodeWindow {
  /** When the last line of this code was logged. */
  loggedAtMs: number;
  /** Occurrences not logged since then. */
  suppressed: number;
}

/** Logs at most one line per code per `intervalMs`. */
export class LogLimiter {
  private readonly windows = new Map<string, CodeWindow>();

  constructor(
    private readonly log: Logger,
    private readonly clock: TransportClock,
    private readonly intervalMs: number,
  ) {
    assert(Number.isInteger(intervalMs) && intervalMs >= 0, 'log interval');
  }

  /**
   * Logs `fields` (with `code` and, if any went unlogged, `suppressed`) at `level`, unless a
   * line of the same code was logged less than `intervalMs` ago; returns whether it logged.
   */
  record(level: 'error' | 'warn' | 'info', code: string, fields: Record<string, unknown>,
    message: string): boolean {
    const nowMs = this.clock.nowMs();
    let window = this.windows.get(code);
    if (window !== undefined && nowMs - window.loggedAtMs < this.intervalMs) {
      window.suppressed++;
      return false;
    }
    if (window === undefined) {
      // Bounded: forget every window rather than grow; at worst a code logs once more.
      if (this.windows.size >= CODES_MAX) this.windows.clear();
      window = { loggedAtMs: nowMs, suppressed: 0 };
      this.windows.set(code, window);
    }
    const suppressed = window.suppressed;
    window.loggedAtMs = nowMs;
    window.suppressed = 0;
    this.log[level](suppressed > 0 ? { ...fields, code, suppressed } : { ...fields, code },
      message);
    assert(this.windows.size <= CODES_MAX, 'log windows over their maximum');
    return true;
  }
}
