/** The live view's event lines (`noteEvents`) from hand-built `/status` answers. */
import { describe, expect, it } from 'vitest';
import { noteEvents } from '../../src/node/cluster_command.js';
import type { NodeStatusJson } from '../../src/node/status.js';

function status(nodeId: number, ranges: [number, number][], leaders: number, replicas: number,
  transfers: number, moves: number): NodeStatusJson {
  return {
    node: { nodeId },
    summary: { leaders, replicas },
    ranges: ranges.map(([rangeId, lead]) => ({ rangeId, lead })),
    rangeCounters: { splits: 0, merges: 0, leaseTransfers: transfers, replicaMoves: moves,
      kvServedLocally: 0, kvForwarded: 0, kvForwardsFailed: 0 },
  } as unknown as NodeStatusJson;
}

describe('noteEvents', () => {
  it('lists splits, merges, leadership transfers and replica moves once each', () => {
    const state = { primed: false, ranges: new Set<number>(), transfers: 0, moves: 0 };
    const events: string[] = [];
    noteEvents(state, [status(1, [[1, 1], [2, 2]], 1, 2, 0, 0),
      status(2, [[1, 1], [2, 2]], 1, 2, 0, 0)], events, 't0');
    expect(events).toEqual([]);
    // Range 3 appears (led by n2), range 2 goes; n1 handed one leadership over.
    noteEvents(state, [status(1, [[1, 1], [3, 0]], 0, 2, 1, 0),
      status(2, [[1, 1], [3, 2]], 2, 2, 0, 1)], events, 't1');
    expect(events).toEqual([
      't1  split: new range r3 (leader n2)',
      't1  merge: r2 merged into its left neighbour',
      't1  rebalance: 1 leadership transfer(s); leaders now n1 0, n2 2',
      't1  rebalance: 1 replica move(s); replicas now n1 2, n2 2',
    ]);
    // The same view again adds nothing; a view with a node missing is skipped.
    noteEvents(state, [status(1, [[1, 1], [3, 0]], 0, 2, 1, 0),
      status(2, [[1, 1], [3, 2]], 2, 2, 0, 1)], events, 't2');
    noteEvents(state, [status(1, [[1, 1]], 0, 1, 1, 0), null], events, 't3');
    expect(events).toHaveLength(4);
  });
});
