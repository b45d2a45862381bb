/**
 * `tick-election <id>` and `tick-heartbeat <id>`: tick the node ElectionTick or HeartbeatTick
 * times (beware the randomized election timeout).
 */
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, type CommandResult } from './handler.js';

export function handleTickElection(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idx = firstAsNodeIdx(args);
  return tick(env, idx, env.node(idx).config.electionTick);
}

export function handleTickHeartbeat(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idx = firstAsNodeIdx(args);
  return tick(env, idx, env.node(idx).config.heartbeatTick);
}

/** Ticks node `idx` `num` times. */
export function tick(env: InteractionEnv, idx: number, num: number): CommandResult {
  const rn = env.node(idx).rawNode;
  for (let i = 0; i < num; i++) rn.tick();
  return null;
}
