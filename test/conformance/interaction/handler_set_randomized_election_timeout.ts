/**
 * `set-randomized-election-timeout <id> timeout=<ticks>`: pins the node's randomized election
 * timeout until its next reset (a state change redraws it).
 */
import { DirectiveError, parseInt10, scanArg, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, type CommandResult } from './handler.js';
import { raftOf } from '../../../src/raft/rawnode_internal.js';

export function handleSetRandomizedElectionTimeout(
  env: InteractionEnv,
  args: CmdArg[],
): CommandResult {
  const idx = firstAsNodeIdx(args);
  const timeout = parseInt10(scanArg(args, 'timeout'), 'timeout');
  if (timeout === 0) throw new DirectiveError('timeout must not be zero');
  raftOf(env.node(idx).rawNode).randomizedElectionTimeout = timeout;
  return null;
}
