/** `raft-log <id>`: prints the entries in the node's storage. */
import { describeEntries } from '../../../src/raft/describe.js';
import { isStorageError } from '../../../src/raft/errors.js';
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, type CommandResult } from './handler.js';

export function handleRaftLog(env: InteractionEnv, args: CmdArg[]): CommandResult {
  return raftLog(env, firstAsNodeIdx(args));
}

/** Prints the stored log of node `idx` (etcd's `RaftLog`). */
export function raftLog(env: InteractionEnv, idx: number): CommandResult {
  const s = env.node(idx).storage;
  const fi = s.firstIndex();
  const li = s.lastIndex();
  if (li < fi) {
    env.output.write(`log is empty: first index=${fi}, last index=${li}`);
    return null;
  }
  const ents = s.entries(fi, li + 1, Number.POSITIVE_INFINITY);
  if (isStorageError(ents)) return ents;
  env.output.write(describeEntries(ents));
  return null;
}
