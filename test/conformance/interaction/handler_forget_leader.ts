/** `forget-leader <id>`: the follower forgets its leader but stays in its term. */
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, raftCall, type CommandResult } from './handler.js';

export function handleForgetLeader(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const node = env.node(firstAsNodeIdx(args));
  // etcd's harness ignores the result.
  raftCall(() => node.rawNode.forgetLeader());
  return null;
}
