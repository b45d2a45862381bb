/**
 * Time, the one home of it (DESIGN: time enters only through interfaces). Every layer that
 * needs the current time or a timer takes a `Clock`: the transports, the scheduler (its time
 * budget and its "run soon" callback) and the store (its tick timer). `systemClock` is the
 * real one; `VirtualClock` fires timers only when its driver says so (`runDue`, `advance`),
 * so a whole cluster runs deterministically and as fast as the CPU allows.
 *
 * `src/raft` takes no clock at all: its time is ticks.
 */
import { assert } from './assert.js';

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** Timers and the current time. */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  nowMs(): number;
  /** Calls `callback` once after `delayMs` (0: as soon as the current turn ends). */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  /** Cancels a timer that has not fired (a no-op on one that has). */
  clearTimer(handle: TimerHandle): void;
}

interface SystemTimer {
  immediate: NodeJS.Immediate | null;
  timeout: NodeJS.Timeout | null;
}

/** The real clock: `performance.now()`, `setImmediate` for zero delays, else `setTimeout`. */
export const systemClock: Clock = {
  nowMs: () => performance.now(),
  setTimer(delayMs, callback): TimerHandle {
    const timer: SystemTimer = { immediate: null, timeout: null };
    if (delayMs <= 0) timer.immediate = setImmediate(callback);
    else timer.timeout = setTimeout(callback, delayMs);
    return timer;
  },
  clearTimer(handle): void {
    const timer = handle as SystemTimer;
    if (timer.immediate !== null) clearImmediate(timer.immediate);
    if (timer.timeout !== null) clearTimeout(timer.timeout);
  },
};

interface VirtualTimer {
  atMs: number;
  seq: number;
  callback: (() => void) | null;
}

/** Most timers pending at once; more is a runaway loop in the code under test. */
export const VIRTUAL_TIMERS_MAX = 1 << 22;

/** A manual clock: time moves only through `advance`. */
export class VirtualClock implements Clock {
  private now = 0;
  private seq = 0;
  /** Binary min-heap on (atMs, seq). */
  private readonly heap: VirtualTimer[] = [];

  /** The virtual time. */
  nowMs(): number {
    return this.now;
  }

  /** A timer due `delayMs` from now (fired by `runDue` or `advance`). */
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assert(this.heap.length < VIRTUAL_TIMERS_MAX, 'too many virtual timers');
    const timer: VirtualTimer = { atMs: this.now + Math.max(0, delayMs), seq: this.seq++,
      callback };
    this.push(timer);
    return timer;
  }

  /** Cancels a timer. */
  clearTimer(handle: TimerHandle): void {
    (handle as VirtualTimer).callback = null;
  }

  /** Timers not yet fired or cleared (cleared ones count until they reach the top). */
  get pending(): number {
    return this.heap.length;
  }

  /**
   * Fires every timer due now, including those the callbacks set for now, in (time, order).
   * @returns the number fired.
   */
  runDue(firedMax = 10_000_000): number {
    let fired = 0;
    while (this.heap.length > 0 && this.heap[0]!.atMs <= this.now) {
      const timer = this.pop();
      const callback = timer.callback;
      if (callback === null) continue;
      timer.callback = null;
      callback();
      fired++;
      assert(fired <= firedMax, 'timers keep firing: a livelock');
    }
    return fired;
  }

  /** Moves time forward by `ms`, firing timers in order as their time comes. */
  advance(ms: number): void {
    assert(ms >= 0, 'time moves forward');
    const end = this.now + ms;
    while (this.heap.length > 0 && this.heap[0]!.atMs <= end) {
      this.now = Math.max(this.now, this.heap[0]!.atMs);
      this.runDue();
    }
    this.now = end;
  }

  private push(timer: VirtualTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): VirtualTimer {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
