/** Range ids of a node's splits: its own residue class, never an id used before. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/multiraft/index.js';
import { NodeRangeIdAllocator, RANGE_ID_STRIDE } from '../../src/node/node_ranges.js';

/** A store of node `nodeId` holding the ranges in `held` (the test changes it). */
function fakeStore(nodeId: number, held: Set<number>): Store {
  return { nodeId, forEachRange: (f: (id: number) => void) => held.forEach((id) => f(id)) } as
    unknown as Store;
}

let dir = '';
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('NodeRangeIdAllocator', () => {
  it('never hands out a bootstrap id, nor an id whose range merged away since', () => {
    const held = new Set([1, 2, 3]);
    const ids = new NodeRangeIdAllocator(fakeStore(3, held), 3, null);
    const first = ids.next();
    expect(first).toBe(RANGE_ID_STRIDE + 3);
    // Bootstrap range 3 merged away and was collected: its id does not come back.
    held.delete(3);
    const fresh = new NodeRangeIdAllocator(fakeStore(3, held), 3, null);
    expect(fresh.next()).toBe(RANGE_ID_STRIDE + 3);
    // Nor does an id this node handed out whose range is gone.
    expect(ids.next()).toBe(2 * RANGE_ID_STRIDE + 3);
  });

  it('keeps the highest id handed out across a restart, in its file', () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-ids-'));
    const file = join(dir, 'range-ids.json');
    const held = new Set([1, 2]);
    const before = new NodeRangeIdAllocator(fakeStore(2, held), 2, file);
    expect([before.next(), before.next()]).toEqual([RANGE_ID_STRIDE + 2, 2 * RANGE_ID_STRIDE + 2]);
    // Both ranges merged away and were collected before the restart.
    const after = new NodeRangeIdAllocator(fakeStore(2, held), 2, file);
    expect(after.next()).toBe(3 * RANGE_ID_STRIDE + 2);
    const forgetful = new NodeRangeIdAllocator(fakeStore(2, held), 2, null);
    expect(forgetful.next()).toBe(RANGE_ID_STRIDE + 2);
  });
});
