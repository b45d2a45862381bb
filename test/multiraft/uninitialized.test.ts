/** The cap and deadlines of uninitialized replicas, and the refusal log's rate limit. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { UninitializedReplicas } from '../../src/multiraft/_uninitialized.js';
import { RefusalLog, newRefusalCounts } from '../../src/multiraft/_refusals.js';
import { MessageRefusal } from '../../src/multiraft/message_check.js';
import { MessageType } from '../../src/raft/index.js';

describe('UninitializedReplicas', () => {
  it('caps the count and collects in deadline order, skipping initialized ones', () => {
    const u = new UninitializedReplicas(3, 10);
    u.add(7, 0);
    u.add(8, 2);
    u.add(9, 5);
    expect(u.full).toBe(true);
    u.delete(8);
    expect(u.full).toBe(false);
    const collected: number[] = [];
    expect(u.expire(9, (g) => collected.push(g))).toBe(0);
    expect(u.expire(10, (g) => collected.push(g))).toBe(1);
    u.add(11, 10);
    expect(u.expire(15, (g) => collected.push(g))).toBe(1);
    expect(collected).toEqual([7, 9]);
    expect(u.count).toBe(1);
    expect(u.expire(100, (g) => collected.push(g))).toBe(1);
    expect(collected).toEqual([7, 9, 11]);
  });
});

describe('RefusalLog', () => {
  it('counts every refusal and warns once per reason per interval', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const counts = newRefusalCounts();
    const log = new RefusalLog(counts, logger, 10);
    for (let i = 0; i < 100; i++) {
      log.refuse(MessageRefusal.CommitBeyondLog, 4, 9, MessageType.MsgHeartbeat, i % 5);
    }
    log.refuse(MessageRefusal.TermTooLarge, 4, 9, MessageType.MsgApp, 0);
    log.refuse(MessageRefusal.CommitBeyondLog, 4, 9, MessageType.MsgHeartbeat, 10);
    expect(counts[MessageRefusal.CommitBeyondLog]).toBe(101);
    expect(counts[MessageRefusal.TermTooLarge]).toBe(1);
    expect(lines.map((l) => [l.reason, l.alsoRefused])).toEqual([
      ['commit-beyond-log', 0], ['term-too-large', 0], ['commit-beyond-log', 99]]);
    expect(lines[0]!.type).toBe('MsgHeartbeat');
    expect(lines[0]!.rangeId).toBe(4);
  });
});

describe('UninitializedReplicas pinning', () => {
  it('keeps a replica that voted, still counted against the cap', () => {
    const u = new UninitializedReplicas(2, 5);
    u.add(1, 0);
    u.add(2, 0);
    u.pin(2);
    u.pin(3);
    expect(u.full).toBe(true);
    const collected: number[] = [];
    u.expire(100, (g) => collected.push(g));
    expect(collected).toEqual([1]);
    expect(u.count).toBe(1);
    u.delete(2);
    expect(u.count).toBe(0);
  });
});
