/**
 * The append merger: consecutive MsgApps to one follower become one, exactly when the
 * follower would do the same handling them one by one; anything else passes untouched.
 */
import { describe, expect, it } from 'vitest';
import {
  EntryType,
  MessageType,
  entrySize,
  newMessage,
  type Entry,
  type Message,
} from '../../src/raft/index.js';
import { AppendMerger } from '../../src/multiraft/_append_merge.js';

const entry = (index: number, term = 2): Entry =>
  ({ term, index, type: EntryType.EntryNormal, data: new Uint8Array(8).fill(index) });

/** A MsgApp from 1 to `to` at term 2 carrying entries `from..to` (inclusive). */
function app(to: number, first: number, last: number, commit = first - 1, logTerm = 2): Message {
  const entries: Entry[] = [];
  for (let i = first; i <= last; i++) entries.push(entry(i));
  return newMessage(MessageType.MsgApp, { from: 1, to, term: 2, index: first - 1, logTerm,
    entries, commit });
}

describe('AppendMerger', () => {
  it('merges one append per proposal into one per follower, in order', () => {
    const merger = new AppendMerger(1 << 20);
    const messages = [app(2, 5, 5, 3), app(3, 5, 5, 3), app(2, 6, 6, 4), app(3, 6, 6, 4),
      app(2, 7, 8, 6)];
    const originals = messages.map((m) => m.entries.slice());
    expect(merger.merge(messages)).toBe(3);
    expect(merger.out.map((m) => m.to)).toEqual([2, 3]);
    const [to2, to3] = merger.out;
    expect(to2!.index).toBe(4);
    expect(to2!.entries.map((e) => e.index)).toEqual([5, 6, 7, 8]);
    expect(to2!.commit).toBe(6);
    expect(to3!.entries.map((e) => e.index)).toEqual([5, 6]);
    expect(to3!.commit).toBe(4);
    // The core's messages and entry arrays are not touched.
    messages.forEach((m, i) => expect(m.entries).toEqual(originals[i]));
    expect(messages[0]!.commit).toBe(3);
  });

  it('keeps apart what a follower would not handle as one append', () => {
    const merger = new AppendMerger(1 << 20);
    const heartbeat = newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2, term: 2 });
    const gap = [app(2, 5, 5), app(2, 7, 7)];
    const otherTerm = [app(2, 5, 5), { ...app(2, 6, 6), term: 3 }];
    const logTermMismatch = [app(2, 5, 5), app(2, 6, 6, 5, 1)];
    const between = [app(2, 5, 5), heartbeat, app(2, 6, 6)];
    for (const messages of [gap, otherTerm, logTermMismatch, between]) {
      expect(merger.merge(messages)).toBe(0);
      expect(merger.out).toEqual(messages);
    }
  });

  it('leaves a commit-only append as a message of its own', () => {
    const merger = new AppendMerger(1 << 20);
    const commitOnly = app(2, 7, 6, 6);
    expect(commitOnly.entries).toEqual([]);
    expect(merger.merge([app(2, 5, 6, 4), commitOnly])).toBe(0);
    // An empty append may still be the start of a merged one.
    expect(merger.merge([app(2, 7, 6, 6), app(2, 7, 8, 6)])).toBe(1);
    expect(merger.out[0]!.entries.map((e) => e.index)).toEqual([7, 8]);
  });

  it('stops a merged append at the byte bound', () => {
    // Room for two entries per append.
    const merger = new AppendMerger(2 * entrySize(entry(1)) + 1);
    const messages = [app(2, 5, 5), app(2, 6, 6), app(2, 7, 7), app(2, 8, 8), app(2, 9, 9)];
    expect(merger.merge(messages)).toBe(2);
    expect(merger.out.map((m) => m.entries.map((e) => e.index))).toEqual([[5, 6], [7, 8], [9]]);
    expect(merger.out.map((m) => m.index)).toEqual([4, 6, 8]);
  });
});
