import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AssertionError, systemClock } from '../../src/util/index.js';
import { BUDGET_CHECK_GROUPS, BatchStop, Scheduler, WorkFlag } from '../../src/scheduler/index.js';
import { FakeClock, Recorder, g } from './_helpers.js';

const { Message, Tick, Ready } = WorkFlag;

function setup(options: ConstructorParameters<typeof Scheduler>[1] = {}) {
  const recorder = new Recorder();
  const clock = new FakeClock();
  const scheduler = new Scheduler(recorder,
    { clock: { ...systemClock, nowMs: clock.read }, ...options });
  return { recorder, clock, scheduler };
}

describe('Scheduler queueing', () => {
  it('queues a group once however many flags arrive', () => {
    const { recorder, scheduler } = setup();
    for (let i = 0; i < 100; i++) {
      scheduler.enqueue(g(7), Message);
      scheduler.enqueue(g(7), Ready);
    }
    expect(scheduler.queuedCount).toBe(1);
    expect(scheduler.pendingFlags(g(7))).toBe(Message | Ready);
    scheduler.assertInvariants();
    expect(scheduler.runUntilIdle()).toBe(1);
    expect(recorder.calls).toEqual(['msg:7', 'ready:7']);
    expect(scheduler.isQueued(g(7))).toBe(false);
    scheduler.assertInvariants();
  });

  it('runs messages, then each owed tick, then ready', () => {
    const { recorder, scheduler } = setup({ tickDebtMax: 5 });
    // Enqueued in the "wrong" order on purpose.
    scheduler.enqueue(g(1), Ready);
    scheduler.enqueue(g(1), Tick);
    scheduler.enqueue(g(1), Tick);
    scheduler.enqueue(g(1), Message);
    scheduler.runUntilIdle();
    expect(recorder.calls).toEqual(['msg:1', 'tick:1', 'tick:1', 'ready:1']);
  });

  it('runs ready only if messages or a tick ask for it', () => {
    const { recorder, scheduler } = setup();
    recorder.hooks.onTick = (id) => id === 2;
    recorder.hooks.onMessages = (id) => id === 3;
    scheduler.enqueue(g(1), Tick | Message);
    scheduler.enqueue(g(2), Tick);
    scheduler.enqueue(g(3), Message);
    scheduler.runUntilIdle();
    expect(recorder.calls).toEqual(['msg:1', 'tick:1', 'tick:2', 'ready:2', 'msg:3', 'ready:3']);
  });

  it('re-queues at the back a group that receives flags while it is processed', () => {
    const { recorder, scheduler } = setup();
    let again = true;
    recorder.hooks.onMessages = (id) => {
      if (id === 1 && again) {
        again = false;
        scheduler.enqueue(g(1), Ready); // arrives mid-turn: must not be lost
        expect(scheduler.queuedCount).toBe(1); // not pushed a second time now (only 2 waits)
        scheduler.assertInvariants();
      }
      return false;
    };
    scheduler.enqueue(g(1), Message);
    scheduler.enqueue(g(2), Message);
    scheduler.runUntilIdle();
    expect(recorder.calls).toEqual(['msg:1', 'msg:2', 'ready:1']);
    expect(scheduler.stats.requeues).toBe(1);
    scheduler.assertInvariants();
  });

  it('is fair: a hot group that re-enqueues itself cannot starve the others', () => {
    const { recorder, scheduler } = setup();
    const others = 50;
    recorder.hooks.onMessages = (id) => {
      if (id === 0) scheduler.enqueue(g(0), Message); // always hot
      return false;
    };
    scheduler.enqueue(g(0), Message);
    for (let id = 1; id <= others; id++) scheduler.enqueue(g(id), Message);
    // One pass over the queue: every queued group runs exactly once, the hot one included.
    expect(scheduler.runBatch(others + 1)).toBe(others + 1);
    const ids = recorder.messageIds();
    expect(ids[0]).toBe(0);
    expect(new Set(ids).size).toBe(others + 1);
    expect(scheduler.stats.lastBatchStop).toBe(BatchStop.GroupsMax);
    // The hot group is still queued, at the back; the next pass runs it once more.
    expect(scheduler.queuedCount).toBe(1);
    expect(scheduler.isQueued(g(0))).toBe(true);
    scheduler.assertInvariants();
  });

  it('runs every queued group exactly once per pass, whatever the hot set', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        (ids, hotFlags) => {
          const { recorder, scheduler } = setup();
          const hot = new Set(ids.filter((_, i) => hotFlags[i]));
          recorder.hooks.onMessages = (id) => {
            if (hot.has(id)) scheduler.enqueue(id, Message);
            return false;
          };
          for (const id of ids) scheduler.enqueue(g(id), Message);
          for (let pass = 0; pass < 3; pass++) {
            recorder.clear();
            const queued = scheduler.queuedCount;
            expect(queued).toBe(pass === 0 ? ids.length : hot.size);
            if (queued === 0) break;
            expect(scheduler.runBatch(queued)).toBe(queued);
            const ran = recorder.messageIds();
            expect(new Set(ran).size).toBe(ran.length); // nobody twice in one pass
            // First pass: everyone; later passes: exactly the hot groups, in the same order.
            expect(ran).toEqual(pass === 0 ? ids : ids.filter((id) => hot.has(id)));
          }
        },
      ),
    );
  });

  it('drains the priority lane first', () => {
    const { recorder, scheduler } = setup();
    scheduler.setPriority(g(9), true);
    scheduler.setPriority(g(8), true);
    for (const id of [1, 2, 9, 3, 8]) scheduler.enqueue(g(id), Message);
    scheduler.runUntilIdle();
    expect(recorder.messageIds()).toEqual([9, 8, 1, 2, 3]);
    expect(scheduler.isPriority(g(9))).toBe(true);
    scheduler.setPriority(g(9), false);
    expect(scheduler.isPriority(g(9))).toBe(false);
  });

  it('lets a hot priority group run once per batch, not ahead of everything forever', () => {
    const { recorder, scheduler } = setup();
    scheduler.setPriority(g(100), true);
    recorder.hooks.onMessages = (id) => {
      if (id === 100) scheduler.enqueue(g(100), Message);
      return false;
    };
    scheduler.enqueue(g(100), Message);
    for (let id = 1; id <= 5; id++) scheduler.enqueue(g(id), Message);
    scheduler.runBatch(6);
    expect(recorder.messageIds()).toEqual([100, 1, 2, 3, 4, 5]);
    recorder.clear();
    scheduler.runBatch(1);
    expect(recorder.messageIds()).toEqual([100]);
  });
});

