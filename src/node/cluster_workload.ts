/**
 * The KV workload of `npm start`, in four phases through a `FlotillaClient` over every node
 * of the local cluster, `concurrency` requests at a time:
 *
 * 1. writing: `keys` puts, keys spread over the key space by a multiplicative hash (so that
 *    many ranges get writes and split);
 * 2. reading: every key read back once;
 * 3. deleting: the keys of the lower half of the key space (hash below 2^31) are deleted:
 *    the ranges there empty out and, cold now that the load moved on, merge;
 * 4. checking: every key read again: a deleted one must be gone, the others unchanged.
 *
 * Progress is a plain object the live view reads; `progressBar` draws it.
 */
import { assert } from '../util/index.js';
import { FlotillaClient } from './client.js';

/** Parameters of the workload. */
export interface WorkloadOptions {
  /** HTTP addresses of the nodes. */
  nodes: readonly string[];
  /** Keys written (each once). @default 5000 (keys) */
  keys?: number;
  /** Requests in flight. @default 16 (requests) */
  concurrency?: number;
  /** Bytes of each value. @default 64 (bytes) */
  valueBytes?: number;
}

/** Where the workload stands (read by the live view). */
export interface WorkloadProgress {
  phase: 'writing' | 'reading' | 'deleting' | 'checking' | 'done' | 'failed';
  total: number;
  written: number;
  read: number;
  /** Keys of the lower half (phase 3 deletes them). */
  toDelete: number;
  deleted: number;
  checked: number;
  /** Reads that did not return the value written (must stay 0). */
  mismatches: number;
  /** Requests that failed after the client's retries. */
  errors: number;
  startedAtMs: number;
  /** The client's counters (attempts, not-leader, key-mismatch answers, retries). */
  client: FlotillaClient['stats'];
  lastError: string;
}

function keyHash(i: number): number {
  return Math.imul(i + 1, 0x9e37_79b1) >>> 0;
}

/** The key of write `i`: eight hex digits of a multiplicative hash, then `i`. */
export function workloadKey(i: number): string {
  return `${keyHash(i).toString(16).padStart(8, '0')}/${i}`;
}

/** Whether phase 3 deletes key `i` (its hash is in the lower half). */
export function deletedByWorkload(i: number): boolean {
  return keyHash(i) < 0x8000_0000;
}

/** Starts the workload; `progress` is updated as it goes. */
export function startWorkload(options: WorkloadOptions): {
  progress: WorkloadProgress; done: Promise<void>; stop: () => void;
} {
  const total = options.keys ?? 5000;
  const concurrency = options.concurrency ?? 16;
  assert(Number.isSafeInteger(total) && total >= 0, 'a key count');
  assert(Number.isSafeInteger(concurrency) && concurrency > 0, 'a concurrency');
  const client = new FlotillaClient({ nodes: options.nodes });
  let toDelete = 0;
  for (let i = 0; i < total; i++) if (deletedByWorkload(i)) toDelete++;
  const progress: WorkloadProgress = { phase: 'writing', total, written: 0, read: 0,
    toDelete, deleted: 0, checked: 0, mismatches: 0, errors: 0, startedAtMs: Date.now(),
    client: client.stats, lastError: '' };
  const value = (i: number): string => `${i}:`.padEnd(options.valueBytes ?? 64, 'v');
  const run = async (work: (i: number) => Promise<void>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total && progress.phase !== 'failed') {
        const i = next++;
        try {
          await work(i);
        } catch (error) {
          progress.errors++;
          progress.lastError = (error as Error).message;
        }
      }
    }));
  };
  const decoder = new TextDecoder();
  const phases: [WorkloadProgress['phase'], (i: number) => Promise<void>][] = [
    ['writing', async (i) => {
      await client.put(workloadKey(i), value(i));
      progress.written++;
    }],
    ['reading', async (i) => {
      const got = await client.get(workloadKey(i));
      if (got === null || decoder.decode(got) !== value(i)) progress.mismatches++;
      progress.read++;
    }],
    ['deleting', async (i) => {
      if (!deletedByWorkload(i)) return;
      await client.delete(workloadKey(i));
      progress.deleted++;
    }],
    ['checking', async (i) => {
      const got = await client.get(workloadKey(i));
      const want = deletedByWorkload(i) ? null : value(i);
      if ((got === null ? null : decoder.decode(got)) !== want) progress.mismatches++;
      progress.checked++;
    }],
  ];
  const done = (async () => {
    for (const [phase, work] of phases) {
      if ((progress.phase as string) === 'failed') return;
      progress.phase = phase;
      await run(work);
    }
    if ((progress.phase as string) !== 'failed') progress.phase = 'done';
  })().catch((error: unknown) => {
    progress.phase = 'failed';
    progress.lastError = (error as Error).message;
  });
  const stop = (): void => {
    client.close();
    if (progress.phase !== 'done') progress.phase = 'failed';
  };
  return { progress, done, stop };
}

/** The workload as one line with a progress bar. */
export function progressBar(p: WorkloadProgress, nowMs: number, width = 30): string {
  const doneOps = p.written + p.read + p.deleted + p.checked;
  const all = Math.max(1, 3 * p.total + p.toDelete);
  const filled = Math.round(width * Math.min(1, doneOps / all));
  const rate = doneOps / Math.max(0.001, (nowMs - p.startedAtMs) / 1000);
  return `workload [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.phase}  ` +
    `written ${p.written}/${p.total}  read ${p.read}/${p.total}  deleted ` +
    `${p.deleted}/${p.toDelete}  checked ${p.checked}/${p.total}  ${rate.toFixed(0)} ops/s  ` +
    `errors ${p.errors}  mismatches ${p.mismatches}  client: not-leader ` +
    `${p.client.notLeader}, key-mismatch ${p.client.keyMismatch}, retried ${p.client.retried}` +
    (p.lastError === '' ? '' : `  last error: ${p.lastError.slice(0, 80)}`);
}
