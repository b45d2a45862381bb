/**
 * The leader's step function (etcd's `stepLeader`), split by message type. Order of
 * operations and log texts follow etcd exactly.
 */

import { LogLevel } from './logger.js';
import {
  EMPTY_BYTES,
  EMPTY_MESSAGES,
  EntryType,
  MessageType,
  type Entry,
  type Message,
} from './raftpb.js';
import type { Raft } from './raft.js';
import { NONE, hex } from './raft_state.js';
import { ReadOnlyOption } from './config.js';
import { ErrProposalDropped } from './errors.js';
import { StateType as ProgressState, type Progress } from './tracker/index.js';
import { asV2, decodeConfChange, decodeConfChangeV2 } from './confchange_codec.js';
import { confChangeText, confChangeV2Text } from './prototext.js';

/** The error every dropped proposal returns: etcd's shared ErrProposalDropped (cheap, `===`). */
export const PROPOSAL_DROPPED = ErrProposalDropped;

/** Steps a message on a leader; returns PROPOSAL_DROPPED for refused proposals. */
export function stepLeader(r: Raft, m: Message): Error | null {
  // These types need no progress for m.from.
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return null;
    case MessageType.MsgCheckQuorum:
      stepCheckQuorum(r);
      return null;
    case MessageType.MsgProp:
      return stepProp(r, m);
    case MessageType.MsgReadIndex:
      stepReadIndex(r, m);
      return null;
    case MessageType.MsgForgetLeader:
      return null;
  }

  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) {
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(`${hex(r.id)} no progress available for ${hex(m.from)}`);
    }
    return null;
  }
  switch (m.type) {
    case MessageType.MsgAppResp:
      // Also reached from advance(), where the leader acknowledges its own appends.
      pr.recentActive = true;
      if (m.reject) stepAppRespReject(r, m, pr);
      else stepAppRespAccept(r, m, pr);
      break;
    case MessageType.MsgHeartbeatResp:
      stepHeartbeatResp(r, m.from, m.context, pr);
      break;
    case MessageType.MsgSnapStatus:
      stepSnapStatus(r, m, pr);
      break;
    case MessageType.MsgUnreachable:
      // An unreachable peer has probably lost an append: fall back to probing.
      if (pr.state === ProgressState.StateReplicate) pr.becomeProbe();
      if (r.logger.level <= LogLevel.Debug) {
        r.logger.debug(
          `${hex(r.id)} failed to send message to ${hex(m.from)} because it is unreachable ` +
            `[${pr.toString()}]`,
        );
      }
      break;
    case MessageType.MsgTransferLeader:
      stepTransferLeader(r, m, pr);
      break;
  }
  return null;
}

function stepCheckQuorum(r: Raft): void {
  if (!r.trk.quorumActive()) {
    if (r.logger.level <= LogLevel.Warn) {
      r.logger.warn(`${hex(r.id)} stepped down to follower since quorum is not active`);
    }
    r.becomeFollower(r.term, NONE);
  }
  // Everyone but us starts the next interval inactive.
  const ids = r.trk.progress.ids;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id !== r.id) r.trk.progress.get(id)!.recentActive = false;
  }
}

function stepProp(r: Raft, m: Message): Error | null {
  const ents = m.entries;
  if (ents.length === 0) r.logger.fatal(`${hex(r.id)} stepped empty MsgProp`);
  if (r.trk.progress.get(r.id) === undefined) {
    // Removed from the configuration while leader: take no new proposals.
    return PROPOSAL_DROPPED;
  }
  if (r.leadTransferee !== NONE) {
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(
        `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(r.leadTransferee)} is in ` +
          'progress; dropping proposal',
      );
    }
    return PROPOSAL_DROPPED;
  }
  for (let i = 0; i < ents.length; i++) {
    const t = ents[i]!.type;
    if (t === EntryType.EntryConfChange || t === EntryType.EntryConfChangeV2) {
      checkConfChangeProposal(r, ents, i);
    }
  }
  if (!r.appendEntry(ents)) return PROPOSAL_DROPPED;
  r.bcastAppend();
  return null;
}

/**
 * Enforces one pending conf change at a time and the joint-config rules; a refused change is
 * replaced by an empty normal entry (unless validation is disabled).
 */
