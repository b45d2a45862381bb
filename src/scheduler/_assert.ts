/** Assertion helpers private to the scheduler folder. */
import { assert } from '../util/index.js';

/**
 * `assert` with a message naming group `id`, formatted only on failure: a template literal
 * passed to `assert` would build a string on every call, and these run on hot paths.
 */
export function assertGroup(condition: boolean, id: number, what: string): asserts condition {
  if (!condition) assert(false, `group ${id}: ${what}`);
}
