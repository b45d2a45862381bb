/** `transfer-leadership from=<id> to=<id>`: the leader hands leadership to `to`. */
import { DirectiveError, parseUint, scanArg, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import type { CommandResult } from './handler.js';

export function handleTransferLeadership(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const from = parseUint(scanArg(args, 'from'), 'from');
  const to = parseUint(scanArg(args, 'to'), 'to');
  if (from === 0 || from > env.nodes.length) {
    throw new DirectiveError('expected valid "from" argument');
  }
  if (to === 0 || to > env.nodes.length) {
    throw new DirectiveError('expected valid "to" argument');
  }
  env.node(from - 1).rawNode.transferLeader(to);
  return null;
}
