/**
 * The ranges a new cluster starts with, and where a node's splits get their range ids.
 *
 * Bootstrap (`--ranges N`): the meta range (id 1) and N-1 user ranges (ids 2..N) that tile
 * the user key space, split at keys spread evenly over its first three bytes, each with
 * every initial member as a voter. Every member computes the same descriptors from the
 * identity file, so nothing is exchanged to agree on them.
 *
 * Range ids of splits: across processes no shared counter exists (the meta range does not
 * hand out ids yet), so a node takes ids of its own residue class: the smallest id above
 * the bootstrap ranges' ids, every range it holds and every id it ever handed out,
 * congruent to its node id modulo `RANGE_ID_STRIDE`. Two nodes never take the same id while
 * their node ids differ modulo the stride. An id is never taken twice by one node, even
 * after the range it named merged away and was collected: the highest id handed out is
 * written to the data directory (`range-ids.json`, replaced atomically) before it is used,
 * and read back at start. (A node restarted without its data directory starts over from the
 * ranges it relearns; a merged-away id of its class could then come back: not handled.)
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { assert } from '../util/index.js';
import type { Store } from '../multiraft/index.js';
import {
  KEY_MAX,
  META_KEY_MAX,
  META_KEY_MIN,
  META_RANGE_ID,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
  type RangeIdAllocator,
} from '../range/index.js';

/** Node ids of one cluster must differ modulo this for their splits' range ids to differ. */
export const RANGE_ID_STRIDE = 1024;

/** Most user ranges a bootstrap spreads over three key bytes. */
const SPREAD_MAX = 0xfe_ffff - 0x01_0000;

/** The descriptors of a new cluster of `ranges` ranges over `voters` (see the file header). */
export function bootstrapDescriptors(ranges: number, voters: readonly number[]):
  RangeDescriptor[] {
  assert(Number.isSafeInteger(ranges) && ranges >= 0 && ranges - 1 <= SPREAD_MAX, 'ranges');
  assert(voters.length > 0, 'a range has voters');
  const replicas = [...voters].sort((a, b) => a - b).map((nodeId) => ({ nodeId,
    replicaId: nodeId, type: ReplicaType.Voter }));
  if (ranges === 0) return [];
  const out: RangeDescriptor[] = [{ rangeId: META_RANGE_ID, startKey: META_KEY_MIN,
    endKey: META_KEY_MAX, generation: 0, replicas }];
  const users = ranges - 1;
  let start = USER_KEY_MIN;
  for (let i = 1; i <= users; i++) {
    const end = i === users ? KEY_MAX : splitPoint(i, users);
    out.push({ rangeId: META_RANGE_ID + i, startKey: start, endKey: end, generation: 0,
      replicas });
    start = end;
  }
  assert(out.length === ranges, 'one descriptor per range');
  return out;
}

/** The i-th of `n - 1` split keys: three bytes, spread evenly over 0x010000..0xfeffff. */
function splitPoint(i: number, n: number): Uint8Array {
  const v = 0x01_0000 + Math.floor(i * SPREAD_MAX / n);
  assert(v > 0x01_0000 && v < 0xff_0000, 'a split point inside the user key space');
  return Uint8Array.of(v >>> 16, (v >>> 8) & 0xff, v & 0xff);
}

/** Range ids of one node's splits (see the file header). */
export class NodeRangeIdAllocator implements RangeIdAllocator {
  private last: number;

  /**
   * `floor`: the highest bootstrap range id; `file`: where the highest id handed out is kept
   * (null: in memory only, for tests).
   */
  constructor(private readonly store: Store, floor: number, private readonly file: string | null) {
    assert(store.nodeId > 0, 'a node id');
    assert(Number.isSafeInteger(floor) && floor >= 0, 'a bootstrap floor');
    this.last = Math.max(floor, file === null ? 0 : readHighest(file));
  }

  next(): number {
    let max = this.last;
    this.store.forEachRange((rangeId) => {
      if (rangeId > max) max = rangeId;
    });
    const residue = this.store.nodeId % RANGE_ID_STRIDE;
    let id = max - (max % RANGE_ID_STRIDE) + residue;
    while (id <= max) id += RANGE_ID_STRIDE;
    assert(id > max && id % RANGE_ID_STRIDE === residue, 'a fresh id of our class');
    // Written before it is used: a crash after this skips the id, never reuses it.
    if (this.file !== null) writeHighest(this.file, id);
    this.last = id;
    return id;
  }
}

function readHighest(file: string): number {
  if (!existsSync(file)) return 0;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { highest?: unknown };
  const n = raw.highest;
  assert(typeof n === 'number' && Number.isSafeInteger(n) && n > 0, `a range id in ${file}`);
  return n;
}

function writeHighest(file: string, id: number): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ highest: id })}\n`, { flush: true });
  renameSync(temporary, file);
  assert(readHighest(file) === id, 'the highest range id is on disk');
}
