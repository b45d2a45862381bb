/**
 * Private: wake-ups deferred by a few store ticks. When a leader's node goes down, the
 * quiesced followers of its groups must wake and elect; waking them all in the same tick
 * makes them all campaign in the same tick, and with pre-vote each grants the others', so
 * the first round of every such group is a split vote. Each follower is instead woken after
 * a jitter drawn from the store's one random source, in [0, spread) store ticks: the first
 * to wake usually wins before another campaigns (it wakes the rest with its own messages).
 *
 * A ring of `spread` buckets, one per tick of the jitter window; entries are only held
 * while a liveness change is being spread, so an idle store holds none.
 */
import { assert } from '../util/index.js';
import type { GroupId } from '../scheduler/index.js';

/** Deferred wake-ups by due store tick. */
export class WakeSchedule {
  private readonly buckets: GroupId[][];
  private pendingCount = 0;

  /** @param spreadTicks the jitter window: due ticks are at most `spreadTicks - 1` ahead. */
  constructor(private readonly spreadTicks: number) {
    assert(Number.isInteger(spreadTicks) && spreadTicks >= 1, 'a window of at least one tick');
    this.buckets = Array.from({ length: spreadTicks }, () => []);
  }

  /** Wake-ups waiting. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Defers `gid`'s wake-up by `delayTicks` (in [1, spread)) from store tick `nowTicks`. */
  add(gid: GroupId, nowTicks: number, delayTicks: number): void {
    assert(delayTicks >= 1 && delayTicks < this.spreadTicks, 'a delay inside the window');
    this.buckets[(nowTicks + delayTicks) % this.spreadTicks]!.push(gid);
    this.pendingCount++;
  }

  /** Moves every wake-up due at store tick `nowTicks` into `out` (emptied first). */
  takeDue(nowTicks: number, out: GroupId[]): void {
    out.length = 0;
    const bucket = this.buckets[nowTicks % this.spreadTicks]!;
    if (bucket.length === 0) return;
    for (let i = 0; i < bucket.length; i++) out.push(bucket[i]!);
    bucket.length = 0;
    this.pendingCount -= out.length;
    assert(this.pendingCount >= 0, 'took only what was added');
  }
}
