/**
 * `DeferredKv`: the range node's `KvStore` before the engine can be read. `Store.open` opens
 * the engine and needs the state machine (the `RangeNode`, which takes its `KvStore` at
 * construction), while `EngineKv.open` needs the opened engine: so the range node gets this
 * forwarder, and the real `EngineKv` is set once the store has opened, before anything
 * reads or writes (no replica applies before `Store.start`).
 */
import { assert } from '../util/index.js';
import type { EngineBatch } from '../storage/index.js';
import type { KvEntry, KvStore } from '../range/index.js';

/** Forwards to the `KvStore` set with `set` (see the file header). */
export class DeferredKv implements KvStore {
  private inner: KvStore | null = null;

  /** Sets the real store, once. */
  set(inner: KvStore): void {
    assert(this.inner === null, 'set once');
    this.inner = inner;
  }

  private must(): KvStore {
    assert(this.inner !== null, 'the engine\'s KV store is set before use');
    return this.inner;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.must().get(key);
  }

  scan(start: Uint8Array, end: Uint8Array, limit: number): KvEntry[] {
    return this.must().scan(start, end, limit);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.must().put(key, value);
  }

  delete(key: Uint8Array): void {
    this.must().delete(key);
  }

  bind(batch: EngineBatch | null): void {
    this.must().bind(batch);
  }

  writeAlone(write: () => void): void {
    this.must().writeAlone(write);
  }
}
