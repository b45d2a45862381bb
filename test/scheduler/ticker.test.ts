import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AssertionError } from '../../src/util/index.js';
import { Scheduler, Ticker, WorkFlag } from '../../src/scheduler/index.js';
import type { GroupId, TickTarget, WorkFlags } from '../../src/scheduler/index.js';
import { Recorder, g } from './_helpers.js';

/** Counts the ticks each group receives, and on which sub-tick. */
class TickCounter implements TickTarget {
  readonly ticks = new Map<number, number>();
  readonly subTicks: number[] = [];
  subTick = 0;

  enqueue(id: GroupId, flags: WorkFlags): void {
    if (flags !== WorkFlag.Tick) throw new Error(`ticker enqueued flags ${flags}`);
    this.ticks.set(id, (this.ticks.get(id) ?? 0) + 1);
    this.subTicks[id] = this.subTick;
  }

  of(id: number): number {
    return this.ticks.get(id) ?? 0;
  }
}

function setup(options: ConstructorParameters<typeof Ticker>[1] = {}) {
  const counter = new TickCounter();
  const ticker = new Ticker(counter, options);
  const interval = (n = 1) => {
    for (let i = 0; i < n * ticker.config.tickSpreadSlots; i++) {
      counter.subTick = i % ticker.config.tickSpreadSlots;
      ticker.tick();
    }
  };
  return { counter, ticker, interval };
}

describe('Ticker awake set', () => {
  it('ticks every awake group once per interval and a quiesced group never', () => {
    const { counter, ticker, interval } = setup({ tickSpreadSlots: 4, tickIntervalMs: 100 });
    for (let id = 0; id < 10; id++) ticker.add(g(id));
    expect(ticker.quiesce(g(3))).toBe(true);
    expect(ticker.quiesce(g(3))).toBe(false);
    expect(ticker.awakeCount).toBe(9);
    interval(5);
    for (let id = 0; id < 10; id++) expect(counter.of(id)).toBe(id === 3 ? 0 : 5);
    ticker.assertInvariants();
  });

  it('costs O(awake): a tick visits only awake groups', () => {
    const { counter, ticker, interval } = setup({ groupsInitial: 8 });
    for (let id = 0; id < 10_000; id++) ticker.add(g(id));
    for (let id = 0; id < 10_000; id++) if (id % 100 !== 0) ticker.quiesce(g(id));
    let visited = 0;
    for (let i = 0; i < ticker.config.tickSpreadSlots; i++) visited += ticker.tick();
    expect(visited).toBe(100);
    expect(counter.ticks.size).toBe(100);
    interval(1);
    ticker.assertInvariants();
  });

  it('reports the ticks a group slept through on wake, capped', () => {
    const { counter, ticker, interval } = setup({ sleptTicksMax: 7 });
    ticker.add(g(1));
    ticker.add(g(2));
    interval(2);
    ticker.quiesce(g(1));
    ticker.quiesce(g(2));
    interval(3);
    expect(ticker.wake(g(1))).toBe(3);
    expect(ticker.wake(g(1))).toBe(0); // already awake: idempotent
    interval(20);
    expect(ticker.wake(g(2))).toBe(7); // slept 23, capped at sleptTicksMax
    expect(counter.of(1)).toBe(2 + 20);
  });

  it('counts slept ticks exactly per phase, mid-interval included', () => {
    // Property: slept ticks reported on wake = ticks the group would have received awake.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        (id, before, asleep) => {
          const shadow = new TickCounter();
          const twin = new Ticker(shadow, { tickSpreadSlots: 8, tickIntervalMs: 200 });
          const { counter, ticker } = setup({ tickSpreadSlots: 8, tickIntervalMs: 200 });
          ticker.add(g(id));
          twin.add(g(id));
          for (let i = 0; i < before; i++) (ticker.tick(), twin.tick());
          ticker.quiesce(g(id));
          for (let i = 0; i < asleep; i++) (ticker.tick(), twin.tick());
          expect(ticker.wake(g(id))).toBe(shadow.of(id) - counter.of(id));
        },
      ),
    );
  });

  it('re-adds, removes and rejects misuse', () => {
    const { ticker } = setup();
    ticker.add(g(5));
    expect(() => ticker.add(g(5))).toThrow(AssertionError);
    ticker.quiesce(g(5));
    ticker.remove(g(5));
    expect(ticker.isRegistered(g(5))).toBe(false);
    expect(() => ticker.wake(g(5))).toThrow(AssertionError);
    expect(() => ticker.quiesce(g(6))).toThrow(AssertionError);
    ticker.add(g(5));
    expect(ticker.isAwake(g(5))).toBe(true);
  });

  it('keeps the awake set consistent under random operations', () => {
    const op = fc.record({
      kind: fc.constantFrom('add', 'remove', 'quiesce', 'wake', 'tick'),
      id: fc.integer({ min: 0, max: 60 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200, size: 'max' }), (ops) => {
        const { counter, ticker } = setup({ groupsInitial: 2, tickSpreadSlots: 4 });
        const model = new Map<number, boolean>(); // id -> awake
        for (const { kind, id } of ops) {
          const known = model.has(id);
          if (kind === 'add' && !known) (ticker.add(g(id)), model.set(id, true));
          if (kind === 'remove' && known) (ticker.remove(g(id)), model.delete(id));
          if (kind === 'quiesce' && known) (ticker.quiesce(g(id)), model.set(id, false));
          if (kind === 'wake' && known) (ticker.wake(g(id)), model.set(id, true));
          if (kind === 'tick') {
            counter.ticks.clear();
            for (let i = 0; i < 4; i++) ticker.tick();
            for (const [mid, awake] of model) expect(counter.of(mid)).toBe(awake ? 1 : 0);
            expect(counter.ticks.size).toBe([...model.values()].filter((a) => a).length);
          }
        }
        ticker.assertInvariants();
      }),
    );
  });
});

