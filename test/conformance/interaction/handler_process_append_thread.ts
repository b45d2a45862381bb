/**
 * `process-append-thread <id>...`: with async storage writes, runs one MsgStorageAppend of
 * each node's append thread: persists it, then releases its responses into the network.
 */
import { describeMessage } from '../../../src/raft/describe.js';
import { EMPTY_MESSAGES, type Message } from '../../../src/raft/raftpb.js';
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { nodeIdxs, type CommandResult } from './handler.js';
import { processAppend } from './handler_process_ready.js';

export function handleProcessAppendThread(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idxs = nodeIdxs(args);
  for (const idx of idxs) {
    let err: CommandResult = null;
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} processing append thread\n`);
      env.withIndent(() => {
        err = processAppendThread(env, idx);
      });
    } else {
      err = processAppendThread(env, idx);
    }
    if (err !== null) return err;
  }
  return null;
}

/** Prints the storage message without its responses, then the responses. */
export function describeWork(env: InteractionEnv, m: Message): Message[] {
  const resps = m.responses;
  env.output.write('Processing:\n');
  env.output.write(describeMessage({ ...m, responses: EMPTY_MESSAGES }) + '\n');
  return resps;
}

/** Runs one message of node `idx`'s append thread (etcd's `ProcessAppendThread`). */
export function processAppendThread(env: InteractionEnv, idx: number): CommandResult {
  const n = env.node(idx);
  const m = n.appendWork.shift();
  if (m === undefined) {
    env.output.write('no append work to perform');
    return null;
  }
  const resps = describeWork(env, m);
  const st = { term: m.term, vote: m.vote, commit: m.commit };
  const err = processAppend(n, st, m.entries, m.snapshot);
  if (err !== null) return err;
  env.output.write('Responses:\n');
  for (const r of resps) env.output.write(describeMessage(r) + '\n');
  env.messages.push(...resps);
  return null;
}
