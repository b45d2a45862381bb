/**
 * Carrying out the two commands of a merge as they apply.
 *
 * SUBSUME (on the right range): the range freezes at this entry's index; from then on it
 * refuses every command, so its state is final. The coordinator then waits until every
 * replica of the right range has applied the freeze index (CockroachDB's WaitForApplication)
 * before it proposes the merge: that is what makes the next step safe on every store.
 *
 * MERGE (on the left range): its descriptor extends over the right's span; the right's
 * statistics are added and its dedupe records taken over (a command the right applied still
 * applies once if retried on the merged range); the right's range-local rows are deleted, in
 * the same batch. No user data moves: keys are stored once per store. A merge computed from
 * an older left descriptor, or naming a right range that is not the frozen neighbour held
 * here, is refused with a typed error and changes nothing.
 */
import { assert, type FlotillaError } from '../util/index.js';
import {
  type RangeDescriptor,
  decodeDescriptor,
  descriptorsEqual,
} from './descriptor.js';
import { mergeDescriptors, mergeProblem } from './descriptor_ops.js';
import { RangeKeyMismatchError, RangeUnavailableError } from './errors.js';
import type { MergeCommand, SubsumeCommand } from './kv_command.js';
import type { KvWriter } from './kv_store.js';
import type { RangeState } from './range_state.js';

/** Applies a subsume command (entry `index`) to the right range's `state`. */
export function applySubsume(
  state: RangeState, cmd: SubsumeCommand, index: number, kv: KvWriter,
): FlotillaError | null {
  if (cmd.generation !== state.descriptor.generation) {
    return new RangeKeyMismatchError(state.rangeId, state.descriptor.startKey, state.descriptor);
  }
  state.recordApplied(cmd.id, index, '', kv);
  state.freeze(index, kv);
  assert(state.frozenAt === index, 'frozen at the subsume entry');
  return null;
}

/** What a merge did. */
export type MergeOutcome =
  | { ok: true; merged: RangeDescriptor; rightRangeId: number }
  | { ok: false; error: FlotillaError };

/** Applies a merge command (entry `index`) to the left range's `left` state. */
export function applyMerge(
  left: RangeState, rightOf: (rangeId: number) => RangeState | undefined, cmd: MergeCommand,
  index: number, kv: KvWriter,
): MergeOutcome {
  // A refused merge changed nothing and is not recorded (its retry is judged afresh).
  const refuse = (error: FlotillaError): MergeOutcome => ({ ok: false, error });
  let rightDesc: RangeDescriptor;
  try {
    rightDesc = decodeDescriptor(cmd.right);
  } catch (error) {
    return refuse(error as FlotillaError);
  }
  if (cmd.generation !== left.descriptor.generation) {
    return refuse(new RangeKeyMismatchError(left.rangeId, rightDesc.startKey, left.descriptor));
  }
  const problem = mergeProblem(left.descriptor, rightDesc);
  if (problem !== null) return refuse(problem);
  const right = rightOf(rightDesc.rangeId);
  if (right === undefined || right.frozenAt !== cmd.freezeIndex ||
    !descriptorsEqual(right.descriptor, rightDesc)) {
    // The coordinator waited for every right replica to apply the freeze: a store where
    // that is not so was not in the right's descriptor, which the colocation check rules out.
    return refuse(new RangeUnavailableError(rightDesc.rangeId, 'right range not frozen here'));
  }
  const merged = mergeDescriptors(left.descriptor, rightDesc);
  left.descriptor = merged;
  left.stats.keyCount += right.stats.keyCount;
  left.stats.byteCount += right.stats.byteCount;
  // Stamped below the merge's own record, which follows.
  left.dedupe.absorb(right.dedupe, index - 1, kv);
  right.destroyRows(kv);
  left.saveStats(kv);
  left.saveDescriptor(kv);
  left.recordApplied(cmd.id, index, '', kv);
  return { ok: true, merged, rightRangeId: rightDesc.rangeId };
}
