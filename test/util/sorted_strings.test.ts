/** `SortedStrings` against a plain sorted array, over random operations (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_KEYS_MAX, SortedStrings } from '../../src/util/index.js';

type Op = { kind: 'add' | 'delete' | 'rank'; key: string };

const keyArb = fc.integer({ min: 0, max: 3 * CHUNK_KEYS_MAX }).map((n) =>
  String(n).padStart(5, '0'));
const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Op['kind']>('add', 'add', 'add', 'delete', 'rank'), key: keyArb });

function lowerBound(keys: readonly string[], k: string): number {
  let i = 0;
  while (i < keys.length && keys[i]! < k) i++;
  return i;
}

describe('SortedStrings', () => {
  it('agrees with a sorted array on add, delete, rank, range and has', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 4000 }), keyArb, keyArb, (ops, a, b) => {
      const set = new SortedStrings();
      const model: string[] = [];
      for (const op of ops) {
        const i = lowerBound(model, op.key);
        const present = model[i] === op.key;
        if (op.kind === 'add') {
          expect(set.add(op.key)).toBe(!present);
          if (!present) model.splice(i, 0, op.key);
        } else if (op.kind === 'delete') {
          expect(set.delete(op.key)).toBe(present);
          if (present) model.splice(i, 1);
        } else {
          expect(set.rank(op.key)).toBe(i);
        }
      }
      set.assertInvariants();
      expect(set.size).toBe(model.length);
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      expect(set.range(lo, hi, 1 << 20)).toEqual(model.filter((k) => k >= lo && k < hi));
      expect(set.range(lo, null, 7)).toEqual(model.filter((k) => k >= lo).slice(0, 7));
      expect(set.countBetween(lo, hi)).toBe(model.filter((k) => k >= lo && k < hi).length);
      expect(set.has(a)).toBe(model.includes(a));
      const copy = set.clone();
      copy.add('zzzzz');
      expect(set.has('zzzzz')).toBe(false);
    }), { numRuns: 60 });
  });

  it('takes a sorted array over and refuses an unsorted one', () => {
    const keys = Array.from({ length: 3 * CHUNK_KEYS_MAX + 5 }, (_, i) =>
      String(i).padStart(5, '0'));
    const set = SortedStrings.fromSorted(keys);
    set.assertInvariants();
    expect(set.range('', null, 1 << 20)).toEqual(keys);
    expect(() => SortedStrings.fromSorted(['b', 'a'])).toThrow();
  });
});
