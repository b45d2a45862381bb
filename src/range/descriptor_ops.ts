/**
 * The descriptors a split or a merge produces, and the checks that refuse a bad one. Pure
 * functions: the split and merge commands call them when they apply (with the descriptor the
 * replica holds then), and the deciders call them to see whether a change is possible.
 *
 * Generations: both sides of a split get the left's generation + 1, and a merge gets
 * max(left, right) + 1, so that a descriptor always outranks every descriptor it replaces
 * (CockroachDB's rule), which is what lets a routing cache order overlapping entries.
 */
import { assert } from '../util/index.js';
import { type RangeDescriptor, descriptorProblem, isJoint } from './descriptor.js';
import {
  InvalidSplitKeyError,
  MergeNotAdjacentError,
  MergeNotColocatedError,
} from './errors.js';
import { compareKeys, isUserKey, keysEqual } from './keys.js';

/** Why `key` cannot split `desc`, or null if it can (strictly inside, a user key). */
export function splitKeyProblem(desc: RangeDescriptor, key: Uint8Array): string | null {
  if (!(key instanceof Uint8Array)) return 'not bytes';
  if (!isUserKey(key)) return 'not a user key';
  if (compareKeys(key, desc.startKey) <= 0) return 'at or before the range start';
  if (compareKeys(key, desc.endKey) >= 0) return 'at or after the range end';
  return null;
}

/**
 * The two descriptors of splitting `desc` at `key`: the left keeps the range id and
 * `[start, key)`; the right is `rightRangeId` with `[key, end)`. Both keep the replicas.
 * @throws InvalidSplitKeyError
 */
export function splitDescriptor(
  desc: RangeDescriptor, key: Uint8Array, rightRangeId: number,
): { left: RangeDescriptor; right: RangeDescriptor } {
  const problem = splitKeyProblem(desc, key);
  if (problem !== null) throw new InvalidSplitKeyError(desc.rangeId, key, problem);
  assert(rightRangeId !== desc.rangeId && rightRangeId > 0, 'split needs a new range id');
  const generation = desc.generation + 1;
  const replicas = desc.replicas.map((r) => ({ ...r }));
  const left: RangeDescriptor = { ...desc, endKey: key.slice(), generation };
  const right: RangeDescriptor = {
    rangeId: rightRangeId, startKey: key.slice(), endKey: desc.endKey, generation, replicas,
  };
  assert(descriptorProblem(left) === null && descriptorProblem(right) === null, 'split sides');
  assert(keysEqual(left.endKey, right.startKey), 'split sides abut');
  return { left, right };
}

/**
 * Why `left` and `right` cannot merge, or null: they must abut (left's end is right's start)
 * and be colocated (the same replicas by node and replica id, all full voters or learners
 * alike, neither in a joint configuration).
 */
export function mergeProblem(
  left: RangeDescriptor, right: RangeDescriptor,
): MergeNotAdjacentError | MergeNotColocatedError | null {
  if (left.rangeId === right.rangeId || !keysEqual(left.endKey, right.startKey)) {
    return new MergeNotAdjacentError(left.rangeId, right.rangeId);
  }
  if (isJoint(left) || isJoint(right)) {
    return new MergeNotColocatedError(left.rangeId, right.rangeId, 'joint configuration');
  }
  if (left.replicas.length !== right.replicas.length) {
    return new MergeNotColocatedError(left.rangeId, right.rangeId, 'replica counts differ');
  }
  for (const l of left.replicas) {
    const r = right.replicas.find((x) => x.nodeId === l.nodeId);
    if (r === undefined) {
      return new MergeNotColocatedError(left.rangeId, right.rangeId, `no replica on n${l.nodeId}`);
    }
    if (r.type !== l.type) {
      return new MergeNotColocatedError(left.rangeId, right.rangeId,
        `types differ on n${l.nodeId}`);
    }
  }
  return null;
}

/**
 * The descriptor of `left` after subsuming `right`: left's id and replicas, both spans.
 * @throws MergeNotAdjacentError, MergeNotColocatedError
 */
export function mergeDescriptors(left: RangeDescriptor, right: RangeDescriptor): RangeDescriptor {
  const problem = mergeProblem(left, right);
  if (problem !== null) throw problem;
  const merged: RangeDescriptor = {
    ...left,
    endKey: right.endKey,
    generation: Math.max(left.generation, right.generation) + 1,
  };
  assert(descriptorProblem(merged) === null, 'merged descriptor');
  assert(merged.generation > left.generation && merged.generation > right.generation, 'gen');
  return merged;
}
