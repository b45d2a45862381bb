/**
 * The planted bug of the range simulation (`--bug split-loses-writes`): a store's data that
 * undoes, when a split's right-hand range is born, the last few user writes that fell in its
 * span. It stands for a split that creates the right-hand side without the data written just
 * before the split (say, from a stale view of the left's data). Every store runs it alike, so
 * the replicas agree with each other; only the history can tell: a read after the split
 * misses a write acknowledged before it.
 */
import type { EngineBatch } from '../../src/storage/index.js';
import {
  compareKeys,
  decodeDescriptor,
  isUserKey,
  type KvEntry,
  type KvStore,
} from '../../src/range/index.js';

/** User writes remembered (the "just before the split" window). */
const RECENT_WRITES = 8;
/** Bytes of a descriptor row's key: 2 bytes of local prefix, 8 of range id, 1 tag. */
const DESCRIPTOR_ROW_BYTES = 11;
const DESCRIPTOR_TAG = 0x72;

/** A `KvStore` with the bug (see the file header). */
export class SplitLosesWritesKv implements KvStore {
  private readonly recent: { key: Uint8Array; before: Uint8Array | undefined }[] = [];
  private readonly born = new Set<number>();

  constructor(private readonly base: KvStore) {}

  bind(batch: EngineBatch | null): void {
    this.base.bind(batch);
  }
  writeAlone(write: () => void): void {
    this.base.writeAlone(write);
  }
  get(key: Uint8Array): Uint8Array | undefined {
    return this.base.get(key);
  }
  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[] {
    return this.base.scan(start, end, limit);
  }
  delete(key: Uint8Array): void {
    if (isUserKey(key)) this.remember(key);
    this.base.delete(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    if (isUserKey(key)) this.remember(key);
    this.base.put(key, value);
    if (key.length === DESCRIPTOR_ROW_BYTES && key[0] === 0 && key[1] === 0 &&
      key[10] === DESCRIPTOR_TAG) {
      const desc = decodeDescriptor(value);
      if (!this.born.has(desc.rangeId) && this.born.size > 0) this.undoIn(desc.startKey,
        desc.endKey);
      this.born.add(desc.rangeId);
    }
  }

  private remember(key: Uint8Array): void {
    this.recent.push({ key: key.slice(), before: this.base.get(key) });
    if (this.recent.length > RECENT_WRITES) this.recent.shift();
  }

  private undoIn(start: Uint8Array, end: Uint8Array): void {
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const w = this.recent[i]!;
      if (compareKeys(w.key, start) < 0 || compareKeys(w.key, end) >= 0) continue;
      if (w.before === undefined) this.base.delete(w.key);
      else this.base.put(w.key, w.before);
    }
    this.recent.length = 0;
  }
}