describe('Ticker spread', () => {
  it('spreads groups created together over the sub-ticks, consecutive ids or strided', () => {
    for (const stride of [1, 2, 4, 8, 16, 1000]) {
      const { counter, ticker } = setup({ tickSpreadSlots: 8, tickIntervalMs: 200 });
      const n = 8000;
      for (let i = 0; i < n; i++) ticker.add(g(i * stride));
      const perSubTick: number[] = [];
      for (let s = 0; s < 8; s++) perSubTick.push(ticker.tick());
      // Not lockstep: each sub-tick carries about n / 8, none more than 10% over.
      expect(Math.max(...perSubTick)).toBeLessThanOrEqual((n / 8) * 1.1);
      expect(Math.min(...perSubTick)).toBeGreaterThanOrEqual((n / 8) * 0.9);
      expect(perSubTick.reduce((a, b) => a + b)).toBe(n);
      expect(counter.ticks.size).toBe(n); // every group exactly once per interval
    }
  });

  it('keeps a group on a fixed phase: a constant tick period', () => {
    const { ticker } = setup({ tickSpreadSlots: 4, tickIntervalMs: 100 });
    expect(ticker.subTickIntervalMs).toBe(25);
    const seen: number[][] = [];
    const target: TickTarget = { enqueue: (id) => seen[id]!.push(ticker.subTicks - 1) };
    const local = new Ticker(target, { tickSpreadSlots: 4, tickIntervalMs: 100 });
    for (let id = 0; id < 50; id++) (seen.push([]), local.add(g(id)));
    for (let i = 0; i < 40; i++) (ticker.tick(), local.tick());
    for (let id = 0; id < 50; id++) {
      const at = seen[id]!;
      expect(at.length).toBe(10);
      for (let k = 1; k < at.length; k++) expect(at[k]! - at[k - 1]!).toBe(4);
      expect(at[0]).toBe(local.phaseOf(g(id)));
    }
  });
});

