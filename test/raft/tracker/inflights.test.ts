import { describe, expect, it } from 'vitest';
import { Inflights } from '../../../src/raft/tracker/index.js';

describe('Inflights', () => {
  it('allocates nothing before the first add, then doubles up to its size', () => {
    const in_ = new Inflights(10, 0);
    expect(in_.capacity).toBe(0);
    const capacities: number[] = [];
    for (let i = 1; i <= 10; i++) {
      in_.add(i, 1);
      capacities.push(in_.capacity);
    }
    expect(capacities).toEqual([1, 2, 4, 4, 8, 8, 8, 8, 10, 10]);
    expect(in_.full()).toBe(true);
    expect(() => in_.add(11, 1)).toThrow(/full/);
  });

  it('reset keeps the buffer and empties the window', () => {
    const in_ = new Inflights(4, 0);
    in_.add(1, 5);
    in_.add(2, 5);
    in_.reset();
    expect(in_.count()).toBe(0);
    expect(in_.bytes()).toBe(0);
    expect(in_.capacity).toBe(2);
  });

  it('frees up to an index, wrapping around the ring', () => {
    const in_ = new Inflights(10, 0);
    for (let i = 0; i < 5; i++) in_.add(i, 0);
    in_.freeLE(4);
    expect(in_.count()).toBe(0);
    // The window restarted at slot 0; fill it and wrap.
    for (let i = 5; i < 15; i++) in_.add(i, 0);
    in_.freeLE(9);
    expect(in_.count()).toBe(5);
    for (let i = 15; i < 20; i++) in_.add(i, 0); // wraps past slot 9
    expect(in_.full()).toBe(true);
    in_.freeLE(14);
    expect(in_.count()).toBe(5);
    in_.freeLE(3); // stale: below the oldest index
    expect(in_.count()).toBe(5);
    in_.freeLE(19);
    expect(in_.count()).toBe(0);
    expect(in_.full()).toBe(false);
  });

  it('limits by bytes', () => {
    const in_ = new Inflights(10, 100);
    in_.add(1, 40);
    in_.add(2, 40);
    expect(in_.full()).toBe(false);
    in_.add(3, 20);
    expect(in_.full()).toBe(true);
    expect(in_.bytes()).toBe(100);
    in_.freeLE(1);
    expect(in_.bytes()).toBe(60);
    expect(in_.full()).toBe(false);
    // One message may overshoot the limit; after it the window is full.
    in_.add(4, 500);
    expect(in_.full()).toBe(true);
    expect(new Inflights(10, Infinity).full()).toBe(false);
  });

  it('clone shares no memory', () => {
    const a = new Inflights(4, 0);
    const empty = a.clone();
    expect(empty.capacity).toBe(0);
    a.add(1, 1);
    const b = a.clone();
    b.add(2, 1);
    expect(a.count()).toBe(1);
    expect(b.count()).toBe(2);
    a.freeLE(1);
    expect(b.count()).toBe(2);
  });
});
