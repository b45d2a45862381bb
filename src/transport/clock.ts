/**
 * Time for the transports, behind an interface so that the simulation can run the loopback
 * transport on virtual time (DESIGN: time enters only through interfaces).
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** Timers and the current time. */
export interface TransportClock {
  /** Milliseconds on a monotonic clock. */
  nowMs(): number;
  /** Calls `callback` once after `delayMs` (0: as soon as the current turn ends). */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

interface RealTimer {
  immediate: NodeJS.Immediate | null;
  timeout: NodeJS.Timeout | null;
}

/** The real clock: `setImmediate` for zero delays, `setTimeout` otherwise. */
export const realClock: TransportClock = {
  nowMs: () => performance.now(),
  setTimer(delayMs, callback): TimerHandle {
    const timer: RealTimer = { immediate: null, timeout: null };
    if (delayMs <= 0) timer.immediate = setImmediate(callback);
    else timer.timeout = setTimeout(callback, delayMs);
    return timer;
  },
  clearTimer(handle): void {
    const timer = handle as RealTimer;
    if (timer.immediate !== null) clearImmediate(timer.immediate);
    if (timer.timeout !== null) clearTimeout(timer.timeout);
  },
};