function checkConfChangeProposal(r: Raft, ents: Entry[], i: number): void {
  const e = ents[i]!;
  const cc =
    e.type === EntryType.EntryConfChange
      ? asV2(decodeConfChange(e.data))
      : decodeConfChangeV2(e.data);
  const alreadyPending = r.pendingConfIndex > r.raftLog.applied;
  const alreadyJoint = r.trk.config.voters.outgoing.size > 0;
  const wantsLeaveJoint = cc.changes.length === 0;

  let failedCheck = '';
  if (alreadyPending) {
    failedCheck =
      `possible unapplied conf change at index ${r.pendingConfIndex} ` +
      `(applied to ${r.raftLog.applied})`;
  } else if (alreadyJoint && !wantsLeaveJoint) {
    failedCheck = 'must transition out of joint config first';
  } else if (!alreadyJoint && wantsLeaveJoint) {
    failedCheck = 'not in joint state; refusing empty conf change';
  }

  if (failedCheck !== '' && !r.disableConfChangeValidation) {
    if (r.logger.level <= LogLevel.Info) {
      // etcd prints the decoded *pb.ConfChange or *pb.ConfChangeV2 with %v.
      const text =
        e.type === EntryType.EntryConfChange
          ? confChangeText(decodeConfChange(e.data))
          : confChangeV2Text(cc);
      r.logger.info(
        `${hex(r.id)} ignoring conf change ${text} at config ${r.trk.config.toString()}: ` +
          failedCheck,
      );
    }
    ents[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES };
  } else {
    r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
  }
}

function stepReadIndex(r: Raft, m: Message): void {
  // A single voter (the leader) needs no round trip.
  if (r.trk.isSingleton()) {
    const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
    if (resp.to !== NONE) r.send(resp);
    return;
  }
  // Until it commits an entry of its term, a new leader does not know the commit index.
  if (!r.committedEntryInCurrentTerm()) {
    if (r.pendingReadIndexMessages === EMPTY_MESSAGES) r.pendingReadIndexMessages = [];
    r.pendingReadIndexMessages.push(m);
    return;
  }
  sendMsgReadIndexResponse(r, m);
}

/** Answers a read: through a heartbeat quorum round (safe) or at once (lease-based). */
export function sendMsgReadIndexResponse(r: Raft, m: Message): void {
  if (r.readOnly.option === ReadOnlyOption.ReadOnlySafe) {
    r.readOnly.addRequest(r.raftLog.committed, m);
    // The leader acknowledges its own request.
    r.readOnly.recvAck(r.id, r.readOnly.heartbeatCtx());
    r.bcastHeartbeat();
  } else {
    const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
    if (resp.to !== NONE) r.send(resp);
  }
}

/** Releases reads held back until the first commit of the term. */
export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  if (!r.committedEntryInCurrentTerm()) {
    r.logger.error(
      'pending MsgReadIndex should be released only after first commit in current term',
    );
    return;
  }
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = EMPTY_MESSAGES;
  for (let i = 0; i < msgs.length; i++) sendMsgReadIndexResponse(r, msgs[i]!);
}

/**
 * A rejected append: probe lower. With a log term hint, skip every index whose term in our log
 * exceeds the follower's term there (such probes must fail too); at most one probe per term.
 */
function stepAppRespReject(r: Raft, m: Message, pr: Progress): void {
  if (r.logger.level <= LogLevel.Debug) {
    r.logger.debug(
      `${hex(r.id)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ` +
        `${m.logTerm})) from ${hex(m.from)} for index ${m.index}`,
    );
  }
  let nextProbeIdx = m.rejectHint;
  if (m.logTerm > 0) {
    nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
  }
  if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(`${hex(r.id)} decreased progress of ${hex(m.from)} to [${pr.toString()}]`);
    }
    if (pr.state === ProgressState.StateReplicate) pr.becomeProbe();
    r.sendAppend(m.from);
  }
}

