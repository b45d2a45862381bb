/** `propose <id> <data>`: proposes a normal entry with the given bytes. */
import { DirectiveError, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, raftCall, type CommandResult } from './handler.js';

export function handlePropose(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idx = firstAsNodeIdx(args);
  const data = args[1];
  if (args.length !== 2 || data === undefined || data.vals.length > 0) {
    throw new DirectiveError('propose: expected exactly one key with no vals');
  }
  const node = env.node(idx);
  const bytes = new TextEncoder().encode(data.key);
  return raftCall(() => node.rawNode.propose(bytes));
}
