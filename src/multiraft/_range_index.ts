/**
 * Private: the store's map from range id to table slot, as an open-addressing hash table in
 * two typed arrays (linear probing, at most half full, backward-shift deletion).
 *
 * Why not a `Map`: a V8 Map costs about 28 bytes of heap per capacity slot (three words an
 * entry plus half a bucket word), so 37 to 73 bytes per replica of a store; these columns
 * cost 8 bytes per capacity slot, 16 to 32 per replica, outside the heap, and the lookup of
 * every inbound message and heartbeat row hashes an integer without a call into the runtime.
 */
import { assert, RANGE_ID_LIMIT } from '../util/index.js';
import { toGroupId, type GroupId } from '../scheduler/index.js';

/** Slots of the smallest table (a power of two). */
const INITIAL_CAPACITY = 1024;
/** Fibonacci hashing's multiplier (2^32 / golden ratio). */
const HASH_MULTIPLIER = 0x9e3779b1;

/** Range id -> slot. Keys are range ids in [1, RANGE_ID_LIMIT); 0 marks an empty slot. */
export class RangeIndex {
  private keys = new Uint32Array(INITIAL_CAPACITY);
  private slots = new Uint32Array(INITIAL_CAPACITY);
  /** log2 of the capacity; the hash keeps the top `bits` bits of the product. */
  private bits = Math.log2(INITIAL_CAPACITY);
  private count = 0;

  /** Number of ranges. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the columns (outside the V8 heap). */
  get memoryBytes(): number {
    return this.keys.byteLength + this.slots.byteLength;
  }

  /** The slot of `rangeId`, or undefined (also for anything that is not a range id). */
  get(rangeId: number): GroupId | undefined {
    const i = this.find(rangeId);
    return i < 0 ? undefined : toGroupId(this.slots[i]!);
  }

  has(rangeId: number): boolean {
    return this.find(rangeId) >= 0;
  }

  /** Maps `rangeId` (not yet mapped) to `slot`. */
  set(rangeId: number, slot: GroupId): void {
    assert(Number.isInteger(rangeId) && rangeId >= 1 && rangeId < RANGE_ID_LIMIT, 'a range id');
    assert(this.find(rangeId) < 0, 'one slot per range');
    if ((this.count + 1) * 2 > this.keys.length) this.rehash(this.keys.length * 2);
    const mask = this.keys.length - 1;
    let i = this.home(rangeId);
    while (this.keys[i] !== 0) i = (i + 1) & mask;
    this.keys[i] = rangeId;
    this.slots[i] = slot;
    this.count++;
    assert(this.count * 2 <= this.keys.length, 'at most half full');
  }

  /** Unmaps `rangeId`. @returns whether it was mapped. */
  delete(rangeId: number): boolean {
    let hole = this.find(rangeId);
    if (hole < 0) return false;
    const mask = this.keys.length - 1;
    // Backward shift: move up every later key of the run whose home is not between the hole
    // and it, so that every key stays reachable from its home without tombstones.
    for (let i = (hole + 1) & mask; this.keys[i] !== 0; i = (i + 1) & mask) {
      const home = this.home(this.keys[i]!);
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        this.keys[hole] = this.keys[i]!;
        this.slots[hole] = this.slots[i]!;
        hole = i;
      }
    }
    this.keys[hole] = 0;
    this.count--;
    assert(this.count >= 0 && this.find(rangeId) < 0, 'unmapped');
    return true;
  }

  private home(rangeId: number): number {
    return Math.imul(rangeId, HASH_MULTIPLIER) >>> (32 - this.bits);
  }

  /** The index holding `rangeId`, or -1. */
  private find(rangeId: number): number {
    if (!(rangeId >= 1 && rangeId < RANGE_ID_LIMIT) || rangeId !== Math.floor(rangeId)) return -1;
    const mask = this.keys.length - 1;
    for (let i = this.home(rangeId); ; i = (i + 1) & mask) {
      const key = this.keys[i]!;
      if (key === rangeId) return i;
      if (key === 0) return -1;
    }
  }

  private rehash(capacity: number): void {
    assert(capacity > this.keys.length && (capacity & (capacity - 1)) === 0, 'grow by powers of 2');
    const keys = this.keys;
    const slots = this.slots;
    this.keys = new Uint32Array(capacity);
    this.slots = new Uint32Array(capacity);
    this.bits = Math.log2(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j]!;
      if (key === 0) continue;
      let i = this.home(key);
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = key;
      this.slots[i] = slots[j]!;
    }
  }
}
