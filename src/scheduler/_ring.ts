/**
 * A FIFO ring buffer of int32 ids that grows by doubling. Private to the scheduler: the two
 * run lanes of `Scheduler` are rings. No allocation on push/pop once the ring is large enough;
 * growth copies into a new buffer of twice the size, so `n` pushes cost O(n) amortised.
 */
import { assert } from '../util/index.js';

/** A growable FIFO ring of non-negative int32 ids (see the file comment). */
export class IdRing {
  private buffer: Int32Array;
  /** Index of the oldest element. Invariant: 0 <= head < buffer.length. */
  private head = 0;
  /** Number of elements. Invariant: 0 <= count <= buffer.length <= countMax (rounded up). */
  private count = 0;
  /** `buffer.length - 1`; the capacity is always a power of two, so `& mask` wraps. */
  private mask: number;

  /**
   * @param capacityInitial slots allocated up front, rounded up to a power of two.
   * @param countMax the most elements the ring may ever hold; pushing more is a bug.
   */
  constructor(
    capacityInitial: number,
    private readonly countMax: number,
  ) {
    assert(capacityInitial >= 1, 'ring capacity must be positive');
    assert(countMax >= 1, 'ring countMax must be positive');
    let capacity = 1;
    while (capacity < capacityInitial) capacity *= 2;
    this.buffer = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  /** The number of ids in the ring. */
  get length(): number {
    return this.count;
  }

  /** Bytes held by the buffer (for memory accounting). */
  get bytes(): number {
    return this.buffer.byteLength;
  }

  /** Appends `id` at the back. */
  push(id: number): void {
    assert(id >= 0, 'ring ids are non-negative');
    if (this.count === this.buffer.length) this.grow();
    this.buffer[(this.head + this.count) & this.mask] = id;
    this.count++;
  }

  /** Removes and returns the id at the front. The ring must not be empty. */
  pop(): number {
    assert(this.count > 0, 'pop from an empty ring');
    const id = this.buffer[this.head]!;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    assert(id >= 0, 'ring held a negative id');
    return id;
  }

  /** The id at position `i` from the front, for invariant checks. */
  at(i: number): number {
    if (i < 0 || i >= this.count) assert(false, `ring index out of range: ${i}`);
    return this.buffer[(this.head + i) & this.mask]!;
  }

  private grow(): void {
    const old = this.buffer;
    assert(this.count === old.length, 'grow only a full ring');
    // A full ring of unique ids cannot exceed countMax; doubling past it would mean a
    // duplicate slipped in, which is exactly the bug the queued bit exists to prevent.
    assert(this.count < this.countMax, `ring over its limit of ${this.countMax} ids`);
    const next = new Int32Array(old.length * 2);
    // Unwrap: [head, end) then [0, head).
    next.set(old.subarray(this.head));
    next.set(old.subarray(0, this.head), old.length - this.head);
    this.buffer = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}

/**
 * Returns a typed array of the same kind as `old` with at least `lengthMin` elements: double
 * the old length, capped at `lengthMax`. The old contents are copied; new slots are zero.
 */
export function growTo<T extends Int32Array | Uint32Array | Uint8Array>(
  old: T,
  lengthMin: number,
  lengthMax: number,
): T {
  assert(lengthMin > old.length, 'grow only to a larger length');
  assert(lengthMin <= lengthMax, `length ${lengthMin} over the limit of ${lengthMax}`);
  let length = Math.max(old.length, 1);
  while (length < lengthMin) length *= 2;
  length = Math.min(length, lengthMax);
  const Ctor = old.constructor as new (length: number) => T;
  const next = new Ctor(length);
  next.set(old);
  return next;
}
