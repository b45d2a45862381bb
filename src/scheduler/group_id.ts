/**
 * Group identifiers as the scheduler sees them: small, dense, non-negative integers that
 * index typed arrays. The store assigns them (a range id maps to a group id through the
 * store's own table); the scheduler never invents one.
 */
import { assert } from '../util/index.js';

/**
 * A Raft group's dense index inside one store. Branded so that a range id, a node id or a
 * log index cannot be passed where a group id is meant.
 */
export type GroupId = number & { readonly __brand: 'GroupId' };

/**
 * The exclusive upper bound of every group id: ids live in Int32Array rings, so they must be
 * non-negative int32 values.
 */
export const GROUP_ID_LIMIT = 0x7fff_ffff;

/**
 * Brands `value` as a `GroupId`. Asserts that it is an integer in `[0, GROUP_ID_LIMIT)`:
 * anything else is a programmer error in the store's id assignment.
 */
export function toGroupId(value: number): GroupId {
  // The messages are built only on failure: this runs on every lookup of a hot path.
  if (!Number.isInteger(value)) assert(false, `group id must be an integer, got ${value}`);
  if (!(value >= 0 && value < GROUP_ID_LIMIT)) assert(false, `group id out of range: ${value}`);
  return value as GroupId;
}
