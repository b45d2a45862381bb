/**
 * Private: the replicas a peer's message created that have not been initialized yet, with
 * the store tick by which their snapshot must arrive. A message of an unknown range makes
 * such a replica (etcd's and CockroachDB's way to add a replica); a peer can name any range,
 * so they are capped (`uninitializedReplicasMax`) and collected when no snapshot
 * initialized them within `uninitializedReplicaTimeoutTicks`.
 *
 * Invariant: the map is in deadline order. Every deadline is "now + the one timeout" and the
 * store's tick only grows, so insertion order is deadline order and expiry reads the front.
 */
import { assert } from '../util/index.js';

/** Uninitialized replicas by group id, with their deadlines. */
export class UninitializedReplicas {
  /** Group id -> store tick at which it is collected; in insertion (= deadline) order. */
  private readonly deadlines = new Map<number, number>();
  private lastDeadline = -Infinity;
  /** Replicas that voted: never collected (they wait for their snapshot however long). */
  private readonly pinned = new Set<number>();
  /** Replicas created over a tombstone (a range destroyed here): they do not vote. */
  private readonly resurrected = new Set<number>();

  /**
   * @param max the cap (`uninitializedReplicasMax`).
   * @param timeoutTicks store ticks a replica waits for its snapshot.
   */
  constructor(
    readonly max: number,
    private readonly timeoutTicks: number,
  ) {
    assert(max >= 0 && timeoutTicks >= 1, 'uninitialized replica limits');
  }

  /** Replicas waiting for their snapshot now. */
  get count(): number {
    return this.deadlines.size + this.pinned.size;
  }

  /** Whether another may be created. */
  get full(): boolean {
    return this.count >= this.max;
  }

  /** A replica was created by a message at store tick `nowTicks`. */
  add(gid: number, nowTicks: number): void {
    assert(!this.deadlines.has(gid) && !this.pinned.has(gid) && !this.full,
      'a new uninitialized replica within the cap');
    const deadline = nowTicks + this.timeoutTicks;
    assert(deadline >= this.lastDeadline, 'deadlines in insertion order');
    this.lastDeadline = deadline;
    this.deadlines.set(gid, deadline);
  }

  /** The replica was initialized or removed: it is no longer waiting. */
  delete(gid: number): void {
    this.deadlines.delete(gid);
    this.pinned.delete(gid);
    this.resurrected.delete(gid);
  }

  /** The replica was created over its range's tombstone (see `isResurrected`). */
  markResurrected(gid: number): void {
    assert(this.deadlines.has(gid), 'a waiting replica');
    this.resurrected.add(gid);
  }

  /**
   * Whether the replica was created over a tombstone and is still uninitialized: a replica
   * removed from its range here, brought back empty by a peer that has not heard of the
   * removal. It must not vote: a stale peer could win an election of its old configuration
   * with it and hold the range's live replicas in its term (range sim seed 1158). A replica
   * added again becomes a voter only after a snapshot initialized it as a learner.
   */
  isResurrected(gid: number): boolean {
    return this.resurrected.has(gid);
  }

  /** The replica voted: it is kept (and counted) until initialized, never collected. */
  pin(gid: number): void {
    if (!this.deadlines.delete(gid)) return;
    this.pinned.add(gid);
    assert(this.count <= this.max, 'pinning keeps the count');
  }

  /**
   * Calls `collect` for every replica whose deadline is at or before `nowTicks`, after
   * taking it off the list. @returns how many it collected.
   */
  expire(nowTicks: number, collect: (gid: number) => void): number {
    let collected = 0;
    for (const [gid, deadline] of this.deadlines) {
      if (deadline > nowTicks) break;
      this.deadlines.delete(gid);
      collect(gid);
      collected++;
    }
    const next = this.deadlines.values().next();
    assert(next.done === true || next.value > nowTicks, 'every expired replica collected');
    return collected;
  }
}
