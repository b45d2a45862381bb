/**
 * The `Backend` on classic-level (LevelDB): binary keys and values (`view` encodings), point
 * reads through `getSync` (no promise, no event-loop turn: Raft's `Storage` is synchronous),
 * writes through a chained batch, which copies each key and value into LevelDB's native
 * `WriteBatch` as it is added, written with `sync: true`.
 */
import type { ClassicLevel } from 'classic-level';
// `level` is the declared dependency; in Node it is classic-level (whose types, getSync
// included, are the ones used here).
import { Level } from 'level';
import { assert } from '../util/index.js';
import type { Backend, BackendIterator, BackendSnapshot, BackendWrite } from './_backend.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

/** The bytes an iterator reads ahead per `nextv` batch at most. @default 1 MiB */
const SCAN_BATCH_BYTES = 1 << 20;
type Chained = ReturnType<Db['batch']>;

class LevelWrite implements BackendWrite {
  opCount = 0;
  constructor(readonly batch: Chained) {}

  put(key: Uint8Array, value: Uint8Array): void {
    this.batch.put(key, value);
    this.opCount++;
  }
  del(key: Uint8Array): void {
    this.batch.del(key);
    this.opCount++;
  }
}

class LevelSnapshot implements BackendSnapshot {
  constructor(readonly snapshot: ReturnType<Db['snapshot']>) {}
  close(): void {
    void this.snapshot.close();
  }
}

/** LevelDB through classic-level. */
export class LevelBackend implements Backend {
  private readonly db: Db;

  constructor(location: string) {
    this.db = new Level<Uint8Array, Uint8Array>(location, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    }) as unknown as Db;
  }

  open(): Promise<void> {
    return this.db.open();
  }
  getSync(key: Uint8Array): Uint8Array | undefined {
    return this.db.getSync(key);
  }
  newWrite(): BackendWrite {
    return new LevelWrite(this.db.batch());
  }
  write(write: BackendWrite, done: (error: Error | null) => void): void {
    assert(write instanceof LevelWrite, 'a write of this backend');
    write.batch.write({ sync: true }).then(
      () => done(null),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  }
  snapshot(): BackendSnapshot {
    return new LevelSnapshot(this.db.snapshot());
  }
  iterate(start: Uint8Array, end: Uint8Array, snapshot: BackendSnapshot | null,
    keysOnly = false): BackendIterator {
    assert(snapshot === null || snapshot instanceof LevelSnapshot, 'a snapshot of this backend');
    // classic-level ends a `nextv` batch at 16 KiB by default (about 240 metadata records);
    // the open scan asks for thousands, and each batch is one trip through the thread pool.
    const it = this.db.iterator({ gte: start, lt: end, snapshot: snapshot?.snapshot,
      values: !keysOnly, highWaterMarkBytes: SCAN_BATCH_BYTES });
    return {
      nextv: (n) => it.nextv(n) as Promise<[Uint8Array, Uint8Array][]>,
      close: () => it.close(),
    };
  }
  close(): Promise<void> {
    return this.db.close();
  }
}
