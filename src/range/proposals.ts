/**
 * The proposal tracker: the promise of every proposal in flight on one node, resolved exactly
 * once — with its outcome when its entry applies locally, or with a typed error (a timeout,
 * the range going away, the leadership moving before it was accepted).
 *
 * Each proposal is keyed by its command id. Settling removes the entry first and then settles
 * its promise, so a second settlement of the same id (the entry applied twice, a timeout
 * racing an apply) finds nothing and is a no-op: that is the exactly-once guarantee, and
 * `settled + pending = tracked` is asserted. Deadlines are in ticks of the node's clock; all
 * proposals share one timeout, so insertion order is deadline order and a tick only looks at
 * the oldest entries.
 *
 * BOUND. At most `proposalsMax` in flight; `track` refuses more with `ProposalsFullError`
 * (backpressure to the client) rather than queueing without limit.
 */
import { assert } from '../util/index.js';
import { DuplicateProposalError, ProposalsFullError, ProposalTimeoutError } from './errors.js';
import { keyToString } from './keys.js';

interface Pending<T> {
  rangeId: number;
  deadlineTick: number;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/** Options of a `ProposalTracker`. */
export interface ProposalTrackerOptions {
  /** Ticks a proposal may wait for its entry to apply. @default 50 (ticks: 10 s at 200 ms) */
  timeoutTicks?: number;
  /** Proposals in flight on the node. @default 65536 (proposals) */
  proposalsMax?: number;
}

/** Promises of the proposals in flight (see the file header). `T` is the outcome type. */
export class ProposalTracker<T> {
  readonly timeoutTicks: number;
  readonly proposalsMax: number;
  private readonly pending = new Map<string, Pending<T>>();
  private nowTick = 0;
  private tracked = 0;
  private settled = 0;

  constructor(options: ProposalTrackerOptions = {}) {
    this.timeoutTicks = options.timeoutTicks ?? 50;
    this.proposalsMax = options.proposalsMax ?? 65536;
    assert(Number.isSafeInteger(this.timeoutTicks) && this.timeoutTicks > 0, 'timeout ticks');
    assert(Number.isSafeInteger(this.proposalsMax) && this.proposalsMax > 0, 'proposals max');
  }

  /** Proposals in flight. */
  get size(): number {
    return this.pending.size;
  }

  /** Whether a proposal with this id is in flight. */
  has(id: Uint8Array): boolean {
    return this.pending.has(keyToString(id));
  }

  /**
   * Registers a proposal and returns its promise.
   * @throws ProposalsFullError, DuplicateProposalError (an id in flight already)
   */
  track(rangeId: number, id: Uint8Array): Promise<T> {
    if (this.pending.size >= this.proposalsMax) throw new ProposalsFullError(this.proposalsMax);
    const k = keyToString(id);
    if (this.pending.has(k)) throw new DuplicateProposalError(rangeId);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(k, { rangeId, deadlineTick: this.nowTick + this.timeoutTicks, resolve,
        reject });
      this.tracked++;
    });
  }

  /** Resolves the proposal `id` with `value`. Returns false if none was in flight. */
  resolve(id: Uint8Array, value: T): boolean {
    const p = this.take(keyToString(id));
    if (p === undefined) return false;
    p.resolve(value);
    return true;
  }

  /** Rejects the proposal `id` with `error`. Returns false if none was in flight. */
  reject(id: Uint8Array, error: Error): boolean {
    const p = this.take(keyToString(id));
    if (p === undefined) return false;
    p.reject(error);
    return true;
  }

  /** Rejects every proposal of `rangeId` with `makeError()` (the replica went away). */
  rejectRange(rangeId: number, makeError: () => Error): number {
    let n = 0;
    for (const [k, p] of this.pending) {
      if (p.rangeId !== rangeId) continue;
      this.take(k);
      p.reject(makeError());
      n++;
    }
    return n;
  }

  /** Advances the clock one tick; proposals past their deadline fail with a timeout. */
  tick(): number {
    this.nowTick++;
    let n = 0;
    for (const [k, p] of this.pending) {
      if (p.deadlineTick > this.nowTick) break;
      this.take(k);
      p.reject(new ProposalTimeoutError(p.rangeId, this.timeoutTicks));
      n++;
    }
    return n;
  }

  private take(k: string): Pending<T> | undefined {
    const p = this.pending.get(k);
    if (p === undefined) return undefined;
    this.pending.delete(k);
    this.settled++;
    assert(this.settled + this.pending.size === this.tracked, 'each proposal settles once');
    return p;
  }
}
