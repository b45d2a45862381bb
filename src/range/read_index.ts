/**
 * Linearizable reads: every read waits for a read index (etcd's ReadIndex in safe mode: the
 * leader records its commit index and confirms with a heartbeat round that it is still the
 * leader), then for the local replica to have applied that index, and only then reads the
 * local data. That read reflects every write acknowledged before it began, on a follower as
 * on the leader. Never a stale read; no clock is trusted (no lease).
 *
 * BATCHING. The reads waiting on one range share one ReadIndex request: the reads of one
 * turn of the event loop go together (the request is sent from a microtask), and while a
 * request is in flight new reads queue and go together in the next one when it returns. A
 * read never joins a request sent before it began (that request's index might predate a
 * write acknowledged before the read began).
 *
 * BOUNDS. One request in flight per range; a request unanswered for `timeoutTicks` (dropped
 * by a leader change) fails its reads with `ProposalTimeoutError`; at most `readsMax` reads
 * wait on one node (`ProposalsFullError` beyond).
 */
import { assert } from '../util/index.js';
import { ProposalsFullError, ProposalTimeoutError } from './errors.js';

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

interface RangeReads {
  /** The request in flight: its context (as a number) and when it left. */
  inflightCtx: number;
  /** A send is scheduled for the end of this turn. */
  sendScheduled: boolean;
  inflightTick: number;
  inflight: Waiter[];
  queued: Waiter[];
  /** Batches that have their index and wait for it to be applied, in index order. */
  ready: { index: number; waiters: Waiter[] }[];
}

/** What the batcher needs from the node. */
export interface ReadIndexHost {
  /** Sends a ReadIndex request (throws a typed error if it cannot be sent). */
  send(rangeId: number, context: Uint8Array): void;
  /** The replica's applied index. */
  appliedIndex(rangeId: number): number;
}

/** The read batcher of one node (see the file header). */
export class ReadIndexBatcher {
  private readonly ranges = new Map<number, RangeReads>();
  private nextCtx = 1;
  private nowTick = 0;
  private waiting = 0;

  constructor(
    private readonly host: ReadIndexHost,
    readonly timeoutTicks = 50,
    readonly readsMax = 65536,
  ) {
    assert(timeoutTicks > 0 && readsMax > 0, 'read batcher bounds');
  }

  /** Reads waiting on this node. */
  get size(): number {
    return this.waiting;
  }

  /** Resolves once a linearizable read of `rangeId`'s local state may run. */
  wait(rangeId: number): Promise<void> {
    if (this.waiting >= this.readsMax) return Promise.reject(new ProposalsFullError(this.readsMax));
    let r = this.ranges.get(rangeId);
    if (r === undefined) {
      r = { inflightCtx: 0, sendScheduled: false, inflightTick: 0, inflight: [], queued: [],
        ready: [] };
      this.ranges.set(rangeId, r);
    }
    const range = r;
    this.waiting++;
    const promise = new Promise<void>((resolve, reject) => range.queued.push({ resolve, reject }));
    if (range.inflightCtx === 0 && !range.sendScheduled) {
      range.sendScheduled = true;
      queueMicrotask(() => {
        range.sendScheduled = false;
        if (range.inflightCtx === 0 && range.queued.length > 0) this.sendNext(rangeId, range);
      });
    }
    return promise;
  }

  /** A ReadIndex response: the in-flight batch with this context may read at `index`. */
  onReadIndex(rangeId: number, index: number, context: Uint8Array): void {
    const r = this.ranges.get(rangeId);
    if (r === undefined || r.inflightCtx === 0 || context.length !== 8) return;
    if (decodeCtx(context) !== r.inflightCtx) return;
    const last = r.ready[r.ready.length - 1];
    assert(last === undefined || last.index <= index, 'read indexes only grow on one replica');
    r.ready.push({ index, waiters: r.inflight });
    r.inflight = [];
    r.inflightCtx = 0;
    this.onApplied(rangeId, this.host.appliedIndex(rangeId));
    if (r.queued.length > 0) this.sendNext(rangeId, r);
  }

  /** The replica applied up to `applied`: batches at or below it may read. */
  onApplied(rangeId: number, applied: number): void {
    const r = this.ranges.get(rangeId);
    if (r === undefined) return;
    while (r.ready.length > 0 && r.ready[0]!.index <= applied) {
      for (const w of r.ready.shift()!.waiters) this.settle(w, null);
    }
    this.maybeForget(rangeId, r);
  }

  /** One tick: requests past their deadline fail; applied indexes are re-read. */
  tick(): void {
    this.nowTick++;
    for (const [rangeId, r] of this.ranges) {
      if (r.ready.length > 0) this.onApplied(rangeId, this.host.appliedIndex(rangeId));
      if (r.inflightCtx === 0 || this.nowTick - r.inflightTick < this.timeoutTicks) continue;
      const error = new ProposalTimeoutError(rangeId, this.timeoutTicks);
      for (const w of r.inflight) this.settle(w, error);
      r.inflight = [];
      r.inflightCtx = 0;
      if (r.queued.length > 0) this.sendNext(rangeId, r);
      this.maybeForget(rangeId, r);
    }
  }

  /** Fails every read of `rangeId` (its replica went away). */
  failRange(rangeId: number, error: Error): void {
    const r = this.ranges.get(rangeId);
    if (r === undefined) return;
    const all = [...r.inflight, ...r.queued, ...r.ready.flatMap((b) => b.waiters)];
    r.inflight = [];
    r.queued = [];
    r.ready = [];
    r.inflightCtx = 0;
    for (const w of all) this.settle(w, error);
    this.ranges.delete(rangeId);
  }

  private sendNext(rangeId: number, r: RangeReads): void {
    assert(r.inflightCtx === 0 && r.queued.length > 0, 'one request in flight per range');
    const ctx = this.nextCtx++;
    r.inflight = r.queued;
    r.queued = [];
    r.inflightCtx = ctx;
    r.inflightTick = this.nowTick;
    try {
      this.host.send(rangeId, encodeCtx(ctx));
    } catch (error) {
      for (const w of r.inflight) this.settle(w, error as Error);
      r.inflight = [];
      r.inflightCtx = 0;
      this.maybeForget(rangeId, r);
    }
  }

  private settle(w: Waiter, error: Error | null): void {
    this.waiting--;
    assert(this.waiting >= 0, 'each read settles once');
    if (error === null) w.resolve();
    else w.reject(error);
  }

  private maybeForget(rangeId: number, r: RangeReads): void {
    if (r.inflightCtx === 0 && r.queued.length === 0 && r.ready.length === 0 &&
      !r.sendScheduled) {
      this.ranges.delete(rangeId);
    }
  }
}

function encodeCtx(n: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(n / 0x100000000));
  view.setUint32(4, n >>> 0);
  return out;
}

function decodeCtx(b: Uint8Array): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return view.getUint32(0) * 0x100000000 + view.getUint32(4);
}
