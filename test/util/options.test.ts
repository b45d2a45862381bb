/** The shared option checks and the seeded random source. */
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  SeededRandom,
  booleanOr,
  floatsOf,
  integerIn,
  rejectUnknownKeys,
  requiredObject,
} from '../../src/util/index.js';

describe('option checks', () => {
  it('accepts integers in range and names the option otherwise', () => {
    expect(integerIn('n', 5, 1, 5)).toBe(5);
    for (const bad of [0, 6, 1.5, '3', Number.NaN, 2 ** 53]) {
      expect(() => integerIn('n', bad, 1, 5)).toThrow(ConfigError);
    }
    expect(() => integerIn('widthPx', 9, 1, 5)).toThrow(/widthPx must be an integer in \[1, 5\]/);
  });

  it('checks booleans, unknown keys and required collaborators', () => {
    expect(booleanOr('b', undefined, true)).toBe(true);
    expect(booleanOr('b', false, true)).toBe(false);
    expect(() => booleanOr('b', 1, true)).toThrow(ConfigError);
    expect(() => rejectUnknownKeys('x', { a: 1, c: 2 }, ['a', 'b'])).toThrow(/unknown x option: c/);
    expect(() => requiredObject('t', undefined)).toThrow(ConfigError);
    expect(() => requiredObject('t', {}, 'send')).toThrow(/send\(\)/);
    const t = { send() {} };
    expect(requiredObject('t', t, 'send')).toBe(t);
  });
});

describe('SeededRandom', () => {
  it('replays from its seed and stays in range', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const xs = Array.from({ length: 100 }, () => a.intn(10));
    expect(Array.from({ length: 100 }, () => b.intn(10))).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.intn(10))).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 10)).toBe(true);
    expect(new Set(xs).size).toBe(10);
    const floats = floatsOf(new SeededRandom(1));
    for (let i = 0; i < 100; i++) {
      const f = floats();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });
});
