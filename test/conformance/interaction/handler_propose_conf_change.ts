/**
 * `propose-conf-change <id> [v1=<bool>] [transition=auto|implicit|explicit]` with the changes
 * as input (`v2 l3 r4`): proposes a V2 conf change, or with v1=true a single V1 change. An
 * empty V2 change leaves an explicit joint configuration.
 */
import { confChangesFromString } from '../../../src/raft/confchange_codec.js';
import {
  ConfChangeTransition,
  EMPTY_BYTES,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
} from '../../../src/raft/raftpb.js';
import { parseBool, type CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import { firstAsNodeIdx, raftCall, type CommandResult } from './handler.js';

const TRANSITIONS: Readonly<Record<string, ConfChangeTransition>> = {
  auto: ConfChangeTransition.ConfChangeTransitionAuto,
  implicit: ConfChangeTransition.ConfChangeTransitionJointImplicit,
  explicit: ConfChangeTransition.ConfChangeTransitionJointExplicit,
};

export function handleProposeConfChange(
  env: InteractionEnv,
  args: CmdArg[],
  input: string,
): CommandResult {
  const idx = firstAsNodeIdx(args);
  let v1 = false;
  let transition: ConfChangeTransition = ConfChangeTransition.ConfChangeTransitionAuto;
  for (const arg of args.slice(1)) {
    for (const val of arg.vals) {
      if (arg.key === 'v1') {
        try {
          v1 = parseBool(val, 'v1');
        } catch (err) {
          return err as Error;
        }
      } else if (arg.key === 'transition') {
        const t = TRANSITIONS[val];
        if (t === undefined) return new Error(`unknown transition ${val}`);
        transition = t;
      } else {
        return new Error(`unknown command ${arg.key}`);
      }
    }
  }
  let ccs: ConfChangeSingle[] = [];
  const parseErr = raftCall(() => {
    ccs = confChangesFromString(input);
  });
  if (parseErr !== null) return parseErr;
  let c: ConfChange | ConfChangeV2;
  if (v1) {
    const first = ccs[0];
    const auto = transition === ConfChangeTransition.ConfChangeTransitionAuto;
    if (ccs.length > 1 || !auto || first === undefined) {
      return new Error('v1 conf change can only have one operation and no transition');
    }
    c = { type: first.type, nodeId: first.nodeId, context: EMPTY_BYTES, id: 0 };
  } else {
    c = { transition, changes: ccs, context: EMPTY_BYTES };
  }
  const node = env.node(idx);
  return raftCall(() => node.rawNode.proposeConfChange(c));
}