describe('Scheduler batches', () => {
  it('stops a batch when the time budget is spent and resumes in the next', () => {
    const { recorder, clock, scheduler } = setup({ batchBudgetMs: 5 });
    recorder.hooks.onMessages = () => {
      clock.nowMs += 1;
      return false;
    };
    for (let id = 0; id < 40; id++) scheduler.enqueue(g(id), Message);
    // The clock is read after the first group (1 < 5 ms: keep going), then after every
    // BUDGET_CHECK_GROUPS groups: after the 16th, 16 >= 5 ms: stop.
    expect(scheduler.runBatch()).toBe(BUDGET_CHECK_GROUPS);
    expect(scheduler.stats.lastBatchStop).toBe(BatchStop.Budget);
    expect(recorder.messageIds()).toEqual([...Array(16).keys()]);
    expect(scheduler.runBatch()).toBe(16);
    expect(recorder.messageIds()).toEqual([...Array(32).keys()]);
    expect(scheduler.runUntilIdle()).toBe(8);
    expect(recorder.messageIds()).toEqual([...Array(40).keys()]);
    expect(scheduler.stats.batchesStoppedByBudget).toBe(2);
  });

  it('always runs at least one group even if it alone overruns the budget', () => {
    const { recorder, clock, scheduler } = setup({ batchBudgetMs: 1 });
    recorder.hooks.onMessages = () => {
      clock.nowMs += 100;
      return false;
    };
    scheduler.enqueue(g(0), Message);
    scheduler.enqueue(g(1), Message);
    expect(scheduler.runBatch()).toBe(1);
    expect(scheduler.runBatch()).toBe(1);
    expect(scheduler.hasWork).toBe(false);
  });

  it('stops a batch at batchGroupsMax', () => {
    const { scheduler } = setup({ batchGroupsMax: 4 });
    for (let id = 0; id < 10; id++) scheduler.enqueue(g(id), Message);
    expect(scheduler.runBatch()).toBe(4);
    expect(scheduler.stats.lastBatchStop).toBe(BatchStop.GroupsMax);
    expect(scheduler.runUntilIdle()).toBe(6);
    expect(scheduler.stats.batches).toBe(3);
    expect(scheduler.stats.lastBatchStop).toBe(BatchStop.Idle);
  });

  it('calls onBatchEnd once per non-empty batch, after the last ready', () => {
    const events: string[] = [];
    const recorder = new Recorder();
    recorder.hooks.onMessages = () => true;
    recorder.hooks.onReady = (id) => events.push(`ready:${id}`);
    const scheduler = new Scheduler(recorder, {
      batchGroupsMax: 2,
      onBatchEnd: (n) => {
        events.push(`end:${n}`);
      },
    });
    expect(scheduler.runBatch()).toBe(0);
    expect(events).toEqual([]); // an empty batch writes nothing
    for (let id = 0; id < 3; id++) scheduler.enqueue(g(id), Message);
    scheduler.runUntilIdle();
    expect(events).toEqual(['ready:0', 'ready:1', 'end:2', 'ready:2', 'end:1']);
  });

  it('rejects a promise from onBatchEnd in synchronous mode', () => {
    const scheduler = new Scheduler(new Recorder(), { onBatchEnd: async () => {} });
    scheduler.enqueue(g(0), Message);
    expect(() => scheduler.runBatch()).toThrow(AssertionError);
  });

  it('rejects a batch started from inside a batch', () => {
    const { recorder, scheduler } = setup();
    recorder.hooks.onMessages = () => {
      scheduler.runBatch();
      return false;
    };
    scheduler.enqueue(g(0), Message);
    expect(() => scheduler.runBatch()).toThrow(/inside a batch/);
  });

  it('catches a livelock in runUntilIdle', () => {
    const { recorder, scheduler } = setup({ batchGroupsMax: 1 });
    recorder.hooks.onMessages = (id) => {
      scheduler.enqueue(id, Message);
      return false;
    };
    scheduler.enqueue(g(0), Message);
    expect(() => scheduler.runUntilIdle(10)).toThrow(/livelock/);
  });

  it('rejects bad ids and flags', () => {
    const { scheduler } = setup({ groupIdsMax: 100 });
    expect(() => scheduler.enqueue(g(1), 0)).toThrow(AssertionError);
    expect(() => scheduler.enqueue(g(1), 8)).toThrow(AssertionError);
    expect(() => scheduler.enqueue(-1 as never, Message)).toThrow(AssertionError);
    expect(() => scheduler.enqueue(1.5 as never, Message)).toThrow(AssertionError);
    expect(() => scheduler.enqueue(g(100), Message)).toThrow(/groupIdsMax/);
  });
});