describe('Ticker with Scheduler', () => {
  it('caps tick debt at tickDebtMax when the loop falls behind', () => {
    const recorder = new Recorder();
    const scheduler = new Scheduler(recorder, { tickDebtMax: 3 });
    const ticker = new Ticker(scheduler, { tickSpreadSlots: 2, tickIntervalMs: 100 });
    ticker.add(g(0));
    ticker.add(g(1));
    // Ten intervals pass and the scheduler never runs (a stalled loop).
    for (let i = 0; i < 20; i++) ticker.tick();
    expect(scheduler.pendingTicks(g(0))).toBe(3);
    expect(scheduler.pendingTicks(g(1))).toBe(3);
    expect(scheduler.stats.ticksDropped).toBe(14);
    expect(scheduler.queuedCount).toBe(2);
    scheduler.runUntilIdle();
    expect(recorder.calls.filter((c) => c === 'tick:0').length).toBe(3);
    expect(scheduler.pendingTicks(g(0))).toBe(0);
    // Caught up: one tick per interval again.
    recorder.clear();
    ticker.tick();
    ticker.tick();
    scheduler.runUntilIdle();
    expect(recorder.calls.sort()).toEqual(['tick:0', 'tick:1']);
  });

  it('accounts for every tick under random stalls: processed + owed + dropped = sent', () => {
    const op = fc.oneof(
      fc.constant({ kind: 'tick' as const, n: 1 }),
      fc.record({ kind: fc.constant('batch' as const), n: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant('quiesce' as const), n: fc.integer({ min: 0, max: 29 }) }),
      fc.record({ kind: fc.constant('wake' as const), n: fc.integer({ min: 0, max: 29 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200, size: 'max' }), (ops) => {
        let processed = 0;
        const processor = {
          processMessages: () => false,
          processTick: () => (processed++, false),
          processReady: () => {},
        };
        const scheduler = new Scheduler(processor, { tickDebtMax: 2, groupsInitial: 32 });
        let sent = 0;
        const target: TickTarget = {
          enqueue: (id, flags) => {
            sent++;
            scheduler.enqueue(id, flags);
          },
        };
        const ticker = new Ticker(target, { tickSpreadSlots: 4, tickIntervalMs: 100 });
        for (let id = 0; id < 30; id++) ticker.add(g(id));
        for (const { kind, n } of ops) {
          if (kind === 'tick') ticker.tick();
          if (kind === 'batch') scheduler.runBatch(n);
          if (kind === 'quiesce') ticker.quiesce(g(n));
          if (kind === 'wake') ticker.wake(g(n));
          let owed = 0;
          for (let id = 0; id < 30; id++) owed += scheduler.pendingTicks(g(id));
          if (processed + owed + scheduler.stats.ticksDropped !== sent) {
            expect.fail(`processed ${processed} + owed ${owed} + dropped != sent ${sent}`);
          }
          scheduler.assertInvariants();
        }
        ticker.assertInvariants();
      }),
    );
  });

  it('gives a quiesced group zero ticks end to end', () => {
    const recorder = new Recorder();
    const scheduler = new Scheduler(recorder);
    const ticker = new Ticker(scheduler);
    for (let id = 0; id < 100; id++) ticker.add(g(id));
    ticker.quiesce(g(42));
    for (let i = 0; i < 10 * ticker.config.tickSpreadSlots; i++) {
      ticker.tick();
      scheduler.runUntilIdle();
    }
    expect(recorder.calls.filter((c) => c === 'tick:42')).toEqual([]);
    expect(recorder.calls.filter((c) => c === 'tick:41').length).toBe(10);
    expect(ticker.wake(g(42))).toBe(10);
  });
});

describe('Ticker growth', () => {
  it('grows to 1,000,000 groups of which 1,000 awake; a tick visits only those', () => {
    const counter = { n: 0, enqueue: () => void counter.n++ };
    const ticker = new Ticker(counter, { groupsInitial: 16 });
    const n = 1_000_000;
    for (let id = 0; id < n; id++) ticker.add(g(id));
    for (let id = 0; id < n; id++) if (id % 1000 !== 0) ticker.quiesce(g(id));
    expect(ticker.awakeCount).toBe(1000);
    for (let i = 0; i < ticker.config.tickSpreadSlots; i++) ticker.tick();
    expect(counter.n).toBe(1000);
    // 8 bytes per group slot (capacity 2^20) plus the buckets (grown while all were awake).
    expect(ticker.memoryBytes).toBeLessThanOrEqual(8 * 2 ** 20 + 4 * 2 ** 21);
    ticker.assertInvariants();
  });
});
