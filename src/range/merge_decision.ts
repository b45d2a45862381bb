/**
 * When two adjacent ranges should merge (CockroachDB's merge queue), decided from plain
 * values so that tests call it directly. The left range subsumes the right one only if all
 * of these hold, checked in this order; each refusal is a stable string, counted and logged:
 *
 *   a) adjacent: left's end is right's start (`not-adjacent`);
 *   b) colocated: the same replicas on the same nodes, neither joint (`not-colocated`);
 *   c) both sides small: each holds fewer than `rangeBytesMin` bytes (`left-too-big`,
 *      `right-too-big`);
 *   d) the merged range would not split again at once by size: its bytes and keys stay
 *      within the split thresholds (`merged-too-big`);
 *   e) their load is known (a full measuring period has passed on both, `load-unknown`) and
 *      summed is under half the load split threshold (`too-much-load`): half, so that a
 *      merge does not undo a load-based split the moment the load dips, and the merged range
 *      would not split by load at once.
 */
import { assert } from '../util/index.js';
import type { RangeDescriptor } from './descriptor.js';
import { mergeProblem } from './descriptor_ops.js';
import type { RangeStats } from './kv_apply.js';
import { MergeNotAdjacentError } from './errors.js';
import type { SizeSplitOptions } from './split_decider.js';

/** Why two ranges do not merge. Stable strings. */
export const MergeRefusal = {
  NotAdjacent: 'not-adjacent',
  NotColocated: 'not-colocated',
  LeftTooBig: 'left-too-big',
  RightTooBig: 'right-too-big',
  MergedTooBig: 'merged-too-big',
  LoadUnknown: 'load-unknown',
  TooMuchLoad: 'too-much-load',
} as const;
export type MergeRefusal = (typeof MergeRefusal)[keyof typeof MergeRefusal];

/** One side of a possible merge. */
export interface MergeSide {
  descriptor: RangeDescriptor;
  stats: RangeStats;
  /** The side's highest request rate over the measuring period; undefined if not measured. */
  maxQps: number | undefined;
}

/** Thresholds of the merge decision. */
export interface MergeOptions extends SizeSplitOptions {
  /** A side this small or larger does not merge. @default 16777216 (bytes: 16 MiB) */
  rangeBytesMin: number;
  /** The load split threshold (requests/s); merges need the sum under half of it. */
  qpsSplitThreshold: number;
}

/** Decides whether `left` should subsume `right` (rules a–e above); null if it should. */
export function shouldMerge(
  left: MergeSide, right: MergeSide, o: MergeOptions,
): MergeRefusal | null {
  assert(o.rangeBytesMin > 0 && o.rangeBytesMin <= o.rangeBytesMax, 'merge thresholds');
  assert(o.qpsSplitThreshold > 0, 'load split threshold');
  const problem = mergeProblem(left.descriptor, right.descriptor);
  if (problem instanceof MergeNotAdjacentError) return MergeRefusal.NotAdjacent;
  if (problem !== null) return MergeRefusal.NotColocated;
  if (left.stats.byteCount >= o.rangeBytesMin) return MergeRefusal.LeftTooBig;
  if (right.stats.byteCount >= o.rangeBytesMin) return MergeRefusal.RightTooBig;
  const bytes = left.stats.byteCount + right.stats.byteCount;
  const keys = left.stats.keyCount + right.stats.keyCount;
  if (bytes > o.rangeBytesMax || keys > o.rangeKeysMax) return MergeRefusal.MergedTooBig;
  if (left.maxQps === undefined || right.maxQps === undefined) return MergeRefusal.LoadUnknown;
  if (left.maxQps + right.maxQps >= o.qpsSplitThreshold / 2) return MergeRefusal.TooMuchLoad;
  return null;
}
