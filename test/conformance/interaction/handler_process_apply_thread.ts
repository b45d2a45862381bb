/**
 * `process-apply-thread <id>...`: with async storage writes, runs one MsgStorageApply of each
 * node's apply thread: applies its entries, then releases its responses into the network.
 */
import { describeMessage } from '../../../src/raft/describe.js';
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { nodeIdxs, type CommandResult } from './handler.js';
import { describeWork } from './handler_process_append_thread.js';
import { processApply } from './handler_process_ready.js';

export function handleProcessApplyThread(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idxs = nodeIdxs(args);
  for (const idx of idxs) {
    let err: CommandResult = null;
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} processing apply thread\n`);
      env.withIndent(() => {
        err = processApplyThread(env, idx);
      });
    } else {
      err = processApplyThread(env, idx);
    }
    if (err !== null) return err;
  }
  return null;
}

/** Runs one message of node `idx`'s apply thread (etcd's `ProcessApplyThread`). */
export function processApplyThread(env: InteractionEnv, idx: number): CommandResult {
  const n = env.node(idx);
  const m = n.applyWork.shift();
  if (m === undefined) {
    env.output.write('no apply work to perform');
    return null;
  }
  const resps = describeWork(env, m);
  const err = processApply(n, m.entries);
  if (err !== null) return err;
  env.output.write('Responses:\n');
  for (const r of resps) env.output.write(describeMessage(r) + '\n');
  env.messages.push(...resps);
  return null;
}
