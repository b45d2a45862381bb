/** The read batcher: one ReadIndex request per batch, never a read on an older request. */
import { describe, expect, it } from 'vitest';
import { ReadIndexBatcher } from '../../src/range/read_index.js';
import { NotLeaderError, RangeErrorCode } from '../../src/range/index.js';

function host() {
  const sent: { rangeId: number; ctx: Uint8Array }[] = [];
  const applied = new Map<number, number>();
  let refuse = false;
  return {
    sent, applied,
    refuseNext: () => { refuse = true; },
    host: {
      send: (rangeId: number, ctx: Uint8Array) => {
        if (refuse) {
          refuse = false;
          throw new NotLeaderError(rangeId, 0);
        }
        sent.push({ rangeId, ctx });
      },
      appliedIndex: (rangeId: number) => applied.get(rangeId) ?? 0,
    },
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function track(p: Promise<void>): { state: string } {
  const t = { state: 'pending' };
  p.then(() => { t.state = 'done'; }, (e: { code: string }) => { t.state = e.code; });
  return t;
}

describe('ReadIndexBatcher', () => {
  it('batches the reads of one range behind one request, waiting for the index to apply',
    async () => {
      const h = host();
      const b = new ReadIndexBatcher(h.host);
      const r1 = track(b.wait(7));
      const r2 = track(b.wait(7));
      expect(h.sent.length).toBe(0);
      await flush();
      expect(h.sent.length).toBe(1);
      // A read that begins while the request is in flight waits for the next one.
      b.onReadIndex(7, 10, h.sent[0]!.ctx);
      const r3 = track(b.wait(7));
      await flush();
      expect(h.sent.length).toBe(2);
      expect([r1.state, r2.state, r3.state]).toEqual(['pending', 'pending', 'pending']);
      b.onApplied(7, 10);
      await flush();
      expect([r1.state, r2.state, r3.state]).toEqual(['done', 'done', 'pending']);
      h.applied.set(7, 12);
      b.onReadIndex(7, 12, h.sent[1]!.ctx);
      await flush();
      expect(r3.state).toBe('done');
      expect(b.size).toBe(0);
    });

  it('ignores an answer to another request and times out a dropped one', async () => {
    const h = host();
    const b = new ReadIndexBatcher(h.host, 3);
    const r = track(b.wait(7));
    await flush();
    b.onReadIndex(7, 10, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 99));
    b.onReadIndex(8, 10, h.sent[0]!.ctx);
    for (let i = 0; i < 3; i++) b.tick();
    await flush();
    expect(r.state).toBe(RangeErrorCode.ProposalTimeout);
    // A late answer to the timed-out request does nothing.
    b.onReadIndex(7, 10, h.sent[0]!.ctx);
    expect(b.size).toBe(0);
  });

  it('fails a batch it cannot send, and a range that goes away', async () => {
    const h = host();
    const b = new ReadIndexBatcher(h.host);
    h.refuseNext();
    const r1 = track(b.wait(7));
    const r2 = track(b.wait(7));
    await flush();
    expect([r1.state, r2.state]).toEqual([RangeErrorCode.NotLeader, RangeErrorCode.NotLeader]);
    const r3 = track(b.wait(7));
    const r4 = track(b.wait(7));
    b.failRange(7, new NotLeaderError(7, 3));
    await flush();
    expect([r3.state, r4.state]).toEqual([RangeErrorCode.NotLeader, RangeErrorCode.NotLeader]);
    expect(h.sent.length).toBe(0);
    expect(b.size).toBe(0);
  });
});
