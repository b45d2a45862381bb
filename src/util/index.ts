/**
 * Shared utilities with no dependencies: always-on assertions, the typed error base, and
 * the one home of each cross-cutting idea: time (`Clock`), randomness (`RandomSource`),
 * option checking and the identifier bounds the layers share. Every layer may import this
 * folder; it imports nothing of Flotilla's.
 */
export { assert, assertNever, AssertionError } from './assert.js';
export { FlotillaError, ConfigError } from './errors.js';
export {
  VirtualClock,
  VIRTUAL_TIMERS_MAX,
  systemClock,
  type Clock,
  type TimerHandle,
} from './clock.js';
export {
  SeededRandom,
  floatsOf,
  unseededRandom,
  type RandomSource,
} from './random.js';
export { booleanOr, integerIn, rejectUnknownKeys, requiredObject } from './options.js';
export { RANGE_ID_LIMIT } from './ids.js';
export { CHUNK_KEYS_MAX, SortedStrings } from './sorted_strings.js';
