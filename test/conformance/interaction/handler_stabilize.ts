/**
 * `stabilize [<id>...] [log-level=<level>]`: repeatedly handles Readies, delivers messages and
 * runs the storage threads of the given nodes (all when none given), until none has work
 * left. `log-level` applies for the duration of the command.
 */
import { DirectiveError, type CmdArg } from '../datadriven.js';
import type { InteractionEnv, InteractionNode } from './env.js';
import { nodeIdxs, type CommandResult } from './handler.js';
import { ANY_TYPE, deliverMsgs, splitMsgs } from './handler_deliver_msgs.js';
import { setLogLevel } from './handler_log_level.js';
import { processAppendThread } from './handler_process_append_thread.js';
import { processApplyThread } from './handler_process_apply_thread.js';
import { processReady } from './handler_process_ready.js';

/** Rounds after which stabilize gives up: the group is not converging (a livelock). */
const STABILIZE_ROUNDS_MAX = 10_000;

export function handleStabilize(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idxs = nodeIdxs(args);
  const savedLevel = env.output.level;
  try {
    for (const arg of args) {
      if (arg.key !== 'log-level') continue;
      for (const val of arg.vals) {
        const err = setLogLevel(env, val);
        if (err !== null) return err;
      }
    }
    return stabilize(env, idxs);
  } finally {
    env.output.level = savedLevel;
  }
}

/** Runs the nodes at `idxs` (all when empty) to a fixed point (etcd's `Stabilize`). */
export function stabilize(env: InteractionEnv, idxs: readonly number[]): CommandResult {
  const nodes = idxs.length > 0 ? idxs.map((i) => env.node(i)) : [...env.nodes];
  for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
    const [done, err] = stabilizeRound(env, nodes);
    if (err !== null) return err;
    if (done) return null;
  }
  throw new DirectiveError(`stabilize: no fixed point after ${STABILIZE_ROUNDS_MAX} rounds`);
}

/** One round: Readies, then deliveries, then append threads, then apply threads. */
function stabilizeRound(
  env: InteractionEnv,
  nodes: readonly InteractionNode[],
): [boolean, CommandResult] {
  let done = true;
  for (const n of nodes) {
    if (!n.rawNode.hasReady()) continue;
    const id = n.config.id;
    env.output.write(`> ${id} handling Ready\n`);
    let err: CommandResult = null;
    env.withIndent(() => {
      err = processReady(env, id - 1);
    });
    if (err !== null) return [done, err];
    done = false;
  }
  for (const n of nodes) {
    const id = n.config.id;
    // The split only decides whether to print the header; deliverMsgs splits again.
    if (splitMsgs(env.messages, id, ANY_TYPE, false)[0].length === 0) continue;
    env.output.write(`> ${id} receiving messages\n`);
    env.withIndent(() => deliverMsgs(env, ANY_TYPE, [{ id, drop: false }]));
    done = false;
  }
  for (const n of nodes) {
    if (n.appendWork.length === 0) continue;
    const id = n.config.id;
    env.output.write(`> ${id} processing append thread\n`);
    while (n.appendWork.length > 0) {
      let err: CommandResult = null;
      env.withIndent(() => {
        err = processAppendThread(env, id - 1);
      });
      if (err !== null) return [done, err];
    }
    done = false;
  }
  for (const n of nodes) {
    if (n.applyWork.length === 0) continue;
    const id = n.config.id;
    env.output.write(`> ${id} processing apply thread\n`);
    // etcd's harness ignores apply errors here.
    while (n.applyWork.length > 0) env.withIndent(() => processApplyThread(env, id - 1));
    done = false;
  }
  return [done, null];
}
