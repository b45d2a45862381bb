/** The routing cache: lookups, corrections by the replicas' answers, its bound. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KEY_MAX,
  mergeDescriptors,
  ReplicaType,
  RoutingCache,
  splitDescriptor,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';

const k = (s: string) => new TextEncoder().encode(s);
const whole: RangeDescriptor = {
  rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX, generation: 0,
  replicas: [1, 2, 3].map((n) => ({ nodeId: n, replicaId: n, type: ReplicaType.Voter })),
};

describe('RoutingCache', () => {
  it('is corrected by a key mismatch after a split and by a not-leader answer', () => {
    const cache = new RoutingCache();
    cache.insert(whole, 1);
    expect(cache.lookup(k('x'))!.descriptor.rangeId).toBe(2);
    const { left, right } = splitDescriptor(whole, k('m'), 3);
    // The replica of range 2 answers "range key mismatch" with its new descriptor.
    expect(cache.insert(left)).toBe(true);
    expect(cache.lookup(k('x'))).toBeUndefined();
    expect(cache.lookup(k('a'))!.descriptor.generation).toBe(1);
    cache.insert(right, 3);
    expect(cache.lookup(k('x'))!.descriptor.rangeId).toBe(3);
    expect(cache.lookup(k('x'))!.leaderNodeId).toBe(3);
    cache.noteLeader(3, 2);
    expect(cache.lookup(k('x'))!.leaderNodeId).toBe(2);
    cache.assertInvariants();
  });

  it('never lets a stale descriptor replace a newer one', () => {
    const cache = new RoutingCache();
    const { left, right } = splitDescriptor(whole, k('m'), 3);
    cache.insert(left);
    cache.insert(right);
    expect(cache.insert(whole)).toBe(false);
    expect(cache.lookup(k('x'))!.descriptor.rangeId).toBe(3);
    const merged = mergeDescriptors(left, right);
    expect(cache.insert(merged)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('keeps spans disjoint and sorted under random splits and merges, within its bound', () => {
    const step = fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3 }));
    fc.assert(fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const cache = new RoutingCache(8);
      const ranges = [whole];
      let nextId = 3;
      for (const [pick, key] of steps) {
        const i = pick % ranges.length;
        const d = ranges[i]!;
        const splitKey = new Uint8Array([0x01, ...key]);
        if (pick % 3 !== 0 || ranges.length === 1) {
          try {
            const { left, right } = splitDescriptor(d, splitKey, nextId++);
            ranges.splice(i, 1, left, right);
          } catch {
            continue;
          }
        } else {
          const j = i === ranges.length - 1 ? i - 1 : i;
          const merged = mergeDescriptors(ranges[j]!, ranges[j + 1]!);
          ranges.splice(j, 2, merged);
        }
        for (const r of ranges) if (pick % 2 === 0) cache.insert(r);
        cache.assertInvariants();
        expect(cache.size).toBeLessThanOrEqual(8);
      }
      for (const r of ranges) cache.insert(r);
      const hit = cache.lookup(ranges[ranges.length - 1]!.startKey)!;
      expect(hit.descriptor.rangeId).toBe(ranges[ranges.length - 1]!.rangeId);
    }));
  });
});
