/**
 * Carrying out a split command as it applies: the left replica's descriptor shrinks, the
 * right-hand range's state is born, all in the apply's batch. No user data moves (keys are
 * stored once per store, and a range owns whatever its span covers); only the statistics are
 * divided, by counting the right-hand span. Every replica computes the same outcome from the
 * same data, so the sides agree on every store.
 *
 * A split computed from an older descriptor (another split or merge applied in between) is
 * refused with `RangeKeyMismatchError`, as is one whose key is no longer inside the range; a
 * split of a joint configuration with `InvalidSplitKeyError`.
 */
import { assert, type FlotillaError } from '../util/index.js';
import { RANGE_INITIAL_INDEX } from '../multiraft/index.js';
import { isJoint, type RangeDescriptor } from './descriptor.js';
import { splitDescriptor, splitKeyProblem } from './descriptor_ops.js';
import { InvalidSplitKeyError, RangeKeyMismatchError } from './errors.js';
import type { SplitCommand } from './kv_command.js';
import type { RangeStats } from './kv_apply.js';
import type { KvReader, KvStore, KvWriter } from './kv_store.js';
import { RangeState } from './range_state.js';

/** What a split did: both descriptors and the right-hand side's new state. */
export type SplitOutcome =
  | { ok: true; left: RangeDescriptor; right: RangeDescriptor; rightState: RangeState }
  | { ok: false; error: FlotillaError };

/**
 * Applies `cmd` (entry `index`) to the left range's `state`, writing through `kv`. `kv`'s
 * `countKeys`, where it has one, lets it read only the smaller side (see `sideStats`).
 */
export function applySplit(
  state: RangeState, cmd: SplitCommand, index: number, kv: KvWriter & Pick<KvStore, 'countKeys'>,
): SplitOutcome {
  const before = state.descriptor;
  if (cmd.generation !== before.generation || splitKeyProblem(before, cmd.splitKey) !== null) {
    return { ok: false, error: new RangeKeyMismatchError(before.rangeId, cmd.splitKey, before) };
  }
  // The right side's group starts with a plain configuration: a joint one cannot be split
  // (every replica sees the same descriptor at this entry, so all refuse alike).
  if (isJoint(before)) {
    return { ok: false, error: new InvalidSplitKeyError(before.rangeId, cmd.splitKey,
      'a membership change is in progress') };
  }
  const { left, right } = splitDescriptor(before, cmd.splitKey, cmd.rightRangeId);
  const rightState = new RangeState(right, state.limits, state.dedupe.entriesMax);
  const moved = sideStats(state.stats, left, right, kv);
  rightState.stats.keyCount = moved.keyCount;
  rightState.stats.byteCount = moved.byteCount;
  state.descriptor = left;
  state.stats.keyCount -= rightState.stats.keyCount;
  state.stats.byteCount -= rightState.stats.byteCount;
  assert(state.stats.keyCount >= 0 && state.stats.byteCount >= 0, 'sides add up');
  // A command applied here before the split may be retried on the right side (its key is
  // there now): the right side knows it applied. Stamped at its initial index, below every
  // entry of its own.
  rightState.dedupe.absorb(state.dedupe, RANGE_INITIAL_INDEX, kv);
  state.saveStats(kv);
  rightState.saveStats(kv);
  state.saveDescriptor(kv);
  rightState.saveDescriptor(kv);
  state.recordApplied(cmd.id, index, '', kv);
  return { ok: true, left, right, rightState };
}

/**
 * The statistics of the right-hand side. Counting reads every key of a side (and its value,
 * for the bytes); a range split again and again at its left end (a key space growing to the
 * right) would read nearly the whole range each time, so with `countKeys` (two binary
 * searches) the smaller side is read and the other follows by subtraction. Every replica
 * holds the same data, so every replica picks the same side and gets the same figures.
 */
function sideStats(total: RangeStats, left: RangeDescriptor, right: RangeDescriptor,
  kv: KvReader & Pick<KvStore, 'countKeys'>): RangeStats {
  const rightKeys = kv.countKeys?.(right.startKey, right.endKey);
  assert(rightKeys === undefined || rightKeys <= total.keyCount, 'a side within the range');
  const readLeft = rightKeys !== undefined && 2 * rightKeys > total.keyCount;
  const side = readLeft ? left : right;
  const rows = kv.scan(side.startKey, side.endKey, total.keyCount + 1);
  assert(rows.length <= total.keyCount, 'a side holds part of the range');
  const read: RangeStats = { keyCount: rows.length, byteCount: 0 };
  for (const row of rows) read.byteCount += row.key.length + row.value.length;
  if (!readLeft) return read;
  const out = { keyCount: total.keyCount - read.keyCount,
    byteCount: total.byteCount - read.byteCount };
  assert(out.keyCount === rightKeys, 'the counted side and the read side agree');
  return out;
}
