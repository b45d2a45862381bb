/**
 * The step functions of followers and (pre-)candidates (etcd's `stepFollower` and
 * `stepCandidate`). Order of operations and log texts follow etcd exactly.
 */

import { LogLevel } from './logger.js';
import { MessageType, messageTypeNames, type Message } from './raftpb.js';
import type { Raft } from './raft.js';
import { CampaignType, NONE, StateType, hex, stateTypeNames } from './raft_state.js';
import { ReadOnlyOption } from './config.js';
import { VoteResult } from './quorum/index.js';
import { PROPOSAL_DROPPED } from './raft_leader.js';

/** Shared by candidates and pre-candidates; each handles only its own kind of vote response. */
export function stepCandidate(r: Raft, m: Message): Error | null {
  // A candidate may still get stale pre-vote responses of this term: ignore them.
  const myVoteRespType =
    r.state === StateType.StatePreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      if (r.logger.level <= LogLevel.Info) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
      }
      return PROPOSAL_DROPPED;
    case MessageType.MsgApp:
      r.becomeFollower(m.term, m.from); // m.term === r.term here
      r.handleAppendEntries(m);
      return null;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      r.handleHeartbeat(m);
      return null;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from);
      r.handleSnapshot(m);
      return null;
    case myVoteRespType:
      stepVoteResp(r, m);
      return null;
    case MessageType.MsgTimeoutNow:
      if (r.logger.level <= LogLevel.Debug) {
        r.logger.debug(
          `${hex(r.id)} [term ${r.term} state ${stateTypeNames[r.state]}] ignored MsgTimeoutNow ` +
            `from ${hex(m.from)}`,
        );
      }
      return null;
  }
  return null;
}

function stepVoteResp(r: Raft, m: Message): void {
  const tally = r.poll(m.from, m.type, !m.reject);
  if (r.logger.level <= LogLevel.Info) {
    r.logger.info(
      `${hex(r.id)} has received ${tally.granted} ${messageTypeNames[m.type]} votes and ` +
        `${tally.rejected} vote rejections`,
    );
  }
  if (tally.result === VoteResult.VoteWon) {
    if (r.state === StateType.StatePreCandidate) {
      r.campaign(CampaignType.Election);
    } else {
      r.becomeLeader();
      r.bcastAppend();
    }
  } else if (tally.result === VoteResult.VoteLost) {
    // A pre-vote response carries a future term: keep ours.
    r.becomeFollower(r.term, NONE);
  }
}

/** Steps a message on a follower: track the leader, forward requests to it. */
export function stepFollower(r: Raft, m: Message): Error | null {
  switch (m.type) {
    case MessageType.MsgProp:
      return stepFollowerProp(r, m);
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return null;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return null;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return null;
    case MessageType.MsgTransferLeader:
      forwardToLeader(r, m, 'dropping leader transfer msg');
      return null;
    case MessageType.MsgForgetLeader:
      stepForgetLeader(r);
      return null;
    case MessageType.MsgTimeoutNow:
      if (r.logger.level <= LogLevel.Info) {
        r.logger.info(
          `${hex(r.id)} [term ${r.term}] received MsgTimeoutNow from ${hex(m.from)} and starts ` +
            'an election to get leadership.',
        );
      }
      // Transfers skip PreVote: the leader asked for it, so no partition is being healed.
      r.hup(CampaignType.Transfer);
      return null;
    case MessageType.MsgReadIndex:
      forwardToLeader(r, m, 'dropping index reading msg');
      return null;
    case MessageType.MsgReadIndexResp:
      stepReadIndexResp(r, m);
      return null;
  }
  return null;
}

function stepFollowerProp(r: Raft, m: Message): Error | null {
  if (r.lead === NONE) {
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
    }
    return PROPOSAL_DROPPED;
  }
  if (r.disableProposalForwarding) {
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(
        `${hex(r.id)} not forwarding to leader ${hex(r.lead)} at term ${r.term}; ` +
          'dropping proposal',
      );
    }
    return PROPOSAL_DROPPED;
  }
  m.to = r.lead;
  r.send(m);
  return null;
}

/** Forwards `m` to the leader, or drops it (logging `dropping`) when there is none. */
function forwardToLeader(r: Raft, m: Message, dropping: string): void {
  if (r.lead === NONE) {
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(`${hex(r.id)} no leader at term ${r.term}; ${dropping}`);
    }
    return;
  }
  m.to = r.lead;
  r.send(m);
}

function stepReadIndexResp(r: Raft, m: Message): void {
  if (m.entries.length !== 1) {
    if (r.logger.level <= LogLevel.Error) {
      r.logger.error(
        `${hex(r.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries ` +
          `count: ${m.entries.length}`,
      );
    }
    return;
  }
  r.addReadState(m.index, m.entries[0]!.data);
}

function stepForgetLeader(r: Raft): void {
  if (r.readOnly.option === ReadOnlyOption.ReadOnlyLeaseBased) {
    r.logger.error('ignoring MsgForgetLeader due to ReadOnlyLeaseBased');
    return;
  }
  if (r.lead !== NONE) {
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(`${hex(r.id)} forgetting leader ${hex(r.lead)} at term ${r.term}`);
    }
    r.lead = NONE;
  }
}
