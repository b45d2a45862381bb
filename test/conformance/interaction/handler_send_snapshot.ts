/**
 * `send-snapshot <from> <to>`: queues a MsgSnap with the sender's latest applied state (it is
 * delivered by a later deliver-msgs or stabilize, not at once) and prints it.
 */
import { describeMessage } from '../../../src/raft/describe.js';
import { isStorageError } from '../../../src/raft/errors.js';
import { MessageType, newMessage } from '../../../src/raft/raftpb.js';
import { DirectiveError, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { nodeIdxs, type CommandResult } from './handler.js';

export function handleSendSnapshot(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idxs = nodeIdxs(args);
  if (idxs.length !== 2) throw new DirectiveError('send-snapshot: expected <from> <to>');
  const [fromIdx, toIdx] = idxs as [number, number];
  const from = env.node(fromIdx);
  const snap = from.storage.snapshot();
  if (isStorageError(snap)) return snap;
  const m = newMessage(MessageType.MsgSnap, {
    term: from.rawNode.basicStatus().hardState.term,
    from: fromIdx + 1,
    to: toIdx + 1,
    snapshot: snap,
  });
  env.messages.push(m);
  env.output.write(describeMessage(m));
  return null;
}
