import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/raft/index.js';
import { EventQueue, TraceHash } from './events.js';
import { SimNetwork, reliableFaults } from './network.js';

describe('virtual time', () => {
  it('pops events by time, ties in scheduling order, and never goes back', () => {
    const q = new EventQueue<string>();
    q.after(5, 'c');
    q.after(1, 'a');
    q.after(5, 'd');
    q.after(1, 'b');
    q.at(3, 'm');
    const out: string[] = [];
    const times: number[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) {
      out.push(e);
      times.push(q.now);
      if (e === 'm') q.after(0, 'm2'); // same time, after what is already due then
    }
    expect(out).toEqual(['a', 'b', 'm', 'm2', 'c', 'd']);
    expect(times).toEqual([1, 1, 3, 3, 5, 5]);
    expect(() => q.at(4, 'past')).toThrow(/past/);
  });

  it('orders many random events like a stable sort', () => {
    const rng = new SeededRandom(3);
    const q = new EventQueue<number>();
    const due: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const t = rng.intn(100);
      q.at(t, i);
      due.push([t, i]);
    }
    due.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const out: number[] = [];
    for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e);
    expect(out).toEqual(due.map((d) => d[1]));
  });

  it('hashes traces: same input, same digest; any change, another digest', () => {
    const a = new TraceHash();
    const b = new TraceHash();
    const c = new TraceHash();
    for (const x of [1, 2, 3, 2 ** 40]) {
      a.add(x);
      b.add(x);
    }
    for (const x of [1, 2, 3, 2 ** 40 + 1]) c.add(x);
    expect(a.digest()).toBe(b.digest());
    expect(c.digest()).not.toBe(a.digest());
  });
});

describe('simulated network', () => {
  it('cuts links one way or both ways, and heals', () => {
    const net = new SimNetwork(new SeededRandom(1), reliableFaults());
    net.cutOneWay(1, 2);
    expect(net.connected(1, 2)).toBe(false);
    expect(net.connected(2, 1)).toBe(true);
    expect(net.fate(1, 2)).toEqual({ delaysMs: [], dropped: 'partition' });
    net.partition([1, 3], [2, 4]);
    expect(net.connected(3, 4)).toBe(false);
    expect(net.connected(4, 3)).toBe(false);
    expect(net.connected(1, 3)).toBe(true);
    net.isolate(5, [1, 2, 3, 4, 5]);
    expect(net.connected(5, 1) || net.connected(2, 5)).toBe(false);
    net.heal();
    expect(net.cutLinks).toBe(0);
    expect(net.connected(1, 2)).toBe(true);
  });

  it('drops, duplicates and delays at the configured rates, from the seed alone', () => {
    const faults = {
      dropRate: 0.2, duplicateRate: 0.1, delayMsMin: 2, delayMsMax: 9,
      spikeRate: 0.05, spikeDelayMsMax: 200,
    };
    const fates = (seed: number) => {
      const net = new SimNetwork(new SeededRandom(seed), faults);
      return Array.from({ length: 5000 }, () => net.fate(1, 2));
    };
    const a = fates(9);
    expect(fates(9)).toEqual(a);
    const dropped = a.filter((f) => f.dropped === 'loss').length / a.length;
    const duplicated = a.filter((f) => f.delaysMs.length === 2).length / a.length;
    const delays = a.flatMap((f) => f.delaysMs);
    expect(dropped).toBeGreaterThan(0.17);
    expect(dropped).toBeLessThan(0.23);
    expect(duplicated).toBeGreaterThan(0.06);
    expect(duplicated).toBeLessThan(0.1);
    expect(Math.min(...delays)).toBe(2);
    expect(Math.max(...delays)).toBeGreaterThan(9); // spikes
    expect(Math.max(...delays)).toBeLessThanOrEqual(200);
  });
});
