/**
 * `status <id>`: the node's view of every peer's progress (leaders only; empty otherwise),
 * one `<id>: <progress>` line per peer in id order.
 */
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, type CommandResult } from './handler.js';

export function handleStatus(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const st = env.node(firstAsNodeIdx(args)).rawNode.status();
  const ids = [...st.progress.keys()].sort((a, b) => a - b);
  for (const id of ids) env.output.write(`${id}: ${st.progress.get(id)!.toString()}\n`);
  return null;
}
