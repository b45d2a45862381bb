/**
 * Virtual time for the simulation: a clock that only moves when the next event is taken, and
 * a priority queue of timed events. Events at the same time run in the order they were
 * scheduled (a sequence number breaks ties), so one seed always yields one order.
 */
import { assert } from '../../src/util/index.js';

/** An event with its due time (virtual milliseconds) and its tie-breaking sequence number. */
interface Slot<T> {
  timeMs: number;
  seq: number;
  event: T;
}

/** A binary min-heap of events ordered by (time, sequence); bounded by `eventsMax`. */
export class EventQueue<T> {
  private readonly heap: Slot<T>[] = [];
  private seq = 0;
  private nowMs = 0;

  /** @param eventsMax a bound on queued events; going over is a bug in the workload. */
  constructor(private readonly eventsMax = 1_000_000) {}

  /** The virtual time of the event being processed (or of the last one). */
  get now(): number {
    return this.nowMs;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `event` at `nowMs + delayMs`. */
  after(delayMs: number, event: T): void {
    assert(delayMs >= 0 && Number.isFinite(delayMs), `bad delay ${delayMs}`);
    this.at(this.nowMs + delayMs, event);
  }

  /** Schedules `event` at absolute time `timeMs`, which must not be in the past. */
  at(timeMs: number, event: T): void {
    assert(timeMs >= this.nowMs, `event scheduled in the past: ${timeMs} < ${this.nowMs}`);
    assert(this.heap.length < this.eventsMax, `event queue over its bound ${this.eventsMax}`);
    const slot: Slot<T> = { timeMs, seq: this.seq++, event };
    const h = this.heap;
    let i = h.length;
    h.push(slot);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(slot, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = slot;
  }

  /** Removes the earliest event and advances the clock to its time; `undefined` if empty. */
  pop(): T | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    assert(top.timeMs >= this.nowMs, 'virtual time never goes backwards');
    this.nowMs = top.timeMs;
    return top.event;
  }

  /** The due time of the earliest event, or `Infinity`. */
  peekTime(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.timeMs;
  }
}

function less<T>(a: Slot<T>, b: Slot<T>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}

/** FNV-1a over 32-bit words: the running trace hash of a simulation. */
export class TraceHash {
  private h = 0x811c9dc5;

  /** Folds one integer (any safe integer; the high part is folded too). */
  add(x: number): void {
    let h = this.h;
    const lo = x >>> 0;
    const hi = Math.floor(x / 0x100000000) >>> 0;
    h = Math.imul(h ^ lo, 0x01000193);
    h = Math.imul(h ^ hi, 0x01000193);
    this.h = h >>> 0;
  }

  addBytes(bytes: Uint8Array): void {
    let h = this.h;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    this.h = h >>> 0;
  }

  /** The hash as 8 hex digits. */
  digest(): string {
    return this.h.toString(16).padStart(8, '0');
  }
}

/** FNV-1a hash of a byte array (entry payload identity for the checkers). */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}
