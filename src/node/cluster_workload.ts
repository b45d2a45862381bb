/**
 * The KV workload of `npm start`: `keys` puts through a `FlotillaClient` over every node of
 * the local cluster, `concurrency` at a time, keys spread over the key space by a
 * multiplicative hash (so that many ranges get writes and split), then every key read back
 * once. Progress is a plain object the live view reads; `progressBar` draws it.
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
  phase: 'writing' | 'reading' | 'done' | 'failed';
  total: number;
  written: number;
  read: number;
  /** Reads that did not return the value written (must stay 0). */
  mismatches: number;
  /** Requests that failed after the client's retries. */
  errors: number;
  startedAtMs: number;
  /** The client's counters (attempts, not-leader, key-mismatch answers, retries). */
  client: FlotillaClient['stats'];
  lastError: string;
}

/** The key of write `i`: eight hex digits of a multiplicative hash, then `i`. */
export function workloadKey(i: number): string {
  const h = Math.imul(i + 1, 0x9e37_79b1) >>> 0;
  return `${h.toString(16).padStart(8, '0')}/${i}`;
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
  const progress: WorkloadProgress = { phase: 'writing', total, written: 0, read: 0,
    mismatches: 0, errors: 0, startedAtMs: Date.now(), client: client.stats, lastError: '' };
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
  const done = (async () => {
    await run(async (i) => {
      await client.put(workloadKey(i), value(i));
      progress.written++;
    });
    if (progress.phase === 'failed') return;
    progress.phase = 'reading';
    const decoder = new TextDecoder();
    await run(async (i) => {
      const got = await client.get(workloadKey(i));
      if (got === null || decoder.decode(got) !== value(i)) progress.mismatches++;
      progress.read++;
    });
    if ((progress.phase as WorkloadProgress['phase']) !== 'failed') progress.phase = 'done';
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
  const doneOps = p.written + p.read;
  const all = Math.max(1, 2 * p.total);
  const filled = Math.round(width * Math.min(1, doneOps / all));
  const rate = doneOps / Math.max(0.001, (nowMs - p.startedAtMs) / 1000);
  return `workload [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.phase}  ` +
    `written ${p.written}/${p.total}  read ${p.read}/${p.total}  ${rate.toFixed(0)} ops/s  ` +
    `errors ${p.errors}  mismatches ${p.mismatches}  client: not-leader ` +
    `${p.client.notLeader}, key-mismatch ${p.client.keyMismatch}, retried ${p.client.retried}` +
    (p.lastError === '' ? '' : `  last error: ${p.lastError.slice(0, 80)}`);
}
