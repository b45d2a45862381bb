/** Split deciders: by size (bytes and keys) and by load (reservoir sampling, seeded). */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/index.js';
import {
  findSizeSplitKey,
  LoadSplitDecider,
  sizeSplitReason,
} from '../../src/range/split_decider.js';
import {
  KEY_MAX,
  keyToString,
} from '../../src/range/keys.js';
import {
  MemoryKv,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
const desc: RangeDescriptor = { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX,
  generation: 0, replicas: [{ nodeId: 1, replicaId: 1, type: ReplicaType.Voter }] };

describe('split by size', () => {
  it('splits above either threshold', () => {
    const o = { rangeBytesMax: 100, rangeKeysMax: 10 };
    expect(sizeSplitReason({ byteCount: 100, keyCount: 10 }, o)).toBeNull();
    expect(sizeSplitReason({ byteCount: 101, keyCount: 1 }, o)).toBe('bytes');
    expect(sizeSplitReason({ byteCount: 1, keyCount: 11 }, o)).toBe('keys');
  });

  it('picks the key that halves the bytes, never the range start', () => {
    const kv = new MemoryKv();
    let byteCount = 0;
    // Ten keys: k0..k4 have small values, k5..k9 none: the bytes' middle is early.
    for (let i = 0; i < 10; i++) {
      const value = new Uint8Array(i < 5 ? 20 : 0);
      kv.put(k(`k${i}`), value);
      byteCount += 2 + value.length;
    }
    const key = findSizeSplitKey(kv, desc, { keyCount: 10, byteCount });
    expect(keyToString(key!)).toBe('k3');
    const one = new MemoryKv();
    one.put(k('a'), new Uint8Array(1000));
    expect(findSizeSplitKey(one, desc, { keyCount: 1, byteCount: 1001 })).toBeUndefined();
    const two = new MemoryKv();
    two.put(k('a'), new Uint8Array(1000));
    two.put(k('b'), new Uint8Array(1));
    expect(keyToString(findSizeSplitKey(two, desc, { keyCount: 2, byteCount: 1003 })!)).toBe('b');
  });
});

/** Drives `requests` uniform point requests over `keys` at `qps`, from `startMs`. */
function drive(
  d: LoadSplitDecider, keys: string[], qps: number, durationMs: number, startMs = 0,
  pick: (i: number) => number = (i) => (i * 7919) % keys.length,
): number[] {
  const suggestions: number[] = [];
  const requests = (qps * durationMs) / 1000;
  for (let i = 0; i < requests; i++) {
    const now = startMs + (i * 1000) / qps;
    if (d.record(now, 1, k(keys[pick(i)]!))) suggestions.push(now);
  }
  return suggestions;
}

const hundredKeys = Array.from({ length: 100 }, (_, i) => `key${String(i).padStart(3, '0')}`);

describe('split by load', () => {
  it('does not sample below the threshold', () => {
    const d = new LoadSplitDecider(new SeededRandom(1), { qpsThreshold: 100 });
    expect(drive(d, hundredKeys, 50, 30_000)).toEqual([]);
    expect(d.sampling).toBe(false);
    expect(d.lastQps).toBeCloseTo(50, 0);
  });

  it('suggests a balanced key after the recording time, once per interval', () => {
    const d = new LoadSplitDecider(new SeededRandom(1), { qpsThreshold: 100,
      recordDurationMs: 5000, suggestionIntervalMs: 20_000 });
    const suggestions = drive(d, hundredKeys, 200, 45_000);
    // Sampling starts after the first full second; suggestions then come 20 s apart.
    expect(suggestions.length).toBe(2);
    expect(suggestions[0]!).toBeGreaterThanOrEqual(6000);
    expect(suggestions[1]! - suggestions[0]!).toBeGreaterThanOrEqual(20_000);
    const key = keyToString(d.splitKey()!);
    // Uniform load: the chosen key leaves between 25 and 75 % of the keys on its left.
    const left = hundredKeys.filter((s) => s < key).length;
    expect(left).toBeGreaterThan(25);
    expect(left).toBeLessThan(75);
    for (const c of d.candidates()) expect(c.left + c.right + c.contained).toBeGreaterThan(0);
  });

  it('replays exactly from its seed', () => {
    const run = (seed: number) => {
      const d = new LoadSplitDecider(new SeededRandom(seed), { qpsThreshold: 100,
        recordDurationMs: 2000 });
      drive(d, hundredKeys, 300, 8000);
      return d.candidates().map((c) => [keyToString(c.key), c.left, c.right, c.contained]);
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  it('finds no key when one key takes all the load', () => {
    const d = new LoadSplitDecider(new SeededRandom(1), { qpsThreshold: 100,
      recordDurationMs: 1000 });
    expect(drive(d, ['hot'], 500, 10_000)).toEqual([]);
    expect(d.sampling).toBe(true);
    expect(d.splitKey()).toBeUndefined();
  });

  it('avoids a key that most requests straddle', () => {
    const d = new LoadSplitDecider(new SeededRandom(2), { qpsThreshold: 10,
      recordDurationMs: 1000 });
    // Every request spans [a, z): any sampled key inside is contained by all of them.
    for (let i = 0; i < 4000; i++) d.record(i, 1, k(`m${i % 50}`), k('z'));
    for (const c of d.candidates()) expect(c.left).toBe(0);
    expect(d.splitKey()).toBeUndefined();
  });

  it('drops its samples when the load falls and after a reset', () => {
    const d = new LoadSplitDecider(new SeededRandom(1), { qpsThreshold: 100 });
    drive(d, hundredKeys, 200, 3000);
    expect(d.sampling).toBe(true);
    drive(d, hundredKeys, 20, 3000, 3000);
    expect(d.sampling).toBe(false);
    expect(d.candidates()).toEqual([]);
    drive(d, hundredKeys, 200, 3000, 6000);
    d.reset();
    expect(d.sampling).toBe(false);
  });
});
