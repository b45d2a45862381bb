/**
 * Bytes allocated by a piece of code, measured as the growth of the V8 heap over a window in
 * which no garbage collection ran (checked with a `gc` PerformanceObserver). A window that saw
 * a collection is discarded and the measurement retried with half the operations.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PerformanceObserver } from 'node:perf_hooks';

let gcCount = 0;
const observer = new PerformanceObserver((list) => {
  gcCount += list.getEntries().length;
});
observer.observe({ entryTypes: ['gc'] });

const gc = (globalThis as { gc?: () => void }).gc;

/** Waits for queued GC entries, which Node delivers on a later timer turn, to arrive. */
function settle(): Promise<void> {
  return sleep(20);
}

/**
 * Runs `op` `ops` times and returns bytes allocated per op, or NaN if every attempt was
 * interrupted by a collection. Needs `--expose-gc` for a clean start.
 */
export async function bytesPerOp(op: () => void, ops: number): Promise<number> {
  for (let n = ops; n >= 16; n >>= 1) {
    gc?.();
    await settle();
    const before = gcCount;
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) op();
    const heap1 = process.memoryUsage().heapUsed;
    await settle();
    if (gcCount === before) return (heap1 - heap0) / n;
  }
  return Number.NaN;
}

export function stopAllocObserver(): void {
  observer.disconnect();
}
