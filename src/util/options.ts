/**
 * Option checking, the one home of it: every layer validates its options object once, at
 * construction, with these, so a bad value fails the same way everywhere (`ConfigError`
 * naming the option, its allowed range and what it got).
 */
import { ConfigError } from './errors.js';

/** `value` if it is a safe integer in [min, max]; else throws `ConfigError` naming `name`. */
export function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** `value`, or `fallback` when undefined; throws `ConfigError` if it is not a boolean. */
export function booleanOr(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`${name} must be a boolean`);
  return value;
}

/** Throws `ConfigError` for the first key of `options` not in `known`. */
export function rejectUnknownKeys(what: string, options: object, known: readonly string[]):
  void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError(`unknown ${what} option: ${key}`);
  }
}

/**
 * `value` if it is present and has a method `method` (when given); else throws
 * `ConfigError` (a required collaborator: transport, state machine, random source, ...).
 */
export function requiredObject<T>(name: string, value: T | undefined, method?: string): T {
  if (value === undefined || value === null) throw new ConfigError(`${name} is required`);
  if (method !== undefined && typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw new ConfigError(`${name} must have a ${method}() method`);
  }
  return value;
}