function stepAppRespAccept(r: Raft, m: Message, pr: Progress): void {
  // Update on a higher match, or when a caught-up probing peer can go back to replicating.
  if (
    !(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.StateProbe))
  ) {
    return;
  }
  if (pr.state === ProgressState.StateProbe) {
    pr.becomeReplicate();
  } else if (
    pr.state === ProgressState.StateSnapshot &&
    pr.match + 1 >= r.raftLog.firstIndex()
  ) {
    // Whatever snapshot got the follower here, the log can take it from here on.
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(
        `${hex(r.id)} recovered from needing snapshot, resumed sending replication messages ` +
          `to ${hex(m.from)} [${pr.toString()}]`,
      );
    }
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.StateReplicate) {
    pr.inflights.freeLE(m.index);
  }

  if (r.maybeCommit()) {
    // A commit in this term makes held-back reads answerable.
    releasePendingReadIndexMessages(r);
    r.bcastAppend();
  } else if (r.id !== m.from && pr.canBumpCommit(r.raftLog.committed)) {
    // Tell the follower the commit index before the next heartbeat would.
    r.sendAppend(m.from);
  }
  // Flow control may have opened up: send as much as allowed, without empty appends.
  if (r.id !== m.from) {
    while (r.maybeSendAppend(m.from, false)) {
      // Keep sending.
    }
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(`${hex(r.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
    }
    r.sendTimeoutNow(m.from);
  }
}

/**
 * A follower `from` answered a heartbeat with `context`. Takes fields, not the message, so
 * that the message-free path (raft_heartbeat.ts) runs this very code.
 */
export function stepHeartbeatResp(r: Raft, from: number, context: Uint8Array, pr: Progress):
  void {
  pr.recentActive = true;
  pr.msgAppFlowPaused = false;
  // An append (possibly empty) unblocks a paused follower and lets a caught-up probing one
  // return to replicating. In StateSnapshot the progress is paused, so nothing is sent.
  if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressState.StateProbe) {
    r.sendAppend(from);
  }
  if (r.readOnly.option !== ReadOnlyOption.ReadOnlySafe || context.length === 0) return;
  r.readOnly.recvAck(from, context);
  const rss = r.readOnly.maybeAdvance(r.trk.config.voters);
  for (let i = 0; i < rss.length; i++) {
    const rs = rss[i]!;
    const resp = r.responseToReadIndexReq(rs.req, rs.index);
    if (resp.to !== NONE) r.send(resp);
  }
}

function stepSnapStatus(r: Raft, m: Message, pr: Progress): void {
  if (pr.state !== ProgressState.StateSnapshot) return;
  if (!m.reject) {
    pr.becomeProbe();
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(
        `${hex(r.id)} snapshot succeeded, resumed sending replication messages to ` +
          `${hex(m.from)} [${pr.toString()}]`,
      );
    }
  } else {
    // Clear the pending snapshot first, or probing would start from its index.
    pr.pendingSnapshot = 0;
    pr.becomeProbe();
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(
        `${hex(r.id)} snapshot failed, resumed sending replication messages to ` +
          `${hex(m.from)} [${pr.toString()}]`,
      );
    }
  }
  // Wait for the MsgAppResp (success) or a heartbeat interval (failure) before appending.
  pr.msgAppFlowPaused = true;
}

function stepTransferLeader(r: Raft, m: Message, pr: Progress): void {
  if (pr.isLearner) {
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(`${hex(r.id)} is learner. Ignored transferring leadership`);
    }
    return;
  }
  const leadTransferee = m.from;
  const lastLeadTransferee = r.leadTransferee;
  if (lastLeadTransferee !== NONE) {
    if (lastLeadTransferee === leadTransferee) {
      if (r.logger.level <= LogLevel.Info) {
        r.logger.info(
          `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(leadTransferee)} is in ` +
            `progress, ignores request to same node ${hex(leadTransferee)}`,
        );
      }
      return;
    }
    r.abortLeaderTransfer();
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(
        `${hex(r.id)} [term ${r.term}] abort previous transferring leadership to ` +
          hex(lastLeadTransferee),
      );
    }
  }
  if (leadTransferee === r.id) {
    if (r.logger.level <= LogLevel.Debug) {
      r.logger.debug(`${hex(r.id)} is already leader. Ignored transferring leadership to self`);
    }
    return;
  }
  if (r.logger.level <= LogLevel.Info) {
    r.logger.info(
      `${hex(r.id)} [term ${r.term}] starts to transfer leadership to ${hex(leadTransferee)}`,
    );
  }
  // The transfer must finish within one election timeout.
  r.electionElapsed = 0;
  r.leadTransferee = leadTransferee;
  if (pr.match === r.raftLog.lastIndex()) {
    r.sendTimeoutNow(leadTransferee);
    if (r.logger.level <= LogLevel.Info) {
      r.logger.info(
        `${hex(r.id)} sends MsgTimeoutNow to ${hex(leadTransferee)} immediately as ` +
          `${hex(leadTransferee)} already has up-to-date log`,
      );
    }
  } else {
    r.sendAppend(leadTransferee);
  }
}
