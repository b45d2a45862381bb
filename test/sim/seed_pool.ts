/**
 * The seed pool both simulation command lines share (`cli.ts`, `store_cli.ts`): runs seeds
 * [first, first + count) in chunks, in this process with one job or on J forked workers that
 * pull chunks as they finish, stopping at the first failure unless told to keep going. It sums
 * the batches' totals; the caller adds statistics, prints failures and progress through
 * callbacks. `serveSeedBatches` is the worker side of the protocol. Reads no clock itself: the
 * caller passes `nowMs`.
 */
import { fork, type ChildProcess } from 'node:child_process';

/** What any batch answers, and what the pool sums: seeds run, failures, statistics. */
export interface SeedTotals<F, S> {
  seeds: number;
  failures: F[];
  stats: S;
}

/** What the parent sends a worker: its options once, then batches, then `exit`. */
export interface SeedPoolMessage<O> {
  kind: 'options' | 'batch' | 'exit';
  batch?: O;
  stopAtFailure?: boolean;
  first?: number;
  count?: number;
}

/** Runs a batch of seeds (the range layer's seeds are asynchronous: a promise). */
export type RunBatch<O, T> = (first: number, count: number, options: O,
  stopAtFailure: boolean) => T | Promise<T>;

export interface SeedPoolOptions<O, F, S> {
  first: number;
  count: number;
  jobs: number;
  /** Upper bound of a chunk's size. */
  maxChunk: number;
  keepGoing: boolean;
  /** The batch options, sent to every worker once. */
  options: O;
  /** Runs a batch in this process (one job). */
  runBatch: RunBatch<O, SeedTotals<F, S>>;
  /** The worker script and its arguments (several jobs). */
  worker: { path: string; args: readonly string[] };
  /** Empty statistics, and how to add a batch's to them. */
  stats: S;
  addStats: (into: S, from: S) => void;
  /** Called for every failure as its batch arrives. */
  onFailure: (failure: F) => void;
  /**
   * Prints progress (`seconds` since `started`, `rate` in seeds/s): after the last batch, else
   * at most once every `progressMs`.
   */
  progress: (totals: SeedTotals<F, S>, seconds: number, rate: number) => void;
  progressMs: number;
  nowMs: () => number;
  /** When the run started (the first progress line comes `progressMs` after it). */
  started: number;
}

/** Runs the seeds; resolves to their totals once every batch is in and progress printed. */
export async function runSeedPool<O, F, S>(p: SeedPoolOptions<O, F, S>):
  Promise<SeedTotals<F, S>> {
  const totals: SeedTotals<F, S> = { seeds: 0, failures: [], stats: p.stats };
  const chunk = Math.max(1, Math.min(p.maxChunk, Math.ceil(p.count / (p.jobs * 20))));
  let next = p.first;
  const end = p.first + p.count;
  let lastPrint = p.started;
  const progress = (force: boolean): void => {
    const now = p.nowMs();
    if (!force && now - lastPrint < p.progressMs) return;
    lastPrint = now;
    const seconds = (now - p.started) / 1000;
    p.progress(totals, seconds, totals.seeds / Math.max(seconds, 1e-3));
  };
  const absorb = (t: SeedTotals<F, S>): void => {
    totals.seeds += t.seeds;
    p.addStats(totals.stats, t.stats);
    for (const f of t.failures) {
      totals.failures.push(f);
      p.onFailure(f);
    }
    progress(false);
  };
  const stop = (): boolean => !p.keepGoing && totals.failures.length > 0;
  if (p.jobs === 1) {
    while (next < end && !stop()) {
      const n = Math.min(chunk, end - next);
      absorb(await p.runBatch(next, n, p.options, !p.keepGoing));
      next += n;
    }
  } else {
    await new Promise<void>((resolve, reject) => {
      let live = 0;
      const feed = (child: ChildProcess): void => {
        if (next >= end || stop()) {
          child.send({ kind: 'exit' } satisfies SeedPoolMessage<O>);
          return;
        }
        const n = Math.min(chunk, end - next);
        child.send({ kind: 'batch', first: next, count: n } satisfies SeedPoolMessage<O>);
        next += n;
      };
      for (let j = 0; j < p.jobs; j++) {
        const child = fork(p.worker.path, [...p.worker.args], { execArgv: process.execArgv });
        live++;
        child.send({ kind: 'options', batch: p.options, stopAtFailure: !p.keepGoing } satisfies
          SeedPoolMessage<O>);
        child.on('message', (t: SeedTotals<F, S>) => {
          absorb(t);
          feed(child);
        });
        child.on('error', reject);
        child.on('exit', (code) => {
          if (code !== 0) reject(new Error(`worker exited with ${code}`));
          if (--live === 0) resolve();
        });
        feed(child);
      }
    });
  }
  progress(true);
  return totals;
}

/** A worker process: runs the batches its parent sends, answers with their totals. */
export function serveSeedBatches<O, T>(runBatch: RunBatch<O, T>): void {
  let options = {} as O;
  let stopAtFailure = true;
  process.on('message', async (m: SeedPoolMessage<O>) => {
    if (m.kind === 'options') {
      options = m.batch!;
      stopAtFailure = m.stopAtFailure!;
    } else if (m.kind === 'batch') {
      process.send!(await runBatch(m.first!, m.count!, options, stopAtFailure));
    } else {
      process.disconnect();
    }
  });
}
