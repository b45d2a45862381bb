/**
 * Always-on assertions. An assertion failure is a programmer error: it throws an
 * `AssertionError`, which nobody catches, so the process (or test) dies loudly at the
 * first broken invariant instead of corrupting state further down the line.
 */

/** Thrown when an invariant does not hold. Never caught by Flotilla code. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Asserts that `condition` is truthy; `message` says which invariant broke. */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Makes a switch over a union exhaustive: the compiler rejects a missing case. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${String(value)}`);
}