describe('Scheduler growth', () => {
  it('grows to 1,000,000 group ids at two bytes per group', () => {
    const { recorder, scheduler } = setup({ groupsInitial: 16, batchGroupsMax: 1 << 20 });
    const n = 1_000_000;
    let processed = 0;
    recorder.processMessages = () => {
      processed++;
      return false;
    };
    for (let id = 0; id < n; id += 1) scheduler.enqueue(g(id), Message);
    scheduler.enqueue(g(n - 1), Ready);
    expect(scheduler.queuedCount).toBe(n);
    // flags + ticks: 2 bytes per slot (capacity 2^20), plus the ring of 2^20 int32 ids.
    expect(scheduler.memoryBytes).toBeLessThanOrEqual(2 * 2 ** 20 + 4 * 2 ** 20 + 4 * 64);
    scheduler.assertInvariants();
    expect(scheduler.runUntilIdle()).toBe(n);
    expect(processed).toBe(n);
    scheduler.assertInvariants();
  });
});

describe('Scheduler async mode', () => {
  const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('schedules itself only when there is work and yields to I/O between batches', async () => {
    const order: string[] = [];
    const recorder = new Recorder();
    recorder.hooks.onMessages = (id) => {
      order.push(`g${id}`);
      return false;
    };
    const scheduler = new Scheduler(recorder, {
      batchGroupsMax: 2,
      onBatchEnd: () => {
        order.push('end');
      },
    });
    scheduler.start();
    expect(scheduler.isScheduled).toBe(false); // idle: nothing scheduled
    for (let id = 0; id < 5; id++) scheduler.enqueue(g(id), Message);
    expect(scheduler.isScheduled).toBe(true);
    // Something that wants to run between batches (stands for an I/O callback).
    setImmediate(() => order.push('io'));
    for (let i = 0; i < 5; i++) await nextImmediate();
    expect(order.slice(0, 4)).toEqual(['g0', 'g1', 'end', 'io']);
    expect(order.filter((e) => e.startsWith('g'))).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
    expect(scheduler.hasWork).toBe(false);
    expect(scheduler.isScheduled).toBe(false); // idle again: no busy loop
    await scheduler.stop();
  });

  it('waits for an async onBatchEnd before the next batch', async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    const recorder = new Recorder();
    recorder.hooks.onMessages = (id) => {
      order.push(`g${id}`);
      return false;
    };
    const scheduler = new Scheduler(recorder, {
      batchGroupsMax: 1,
      onBatchEnd: () =>
        new Promise<void>((resolve) => {
          order.push('write');
          release = resolve;
        }),
    });
    scheduler.enqueue(g(0), Message);
    scheduler.enqueue(g(1), Message);
    scheduler.start();
    for (let i = 0; i < 5; i++) await nextImmediate();
    expect(order).toEqual(['g0', 'write']);
    expect(scheduler.isScheduled).toBe(false);
    release();
    for (let i = 0; i < 5; i++) await nextImmediate();
    expect(order).toEqual(['g0', 'write', 'g1', 'write']);
    release();
    await scheduler.stop();
  });

  it('stop() cancels the scheduled batch and keeps the queue', async () => {
    const { recorder, scheduler } = setup();
    scheduler.start();
    scheduler.enqueue(g(3), Message);
    expect(scheduler.isScheduled).toBe(true);
    await scheduler.stop();
    expect(scheduler.isScheduled).toBe(false);
    await nextImmediate();
    expect(recorder.calls).toEqual([]);
    expect(scheduler.queuedCount).toBe(1);
    scheduler.runUntilIdle();
    expect(recorder.calls).toEqual(['msg:3']);
  });
});

