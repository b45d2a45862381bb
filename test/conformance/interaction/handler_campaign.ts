/** `campaign <id>`: the node starts an election (etcd's `Campaign`). */
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, raftCall, type CommandResult } from './handler.js';

export function handleCampaign(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idx = firstAsNodeIdx(args);
  if (idx < 0 || idx >= env.nodes.length) {
    return new Error(`node index ${idx} out of range [0, ${env.nodes.length})`);
  }
  const node = env.node(idx);
  return raftCall(() => node.rawNode.campaign());
}
