/**
 * The sliding window of append messages in flight to one follower (etcd's `Inflights`).
 */
import { assert } from '../../util/index.js';

/**
 * Shared zero-length buffer: a new window points here, so thousands of idle followers cost no
 * buffer memory until they actually replicate. Frozen: the window replaces it before writing.
 *
 * Buffers are plain arrays of numbers, not Float64Arrays: a small typed array costs about
 * 200 bytes of heap (the view and its ArrayBuffer) before its first element, a plain array 32.
 */
const EMPTY_BUFFER: number[] = Object.freeze([] as number[]) as number[];

/** Each slot holds two numbers: the last entry index of a message and its size in bytes. */
const SLOT_WIDTH = 2;

/**
 * A ring buffer of (last index, bytes) pairs, one per append message sent and not yet acked,
 * limited by a message count (`size`) and a byte total (`maxBytes`). It allocates nothing until
 * the first `add`, then grows by doubling up to `size` slots; `reset` keeps the buffer.
 *
 * Indexes must be added in increasing order; `freeLE(i)` releases every message whose last
 * index is <= i (the follower acknowledged up to i).
 */
export class Inflights {
  /** Slot of the oldest message. */
  private start = 0;
  /** Messages in flight. Invariant: 0 <= countInFlight <= size. */
  private countInFlight = 0;
  /** Bytes in flight: the sum of the byte sizes of the messages in the window. */
  private bytesInFlight = 0;
  /** Interleaved (index, bytes) slots; the ring wraps at `size`, never at the capacity. */
  private buffer: number[] = EMPTY_BUFFER;

  /**
   * @param size Maximum messages in flight (etcd's MaxInflightMsgs); at least 1.
   * @param maxBytes Maximum bytes in flight (MaxInflightBytes); 0 or Infinity for no limit.
   */
  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {
    assert(Number.isInteger(size) && size >= 1, `inflights size must be >= 1, got ${size}`);
    assert(maxBytes >= 0, `inflights maxBytes must be >= 0, got ${maxBytes}`);
  }

  /** A copy that shares no memory with this window. */
  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    c.start = this.start;
    c.countInFlight = this.countInFlight;
    c.bytesInFlight = this.bytesInFlight;
    if (this.buffer.length > 0) c.buffer = this.buffer.slice();
    return c;
  }

  /** Records a message whose last entry is `index`, of `bytes` bytes. Must not be full. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    // The message is built only on failure: this runs for every append sent.
    if (!(bytes >= 0)) assert(false, `negative message size ${bytes}`);
    let next = this.start + this.countInFlight;
    if (next >= this.size) next -= this.size;
    if (next >= this.capacity) this.grow();
    const at = next * SLOT_WIDTH;
    this.buffer[at] = index;
    this.buffer[at + 1] = bytes;
    this.countInFlight++;
    this.bytesInFlight += bytes;
  }

  /**
   * Doubles the buffer (1 slot at first), up to `size` slots. Copying in place is correct
   * because the ring only wraps once the buffer has reached `size` slots.
   */
  private grow(): void {
    const old = this.buffer;
    const oldCapacity = old.length / SLOT_WIDTH;
    const capacity = oldCapacity === 0 ? 1 : Math.min(oldCapacity * 2, this.size);
    assert(capacity > oldCapacity, 'inflights cannot grow past its size');
    // Pushed one by one: an array built by push is packed (no hole checks on reads).
    const buffer: number[] = [];
    for (let i = 0; i < capacity * SLOT_WIDTH; i++) buffer.push(i < old.length ? old[i]! : 0);
    this.buffer = buffer;
  }

  /** Frees every message whose last index is <= `to`. */
  freeLE(to: number): void {
    if (this.countInFlight === 0 || to < this.buffer[this.start * SLOT_WIDTH]!) return;
    let slot = this.start;
    let freed = 0;
    let bytes = 0;
    // Bounded by countInFlight <= size.
    while (freed < this.countInFlight) {
      const at = slot * SLOT_WIDTH;
      if (to < this.buffer[at]!) break;
      bytes += this.buffer[at + 1]!;
      freed++;
      if (++slot >= this.size) slot -= this.size;
    }
    this.countInFlight -= freed;
    this.bytesInFlight -= bytes;
    assert(this.countInFlight >= 0 && this.bytesInFlight >= 0, 'inflights underflow');
    // An empty window restarts at slot 0, so a short-lived burst never wraps.
    this.start = this.countInFlight === 0 ? 0 : slot;
  }

  /** Whether no more messages may be sent: the count or the byte limit is reached. */
  full(): boolean {
    return (
      this.countInFlight === this.size ||
      (this.maxBytes !== 0 && this.bytesInFlight >= this.maxBytes)
    );
  }

  /** Messages in flight. */
  count(): number {
    return this.countInFlight;
  }

  /** Bytes in flight. */
  bytes(): number {
    return this.bytesInFlight;
  }

  /** Slots allocated so far (0 before the first add); for tests and memory accounting. */
  get capacity(): number {
    return this.buffer.length / SLOT_WIDTH;
  }

  /** Empties the window, keeping the buffer for reuse. */
  reset(): void {
    this.start = 0;
    this.countInFlight = 0;
    this.bytesInFlight = 0;
  }
}
