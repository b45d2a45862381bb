/**
 * Private: where the CPU-heavy part of snapshot streaming runs. Encoding a chunk is a copy of
 * its records into one buffer and decoding makes views into the payload: both stay on the
 * event loop. The per-byte work is the running CRC-32 of every chunk, on both sides: chunks of
 * at least `workerBytesMin` bytes go to a piscina pool (created on first use, torn down with
 * the store), smaller ones are checksummed inline, where a trip to a worker (a structured
 * clone of the chunk and two thread hops) would cost more than the CRC itself.
 */
import { crc32 } from 'node:zlib';
import { Piscina } from 'piscina';
import type { ChecksumJob } from './_snapshot_worker.js';
import type { SnapshotStats } from './snapshot_stats.js';

/** Computes running CRC-32s, inline or on workers. */
export class ChecksumWork {
  private pool: Piscina | null = null;

  constructor(private readonly workerBytesMin: number, private readonly threads: number,
    private readonly stats: SnapshotStats) {}

  /** Whether a chunk of `bytes` goes to a worker (else it is checksummed inline). */
  onWorker(bytes: number): boolean {
    return bytes >= this.workerBytesMin;
  }

  /**
   * The running CRC-32 through `data`, after `prev` (the checksum of what came before):
   * at once for a small chunk (so that a stream of small chunks runs synchronously, and a
   * simulation on virtual time replays it exactly), from a worker for a big one.
   */
  checksum(data: Uint8Array, prev: number): number | Promise<number> {
    if (!this.onWorker(data.length)) return crc32(data, prev);
    this.stats.chunksOnWorkers++;
    const job: ChecksumJob = { data, prev };
    return this.workers().run(job) as Promise<number>;
  }

  private workers(): Piscina {
    if (this.pool !== null) return this.pool;
    // From the TypeScript sources (tests, tsx) the worker is a .ts file that needs tsx's
    // loader; from the build it is plain JavaScript.
    const source = import.meta.url.endsWith('.ts');
    const filename = new URL(`./_snapshot_worker.${source ? 'ts' : 'js'}`, import.meta.url).href;
    this.pool = new Piscina({ filename, minThreads: 0, maxThreads: this.threads,
      idleTimeout: 10_000, ...(source ? { execArgv: ['--import', 'tsx'] } : {}) });
    return this.pool;
  }

  /** Stops the workers (the store closes). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool !== null) await pool.destroy();
  }
}
