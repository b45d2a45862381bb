/** `report-unreachable <id> <peer>`: the node learns that the peer could not be reached. */
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { nodeIdxs, type CommandResult } from './handler.js';

export function handleReportUnreachable(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const sl = nodeIdxs(args);
  if (sl.length !== 2) {
    return new Error(
      'must specify exactly two node indexes: node on which to report, and reported node',
    );
  }
  const node = env.node(sl[0]!);
  node.rawNode.reportUnreachable(env.node(sl[1]!).config.id);
  return null;
}
