/** The store's range id -> slot hash table, against a Map under random operations. */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/util/index.js';
import { toGroupId } from '../../src/scheduler/index.js';
import { RangeIndex } from '../../src/multiraft/_range_index.js';

describe('RangeIndex', () => {
  it('agrees with a Map through inserts, deletes and growth', () => {
    const random = new SeededRandom(9);
    const index = new RangeIndex();
    const model = new Map<number, number>();
    // Keys from a small space (many collisions and deletions in runs) and a large one.
    const key = (): number => random.intn(2) === 0 ? 1 + random.intn(5000)
      : 1 + random.intn(2 ** 32 - 1);
    for (let op = 0; op < 8000; op++) {
      const k = key();
      if (model.has(k) || random.intn(3) === 0) {
        expect(index.delete(k)).toBe(model.delete(k));
      } else {
        index.set(k, toGroupId(op % 100_000));
        model.set(k, op % 100_000);
      }
      if (op % 2000 === 0) {
        for (const [mk, slot] of model) expect(index.get(mk)).toBe(slot);
      }
      expect(index.size).toBe(model.size);
    }
    for (const [mk, slot] of model) expect(index.get(mk)).toBe(slot);
    for (let i = 0; i < 1000; i++) {
      const k = key();
      expect(index.has(k)).toBe(model.has(k));
    }
  });

  it('finds nothing for values that are not range ids', () => {
    const index = new RangeIndex();
    index.set(1, toGroupId(3));
    for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 32, 2 ** 40]) {
      expect(index.get(bad)).toBeUndefined();
    }
    expect(index.get(1)).toBe(3);
  });
});
