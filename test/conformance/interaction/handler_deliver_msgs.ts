/**
 * `deliver-msgs <id>... [drop=(<id>...)] [type=<MsgType>]`: delivers (steps) the in-flight
 * messages addressed to the given nodes, or drops those to the `drop` nodes, in the order
 * they were sent; `type` restricts either to one message type. Prints each message, and any
 * error stepping it returns; `no messages` when there were none.
 */
import { describeMessage } from '../../../src/raft/describe.js';
import { messageTypeNames, type Message, type MessageType } from '../../../src/raft/raftpb.js';
import { isLocalMsgTarget } from '../../../src/raft/util.js';
import { DirectiveError, parseUint, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { raftCall, type CommandResult } from './handler.js';

/** A node whose messages are delivered, or dropped. */
export interface Recipient {
  id: number;
  drop: boolean;
}

/** Any message type (etcd's -1). */
export const ANY_TYPE = -1;

export function handleDeliverMsgs(env: InteractionEnv, args: CmdArg[]): CommandResult {
  let type: MessageType | typeof ANY_TYPE = ANY_TYPE;
  const rs: Recipient[] = [];
  for (const arg of args) {
    if (arg.vals.length === 0) rs.push({ id: parseUint(arg.key, 'node id'), drop: false });
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'drop': {
          const id = parseUint(val, 'node id');
          if (rs.some((r) => r.id === id)) {
            throw new DirectiveError(`can't both deliver and drop msgs to ${id}`);
          }
          rs.push({ id, drop: true });
          break;
        }
        case 'type': {
          const t = messageTypeNames.indexOf(val);
          if (t < 0) throw new DirectiveError(`unknown message type ${val}`);
          type = t as MessageType;
          break;
        }
      }
    }
  }
  if (deliverMsgs(env, type, rs) === 0) env.output.write('no messages\n');
  return null;
}

/**
 * Delivers or drops the in-flight messages of each recipient in turn (only those of `type`,
 * unless ANY_TYPE); returns how many were handled. Handled messages leave `env.messages`.
 */
export function deliverMsgs(
  env: InteractionEnv,
  type: MessageType | typeof ANY_TYPE,
  rs: readonly Recipient[],
): number {
  let n = 0;
  for (const r of rs) {
    const [msgs, rest] = splitMsgs(env.messages, r.id, type, r.drop);
    env.messages = rest;
    n += msgs.length;
    for (const m of msgs) {
      if (r.drop) env.output.write('dropped: ');
      env.output.write(describeMessage(m) + '\n');
      // Messages to nodes that do not exist yet may be dropped: `to` is not looked at.
      if (r.drop) continue;
      const node = env.node(m.to - 1);
      const err = raftCall(() => node.rawNode.step(m));
      if (err !== null) env.output.write(err.message + '\n');
    }
  }
  return n;
}

/**
 * Splits `msgs` into those for `to` of `type` and the rest, keeping their order. Local
 * messages (to or from a storage thread, or to oneself) are never dropped: they model
 * reliable in-process delivery.
 */
export function splitMsgs(
  msgs: readonly Message[],
  to: number,
  type: MessageType | typeof ANY_TYPE,
  drop: boolean,
): [Message[], Message[]] {
  const toMsgs: Message[] = [];
  const rest: Message[] = [];
  for (const m of msgs) {
    if (m.to === to && !(drop && isLocalMessage(m)) && (type === ANY_TYPE || m.type === type)) {
      toMsgs.push(m);
    } else {
      rest.push(m);
    }
  }
  return [toMsgs, rest];
}

function isLocalMessage(m: Message): boolean {
  return m.from === m.to || isLocalMsgTarget(m.from) || isLocalMsgTarget(m.to);
}
