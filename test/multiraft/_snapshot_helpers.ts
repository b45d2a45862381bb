/** Helpers for the snapshot tests: a state machine that keeps its data in the engine. */
import type { StateMachine } from '../../src/multiraft/index.js';
import type { Entry } from '../../src/raft/index.js';
import type { EngineBatch, StorageEngine } from '../../src/storage/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes of a string. */
export const b = (s: string): Uint8Array => enc.encode(s);
/** A string of bytes. */
export const str = (u: Uint8Array): string => dec.decode(u);

/** The range-local key counting applied commands. */
export const COUNT_KEY = b('applied-count');

/**
 * A KV state machine on the engine: an entry `key=value` puts user key `key`, and bumps the
 * range-local counter `applied-count`, in the apply batch. Its span is every user key.
 */
export class EngineKv implements StateMachine {
  snapshotsApplied = 0;

  constructor(readonly engine: StorageEngine) {}

  apply(rangeId: number, entry: Entry, batch: EngineBatch): void {
    const text = str(entry.data);
    const eq = text.indexOf('=');
    this.engine.putUser(b(text.slice(0, eq)), b(text.slice(eq + 1)), batch);
    this.engine.putLocal(rangeId, COUNT_KEY, b(String(this.count(rangeId) + 1)), batch);
  }

  applySnapshot(): void {
    this.snapshotsApplied++;
  }

  userSpan(): { start: Uint8Array; end: Uint8Array | null } {
    return { start: Uint8Array.of(0), end: null };
  }

  /** Commands applied to the range here (its range-local counter). */
  count(rangeId: number): number {
    const v = this.engine.getLocal(rangeId, COUNT_KEY);
    return v === undefined ? 0 : Number(str(v));
  }

  /** The value of user key `key`, or undefined. */
  get(key: string): string | undefined {
    const v = this.engine.getUser(b(key));
    return v === undefined ? undefined : str(v);
  }
}

/** Keys `k000`.. of a test's writes, and their values. */
export function writes(n: number, tag = 'v'): [string, string][] {
  return Array.from({ length: n }, (_, i) => [`k${String(i).padStart(3, '0')}`,
    `${tag}${i}-${'x'.repeat(i % 17)}`]);
}

/** Lets promise continuations and immediates run (async snapshot steps). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
