/** The node's queue decisions on hand-built views: leadership balance and the load meter. */
import { describe, expect, it } from 'vitest';
import { LOAD_SAMPLES, LoadMeter, planLeaseTransfer, type LeaseView } from
  '../../src/node/range_queues.js';

const view = (rangeId: number, lead: number, voters = [1, 2, 3]): LeaseView =>
  ({ rangeId, lead, voters });
const live = (): boolean => true;

describe('planLeaseTransfer', () => {
  it('hands a range to the voter leading the fewest when over the slack', () => {
    const views = [view(1, 2), view(2, 2), view(3, 3), view(4, 2)];
    // n2 leads 3, n1 none: n2's lowest range goes to n1.
    expect(planLeaseTransfer(views, 2, live)).toEqual({ rangeId: 1, to: 1 });
    // Other nodes do nothing: they do not lead more than the slack over anyone.
    expect(planLeaseTransfer(views, 3, live)).toBeUndefined();
    expect(planLeaseTransfer(views, 1, live)).toBeUndefined();
  });

  it('stays put within the slack, so that two nodes never trade back and forth', () => {
    const even = [view(1, 1), view(2, 2), view(3, 3), view(4, 1)];
    for (const id of [1, 2, 3]) expect(planLeaseTransfer(even, id, live)).toBeUndefined();
    const views = [view(1, 1), view(2, 1), view(3, 2)];
    expect(planLeaseTransfer(views, 1, live)).toEqual({ rangeId: 1, to: 3 });
    expect(planLeaseTransfer(views, 1, live, 2)).toBeUndefined();
    expect(() => planLeaseTransfer(views, 1, live, 0)).toThrow();
  });

  it('never picks a dead node, nor a node that is not a voter of the range', () => {
    const views = [view(1, 1), view(2, 1), view(3, 1, [1, 2]), view(4, 2)];
    const only2Dead = (id: number): boolean => id !== 2;
    // n3 leads nothing but is not a voter of range 3; ranges 1 and 2 can go to it.
    expect(planLeaseTransfer(views, 1, live)).toEqual({ rangeId: 1, to: 3 });
    expect(planLeaseTransfer(views.slice(2), 1, only2Dead)).toBeUndefined();
    // A leader not among the voters (a stale view) counts for no one.
    expect(planLeaseTransfer([view(1, 9), view(2, 1), view(3, 1), view(5, 1)], 1, live))
      .toEqual({ rangeId: 2, to: 2 });
  });
});

describe('LoadMeter', () => {
  it('knows a load after a full window, as the highest rate in it', () => {
    const m = new LoadMeter();
    m.sample(7, 100, 0);
    for (let i = 1; i < LOAD_SAMPLES; i++) m.sample(7, 100 + i * 10, i * 1000);
    expect(m.maxQps(7)).toBeUndefined();
    m.sample(7, 100 + LOAD_SAMPLES * 10 + 50, LOAD_SAMPLES * 1000);
    expect(m.maxQps(7)).toBe(60);
    // The burst leaves the window after LOAD_SAMPLES quiet samples.
    let applied = 100 + LOAD_SAMPLES * 10 + 50;
    for (let i = 1; i <= LOAD_SAMPLES; i++) {
      expect(m.maxQps(7)).toBeGreaterThan(0);
      m.sample(7, applied, (LOAD_SAMPLES + i) * 1000);
    }
    expect(m.maxQps(7)).toBe(0);
    applied -= 1;
    // An applied index going back (a replica rebuilt) restarts the measure.
    m.sample(7, applied, 100_000);
    expect(m.maxQps(7)).toBeUndefined();
  });

  it('forgets ranges it is not told to keep', () => {
    const m = new LoadMeter();
    for (let i = 0; i <= LOAD_SAMPLES; i++) {
      m.sample(1, i, i * 1000);
      m.sample(2, i, i * 1000);
    }
    m.retain(new Set([2]));
    expect(m.maxQps(1)).toBeUndefined();
    expect(m.maxQps(2)).toBe(1);
  });
});
