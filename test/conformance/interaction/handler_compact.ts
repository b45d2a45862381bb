/** `compact <id> <new-first-index>`: compacts the node's storage, then prints its log. */
import { parseUint, DirectiveError, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, type CommandResult } from './handler.js';
import { raftLog } from './handler_raft_log.js';

export function handleCompact(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idx = firstAsNodeIdx(args);
  const second = args[1];
  if (second === undefined) throw new DirectiveError('compact: missing new first index');
  let newFirstIndex: number;
  try {
    newFirstIndex = parseUint(second.key, 'index');
  } catch (err) {
    return err as Error;
  }
  const err = env.node(idx).storage.compact(newFirstIndex);
  if (err !== null) return err;
  return raftLog(env, idx);
}