/**
 * A naive scheduler: JS arrays and Maps, no bits. It states the rules in the plainest way
 * (priority groups queued at batch start first, FIFO, one entry per group, re-queue at the
 * back, owed ticks capped) and produces the calls the real one must make.
 */
class NaiveScheduler {
  readonly calls: string[] = [];
  private readonly priorityQueue: number[] = [];
  private readonly normalQueue: number[] = [];
  private readonly work = new Map<number, { flags: number; ticks: number }>();
  private readonly priority = new Set<number>();
  private running = -1;

  constructor(
    private readonly tickDebtMax: number,
    private readonly hot: number,
  ) {}

  setPriority(id: number): void {
    this.priority.add(id);
  }

  enqueue(id: number, flags: number): void {
    const queued = this.work.has(id);
    const w = this.work.get(id) ?? { flags: 0, ticks: 0 };
    w.flags |= flags;
    if (flags & Tick) w.ticks = Math.min(w.ticks + 1, this.tickDebtMax);
    this.work.set(id, w);
    if (queued || this.running === id) return;
    (this.priority.has(id) ? this.priorityQueue : this.normalQueue).push(id);
  }

  batch(max: number): number {
    let quota = this.priorityQueue.length;
    let n = 0;
    while (n < max && this.priorityQueue.length + this.normalQueue.length > 0) {
      let id: number;
      if (quota > 0) {
        quota--;
        id = this.priorityQueue.shift()!;
      } else {
        id = (this.normalQueue.length > 0 ? this.normalQueue : this.priorityQueue).shift()!;
      }
      this.turn(id);
      n++;
    }
    return n;
  }

  private turn(id: number): void {
    const w = this.work.get(id)!;
    this.work.delete(id);
    this.running = id;
    if (w.flags & Message) {
      this.calls.push(`msg:${id}`);
      if (id === this.hot) this.enqueue(id, Tick);
    }
    for (let t = 0; t < w.ticks; t++) this.calls.push(`tick:${id}`);
    if (w.flags & Ready) this.calls.push(`ready:${id}`);
    this.running = -1;
    if (this.work.has(id)) {
      (this.priority.has(id) ? this.priorityQueue : this.normalQueue).push(id);
    }
  }
}

describe('Scheduler model check', () => {
  it('makes the same calls as a naive scheduler under random operations', () => {
    // Few ids and more enqueues than batches, so queues build up and batches end early.
    const id = fc.integer({ min: 0, max: 12 });
    const op = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('enqueue' as const),
          id,
          flags: fc.integer({ min: 1, max: 7 }),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('batch' as const),
          max: fc.integer({ min: 1, max: 4 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('priority' as const), id }) },
    );
    // size 'max': fast-check's default arrays are too short to build up a queue.
    const ops = fc.array(op, { maxLength: 200, size: 'max' });
    fc.assert(
      fc.property(ops, fc.integer({ min: 0, max: 12 }), (ops, hot) => {
        const { recorder, scheduler } = setup({ tickDebtMax: 2, groupsInitial: 4 });
        const model = new NaiveScheduler(2, hot);
        recorder.hooks.onMessages = (id) => {
          if (id === hot) scheduler.enqueue(id, Tick);
          return false;
        };
        for (const o of ops) {
          if (o.kind === 'enqueue') {
            scheduler.enqueue(g(o.id), o.flags);
            model.enqueue(o.id, o.flags);
          } else if (o.kind === 'priority') {
            scheduler.setPriority(g(o.id), true);
            model.setPriority(o.id);
          } else {
            expect(scheduler.runBatch(o.max)).toBe(model.batch(o.max));
          }
          scheduler.assertInvariants();
        }
        expect(recorder.calls).toEqual(model.calls);
      }),
      { numRuns: 300 },
    );
  });
});
