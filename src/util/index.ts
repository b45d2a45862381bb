/**
 * Shared utilities with no dependencies: always-on assertions and the typed error base.
 * Every layer may import this folder; it imports nothing of Flotilla's.
 */
export { assert, assertNever, AssertionError } from './assert.js';
export { FlotillaError, ConfigError } from './errors.js';
