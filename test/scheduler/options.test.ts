import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/util/index.js';
import {
  GROUP_ID_LIMIT,
  Scheduler,
  TICK_DEBT_LIMIT,
  Ticker,
  resolveSchedulerOptions,
  resolveTickerOptions,
  toGroupId,
} from '../../src/scheduler/index.js';
import { Recorder } from './_helpers.js';

describe('scheduler options', () => {
  it('applies documented defaults', () => {
    const config = resolveSchedulerOptions();
    expect(config).toMatchObject({
      batchBudgetMs: 10,
      batchGroupsMax: 4096,
      tickDebtMax: 3,
      groupIdsMax: 1 << 24,
      groupsInitial: 1024,
    });
    expect(typeof config.clock.nowMs()).toBe('number');
    expect(config.onBatchEnd).toBeUndefined();
  });

  it.each([
    ['batchBudgetMs', 0],
    ['batchBudgetMs', -1],
    ['batchBudgetMs', Number.NaN],
    ['batchBudgetMs', Number.POSITIVE_INFINITY],
    ['batchBudgetMs', '5'],
    ['batchGroupsMax', 0],
    ['batchGroupsMax', 1.5],
    ['tickDebtMax', 0],
    ['tickDebtMax', TICK_DEBT_LIMIT + 1],
    ['groupIdsMax', 0],
    ['groupIdsMax', GROUP_ID_LIMIT + 1],
    ['groupsInitial', 0],
    ['clock', 5],
    ['onBatchEnd', 'flush'],
    ['batchBudgetMS', 5], // a typo is an unknown option
  ])('rejects %s = %s with ConfigError', (key, value) => {
    const options = { [key]: value } as never;
    expect(() => resolveSchedulerOptions(options)).toThrow(ConfigError);
    expect(() => new Scheduler(new Recorder(), options)).toThrow(ConfigError);
    try {
      resolveSchedulerOptions(options);
    } catch (error) {
      expect((error as ConfigError).code).toBe('ERR_CONFIG');
    }
  });

  it('rejects groupsInitial above groupIdsMax', () => {
    expect(() => resolveSchedulerOptions({ groupIdsMax: 10, groupsInitial: 11 })).toThrow(
      ConfigError,
    );
    expect(resolveSchedulerOptions({ groupIdsMax: 10 }).groupsInitial).toBe(10);
  });
});

describe('ticker options', () => {
  it('applies documented defaults', () => {
    expect(resolveTickerOptions()).toMatchObject({
      tickIntervalMs: 200,
      tickSpreadSlots: 4,
      sleptTicksMax: 100,
    });
    expect(new Ticker({ enqueue: () => {} }).subTickIntervalMs).toBe(50);
  });

  it.each([
    ['tickIntervalMs', 0],
    ['tickIntervalMs', 2.5],
    ['tickSpreadSlots', 0],
    ['tickSpreadSlots', 3], // does not divide 200
    ['tickSpreadSlots', 2048],
    ['sleptTicksMax', -1],
    ['groupIdsMax', -5],
    ['tickInterval', 100],
  ])('rejects %s = %s with ConfigError', (key, value) => {
    const options = { [key]: value } as never;
    expect(() => resolveTickerOptions(options)).toThrow(ConfigError);
    expect(() => new Ticker({ enqueue: () => {} }, options)).toThrow(ConfigError);
  });

  it('accepts one slot (no spread) and sub-ticks of 1 ms', () => {
    expect(resolveTickerOptions({ tickSpreadSlots: 1 }).tickSpreadSlots).toBe(1);
    expect(new Ticker({ enqueue: () => {} }, { tickIntervalMs: 8, tickSpreadSlots: 8 })
      .subTickIntervalMs).toBe(1);
  });
});

describe('toGroupId', () => {
  it('brands non-negative int32 values and rejects the rest', () => {
    expect(toGroupId(0)).toBe(0);
    expect(toGroupId(GROUP_ID_LIMIT - 1)).toBe(GROUP_ID_LIMIT - 1);
    for (const bad of [-1, 1.5, Number.NaN, GROUP_ID_LIMIT]) {
      expect(() => toGroupId(bad)).toThrow();
    }
  });
});
