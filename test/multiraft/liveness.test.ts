/** Node liveness as one store sees it, and the virtual clock the harness runs on. */
import { describe, expect, it } from 'vitest';
import { NodeLiveness, type LivenessChange } from '../../src/multiraft/index.js';
import { VirtualClock } from '../../src/util/index.js';

describe('NodeLiveness', () => {
  it('reports a peer down after the timeout and up again when heard from', () => {
    const liveness = new NodeLiveness(1, 5);
    const changes: LivenessChange[] = [];
    liveness.addPeer(2, 0);
    liveness.addPeer(1, 0); // itself: never a peer
    expect(liveness.nodeIds).toEqual([2]);
    liveness.update(5, changes);
    expect(changes).toEqual([]);
    liveness.update(6, changes);
    expect(changes).toEqual([{ nodeId: 2, live: false }]);
    expect(liveness.isLive(2)).toBe(false);
    liveness.update(7, changes);
    expect(changes).toEqual([]);
    liveness.heardFrom(2, 8);
    liveness.update(8, changes);
    expect(changes).toEqual([{ nodeId: 2, live: true }]);
    expect(liveness.isLive(1) && liveness.isLive(99)).toBe(true);
  });
});

describe('VirtualClock', () => {
  it('fires timers in time order, then in the order they were set', () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimer(10, () => fired.push('b'));
    clock.setTimer(0, () => {
      fired.push('a');
      clock.setTimer(0, () => fired.push('a2'));
    });
    const cleared = clock.setTimer(5, () => fired.push('never'));
    clock.setTimer(10, () => fired.push('c'));
    clock.clearTimer(cleared);
    expect(clock.runDue()).toBe(2);
    expect(fired).toEqual(['a', 'a2']);
    clock.advance(9);
    expect(fired).toEqual(['a', 'a2']);
    clock.advance(1);
    expect(fired).toEqual(['a', 'a2', 'b', 'c']);
    expect(clock.nowMs()).toBe(10);
  });
});
