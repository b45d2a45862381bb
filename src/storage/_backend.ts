/**
 * What the durable engine needs from a key-value store, so that one engine serves LevelDB
 * (`_level_backend.ts`) and the simulated disk of the crash model (`_sim_disk.ts`).
 *
 * - `getSync` reads what completed writes left (a write in flight may or may not be seen:
 *   the engine never relies on either, it serves staged data from memory until durable).
 * - `write` is issued by the engine one at a time (the next only after the previous one
 *   completed), always as a synchronous (fsync'd) atomic batch; `done` is never called
 *   synchronously from `write`.
 * - A snapshot fixes a point in time for iterators; keys and values an iterator returns are
 *   fresh copies.
 */

/** One atomic write being assembled; the backend copies keys and values as they are added. */
export interface BackendWrite {
  /** Stages a put (`key` and `value` are copied before the call returns). */
  put(key: Uint8Array, value: Uint8Array): void;
  /** Stages a delete (`key` is copied before the call returns). */
  del(key: Uint8Array): void;
  /** Operations staged so far. */
  readonly opCount: number;
}

/** A point in time of the store, for consistent iteration. */
export interface BackendSnapshot {
  /** Releases the snapshot. */
  close(): void;
}

/** An ordered iterator over `[start, end)`. */
export interface BackendIterator {
  /** Up to `n` more entries in key order; an empty array at the end. */
  nextv(n: number): Promise<[Uint8Array, Uint8Array][]>;
  /** Releases the iterator. */
  close(): Promise<void>;
}

/** The key-value store under the durable engine. */
export interface Backend {
  /** Opens the store (creating it when missing). */
  open(): Promise<void>;
  /** The value of `key` as of the last completed write. */
  getSync(key: Uint8Array): Uint8Array | undefined;
  /** A new, empty write. */
  newWrite(): BackendWrite;
  /** Writes `write` atomically with a sync; `done` once durable or failed (never inline). */
  write(write: BackendWrite, done: (error: Error | null) => void): void;
  /** A snapshot of the current state. */
  snapshot(): BackendSnapshot;
  /**
   * An iterator over `[start, end)` as of `snapshot` (null: now); with `keysOnly` the values
   * may be left out (empty).
   */
  iterate(start: Uint8Array, end: Uint8Array, snapshot: BackendSnapshot | null,
    keysOnly?: boolean): BackendIterator;
  /** Closes the store. */
  close(): Promise<void>;
}
