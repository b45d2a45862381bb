/**
 * The command dispatcher of the interaction environment (etcd's interaction_env_handler.go).
 *
 * A directive runs its own command, then each line of its input as a further command (except
 * `propose-conf-change`, whose input is the change). Errors that Raft or the storage return
 * are part of the output, as etcd prints them; harness errors (bad arguments, an unknown
 * command, a panic) throw and fail the directive. An empty output reads `ok`.
 */
import { FlotillaError } from '../../../src/util/errors.js';
import {
  DirectiveError,
  parseInt10,
  parseLine,
  type CmdArg,
  type Directive,
} from '../datadriven.js';
import type { DirectiveHandler } from '../runner.js';
import { InteractionEnv } from './env.js';
import { handleAddNodes } from './handler_add_nodes.js';
import { handleCampaign } from './handler_campaign.js';
import { handleCompact } from './handler_compact.js';
import { handleDeliverMsgs } from './handler_deliver_msgs.js';
import { handleForgetLeader } from './handler_forget_leader.js';
import { handleLogLevel } from './handler_log_level.js';
import { handleProcessAppendThread } from './handler_process_append_thread.js';
import { handleProcessApplyThread } from './handler_process_apply_thread.js';
import { handleProcessReady } from './handler_process_ready.js';
import { handlePropose } from './handler_propose.js';
import { handleProposeConfChange } from './handler_propose_conf_change.js';
import { handleRaftLog } from './handler_raft_log.js';
import { handleRaftState } from './handler_raft_state.js';
import { handleReportUnreachable } from './handler_report_unreachable.js';
import { handleSendSnapshot } from './handler_send_snapshot.js';
import { handleSetRandomizedElectionTimeout } from './handler_set_randomized_election_timeout.js';
import { handleStabilize } from './handler_stabilize.js';
import { handleStatus } from './handler_status.js';
import { handleTickElection, handleTickHeartbeat } from './handler_tick.js';
import { handleTransferLeadership } from './handler_transfer_leadership.js';

/**
 * What a command returns: null on success, or an error Raft or the storage reported, which
 * goes into the output (etcd's `error` results).
 */
export type CommandResult = Error | null;

type Command = (env: InteractionEnv, args: CmdArg[]) => CommandResult;

/** The commands that take only arguments (all but propose-conf-change). */
const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['_breakpoint', () => null],
  ['add-nodes', handleAddNodes],
  ['campaign', handleCampaign],
  ['compact', handleCompact],
  ['deliver-msgs', handleDeliverMsgs],
  ['forget-leader', handleForgetLeader],
  ['log-level', handleLogLevel],
  ['process-append-thread', handleProcessAppendThread],
  ['process-apply-thread', handleProcessApplyThread],
  ['process-ready', handleProcessReady],
  ['propose', handlePropose],
  ['raft-log', handleRaftLog],
  ['raft-state', handleRaftState],
  ['report-unreachable', handleReportUnreachable],
  ['send-snapshot', handleSendSnapshot],
  ['set-randomized-election-timeout', handleSetRandomizedElectionTimeout],
  ['stabilize', handleStabilize],
  ['status', handleStatus],
  ['tick-election', handleTickElection],
  ['tick-heartbeat', handleTickHeartbeat],
  ['transfer-leadership', handleTransferLeadership],
]);

/**
 * Runs a Raft or storage call whose failure etcd reports as an error value: a returned
 * Error, or a thrown FlotillaError (a typed, expected failure), becomes the result. Anything
 * else thrown (assertions, panics) propagates and fails the directive.
 */
export function raftCall(f: () => unknown): CommandResult {
  try {
    const r = f();
    return r instanceof Error ? r : null;
  } catch (err) {
    if (err instanceof FlotillaError) return err;
    throw err;
  }
}

function handleSingle(env: InteractionEnv, cmd: string, args: CmdArg[]): CommandResult {
  const command = COMMANDS.get(cmd);
  if (command === undefined) throw new DirectiveError(`unknown command: ${cmd}`);
  return command(env, args);
}

/** Runs the directive's command, then each input line as a command of its own. */
function handleMultiCommand(env: InteractionEnv, d: Directive): CommandResult {
  const err = handleSingle(env, d.cmd, d.args);
  if (err !== null) return err;
  if (d.input === '') return null;
  for (const line of d.input.split('\n')) {
    let parsed: ReturnType<typeof parseLine>;
    try {
      parsed = parseLine(line);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new DirectiveError(`could not parse the command line ${JSON.stringify(line)}: ${why}`);
    }
    if (parsed === null) continue;
    const lineErr = handleSingle(env, parsed.cmd, parsed.args);
    if (lineErr !== null) {
      if (env.output.quiet()) return lineErr;
      env.output.write(lineErr.message);
    }
  }
  return null;
}

/** Runs one directive against the environment and returns its output (etcd's `Handle`). */
export function handle(env: InteractionEnv, d: Directive): string {
  env.output.reset();
  const err =
    d.cmd === 'propose-conf-change'
      ? handleProposeConfChange(env, d.args, d.input)
      : handleMultiCommand(env, d);
  // The NONE level suppresses all output, but an error is still returned.
  if (err !== null) {
    if (env.output.quiet()) return err.message;
    env.output.write(err.message);
  }
  return env.output.length === 0 ? 'ok' : env.output.toString();
}

/** The first argument as a node index (1-based id in the file, 0-based here). */
export function firstAsNodeIdx(args: readonly CmdArg[]): number {
  return firstAsInt(args) - 1;
}

/** The first argument (a bare key) as an integer. */
export function firstAsInt(args: readonly CmdArg[]): number {
  const first = args[0];
  if (first === undefined) throw new DirectiveError('missing node id argument');
  return parseInt10(first.key, 'node id');
}

/** The 0-based node indexes of all bare (value-less) arguments. */
export function nodeIdxs(args: readonly CmdArg[]): number[] {
  const out: number[] = [];
  for (const arg of args) {
    if (arg.vals.length !== 0) continue;
    out.push(parseInt10(arg.key, 'node id') - 1);
  }
  return out;
}

/** A fresh interaction environment for one file. */
export function createInteractionHandler(): DirectiveHandler {
  const env = new InteractionEnv();
  return { handle: (d) => handle(env, d) };
}
