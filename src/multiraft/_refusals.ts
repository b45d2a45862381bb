/**
 * Private: what the store does with an inbound message it refuses: count it by reason (in
 * `StoreStats.messagesRefused`), trace-log every one, and warn at most once per reason every
 * `intervalTicks` store ticks, with the number of refusals of that reason not logged since.
 * A hostile peer can make refusals as fast as it can write; the log must not grow with it.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { messageTypeNames } from '../raft/index.js';
import { MESSAGE_REFUSALS, type MessageRefusal } from './message_check.js';

/** Store ticks between two warnings of one refusal reason (10 s at a 200 ms tick). */
export const REFUSAL_LOG_INTERVAL_TICKS = 50;

/** Zeroed counters, one per refusal reason. */
export function newRefusalCounts(): Record<MessageRefusal, number> {
  const counts = {} as Record<MessageRefusal, number>;
  for (const reason of MESSAGE_REFUSALS) counts[reason] = 0;
  return counts;
}

/** Counts refusals and logs them at a rate limit (see the file comment). */
export class RefusalLog {
  /** Store tick of the last warning per reason (-Infinity: never). */
  private readonly lastWarnedTick = new Map<MessageRefusal, number>();
  private readonly unlogged = newRefusalCounts();

  /**
   * @param counts the counters to add to (the store's stats).
   * @param log the store's logger, or null.
   * @param intervalTicks store ticks between two warnings of one reason.
   */
  constructor(
    private readonly counts: Record<MessageRefusal, number>,
    private readonly log: Logger | null,
    private readonly intervalTicks: number,
  ) {
    assert(intervalTicks >= 1, 'refusal log interval');
    assert(Object.keys(counts).length === MESSAGE_REFUSALS.length, 'a counter per reason');
  }

  /** Records one refused message (`type` -1 when there is no message, e.g. a whole batch). */
  refuse(reason: MessageRefusal, rangeId: number, fromNodeId: number, type: number,
    nowTicks: number): void {
    this.counts[reason]++;
    const log = this.log;
    if (log === null) return;
    const typeName = messageTypeNames[type] ?? String(type);
    if (log.isLevelEnabled('trace')) {
      log.trace({ rangeId, fromNodeId, type: typeName, reason }, 'refused message');
    }
    const last = this.lastWarnedTick.get(reason);
    if (last !== undefined && nowTicks - last < this.intervalTicks) {
      this.unlogged[reason]++;
      return;
    }
    this.lastWarnedTick.set(reason, nowTicks);
    log.warn({ rangeId, fromNodeId, type: typeName, reason, alsoRefused: this.unlogged[reason] },
      'refused message from peer');
    this.unlogged[reason] = 0;
  }
}
