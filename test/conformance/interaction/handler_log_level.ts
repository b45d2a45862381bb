/** `log-level <DEBUG|INFO|WARN|ERROR|FATAL|NONE>`: the output threshold (case-insensitive). */
import type { LogLevel } from '../../../src/raft/logger.js';
import { DirectiveError, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import type { CommandResult } from './handler.js';
import { LEVEL_NAMES } from './logger.js';

export function handleLogLevel(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const first = args[0];
  if (first === undefined) throw new DirectiveError('log-level: missing level');
  return setLogLevel(env, first.key);
}

/** Sets the threshold by name; an error naming the levels for an unknown one. */
export function setLogLevel(env: InteractionEnv, name: string): CommandResult {
  const i = LEVEL_NAMES.findIndex((s) => s.toLowerCase() === name.toLowerCase());
  if (i < 0) return new Error(`log levels must be either of [${LEVEL_NAMES.join(' ')}]`);
  env.output.level = i as LogLevel;
  return null;
}
