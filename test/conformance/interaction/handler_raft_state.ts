/**
 * `raft-state`: one line per node, from its own point of view:
 * `<id>: <StateType> (Voter|Non-Voter) Term:<term> Lead:<lead>`.
 */
import { stateTypeNames } from '../../../src/raft/raft_state.js';
import type { CmdArg } from '../datadriven.js';
import type { InteractionEnv } from './env.js';
import type { CommandResult } from './handler.js';

export function handleRaftState(env: InteractionEnv, _args: CmdArg[]): CommandResult {
  for (const n of env.nodes) {
    const st = n.rawNode.status();
    const voter = st.config.voters.ids().includes(st.id) ? '(Voter)' : '(Non-Voter)';
    const state = stateTypeNames[st.softState.raftState];
    env.output.write(
      `${st.id}: ${state} ${voter} Term:${st.hardState.term} Lead:${st.softState.lead}\n`,
    );
  }
  return null;
}
