/**
 * The range simulation's tiling invariants, over the descriptors the running stores hold.
 *
 * With more stores than replicas, no store holds every range, so the ranges are checked
 * across stores. Generations only grow along the descriptors that cover a key (a split gives
 * both sides the parent's generation + 1, a merge one above both sides, a membership change
 * + 1), so among all descriptors the stores hold (lagging replicas' older ones included), a
 * descriptor that some overlapping one outranks by generation is history. What is left, the
 * FRONTIER, must tile the user key space: no gap (some running store holds a replica of every
 * key's range: each range keeps two of its three voters on running stores) and no overlap
 * (two ranges claiming one key at one point of its history). Per store: its replicas never
 * overlap each other (a store holds one replica per key), and two stores' descriptors of one
 * range at one generation agree on its span.
 */
import {
  compareKeys,
  tilingProblem,
  type RangeDescriptor,
} from '../../src/range/index.js';

/**
 * The first tiling problem of the stores' user descriptors (by store id), or null.
 * `everyStoreTiles`: every store holds every range (the classic layout), so each store's
 * own ranges must tile the key space too.
 */
export function rangeTilingProblem(byStore: ReadonlyMap<number, readonly RangeDescriptor[]>,
  everyStoreTiles = false): { invariant: string; message: string } | null {
  const seen = new Map<string, RangeDescriptor>();
  const all: RangeDescriptor[] = [];
  for (const [id, descs] of byStore) {
    const own = everyStoreTiles ? tilingProblem(descs) : null;
    if (own !== null) return { invariant: 'tiling', message: `store ${id}: ${own}` };
    const overlap = overlapProblem(descs);
    if (overlap !== null) return { invariant: 'tiling', message: `store ${id}: ${overlap}` };
    for (const d of descs) {
      const k = `${d.rangeId}/${d.generation}`;
      const other = seen.get(k);
      if (other === undefined) {
        seen.set(k, d);
        all.push(d);
      } else if (compareKeys(other.startKey, d.startKey) !== 0 ||
        compareKeys(other.endKey, d.endKey) !== 0) {
        return { invariant: 'descriptors', message: `range ${k}: stores disagree on its span` };
      }
    }
  }
  const problem = tilingProblem(frontier(all));
  return problem === null ? null : { invariant: 'tiling', message: `frontier: ${problem}` };
}

/** The descriptors no overlapping descriptor outranks by generation, in key order. */
export function frontier(descs: readonly RangeDescriptor[]): RangeDescriptor[] {
  const sorted = [...descs].sort((a, b) => compareKeys(a.startKey, b.startKey));
  const out: RangeDescriptor[] = [];
  for (const d of sorted) {
    const outranked = sorted.some((e) => e.generation > d.generation && overlaps(d, e));
    if (!outranked) out.push(d);
  }
  return out;
}

function overlaps(a: RangeDescriptor, b: RangeDescriptor): boolean {
  return compareKeys(a.startKey, b.endKey) < 0 && compareKeys(b.startKey, a.endKey) < 0;
}

/** The first overlap among one store's replicas, or null. */
function overlapProblem(descs: readonly RangeDescriptor[]): string | null {
  const sorted = [...descs].sort((a, b) => compareKeys(a.startKey, b.startKey));
  for (let i = 0; i + 1 < sorted.length; i++) {
    const a = sorted[i]!;
    const b = sorted[i + 1]!;
    if (compareKeys(a.endKey, b.startKey) > 0) {
      return `range ${a.rangeId} overlaps range ${b.rangeId}`;
    }
  }
  return null;
}
