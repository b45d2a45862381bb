/**
 * Private: the pipelined batch end (group commit that never blocks the event loop).
 *
 * MECHANISM. A pipelined write behind the synchronous batch end, not Raft's
 * `asyncStorageWrites`: the batch end still takes every Ready of the batch and stages their
 * writes into one engine batch, synchronously, exactly as the Ready contract reads; only the
 * second half (send, apply, advance) waits, in an `InFlightBatch`, for that batch's commit to
 * complete. Why: it keeps the store's one place of Ready handling and the core's default
 * (synchronous) storage contract, so every conformance and simulation result still applies;
 * the engine already merges the batches committed during one sync into the next write, so
 * throughput comes from group commit, not from overlapping Readies of one group. What
 * asyncStorageWrites would add (a group's next Ready before its previous one is durable)
 * is exactly what is not needed: other groups keep stepping, ticking and taking Readies
 * while a sync runs, and a group whose Ready is in flight still steps messages and ticks
 * (stepping between Ready and Advance is safe in the core), it only takes no new Ready.
 *
 * ORDER. In-flight batches complete strictly in commit order (the engine completes commits
 * in order; a batch with no writes queues behind the ones in flight), and each one's
 * messages leave, in one send, only after the sync covering its writes: a vote, an append
 * response, a leader's own entries are durable before anyone hears of them. Committed
 * entries are applied after the sync of the batch whose Ready handed them out. (Applying
 * entries that earlier batches made durable before that sync lost acknowledged writes in
 * the kill -9 check through stores, test/crash; it stays off until that is understood.)
 *
 * FAILURE. A failed commit breaks the store: that batch and every later one are dropped
 * (no message sent, nothing applied, nothing advanced), so nothing is acknowledged.
 */
import { assert } from '../util/index.js';
import type { Ready } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import type { Envelope } from '../transport/index.js';
import type { BatchStaging } from './_staging.js';

/**
 * Scheduler batches whose writes may be in flight at once. Batches only pile up during one
 * sync (a few milliseconds, a few event-loop turns); past this the store takes no new Ready
 * until one completes (backpressure), so memory held by pending Readies stays bounded.
 */
export const IN_FLIGHT_BATCHES_MAX = 256;

/** One scheduler batch between its commit and its completion. */
export class InFlightBatch {
  readonly outbox: Envelope[] = [];
  readonly groups: GroupId[] = [];
  readonly readies: Ready[] = [];
  /** Per Ready: its committed entries were applied at the batch end (see ORDER). */
  /** The batch's writes are durable (or it had none). */
  durable = false;
}

/** The FIFO of in-flight batches. */
export class BatchPipeline {
  private readonly queue: InFlightBatch[] = [];
  private readonly pool: InFlightBatch[] = [];
  private idleWaiters: (() => void)[] = [];
  /** Set by the first failed commit; the store makes no progress afterwards. */
  broken: Error | null = null;
  /** Groups whose Ready was left for later because the pipeline was full. */
  readonly deferred: GroupId[] = [];

  /** Whether no more batches may be put in flight. */
  get full(): boolean {
    return this.queue.length >= IN_FLIGHT_BATCHES_MAX;
  }

  /** Batches in flight. */
  get length(): number {
    return this.queue.length;
  }

  /** Moves the staged messages and Readies of the batch that ends into a new flight. */
  begin(staging: BatchStaging): InFlightBatch {
    const flight = this.pool.pop() ?? new InFlightBatch();
    assert(flight.groups.length === 0 && flight.outbox.length === 0, 'a clean flight');
    for (let i = 0; i < staging.outbox.length; i++) flight.outbox.push(staging.outbox[i]!);
    for (let i = 0; i < staging.groups.length; i++) {
      flight.groups.push(staging.groups[i]!);
      flight.readies.push(staging.readies[i]!);
    }
    staging.outbox.length = 0;
    staging.clearReadies();
    flight.durable = false;
    this.queue.push(flight);
    return flight;
  }

  /** The oldest flight if it is durable (it is then removed), else null. */
  nextDurable(): InFlightBatch | null {
    const head = this.queue[0];
    if (head === undefined || !head.durable) return null;
    this.queue.shift();
    return head;
  }

  /** Returns a completed flight to the pool. */
  recycle(flight: InFlightBatch): void {
    flight.outbox.length = 0;
    flight.groups.length = 0;
    flight.readies.length = 0;
    if (this.pool.length < 16) this.pool.push(flight);
    if (this.queue.length === 0) this.notifyIdle();
  }

  /** Drops every flight (the store is broken). */
  dropAll(): void {
    this.queue.length = 0;
    this.notifyIdle();
  }

  /** Resolves once nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
