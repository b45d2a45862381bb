/**
 * The Raft state machine (etcd's `raft` struct): terms, votes, roles, the log, replication
 * progress and configuration. `RawNode` wraps it; the conformance harness reads its fields,
 * which therefore keep etcd's names (in camelCase) and stay public.
 *
 * Everything here is synchronous and deterministic: input arrives through `step` and `tick`,
 * output leaves through `msgs` and `msgsAfterAppend` and the log's unstable part, which
 * `RawNode` turns into a `Ready`. Ordering of operations follows etcd exactly, because the
 * corpus compares every message and log line.
 */

import { assert } from '../util/index.js';
import { Config } from './config.js';
import type { ConfigOptions } from './config.js';
import { LogLevel, type RaftLogger } from './logger.js';
import type { RandomSource } from './rand.js';
import {
  EMPTY_BYTES,
  EMPTY_ENTRIES,
  EMPTY_MESSAGES,
  EntryType,
  MessageType,
  isEmptyHardState,
  messageTypeNames,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './raftpb.js';
import {
  CAMPAIGN_TRANSFER_CONTEXT,
  CampaignType,
  NONE,
  StateType,
  bytesEqual,
  hex,
} from './raft_state.js';
import { stepLeader } from './raft_leader.js';
import { stepCandidate, stepFollower } from './raft_follower.js';
import { newLogWithSize, type RaftLog } from './log.js';
import {
  Inflights,
  ProgressTracker,
  StateType as ProgressState,
  type Progress,
  type ProgressMap,
  type TrackerConfig,
  type VoteTally,
} from './tracker/index.js';
import { Changer, restore as restoreConfState, type ChangeResult } from './confchange/index.js';
import { ReadOnly, type ReadState } from './read_only.js';
import type { SoftState } from './status.js';
import { ErrSnapshotTemporarilyUnavailable, isStorageError } from './errors.js';
import {
  assertConfStatesEquivalent,
  entsSize,
  payloadsSize,
  voteRespMsgType,
} from './util.js';
import { enterJoint, leaveJoint } from './confchange_codec.js';
import { confStateText } from './prototext.js';

export { StateType, CampaignType, NONE } from './raft_state.js';

/** Builds a message with every field set, so that all messages share one hidden class. */
export function msg(type: MessageType, to: number, term: number): Message {
  return {
    type,
    to,
    from: 0,
    term,
    logTerm: 0,
    index: 0,
    entries: EMPTY_ENTRIES,
    commit: 0,
    vote: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    responses: EMPTY_MESSAGES,
  };
}

/** The Raft state machine of one group member. */
export class Raft {
  id: number;
  term = 0;
  vote = 0;
  /** ReadIndex answers not yet handed out in a Ready (a shared empty array when none). */
  readStates: ReadState[] = EMPTY_READ_STATES;
  raftLog: RaftLog;
  /** Bytes per MsgApp (etcd's maxMsgSize). */
  maxMsgSize: number;
  /** Bytes of uncommitted payload a leader accepts (etcd's maxUncommittedSize). */
  maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.StateFollower;
  isLearner = false;
  /**
   * Bumped by every switch of the configuration (switchToConfig, the one way the progress
   * map's members change), so a host may cache who the members are (RawNode.hasPeer).
   */
  configVersion = 0;
  /** Messages to send at once. Never self-addressed. */
  msgs: Message[] = EMPTY_MESSAGES;
  /** Messages to send once the unstable state they depend on is durable (responses, votes). */
  msgsAfterAppend: Message[] = EMPTY_MESSAGES;
  lead = NONE;
  leadTransferee = NONE;
  /**
   * At least the index of the latest conf change in the log; a new one may be proposed only
   * once the applied index has passed it (one pending conf change at a time).
   */
  pendingConfIndex = 0;
  disableConfChangeValidation: boolean;
  /** Estimated bytes of uncommitted payload in a leader's log; reset on term change. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /** Ticks since the last election timeout (leader, candidate) or leader contact (follower). */
  electionElapsed = 0;
  /** Ticks since the last heartbeat round; leader only. */
  heartbeatElapsed = 0;
  checkQuorum: boolean;
  preVote: boolean;
  heartbeatTimeout: number;
  electionTimeout: number;
  /** Drawn from [electionTimeout, 2*electionTimeout-1] on every reset. */
  randomizedElectionTimeout = 0;
  disableProposalForwarding: boolean;
  stepDownOnRemoval: boolean;
  logger: RaftLogger;
  /** MsgReadIndex requests a new leader holds until it commits an entry of its term. */
  pendingReadIndexMessages: Message[] = EMPTY_MESSAGES;
  /** The shared random source for election timeouts. */
  random: RandomSource;

  constructor(options: Config | ConfigOptions) {
    const c = options instanceof Config ? options : new Config(options);
    c.validate();
    this.id = c.id;
    this.logger = c.logger;
    this.random = c.random;
    this.raftLog = newLogWithSize(c.storage, c.logger, c.maxCommittedSizePerReady);
    const { hardState, confState } = c.storage.initialState();
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.disableConfChangeValidation = c.disableConfChangeValidation;
    this.stepDownOnRemoval = c.stepDownOnRemoval;

    const last = this.raftLog.lastEntryID();
    const restored = restoreConfState(new Changer(this.trk, last.index), confState);
    assertConfStatesEquivalent(
      this.logger,
      confState,
      this.switchToConfig(restored.config, restored.progress),
    );

    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied > 0) this.raftLog.appliedTo(c.applied, 0);
    this.becomeFollower(this.term, NONE);

    if (this.logger.level <= LogLevel.Info) {
      const peers = this.trk.voterNodes().map(hex).join(',');
      this.logger.info(
        `newRaft ${hex(this.id)} [peers: [${peers}], term: ${this.term}, ` +
          `commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, ` +
          `lastindex: ${last.index}, lastterm: ${last.term}]`,
      );
    }
  }

  /** Whether this node knows a leader of its term. */
  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  /** The volatile state (leader, role); a new object. */
  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  /** The state to persist (term, vote, commit); a new object. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---------------------------------------------------------------------------------------
  // Sending.

  /**
   * Queues `m`: vote and append responses wait in msgsAfterAppend until the state they vouch
   * for is durable; everything else goes to msgs. Sets `from` and (for non-vote types) `term`.
   */
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      if (m.term === 0) {
        this.logger.fatal(`term should be set when sending ${messageTypeNames[t]}`);
      }
    } else {
      if (m.term !== 0) {
        this.logger.fatal(
          `term should not be set when sending ${messageTypeNames[t]} (was ${m.term})`,
        );
      }
      // Proposals and read requests are forwarded to the leader as local messages.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    if (
      t === MessageType.MsgAppResp ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVoteResp
    ) {
      // V8: `[m]` allocates a one-slot backing store; `[]` then push allocates 17 slots.
      if (this.msgsAfterAppend === EMPTY_MESSAGES) this.msgsAfterAppend = [m];
      else this.msgsAfterAppend.push(m);
    } else {
      if (m.to === this.id) {
        this.logger.fatal(
          `message should not be self-addressed when sending ${messageTypeNames[t]}`,
        );
      }
      if (this.msgs === EMPTY_MESSAGES) this.msgs = [m];
      else this.msgs.push(m);
    }
  }

  /** Sends an append (possibly empty, to carry the commit index) to `to`. */
  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends an append with the entries `to` lacks, or a snapshot when they are compacted away.
   * Returns whether a message was sent; with `sendIfEmpty` false, empty appends are skipped.
   */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    // The message is built only on failure: this runs for every append sent.
    if (pr === undefined) assert(false, `no progress for ${to}`);
    if (pr.isPaused()) return false;

    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    if (typeof prevTerm !== 'number') {
      // The log was truncated at or after pr.next: only a snapshot can catch `to` up.
      return this.maybeSendSnapshot(to, pr);
    }
    let ents: Entry[] = EMPTY_ENTRIES;
    let failed = false;
    // A throttled replicating follower only gets empty appends, which still make progress.
    if (pr.state !== ProgressState.StateReplicate || !pr.inflights.full()) {
      const res = this.raftLog.entries(pr.next, this.maxMsgSize);
      if (Array.isArray(res)) ents = res;
      else failed = true;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    if (failed) return this.maybeSendSnapshot(to, pr);

    const m = msg(MessageType.MsgApp, to, 0);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.raftLog.committed;
    this.send(m);
    pr.sentEntries(ents.length, payloadsSize(ents));
    pr.sentCommit(this.raftLog.committed);
    return true;
  }

  /** Sends the storage snapshot to `to`; returns whether it was sent. */
  maybeSendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) {
      if (this.logger.level <= LogLevel.Debug) {
        this.logger.debug(
          `ignore sending snapshot to ${hex(to)} since it is not recently active`,
        );
      }
      return false;
    }
    const snapshot = this.raftLog.snapshot();
    if (isStorageError(snapshot)) {
      if (snapshot === ErrSnapshotTemporarilyUnavailable) {
        if (this.logger.level <= LogLevel.Debug) {
          this.logger.debug(
            `${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is ` +
              'temporarily unavailable',
          );
        }
        return false;
      }
      throw snapshot;
    }
    if (snapshot.metadata.index === 0) this.logger.fatal('need non-empty snapshot');
    const sindex = snapshot.metadata.index;
    const sterm = snapshot.metadata.term;
    if (this.logger.level <= LogLevel.Debug) {
      this.logger.debug(
        `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ` +
          `${this.raftLog.committed}] sent snapshot[index: ${sindex}, term: ${sterm}] to ` +
          `${hex(to)} [${pr.toString()}]`,
      );
    }
    pr.becomeSnapshot(sindex);
    if (this.logger.level <= LogLevel.Debug) {
      this.logger.debug(
        `${hex(this.id)} paused sending replication messages to ${hex(to)} [${pr.toString()}]`,
      );
    }
    const m = msg(MessageType.MsgSnap, to, 0);
    m.snapshot = snapshot;
    this.send(m);
    return true;
  }

  /** Sends a heartbeat carrying min(match, committed): never a commit `to` cannot verify. */
  sendHeartbeat(to: number, ctx: Uint8Array): void {
    const pr = this.trk.progress.get(to)!;
    const commit = Math.min(pr.match, this.raftLog.committed);
    const m = msg(MessageType.MsgHeartbeat, to, 0);
    m.commit = commit;
    m.context = ctx;
    this.send(m);
    pr.sentCommit(commit);
  }

  /** Sends appends to every peer that is not up to date. */
  bcastAppend(): void {
    const ids = this.trk.progress.ids;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id !== this.id) this.maybeSendAppend(id, true);
    }
  }

  /**
   * Sends heartbeats to all peers, carrying the read-queue position that their answers
   * confirm (empty when no read is pending).
   */
  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.heartbeatCtx());
  }

  /** Sends heartbeats carrying `ctx` to every peer. */
  bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    const ids = this.trk.progress.ids;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Applying and committing.

  /** Records application up to `index`; a leader then leaves an auto-leave joint config. */
  appliedTo(index: number, size: number): void {
    const oldApplied = this.raftLog.applied;
    const newApplied = Math.max(index, oldApplied);
    this.raftLog.appliedTo(newApplied, size);

    if (
      this.trk.config.autoLeave &&
      newApplied >= this.pendingConfIndex &&
      this.state === StateType.StateLeader
    ) {
      // An empty ConfChangeV2 leaves the joint config; its zero size is never refused.
      const m = msg(MessageType.MsgProp, 0, 0);
      m.entries = [{ term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: EMPTY_BYTES }];
      const err = this.step(m);
      if (err !== null) {
        if (this.logger.level <= LogLevel.Debug) {
          this.logger.debug(
            'not initiating automatic transition out of joint configuration ' +
              `${this.trk.config.toString()}: ${err.message}`,
          );
        }
      } else if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          'initiating automatic transition out of joint configuration ' +
            this.trk.config.toString(),
        );
      }
    }
  }

  /** Records that the snapshot was written to storage and applied. */
  appliedSnap(snap: Snapshot): void {
    const index = snap.metadata.index;
    this.raftLog.stableSnapTo(index);
    this.appliedTo(index, 0);
  }

  /** Advances the commit index to what a quorum acknowledged; leader only. */
  maybeCommit(): boolean {
    assert(this.state === StateType.StateLeader, 'only a leader commits by counting');
    return this.raftLog.maybeCommitAt(this.trk.committed(), this.term);
  }

  /** Resets the volatile state for `term` (etcd's reset). */
  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    const ids = this.trk.progress.ids;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      resetProgress(this.trk.progress.get(id)!, id === this.id ? lastIndex : 0, lastIndex + 1,
        this.trk);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
    assert(this.leadTransferee === NONE && this.lead === NONE, 'reset left a leader behind');
  }

  /**
   * Appends proposals at the current term, unless they exceed the uncommitted-size quota.
   * The leader acknowledges them to itself once durable (an MsgAppResp in msgsAfterAppend).
   */
  appendEntry(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      const e = es[i]!;
      e.term = this.term;
      e.index = li + 1 + i;
    }
    if (!this.increaseUncommittedSize(es)) {
      if (this.logger.level <= LogLevel.Warn) {
        this.logger.warn(
          `${hex(this.id)} appending new entries to log would exceed uncommitted entry size ` +
            'limit; dropping proposal',
        );
      }
      return false;
    }
    li = this.raftLog.append(es);
    assert(es.length === 0 || li === es[es.length - 1]!.index, 'appended entries are not last');
    const m = msg(MessageType.MsgAppResp, this.id, 0);
    m.index = li;
    this.send(m);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Ticks and role changes.

  /** Advances the logical clock by one tick. */
  tick(): void {
    if (this.state === StateType.StateLeader) this.tickHeartbeat();
    else this.tickElection();
  }

  /** Followers and candidates: campaign once the randomized election timeout passes. */
  tickElection(): void {
    this.electionElapsed++;
    // The clock first: both checks are free of side effects, so the order does not change
    // the outcome, but the clock is one field while promotable() reads the progress tracker
    // and the log (three more objects on every tick of every awake follower).
    if (this.pastElectionTimeout() && this.promotable()) {
      this.electionElapsed = 0;
      const m = msg(MessageType.MsgHup, 0, 0);
      m.from = this.id;
      const err = this.step(m);
      if (err !== null && this.logger.level <= LogLevel.Debug) {
        this.logger.debug(`error occurred during election: ${err.message}`);
      }
    }
  }

  /** Leaders: heartbeat every heartbeatTimeout; check quorum every electionTimeout. */
  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;

    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        const m = msg(MessageType.MsgCheckQuorum, 0, 0);
        m.from = this.id;
        const err = this.step(m);
        if (err !== null && this.logger.level <= LogLevel.Debug) {
          this.logger.debug(`error occurred during checking sending heartbeat: ${err.message}`);
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.StateLeader && this.leadTransferee !== NONE) {
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== StateType.StateLeader) return;

    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      const m = msg(MessageType.MsgBeat, 0, 0);
      m.from = this.id;
      const err = this.step(m);
      if (err !== null && this.logger.level <= LogLevel.Debug) {
        this.logger.debug(`error occurred during checking sending heartbeat: ${err.message}`);
      }
    }
  }

  /** Becomes a follower of `lead` (0: unknown) at `term`. */
  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.StateFollower;
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(`${hex(this.id)} became follower at term ${this.term}`);
    }
  }

  /** Becomes a candidate of the next term, voting for itself. */
  becomeCandidate(): void {
    if (this.state === StateType.StateLeader) {
      this.logger.fatal('invalid transition [leader -> candidate]');
    }
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(`${hex(this.id)} became candidate at term ${this.term}`);
    }
  }

  /** Pre-candidates keep their term and vote: only the role and the tally change. */
  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) {
      this.logger.fatal('invalid transition [leader -> pre-candidate]');
    }
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = StateType.StatePreCandidate;
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
    }
  }

  /** Becomes leader and appends an empty entry of the new term (to commit by counting). */
  becomeLeader(): void {
    if (this.state === StateType.StateFollower) {
      this.logger.fatal('invalid transition [follower -> leader]');
    }
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.StateLeader;
    // The leader trivially replicates to itself, and is always recently active.
    const pr = this.trk.progress.get(this.id);
    assert(pr !== undefined && !pr.isLearner, 'a leader must be a voter of its configuration');
    pr.becomeReplicate();
    pr.recentActive = true;
    // Conservatively treat everything in the log as a possibly pending conf change.
    this.pendingConfIndex = this.raftLog.lastIndex();

    const empty: Entry = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES };
    if (!this.appendEntry([empty])) this.logger.fatal('empty entry was dropped');
    // The empty entry has payload size 0, so uncommittedSize is still 0 here.
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(`${hex(this.id)} became leader at term ${this.term}`);
    }
  }

  /** Starts an election if this node may (etcd's hup). Idempotent on a leader. */
  hup(t: CampaignType): void {
    if (this.state === StateType.StateLeader) {
      if (this.logger.level <= LogLevel.Debug) {
        this.logger.debug(`${hex(this.id)} ignoring MsgHup because already leader`);
      }
      return;
    }
    if (!this.promotable()) {
      if (this.logger.level <= LogLevel.Warn) {
        this.logger.warn(`${hex(this.id)} is unpromotable and can not campaign`);
      }
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      if (this.logger.level <= LogLevel.Warn) {
        this.logger.warn(
          `${hex(this.id)} cannot campaign at term ${this.term} since there are still ` +
            'pending configuration changes to apply',
        );
      }
      return;
    }
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    }
    this.campaign(t);
  }

  /** Whether a committed but unapplied entry is a conf change (scanned in pages). */
  hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    return log.applied < log.committed && this.hasConfChangeIn(log.applied + 1, log.committed + 1);
  }

  /** Whether an entry in [lo, hi) is a conf change (scanned in pages). */
  private hasConfChangeIn(lo: number, hi: number): boolean {
    const log = this.raftLog;
    assert(log.applied < lo && lo < hi && hi <= log.committed + 1, 'scan unapplied entries');
    let found = false;
    const err = log.scan(lo, hi, log.maxApplyingEntsSize, (ents: Entry[]) => {
      for (let i = 0; i < ents.length; i++) {
        const t = ents[i]!.type;
        if (t === EntryType.EntryConfChange || t === EntryType.EntryConfChangeV2) {
          found = true;
          return ERR_BREAK;
        }
      }
      return null;
    });
    if (err !== null && err !== ERR_BREAK) {
      this.logger.fatal(`error scanning unapplied entries [${lo}, ${hi}): ${err.message}`);
    }
    return found;
  }

  /** Becomes (pre-)candidate and requests votes; the self-vote waits for durability. */
  campaign(t: CampaignType): void {
    if (!this.promotable() && this.logger.level <= LogLevel.Warn) {
      this.logger.warn(`${hex(this.id)} is unpromotable; campaign() should have been called`);
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-votes ask for the next term without incrementing ours.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    const ids = this.trk.config.voters.ids();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === this.id) {
        this.send(msg(voteRespMsgType(voteMsg), id, term));
        continue;
      }
      const last = this.raftLog.lastEntryID();
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}] sent ` +
            `${messageTypeNames[voteMsg]} request to ${hex(id)} at term ${this.term}`,
        );
      }
      const m = msg(voteMsg, id, term);
      m.index = last.index;
      m.logTerm = last.term;
      if (t === CampaignType.Transfer) m.context = CAMPAIGN_TRANSFER_CONTEXT;
      this.send(m);
    }
  }

  /** Records a vote and returns the tally. */
  poll(id: number, t: MessageType, v: boolean): VoteTally {
    if (this.logger.level <= LogLevel.Info) {
      if (v) {
        this.logger.info(
          `${hex(this.id)} received ${messageTypeNames[t]} from ${hex(id)} at term ${this.term}`,
        );
      } else {
        this.logger.info(
          `${hex(this.id)} received ${messageTypeNames[t]} rejection from ${hex(id)} at term ` +
            `${this.term}`,
        );
      }
    }
    this.trk.recordVote(id, v);
    return this.trk.tallyVotes();
  }

  // ---------------------------------------------------------------------------------------
  // Step.

  /**
   * Advances the state machine with one message. Returns an error (without throwing) when a
   * proposal was dropped; RawNode turns that into an exception for its caller.
   */
  step(m: Message): Error | null {
    if (m.term === 0) {
      // A local message.
    } else if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return null;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return null;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return null;
      case MessageType.MsgStorageAppendResp:
        this.handleStorageAppendResp(m.index, m.logTerm, m.snapshot);
        return null;
      case MessageType.MsgStorageApplyResp:
        this.handleStorageApplyResp(m.entries);
        return null;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        this.stepVote(m);
        return null;
      default:
        switch (this.state) {
          case StateType.StateLeader:
            return stepLeader(this, m);
          case StateType.StateFollower:
            return stepFollower(this, m);
          default:
            return stepCandidate(this, m);
        }
    }
  }

  /** Handles a message from a higher term; returns false when the message is to be ignored. */
  private stepHigherTerm(m: Message): boolean {
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgPreVote) {
      const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CONTEXT);
      const inLease =
        this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
      if (!force && inLease) {
        // Within the lease of a current leader, neither bump the term nor grant the vote.
        if (this.logger.level <= LogLevel.Info) {
          const last = this.raftLog.lastEntryID();
          this.logger.info(
            `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}, vote: ` +
              `${hex(this.vote)}] ignored ${messageTypeNames[t]} from ${hex(m.from)} ` +
              `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not ` +
              `expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
        }
        return false;
      }
    }
    if (t === MessageType.MsgPreVote) {
      // Never change the term in response to a pre-vote.
    } else if (t === MessageType.MsgPreVoteResp && !m.reject) {
      // A granted pre-vote carries the future term; the term changes when a quorum grants.
    } else {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] received a ${messageTypeNames[t]} message ` +
            `with higher term from ${hex(m.from)} [term: ${m.term}]`,
        );
      }
      if (t === MessageType.MsgApp || t === MessageType.MsgHeartbeat || t === MessageType.MsgSnap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    }
    return true;
  }

  /** Handles a message from a lower term (always ignored, sometimes answered). */
  private stepLowerTerm(m: Message): void {
    const t = m.type;
    if (
      (this.checkQuorum || this.preVote) &&
      (t === MessageType.MsgHeartbeat || t === MessageType.MsgApp)
    ) {
      // A stale leader, or a node that bumped its term while partitioned: answering with our
      // term lets it step down or lets the cluster notice us without a disruptive election.
      this.send(msg(MessageType.MsgAppResp, m.from, 0));
    } else if (t === MessageType.MsgPreVote) {
      // Rejecting (rather than dropping) avoids a deadlock with higher-term candidates.
      if (this.logger.level <= LogLevel.Info) {
        const last = this.raftLog.lastEntryID();
        this.logger.info(
          `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}, vote: ` +
            `${hex(this.vote)}] rejected ${messageTypeNames[t]} from ${hex(m.from)} ` +
            `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
      }
      const resp = msg(MessageType.MsgPreVoteResp, m.from, this.term);
      resp.reject = true;
      this.send(resp);
    } else if (t === MessageType.MsgStorageAppendResp) {
      this.handleStaleStorageAppendResp(m.term, m.index, m.snapshot);
    } else if (this.logger.level <= LogLevel.Info) {
      this.logger.info(
        `${hex(this.id)} [term: ${this.term}] ignored a ${messageTypeNames[t]} message with ` +
          `lower term from ${hex(m.from)} [term: ${m.term}]`,
      );
    }
  }

  /**
   * Steps a storage append acknowledgement given by its fields: exactly what stepping a
   * MsgStorageAppendResp with this term, index, log term and snapshot does, without the
   * message. RawNode acknowledges synchronous Readys this way on advance(), so a Ready costs
   * no acknowledgement messages. The term was read from this node when the Ready was accepted
   * (0 before any term: the ack then counts as local, as the message would).
   */
  stepStorageAppendResp(term: number, index: number, logTerm: number, snap: Snapshot | null): void {
    assert(term <= this.term, 'a storage ack from a future term');
    if (term !== 0 && term < this.term) this.handleStaleStorageAppendResp(term, index, snap);
    else this.handleStorageAppendResp(index, logTerm, snap);
  }

  /**
   * Steps a storage apply acknowledgement of `ents`: what stepping a MsgStorageApplyResp
   * carrying them does (it has no term), without the message.
   */
  stepStorageApplyResp(ents: Entry[]): void {
    this.handleStorageApplyResp(ents);
  }

  /** Entries up to (index, logTerm) and the snapshot, if any, are durable. */
  private handleStorageAppendResp(index: number, logTerm: number, snap: Snapshot | null): void {
    if (index !== 0) this.raftLog.stableToAt(index, logTerm);
    if (snap !== null) this.appliedSnap(snap);
  }

  /** A storage ack from an earlier term: its entries may have been overwritten since. */
  private handleStaleStorageAppendResp(term: number, index: number, snap: Snapshot | null): void {
    if (index !== 0 && this.logger.level <= LogLevel.Info) {
      // The entries may have been overwritten in a later term: they are not stable.
      this.logger.info(
        `${hex(this.id)} [term: ${this.term}] ignored entry appends from a ` +
          `${messageTypeNames[MessageType.MsgStorageAppendResp]} message with lower term ` +
          `[term: ${term}]`,
      );
    }
    // A snapshot is committed state and stays valid whatever the term.
    if (snap !== null) this.appliedSnap(snap);
  }

  /** The committed entries `ents` were applied. */
  private handleStorageApplyResp(ents: Entry[]): void {
    if (ents.length === 0) return;
    const index = ents[ents.length - 1]!.index;
    this.appliedTo(index, entsSize(ents));
    this.reduceUncommittedSize(payloadsSize(ents));
  }

  /** Grants or rejects a (pre-)vote. */
  private stepVote(m: Message): void {
    // A repeat of our vote, or no vote and no known leader, or a pre-vote for a later term.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.MsgPreVote && m.term > this.term);
    const last = this.raftLog.lastEntryID();
    // Learners vote too: a learner may have been promoted without knowing it yet.
    if (canVote && this.raftLog.isUpToDate({ term: m.logTerm, index: m.index })) {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}, vote: ` +
            `${hex(this.vote)}] cast ${messageTypeNames[m.type]} for ${hex(m.from)} ` +
            `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
      }
      // Answer with the message's term: for pre-votes ours may be behind.
      this.send(msg(voteRespMsgType(m.type), m.from, m.term));
      if (m.type === MessageType.MsgVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}, vote: ` +
            `${hex(this.vote)}] rejected ${messageTypeNames[m.type]} from ${hex(m.from)} ` +
            `[logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
      }
      const resp = msg(voteRespMsgType(m.type), m.from, this.term);
      resp.reject = true;
      this.send(resp);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Follower-side handlers.

  /** Appends a leader's entries, or rejects them with a hint where the logs may match. */
  handleAppendEntries(m: Message): void {
    const log = this.raftLog;
    if (m.index < log.committed) {
      const resp = msg(MessageType.MsgAppResp, m.from, 0);
      resp.index = log.committed;
      this.send(resp);
      return;
    }
    // The entries are a slice of the leader's log at m.term following (m.index, m.logTerm).
    const lastNew = log.maybeAppendAfter(m.index, m.logTerm, m.entries, m.commit);
    if (lastNew >= 0) {
      assert(lastNew === m.index + m.entries.length, 'maybeAppend returned a wrong last index');
      const resp = msg(MessageType.MsgAppResp, m.from, 0);
      resp.index = lastNew;
      this.send(resp);
      return;
    }
    if (this.logger.level <= LogLevel.Debug) {
      this.logger.debug(
        `${hex(this.id)} [logterm: ${log.zeroTermOnOutOfBounds(log.term(m.index))}, ` +
          `index: ${m.index}] ` +
          `rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
      );
    }
    // Hint the largest (index, term) with term <= m.logTerm and index <= m.index: the leader
    // can skip our whole divergent tail of higher terms. m.index >= committed here.
    const hint = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    const resp = msg(MessageType.MsgAppResp, m.from, 0);
    resp.index = m.index;
    resp.reject = true;
    resp.rejectHint = hint.index;
    resp.logTerm = hint.term;
    this.send(resp);
  }

  /** Takes the heartbeat's commit index (never beyond our matched log) and answers. */
  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = msg(MessageType.MsgHeartbeatResp, m.from, 0);
    resp.context = m.context;
    this.send(resp);
  }

  /** Restores a leader's snapshot and acknowledges our resulting last index. */
  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    const sindex = s === null ? 0 : s.metadata.index;
    const sterm = s === null ? 0 : s.metadata.term;
    const resp = msg(MessageType.MsgAppResp, m.from, 0);
    if (s !== null && this.restore(s)) {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `${hex(this.id)} [commit: ${this.raftLog.committed}] restored snapshot ` +
            `[index: ${sindex}, term: ${sterm}]`,
        );
      }
      resp.index = this.raftLog.lastIndex();
    } else {
      if (this.logger.level <= LogLevel.Info) {
        this.logger.info(
          `${hex(this.id)} [commit: ${this.raftLog.committed}] ignored snapshot ` +
            `[index: ${sindex}, term: ${sterm}]`,
        );
      }
      resp.index = this.raftLog.committed;
    }
    this.send(resp);
  }

  /**
   * Restores the log and configuration from a snapshot. Returns false when the snapshot is
   * ignored (obsolete, not for us, or already matching our log).
   */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.StateFollower) {
      // Defense in depth: never restore as leader or candidate.
      if (this.logger.level <= LogLevel.Warn) {
        this.logger.warn(
          `${hex(this.id)} attempted to restore snapshot as leader; should never happen`,
        );
      }
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    // Defense in depth: much code assumes this node is in its own configuration.
    const cs = s.metadata.confState;
    const found =
      cs.voters.includes(this.id) ||
      cs.learners.includes(this.id) ||
      cs.votersOutgoing.includes(this.id);
    if (!found) {
      if (this.logger.level <= LogLevel.Warn) {
        this.logger.warn(
          `${hex(this.id)} attempted to restore snapshot but it is not in the ConfState ` +
            `${confStateText(cs)}; should never happen`,
        );
      }
      return false;
    }

    const id = { term: s.metadata.term, index: s.metadata.index };
    if (this.raftLog.matchTerm(id)) {
      // Our log already has the snapshot's last entry: just commit up to it.
      if (this.logger.level <= LogLevel.Info) {
        const last = this.raftLog.lastEntryID();
        this.logger.info(
          `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${last.index}, ` +
            `lastterm: ${last.term}] fast-forwarded commit to snapshot [index: ${id.index}, ` +
            `term: ${id.term}]`,
        );
      }
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }

    if (this.applyingConfChange()) {
      this.logRefusedRestore(id);
      return false;
    }
    this.raftLog.restore(s);
    assert(this.raftLog.committed === s.metadata.index, 'restore must commit the snapshot');
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    let restored: ChangeResult;
    try {
      restored = restoreConfState(new Changer(this.trk, this.raftLog.lastIndex()), cs);
    } catch (err) {
      // Either a bug in the conf change code or a corrupted snapshot.
      this.logger.fatal(
        `unable to restore config ${confStateText(cs)}: ${(err as Error).message}`,
      );
    }
    assertConfStatesEquivalent(
      this.logger,
      cs,
      this.switchToConfig(restored.config, restored.progress),
    );

    if (this.logger.level <= LogLevel.Info) {
      const last = this.raftLog.lastEntryID();
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${last.index}, ` +
          `lastterm: ${last.term}] restored snapshot [index: ${id.index}, term: ${id.term}]`,
      );
    }
    return true;
  }

  /**
   * Whether committed entries handed out for application (applied, applying] include a conf
   * change. The application calls applyConfChange for those after this point, on whatever
   * configuration is current then; a snapshot restored now would replace that configuration
   * with a later one, so the conf change would be applied twice (or, to leave a joint
   * configuration the snapshot already left, fail). etcd v3.7.0 restores anyway (etcd-io/etcd
   * #11510); Flotilla ignores the snapshot, which the leader resends once the entries are
   * applied (an ignored snapshot is always safe: the follower answers with its commit index).
   * Entries gone from the log were checked already: they are covered by a snapshot restored
   * after such a check, or compacted by an application that applied them.
   */
  private applyingConfChange(): boolean {
    const log = this.raftLog;
    const lo = Math.max(log.applied + 1, log.firstIndex());
    if (lo > log.applying) return false;
    assert(log.applying <= log.committed, 'applying beyond committed');
    return this.hasConfChangeIn(lo, log.applying + 1);
  }

  /** Logs why restore() refused a snapshot (see applyingConfChange). */
  private logRefusedRestore(id: { index: number; term: number }): void {
    if (this.logger.level > LogLevel.Info) return;
    this.logger.info(
      `${hex(this.id)} [applied: ${this.raftLog.applied}, applying: ${this.raftLog.applying}] ` +
        `refused snapshot [index: ${id.index}, term: ${id.term}]: conf changes handed out ` +
        'for application are not applied yet',
    );
  }

  /** Whether this node may become leader: a voter, with no snapshot pending. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  // ---------------------------------------------------------------------------------------
  // Configuration.

  /** Applies a conf change; the configuration takes effect at once. Throws on invalid ones. */
  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(this.trk, this.raftLog.lastIndex());
    let res: ChangeResult;
    if (leaveJoint(cc)) {
      res = changer.leaveJoint();
    } else {
      const joint = enterJoint(cc);
      if (joint.ok) res = changer.enterJoint(joint.autoLeave, ...cc.changes);
      else res = changer.simple(...cc.changes);
    }
    return this.switchToConfig(res.config, res.progress);
  }

  /**
   * Installs a configuration and reacts to it: a removed or demoted leader may step down; a
   * leader re-checks its commit index (a removal can shrink the quorum) and probes new peers.
   */
  switchToConfig(cfg: TrackerConfig, progress: ProgressMap): ConfState {
    this.trk.config = cfg;
    this.trk.progress = progress;
    this.configVersion++;
    if (this.logger.level <= LogLevel.Info) {
      this.logger.info(`${hex(this.id)} switched to configuration ${this.trk.config.toString()}`);
    }
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;

    if ((pr === undefined || this.isLearner) && this.state === StateType.StateLeader) {
      if (this.stepDownOnRemoval) this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) return cs;

    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      // Probe new peers now rather than after a heartbeat interval.
      const ids = this.trk.progress.ids;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
    if (this.leadTransferee !== NONE && !this.trk.config.voters.has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  /** Loads a persisted HardState; panics on a commit index outside the log. */
  loadState(state: HardState): void {
    if (state.commit < this.raftLog.committed || state.commit > this.raftLog.lastIndex()) {
      this.logger.fatal(
        `${hex(this.id)} state.commit ${state.commit} is out of range ` +
          `[${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = state.commit;
    this.term = state.term;
    this.vote = state.vote;
  }

  /** Whether the randomized election timeout has passed. */
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  /** Draws a new timeout from the shared random source. */
  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout =
      this.electionTimeout + this.random.intn(this.electionTimeout);
  }

  /** Tells `to` to campaign at once (leader transfer). */
  sendTimeoutNow(to: number): void {
    this.send(msg(MessageType.MsgTimeoutNow, to, 0));
  }

  /** Forgets any leader transfer in progress. */
  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Whether the entry at the commit index is of the current term. */
  committedEntryInCurrentTerm(): boolean {
    // A leader's term is never 0, so an unknown (0) term never matches.
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.term(this.raftLog.committed)) ===
      this.term;
  }

  /**
   * Answers a read request at `readIndex`: a local request becomes a ReadState (and a blank
   * message, `to` = 0, is returned); a forwarded one becomes a MsgReadIndexResp.
   */
  responseToReadIndexReq(req: Message, readIndex: number): Message {
    if (req.from === NONE || req.from === this.id) {
      this.addReadState(readIndex, req.entries[0]!.data);
      return BLANK_MESSAGE;
    }
    const m = msg(MessageType.MsgReadIndexResp, req.from, 0);
    m.index = readIndex;
    m.entries = req.entries;
    return m;
  }

  /** Queues a ReadIndex answer for the next Ready. */
  addReadState(index: number, requestCtx: Uint8Array): void {
    if (this.readStates === EMPTY_READ_STATES) this.readStates = [];
    this.readStates.push({ index, requestCtx });
  }

  /**
   * Accounts proposed entries against the uncommitted quota; false means "drop them". An
   * empty log tail accepts any size, and empty payloads are always accepted.
   */
  increaseUncommittedSize(ents: Entry[]): boolean {
    const s = payloadsSize(ents);
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) {
      return false;
    }
    this.uncommittedSize += s;
    return true;
  }

  /** Releases quota for committed entries; saturates at 0 (the count may underestimate). */
  reduceUncommittedSize(s: number): void {
    if (s > this.uncommittedSize) this.uncommittedSize = 0;
    else this.uncommittedSize -= s;
  }
}

/**
 * The empty ReadState list, shared (and frozen) so that a million idle groups allocate none;
 * `addReadState` replaces it before the first push.
 */
export const EMPTY_READ_STATES: ReadState[] = Object.freeze([] as ReadState[]) as ReadState[];

/** A message whose `to` is 0: "nothing to send". Never sent, never mutated. */
const BLANK_MESSAGE: Message = Object.freeze(msg(MessageType.MsgHup, 0, 0)) as Message;

/** Stops a log scan early (etcd's errBreak). */
const ERR_BREAK = new Error('break');

/** Resets a progress in place for a new term (etcd's reset builds a fresh Progress). */
function resetProgress(pr: Progress, match: number, next: number, trk: ProgressTracker): void {
  pr.match = match;
  pr.next = next;
  pr.sentCommitIndex = 0;
  pr.state = ProgressState.StateProbe;
  pr.pendingSnapshot = 0;
  pr.recentActive = false;
  pr.msgAppFlowPaused = false;
  pr.inflights = new Inflights(trk.maxInflight, trk.maxInflightBytes);
}
