/**
 * User data on a durable engine: point reads and writes through the staged overlay, and
 * point-in-time span readers that merge a copy of the overlay (taken at the call) over a
 * backend snapshot (taken in the same turn). Writes still in flight are in the overlay, so
 * whether the backend snapshot saw them does not matter: the overlay copy wins.
 */
import { assert } from '../util/index.js';
import type { Backend, BackendIterator, BackendSnapshot } from './_backend.js';
import type { DurableBatch, EngineCore } from './_durable_core.js';
import { USER_END, USER_KEY_BYTES_MAX } from './_keys.js';
import { decodeUserValue } from './_records.js';
import { bytesOfLatin1, latin1Of } from './_sorted_map.js';
import type { SpanReader, UserEntry } from './engine.js';
import { StorageArgumentError } from './errors.js';

/** The largest user value (bytes). @default 64 MiB */
export const USER_VALUE_BYTES_MAX = 64 * 1024 * 1024;

/** Refuses keys outside 1..USER_KEY_BYTES_MAX bytes. */
export function checkUserKey(key: Uint8Array, what = 'key'): void {
  if (!(key instanceof Uint8Array) || key.length === 0 || key.length > USER_KEY_BYTES_MAX) {
    throw new StorageArgumentError(
      `a user ${what} is 1 to ${USER_KEY_BYTES_MAX} bytes, got ${key?.length ?? typeof key}`);
  }
}

/** Refuses values over USER_VALUE_BYTES_MAX bytes. */
export function checkUserValue(value: Uint8Array): void {
  if (!(value instanceof Uint8Array) || value.length > USER_VALUE_BYTES_MAX) {
    throw new StorageArgumentError(`a user value is at most ${USER_VALUE_BYTES_MAX} bytes`);
  }
}

/** The value of `key` (staged writes first). */
export function getUser(core: EngineCore, key: Uint8Array): Uint8Array | undefined {
  checkUserKey(key);
  const staged = core.overlay.get(latin1Of(key));
  if (staged !== undefined) return staged.value ?? undefined;
  const stored = core.keys.userKey(key);
  const value = core.backend.getSync(stored);
  return value === undefined ? undefined : decodeUserValue(stored, value);
}

/** Stages a put (`value` null: a delete). */
export function stageUser(core: EngineCore, batch: DurableBatch, key: Uint8Array,
  value: Uint8Array | null): void {
  checkUserKey(key);
  if (value !== null) checkUserValue(value);
  const stored = core.keys.userKey(key);
  if (value === null) core.del(batch, stored);
  else core.put(batch, stored, core.codec.userValue(stored, value));
  const latin1 = latin1Of(key);
  core.overlay.set(latin1, { value, seq: batch.seq });
  batch.userKeys.push(latin1);
}

/** A point-in-time reader of `[start, end)`. */
export function readSpan(core: EngineCore, start: Uint8Array, end: Uint8Array | null):
  SpanReader {
  checkUserKey(start, 'span start');
  if (end !== null) checkUserKey(end, 'span end');
  const from = latin1Of(start);
  const to = end === null ? null : latin1Of(end);
  const staged: [string, Uint8Array | null][] = [];
  for (const [key, entry] of core.overlay) {
    if (key >= from && (to === null || key < to)) staged.push([key, entry.value]);
  }
  staged.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const startKey = core.keys.userKey(start).slice();
  const endKey = end === null ? USER_END : core.keys.userBound(end).slice();
  return new MergedSpanReader(core.backend, staged, startKey, endKey);
}

class MergedSpanReader implements SpanReader {
  private readonly snapshot: BackendSnapshot;
  private readonly iterator: BackendIterator;
  private rows: [Uint8Array, Uint8Array][] = [];
  private row = 0;
  private diskDone = false;
  private stagedAt = 0;
  private closed = false;

  constructor(
    backend: Backend,
    private readonly staged: [string, Uint8Array | null][],
    start: Uint8Array,
    end: Uint8Array,
  ) {
    this.snapshot = backend.snapshot();
    this.iterator = backend.iterate(start, end, this.snapshot);
  }

  async next(limit: number): Promise<UserEntry[]> {
    assert(Number.isInteger(limit) && limit > 0, 'a positive limit');
    assert(!this.closed, 'a closed reader is not read');
    const out: UserEntry[] = [];
    while (out.length < limit) {
      if (this.row === this.rows.length && !this.diskDone) {
        this.rows = await this.iterator.nextv(Math.max(limit, 64));
        this.row = 0;
        if (this.rows.length === 0) this.diskDone = true;
      }
      const disk = this.row < this.rows.length ? this.rows[this.row]! : null;
      const diskKey = disk === null ? null : latin1Of(disk[0].subarray(1));
      const staged = this.stagedAt < this.staged.length ? this.staged[this.stagedAt]! : null;
      if (disk === null && staged === null) break;
      if (staged !== null && (diskKey === null || staged[0] <= diskKey)) {
        this.stagedAt++;
        if (staged[0] === diskKey) this.row++;
        if (staged[1] !== null) out.push({ key: bytesOfLatin1(staged[0]), value: staged[1] });
      } else {
        this.row++;
        out.push({ key: disk![0].subarray(1), value: decodeUserValue(disk![0], disk![1]) });
      }
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.iterator.close();
    this.snapshot.close();
  }
}
