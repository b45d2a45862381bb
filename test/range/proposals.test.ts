/** The proposal tracker settles every promise exactly once. */
import { describe, expect, it } from 'vitest';
import { ProposalTracker } from '../../src/range/proposals.js';
import { RangeErrorCode, RangeUnavailableError } from '../../src/range/index.js';

const id = (n: number) => Uint8Array.of(n);

async function settled<T>(p: Promise<T>): Promise<{ value?: T; code?: string }> {
  try {
    return { value: await p };
  } catch (error) {
    return { code: (error as { code: string }).code };
  }
}

describe('ProposalTracker', () => {
  it('resolves once: a second apply of the same id and a later timeout are no-ops', async () => {
    const t = new ProposalTracker<string>({ timeoutTicks: 2 });
    const p = t.track(2, id(1));
    expect(t.resolve(id(1), 'first')).toBe(true);
    expect(t.resolve(id(1), 'second')).toBe(false);
    expect(t.reject(id(1), new Error('late'))).toBe(false);
    t.tick();
    t.tick();
    expect(await settled(p)).toEqual({ value: 'first' });
    expect(t.size).toBe(0);
  });

  it('times out proposals in deadline order, and only those past their deadline', async () => {
    const t = new ProposalTracker<string>({ timeoutTicks: 2 });
    const a = t.track(2, id(1));
    t.tick();
    const b = t.track(2, id(2));
    expect(t.tick()).toBe(1);
    expect(await settled(a)).toEqual({ code: RangeErrorCode.ProposalTimeout });
    expect(t.has(id(2))).toBe(true);
    expect(t.tick()).toBe(1);
    expect(await settled(b)).toEqual({ code: RangeErrorCode.ProposalTimeout });
  });

  it('fails a range’s proposals when its replica goes, and leaves the others', async () => {
    const t = new ProposalTracker<string>();
    const a = t.track(2, id(1));
    const b = t.track(3, id(2));
    expect(t.rejectRange(2, () => new RangeUnavailableError(2, 'removed'))).toBe(1);
    expect(await settled(a)).toEqual({ code: RangeErrorCode.RangeUnavailable });
    t.resolve(id(2), 'ok');
    expect(await settled(b)).toEqual({ value: 'ok' });
  });

  it('is bounded and refuses an id already in flight', () => {
    const t = new ProposalTracker<string>({ proposalsMax: 1 });
    void t.track(2, id(1));
    expect(() => t.track(2, id(2))).toThrow(expect.objectContaining({
      code: RangeErrorCode.ProposalsFull }));
    t.resolve(id(1), 'x');
    void t.track(2, id(2));
    expect(() => t.track(2, id(2))).toThrow(expect.objectContaining({
      code: RangeErrorCode.ProposalsFull }));
    const u = new ProposalTracker<string>();
    void u.track(2, id(3));
    expect(() => u.track(2, id(3))).toThrow(expect.objectContaining({
      code: RangeErrorCode.DuplicateProposal }));
  });
});
