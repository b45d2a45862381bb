/**
 * A simulated disk for the crash-model engine: an ordered in-memory key-value store whose
 * writes become durable only when the test says (`completeNext`), so a simulation chooses
 * the disk latency, and whose `crash()` keeps only what completed: every write still
 * pending is lost whole (LevelDB batches are atomic). Deterministic: no timers, no clock;
 * completions run inside the caller's `completeNext`.
 */
import { assert } from '../util/index.js';
import type { Backend, BackendIterator, BackendSnapshot, BackendWrite } from './_backend.js';
import { SortedMap, bytesOfLatin1, latin1Of } from './_sorted_map.js';

type Op = { key: string; value: Uint8Array | null };

class SimWrite implements BackendWrite {
  readonly ops: Op[] = [];
  get opCount(): number {
    return this.ops.length;
  }
  put(key: Uint8Array, value: Uint8Array): void {
    this.ops.push({ key: latin1Of(key), value: value.slice() });
  }
  del(key: Uint8Array): void {
    this.ops.push({ key: latin1Of(key), value: null });
  }
}

class SimSnapshot implements BackendSnapshot {
  constructor(readonly data: SortedMap<Uint8Array>) {}
  close(): void {}
}

/** The simulated disk. */
export class SimDisk implements Backend {
  private data: SortedMap<Uint8Array>;
  private readonly pending: { write: SimWrite; done: (error: Error | null) => void }[] = [];
  private failures: Error[] = [];
  /** Writes completed so far. */
  writesCompleted = 0;
  /**
   * Writes issued so far (completed, failed or pending): a simulation's crash points count
   * them, so that the k-th write of a seed is the one the disk dies in.
   */
  writesIssued = 0;

  constructor(data: SortedMap<Uint8Array> = new SortedMap()) {
    this.data = data;
  }

  /** Writes issued and not yet completed. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Makes the oldest pending write durable (or fails it, see `failNextWrite`). */
  completeNext(): boolean {
    const next = this.pending.shift();
    if (next === undefined) return false;
    const failure = this.failures.shift();
    if (failure !== undefined) {
      next.done(failure);
      return true;
    }
    for (const op of next.write.ops) {
      if (op.value === null) this.data.delete(op.key);
      else this.data.set(op.key, op.value);
    }
    this.writesCompleted++;
    next.done(null);
    return true;
  }

  /** The next write to complete fails with `error` and writes nothing. */
  failNextWrite(error: Error): void {
    this.failures.push(error);
  }

  /** A disk holding only what completed: the state after a crash. */
  crash(): SimDisk {
    return new SimDisk(this.data.clone());
  }

  /** Overwrites a stored value in place (tests of bad records). */
  poke(key: Uint8Array, value: Uint8Array | null): void {
    if (value === null) this.data.delete(latin1Of(key));
    else this.data.set(latin1Of(key), value.slice());
  }

  open(): Promise<void> {
    return Promise.resolve();
  }
  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.data.get(latin1Of(key));
  }
  newWrite(): BackendWrite {
    return new SimWrite();
  }
  write(write: BackendWrite, done: (error: Error | null) => void): void {
    assert(write instanceof SimWrite, 'a write of this backend');
    assert(this.pending.length === 0, 'the engine issues one write at a time');
    this.writesIssued++;
    this.pending.push({ write, done });
  }
  snapshot(): BackendSnapshot {
    return new SimSnapshot(this.data.clone());
  }
  iterate(start: Uint8Array, end: Uint8Array, snapshot: BackendSnapshot | null):
    BackendIterator {
    assert(snapshot === null || snapshot instanceof SimSnapshot, 'a snapshot of this backend');
    const data = snapshot === null ? this.data.clone() : snapshot.data;
    const from = latin1Of(start);
    const to = latin1Of(end);
    let after: string | null = null;
    return {
      nextv: (n) => {
        // Resume after the last key returned (one extra row, as it may be that key).
        const rows = data.range(after ?? from, to, n + 1);
        if (after !== null && rows.length > 0 && rows[0]![0] === after) rows.shift();
        if (rows.length > n) rows.length = n;
        if (rows.length > 0) after = rows[rows.length - 1]![0];
        return Promise.resolve(rows.map(([k, v]) => [bytesOfLatin1(k), v.slice()]));
      },
      close: () => Promise.resolve(),
    };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
