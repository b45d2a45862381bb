/**
 * RawNode: the synchronous, single-threaded face of one Raft group (etcd's `RawNode`).
 *
 * Driving it (etcd's doc.go duties, in order):
 * 1. Feed input: `tick()` on the logical clock, `step(m)` for every message received,
 *    `propose`/`proposeConfChange`/`readIndex`/... for local requests.
 * 2. When `hasReady()`, take `ready()` and, in this order: persist `entries`, `hardState` and
 *    `snapshot` (synchronously when `mustSync`); send `messages` (only after persisting);
 *    apply `committedEntries` (calling `applyConfChange` for conf change entries); then call
 *    `advance()`.
 * 2a. Between `ready()` and `advance()` (while the Ready is written and applied), as etcd's
 *    node.go allows: `step` (any message, snapshots too), `tick`/`tickQuiesced`/`tickIdle`,
 *    `propose`, `proposeConfChange`, `campaign`, `transferLeader`, `readIndex`,
 *    `forgetLeader`, `reportUnreachable`, `reportSnapshot`, the read-only calls (`hasReady`,
 *    `status`, ...), and `applyConfChange` for the Ready's conf changes, in log order. What
 *    they cause goes into the next Ready; the arrays of the taken one never change. A
 *    snapshot stepped while handed-out conf changes are unapplied (with asyncStorageWrites:
 *    until the apply thread's response is stepped) is ignored, and the leader resends it:
 *    restoring it would change the configuration they apply to. Not allowed:
 *    a second `ready()` (a panic), `bootstrap`.
 * 3. With `asyncStorageWrites`, there is no `advance()`: the Ready's MsgStorageAppend and
 *    MsgStorageApply messages go to the local append and apply threads, which deliver their
 *    `responses` (via `step`) once the work is done, in order per thread.
 *
 * Errors etcd returns are thrown here as typed `FlotillaError`s (ProposalDroppedError,
 * StepLocalMsgError, StepPeerNotFoundError, ConfChangeError); etcd's panics throw
 * RaftPanicError or AssertionError, which nobody should catch.
 */

import { assert } from '../util/index.js';
import type { Config, ConfigOptions } from './config.js';
import { LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD, checkConfChangeNodeIds } from './config.js';
import { ErrStepLocalMsg, ErrStepPeerNotFound } from './errors.js';
import {
  EMPTY_ENTRIES,
  EMPTY_MESSAGES,
  EntryType,
  MessageType,
  isEmptyHardState,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './raftpb.js';
import { EMPTY_READ_STATES, Raft, msg } from './raft.js';
import { StateType } from './raft_state.js';
import type { SoftState } from './status.js';
import type { ReadState } from './read_only.js';
import type { Progress } from './tracker/index.js';
import { entsSize, isLocalMsg, isLocalMsgTarget, isResponseMsg } from './util.js';
import { asV2, marshalConfChange } from './confchange_codec.js';
import { bootstrap, type Peer } from './bootstrap.js';
import { getBasicStatus, getStatus } from './status_build.js';
import { restoreQuiescedRole, type QuiescedRole } from './raft_quiesced.js';
import {
  HeartbeatStep, stepHeartbeatPlain, stepHeartbeatRespPlain,
} from './raft_heartbeat.js';
import type { BasicStatus, Status } from './status.js';
import { fillNodeFacts, fillPeerFacts, type NodeFacts, type PeerFacts } from './node_facts.js';

export type { SoftState } from './status.js';
export type { QuiescedRole } from './raft_quiesced.js';
export { HeartbeatStep } from './raft_heartbeat.js';

/**
 * What the application must handle between `ready()` and `advance()` (etcd's `Ready`). Every
 * field is read-only for the application; arrays may be shared with the node.
 */
export interface Ready {
  /** The new soft state, or null when unchanged. Need not be persisted. */
  softState: SoftState | null;
  /** The HardState to persist before sending messages; all zero when unchanged. */
  hardState: HardState;
  /** ReadIndex answers, in request order. */
  readStates: ReadState[];
  /** Entries to persist before sending messages. */
  entries: Entry[];
  /** A snapshot to persist, or null. */
  snapshot: Snapshot | null;
  /**
   * Committed entries to apply, in order. Without asyncStorageWrites they may include entries
   * of this same Ready, which must be persisted first.
   */
  committedEntries: Entry[];
  /** Messages to send once entries, HardState and snapshot are persisted. */
  messages: Message[];
  /** Whether entries and HardState must be written synchronously (fsync). */
  mustSync: boolean;
}

/** How a snapshot send ended, for `reportSnapshot` (etcd's `SnapshotStatus`). */
export const SnapshotStatus = {
  SnapshotFinish: 1,
  SnapshotFailure: 2,
} as const;
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

/**
 * What `ready()` would hand out now (`RawNode.pendingReady`): nothing, only messages (the
 * usual turn of an awake group: heartbeats and their responses), or a Ready to build.
 */
export const ReadyKind = {
  None: 0,
  /** Messages and nothing else: `takeMessages()` may stand in for `ready()` + `advance()`. */
  MessagesOnly: 1,
  Full: 2,
} as const;
export type ReadyKind = (typeof ReadyKind)[keyof typeof ReadyKind];

/** Whether a progress belongs to a voter or a learner (etcd's `ProgressType`). */
export const ProgressType = {
  ProgressTypePeer: 0,
  ProgressTypeLearner: 1,
} as const;
export type ProgressType = (typeof ProgressType)[keyof typeof ProgressType];

/** Members `hasPeer` answers from fields of the RawNode (more: it asks the progress map). */
const PEERS_CACHED = 3;

/** Fills stepped slots of stepsOnAdvance. Never stepped. */
const BLANK: Message = Object.freeze(msg(MessageType.MsgHup, 0, 0)) as Message;
const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** Whether a HardState change or new entries must be synced (etcd's `MustSync`). */
export function mustSync(st: HardState, prev: HardState, entsNum: number): boolean {
  // Term, vote and log entries must be durable before answering any RPC.
  return entsNum !== 0 || st.vote !== prev.vote || st.term !== prev.term;
}

/** A thread-unsafe (single-turn) Raft node. */
export class RawNode {
  /**
   * The state machine, internal to src/raft: hosts read it through the accessors below
   * (`readFacts`, `readPeers`, `lead`, ...); white-box tests use `raftOf` (rawnode_internal.ts).
   */
  private readonly raft: Raft;
  readonly asyncStorageWrites: boolean;
  /** The HardState of the last accepted Ready (set through `setPrevHardState`). */
  private prevHardSt: HardState;
  /**
   * The soft state of the last accepted Ready, and prevHardSt's fields, kept on this object:
   * `hasReady` compares them on every turn, and here they sit on a cache line the turn
   * touches anyway, where two small objects were two more cache misses per heartbeat of a
   * cold group.
   */
  /** Members cached by `cachePeers` (ids, 0 in unused slots), as of `peersVersion`. */
  private peer0 = 0;
  private peer1 = 0;
  private peer2 = 0;
  private peerCount = 0;
  private peersVersion = -1;
  private prevLead = 0;
  private prevRaftState: StateType = StateType.StateFollower;
  private prevTerm = 0;
  private prevVote = 0;
  private prevCommit = 0;
  /**
   * Local messages to step on `advance()` (self-acks, storage responses): the first
   * `stepsOnAdvanceCount` slots. The array is reused and never shrunk (truncating an array is
   * a slow runtime call in V8); stepped slots are overwritten with BLANK so nothing leaks.
   */
  private stepsOnAdvance: Message[] = EMPTY_MESSAGES;
  private stepsOnAdvanceCount = 0;
  /**
   * The storage acknowledgements of the accepted Ready, stepped on `advance()` after
   * stepsOnAdvance. They are kept as fields, not as MsgStorageAppendResp/MsgStorageApplyResp
   * messages as etcd builds them: two messages per Ready that never leave the node.
   * `appendAckTerm` is -1 when there is no append ack.
   */
  private appendAckTerm = -1;
  private appendAckIndex = 0;
  private appendAckLogTerm = 0;
  private appendAckSnapshot: Snapshot | null = null;
  /** The committed entries handed out by the accepted Ready (empty when none). */
  private applyAckEntries: Entry[] = EMPTY_ENTRIES;

  /**
   * Creates a node from its configuration (validated; throws ConfigError). See `bootstrap`
   * for a first start with an empty storage; preferably the storage is set up with the
   * initial ConfState instead.
   */
  constructor(config: Config | ConfigOptions) {
    this.raft = new Raft(config);
    this.asyncStorageWrites = config.asyncStorageWrites ?? false;
    this.setPrevSoftState(this.raft.softState());
    this.prevHardSt = this.setPrevHardState(this.raft.hardState());
  }

  /**
   * Rebuilds a quiesced node whose RawNode was released, from its storage (`config.storage`,
   * with `config.applied`) and the role it held (`role`): the leader of its term again, or a
   * follower of a known leader, in the same term and without an election, a new entry or a
   * message. The first `ready()` reports no role change. Safe only under the conditions in
   * raft_quiesced.ts: the record is true, the released node is gone and its log was durable,
   * and a leader had committed its whole log (checked here by assertions).
   */
  static restoreQuiesced(config: Config | ConfigOptions, role: QuiescedRole): RawNode {
    const node = new RawNode(config);
    assert(!node.asyncStorageWrites, 'restore needs synchronous storage writes');
    restoreQuiescedRole(node.raft, role);
    node.setPrevSoftState(node.raft.softState());
    assert(node.raft.term === role.term && node.raft.msgs.length === 0, 'same term, no messages');
    return node;
  }

  /**
   * Advances the logical clock by one tick. @returns whether the node may have work for a
   * Ready after it: messages, or a changed role, term or leader. A tick can only start an
   * election or pre-vote, send heartbeats or check the quorum, so comparing these few
   * fields is enough, and much cheaper than `hasReady()`; false means the tick only moved
   * the clocks.
   */
  tick(): boolean {
    const r = this.raft;
    const state = r.state;
    const term = r.term;
    const lead = r.lead;
    r.tick();
    return r.msgs.length > 0 || r.msgsAfterAppend.length > 0 || r.state !== state ||
      r.term !== term || r.lead !== lead;
  }

  /** The leader this node knows of (0 = none). */
  get lead(): number {
    return this.raft.lead;
  }

  /** The node's current term. */
  get term(): number {
    return this.raft.term;
  }

  /** The node's role. */
  get raftState(): StateType {
    return this.raft.state;
  }

  /**
   * `min(bound, lastIndex)`, where `lastIndex` is the last index of the node's log (unstable
   * entries included; pass Infinity for it alone). A `bound` at or below the commit index,
   * which the log always holds, is answered without reading the log's tail: that is the
   * usual case of a heartbeat's commit, and the tail (the unstable part, the storage) is a
   * chain of objects no other part of a heartbeat touches.
   */
  lastIndexUpTo(bound: number): number {
    const log = this.raft.raftLog;
    return bound <= log.committed ? bound : Math.min(bound, log.lastIndex());
  }

  /**
   * Whether `id` is tracked in the node's progress, i.e. a member of its configuration (a
   * voter or a learner, outgoing ones included). Cheaper than `readPeers` for one id.
   */
  hasPeer(id: number): boolean {
    const r = this.raft;
    if (r.configVersion !== this.peersVersion) this.cachePeers();
    if (this.peerCount <= PEERS_CACHED) {
      return id !== 0 && (id === this.peer0 || id === this.peer1 || id === this.peer2);
    }
    return r.trk.progress.has(id);
  }

  /**
   * Copies up to PEERS_CACHED member ids onto this object: `hasPeer` checks the sender of
   * every inbound message, and the progress map is three cold objects away (tracker, map,
   * id list), most of a follower's heartbeat's cache misses at 100k groups.
   */
  private cachePeers(): void {
    const r = this.raft;
    const ids = r.trk.progress.ids;
    this.peerCount = ids.length;
    this.peer0 = ids.length > 0 ? ids[0]! : 0;
    this.peer1 = ids.length > 1 ? ids[1]! : 0;
    this.peer2 = ids.length > 2 ? ids[2]! : 0;
    this.peersVersion = r.configVersion;
    assert(this.peersVersion === r.configVersion && this.peerCount === r.trk.progress.size,
      'members cached at this configuration');
  }

  /** Whether this node could campaign (it is a voter of its configuration). */
  canCampaign(): boolean {
    return this.raft.promotable();
  }

  /** Fills `out` with the node's role, term, leader and log positions; allocates nothing. */
  readFacts(out: NodeFacts): void {
    fillNodeFacts(this.raft, out);
  }

  /** Fills `out` with every peer's progress (meaningful on a leader); allocates nothing. */
  readPeers(out: PeerFacts): void {
    fillPeerFacts(this.raft, out);
  }

  /**
   * Advances only the election clock (etcd's TickQuiesced): no heartbeats, no elections. For
   * groups known to be idle; CheckQuorum leases stay correct because time still passes.
   */
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  /**
   * How many of the next `tick()` calls would do nothing but advance the logical clocks: no
   * election or pre-vote, heartbeat, CheckQuorum or abandoned transfer (0: the next tick
   * may act). Until something else touches the node, the caller may take that many ticks
   * later and at once with `tickIdle`, which is how a store defers the ticks of its awake
   * groups without visiting them. Any other call may change the answer.
   */
  ticksWithoutAction(): number {
    const r = this.raft;
    const ticks = r.state === StateType.StateLeader
      ? Math.min(r.electionTimeout - r.electionElapsed, r.heartbeatTimeout - r.heartbeatElapsed)
      : r.randomizedElectionTimeout - r.electionElapsed;
    return ticks > 1 ? ticks - 1 : 0;
  }

  /**
   * Exactly what `ticks` calls of `tick()` would do when none of them acts: advances the
   * election clock (and a leader's heartbeat clock) by `ticks`. `ticks` must not exceed
   * `ticksWithoutAction()`.
   */
  tickIdle(ticks: number): void {
    assert(Number.isInteger(ticks) && ticks >= 0, 'a whole number of ticks');
    assert(ticks <= this.ticksWithoutAction(), 'idle ticks only: the next tick acts');
    const r = this.raft;
    r.electionElapsed += ticks;
    if (r.state === StateType.StateLeader) r.heartbeatElapsed += ticks;
  }

  /** Campaigns to become leader (a no-op on a leader). */
  campaign(): void {
    this.throwIf(this.raft.step(msg(MessageType.MsgHup, 0, 0)));
  }

  /** Proposes `data` for the log. Throws ProposalDroppedError when it cannot be accepted. */
  propose(data: Uint8Array): void {
    const m = msg(MessageType.MsgProp, 0, 0);
    m.from = this.raft.id;
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data }];
    this.throwIf(this.raft.step(m));
  }

  /**
   * Proposes a membership change. Throws ProposalDroppedError when it cannot be accepted,
   * NodeIdError when it names an id outside [1, NODE_ID_MAX].
   */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    checkConfChangeNodeIds(cc);
    const { type, data } = marshalConfChange(cc);
    const m = msg(MessageType.MsgProp, 0, 0);
    m.entries = [{ term: 0, index: 0, type, data }];
    this.throwIf(this.raft.step(m));
  }

  /**
   * Applies a committed conf change to the local node; call it for every conf change entry
   * the application applies (and for none it rejects). Throws ConfChangeError if invalid.
   */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(asV2(cc));
  }

  /** Steps a message received from a peer or a local storage thread. */
  step(m: Message): void {
    // Local messages may come only from the local storage threads, never over the network.
    if (isLocalMsg(m.type) && !isLocalMsgTarget(m.from)) throw ErrStepLocalMsg;
    if (
      isResponseMsg(m.type) &&
      !isLocalMsgTarget(m.from) &&
      this.raft.trk.progress.get(m.from) === undefined
    ) {
      throw ErrStepPeerNotFound;
    }
    this.throwIf(this.raft.step(m));
  }

  /**
   * `step` of a plain MsgHeartbeat (no context) from `from` at `term` with `commit`, without
   * the message, when it takes the usual follower path (see raft_heartbeat.ts); else
   * `Declined` and nothing happened. When stepped, the node has NOT queued its answer: the
   * caller sends it, a MsgHeartbeatResp from this node to `from` at `term`, no context, before
   * anything of this node's next Ready (it is what that Ready's first message would be).
   */
  stepHeartbeat(from: number, term: number, commit: number): HeartbeatStep {
    if (this.asyncStorageWrites) return HeartbeatStep.Declined;
    return stepHeartbeatPlain(this.raft, from, term, commit);
  }

  /**
   * `step` of a plain MsgHeartbeatResp (no context) from `from` at `term`, without the
   * message, when it takes the usual leader path (see raft_heartbeat.ts); else `Declined`
   * and nothing happened.
   */
  stepHeartbeatResp(from: number, term: number): HeartbeatStep {
    return stepHeartbeatRespPlain(this.raft, from, term);
  }

  private throwIf(err: Error | null): void {
    if (err !== null) throw err;
  }

  /**
   * Returns the pending work and accepts it: it must be handled and then `advance()`d (unless
   * asyncStorageWrites).
   */
  ready(): Ready {
    const rd = this.readyWithoutAccept();
    this.acceptReady(rd);
    return rd;
  }

  /**
   * Builds a Ready. Only `ready()` calls it, immediately followed by `acceptReady`: the
   * extra messages may be pushed onto the raft's msgs array, which acceptReady replaces.
   */
  private readyWithoutAccept(): Ready {
    const r = this.raft;
    const log = r.raftLog;
    const prevHs = this.prevHardSt;
    // Allocate a HardState only when it changed (most Readys of a busy leader carry none).
    const hs =
      r.term === prevHs.term && r.vote === prevHs.vote && log.committed === prevHs.commit
        ? prevHs
        : r.hardState();
    const rd: Ready = {
      softState: null,
      hardState: EMPTY_HARD_STATE,
      readStates: r.readStates,
      entries: log.nextUnstableEnts(),
      snapshot: null,
      committedEntries: log.nextCommittedEnts(!this.asyncStorageWrites),
      messages: r.msgs,
      mustSync: false,
    };
    if (r.lead !== this.prevLead || r.state !== this.prevRaftState) {
      rd.softState = r.softState();
    }
    if (hs !== prevHs) rd.hardState = hs;
    if (log.hasNextUnstableSnapshot()) rd.snapshot = log.nextUnstableSnapshot();
    rd.mustSync = mustSync(hs, prevHs, rd.entries.length);

    if (this.asyncStorageWrites) {
      // Hand the storage work to the local threads, as messages.
      if (this.needStorageAppendMsg(rd)) this.pushMessage(rd, this.newStorageAppendMsg(rd));
      if (rd.committedEntries.length > 0) this.pushMessage(rd, this.newStorageApplyMsg(rd));
    } else {
      // Responses go out with this Ready: the Ready contract has the entries persisted first.
      const after = r.msgsAfterAppend;
      for (let i = 0; i < after.length; i++) {
        if (after[i]!.to !== r.id) this.pushMessage(rd, after[i]!);
      }
    }
    return rd;
  }

  /** Appends to rd.messages, which may be the raft's msgs array (about to be replaced). */
  private pushMessage(rd: Ready, m: Message): void {
    if (rd.messages === EMPTY_MESSAGES) rd.messages = [m];
    else rd.messages.push(m);
  }

  private needStorageAppendMsg(rd: Ready): boolean {
    // Entries, HardState or snapshot to write, or responses waiting on earlier writes.
    return (
      rd.entries.length > 0 ||
      !isEmptyHardState(rd.hardState) ||
      (rd.snapshot !== null && rd.snapshot.metadata.index !== 0) ||
      this.raft.msgsAfterAppend.length > 0
    );
  }

  private needStorageAppendRespMsg(rd: Ready): boolean {
    // Unstable entries (new or in progress) are checked, not rd.entries: see below.
    return (
      this.raft.raftLog.hasNextOrInProgressUnstableEnts() ||
      (rd.snapshot !== null && rd.snapshot.metadata.index !== 0)
    );
  }

  private newStorageAppendMsg(rd: Ready): Message {
    const r = this.raft;
    const m = msg(MessageType.MsgStorageAppend, LOCAL_APPEND_THREAD, 0);
    m.from = r.id;
    m.entries = rd.entries;
    if (!isEmptyHardState(rd.hardState)) {
      // HardState fields travel in the message; left zero, they mean "no update".
      m.term = rd.hardState.term;
      m.vote = rd.hardState.vote;
      m.commit = rd.hardState.commit;
    }
    if (rd.snapshot !== null && rd.snapshot.metadata.index !== 0) m.snapshot = rd.snapshot;
    // Self-acks first, then the storage ack: the MsgAppResp handling can still read the
    // entries' terms from the unstable log before the ack truncates it.
    let responses = r.msgsAfterAppend;
    if (this.needStorageAppendRespMsg(rd)) {
      if (responses === EMPTY_MESSAGES) responses = [];
      responses.push(this.newStorageAppendRespMsg(rd));
    }
    m.responses = responses;
    return m;
  }

  /**
   * The storage ack, carrying the current term and the log's last (index, term). The term
   * guards against an ABA race: if the term changes before the ack arrives, entries may have
   * been overwritten in the unstable log and the ack is ignored; a newer ack (every term
   * change writes a HardState) eventually confirms them. Attaching the last entry (not that
   * of rd.entries) lets any later ack truncate the unstable log.
   */
  private newStorageAppendRespMsg(rd: Ready): Message {
    const r = this.raft;
    const m = msg(MessageType.MsgStorageAppendResp, r.id, r.term);
    m.from = LOCAL_APPEND_THREAD;
    if (r.raftLog.hasNextOrInProgressUnstableEnts()) {
      m.index = r.raftLog.lastIndex();
      m.logTerm = r.raftLog.lastTerm();
    }
    if (rd.snapshot !== null && rd.snapshot.metadata.index !== 0) m.snapshot = rd.snapshot;
    return m;
  }

  private newStorageApplyMsg(rd: Ready): Message {
    const m = msg(MessageType.MsgStorageApply, LOCAL_APPLY_THREAD, 0);
    m.from = this.raft.id;
    m.entries = rd.committedEntries;
    m.responses = [this.newStorageApplyRespMsg(rd.committedEntries)];
    return m;
  }

  private newStorageApplyRespMsg(ents: Entry[]): Message {
    // Committed entries apply under no particular term.
    const m = msg(MessageType.MsgStorageApplyResp, this.raft.id, 0);
    m.from = LOCAL_APPLY_THREAD;
    m.entries = ents;
    return m;
  }

  /**
   * Commits to handling `rd`: records what was handed out. Nothing may change the node
   * between `readyWithoutAccept()` and this call.
   */
  private acceptReady(rd: Ready): void {
    const r = this.raft;
    if (rd.softState !== null) this.setPrevSoftState(rd.softState);
    if (!isEmptyHardState(rd.hardState)) this.setPrevHardState(rd.hardState);
    if (rd.readStates.length !== 0) r.readStates = EMPTY_READ_STATES;
    if (!this.asyncStorageWrites) {
      if (this.hasStepsOnAdvance()) {
        r.logger.fatal('two accepted Ready structs without call to Advance');
      }
      const after = r.msgsAfterAppend;
      for (let i = 0; i < after.length; i++) {
        if (after[i]!.to === r.id) this.addStepOnAdvance(after[i]!);
      }
      if (this.needStorageAppendRespMsg(rd)) this.setAppendAck(rd);
      this.applyAckEntries = rd.committedEntries;
    }
    r.msgs = EMPTY_MESSAGES;
    r.msgsAfterAppend = EMPTY_MESSAGES;
    r.raftLog.acceptUnstable();
    const ents = rd.committedEntries;
    if (ents.length > 0) {
      r.raftLog.acceptApplying(
        ents[ents.length - 1]!.index,
        entsSize(ents),
        !this.asyncStorageWrites,
      );
    }
  }

  /** Whether advance() has anything to step. */
  private hasStepsOnAdvance(): boolean {
    return (
      this.stepsOnAdvanceCount !== 0 ||
      this.appendAckTerm !== -1 ||
      this.applyAckEntries.length !== 0
    );
  }

  /** Records the storage append ack of `rd`: the fields of newStorageAppendRespMsg(rd). */
  private setAppendAck(rd: Ready): void {
    const r = this.raft;
    this.appendAckTerm = r.term;
    this.appendAckIndex = 0;
    this.appendAckLogTerm = 0;
    if (r.raftLog.hasNextOrInProgressUnstableEnts()) {
      this.appendAckIndex = r.raftLog.lastIndex();
      this.appendAckLogTerm = r.raftLog.lastTerm();
    }
    this.appendAckSnapshot =
      rd.snapshot !== null && rd.snapshot.metadata.index !== 0 ? rd.snapshot : null;
    assert(this.appendAckTerm >= 0, 'negative term');
  }

  /** Steps the storage acks recorded by acceptReady, append first (etcd's order). */
  private stepStorageAcks(): void {
    const r = this.raft;
    if (this.appendAckTerm !== -1) {
      const snap = this.appendAckSnapshot;
      const term = this.appendAckTerm;
      this.appendAckTerm = -1;
      this.appendAckSnapshot = null;
      r.stepStorageAppendResp(term, this.appendAckIndex, this.appendAckLogTerm, snap);
    }
    const ents = this.applyAckEntries;
    if (ents.length !== 0) {
      this.applyAckEntries = EMPTY_ENTRIES;
      r.stepStorageApplyResp(ents);
    }
  }

  /** Whether there is anything for a Ready: cheaper than building one. */
  hasReady(): boolean {
    const r = this.raft;
    // Messages first: an awake group's usual reason to be ready (a heartbeat or its answer),
    // and r.msgs sits on the object already in cache. The order of these independent checks
    // does not change the answer; checked last, this spares the log's unstable part (a cold
    // object) per heartbeat of each of 100k groups.
    if (r.msgs.length > 0 || r.msgsAfterAppend.length > 0) return true;
    if (this.stateChanged()) return true;
    const log = r.raftLog;
    if (log.hasNextUnstableSnapshot()) return true;
    if (log.hasNextUnstableEnts() || log.hasNextCommittedEnts(!this.asyncStorageWrites)) {
      return true;
    }
    return r.readStates.length !== 0;
  }

  /** Whether the soft state or a non-empty HardState differs from the last accepted one. */
  private stateChanged(): boolean {
    const r = this.raft;
    if (r.lead !== this.prevLead || r.state !== this.prevRaftState) return true;
    const commit = r.raftLog.committed;
    return (r.term !== 0 || r.vote !== 0 || commit !== 0) &&
      (r.term !== this.prevTerm || r.vote !== this.prevVote || commit !== this.prevCommit);
  }

  /**
   * What `ready()` would hand out now (see `ReadyKind`). `MessagesOnly` is a Ready whose
   * every other part is empty and whose acceptance and advance have nothing to record or
   * step: no role or HardState change, no entries (new or being written: those would take
   * a storage ack), no snapshot, nothing to apply, no read states, no message held back
   * until an append, no asynchronous storage.
   */
  pendingReady(): ReadyKind {
    if (!this.hasReady()) return ReadyKind.None;
    const r = this.raft;
    const log = r.raftLog;
    if (r.msgs.length === 0 || r.msgsAfterAppend.length !== 0 || this.asyncStorageWrites ||
      this.stateChanged() || r.readStates.length !== 0 ||
      log.hasNextOrInProgressUnstableEnts() || log.hasNextOrInProgressSnapshot() ||
      log.hasNextCommittedEnts(true)) {
      return ReadyKind.Full;
    }
    return ReadyKind.MessagesOnly;
  }

  /**
   * Hands out the messages of a `MessagesOnly` turn (see `pendingReady`), exactly what
   * `ready()` and then `advance()` would do for it, without building a Ready: the caller
   * sends them (they promise nothing persisted) and calls nothing else.
   */
  takeMessages(): Message[] {
    const r = this.raft;
    const msgs = r.msgs;
    assert(msgs.length > 0 && r.msgsAfterAppend.length === 0 && !this.asyncStorageWrites,
      'messages only, nothing held back until an append');
    assert(!this.hasStepsOnAdvance(), 'no accepted Ready waits for advance');
    r.msgs = EMPTY_MESSAGES;
    return msgs;
  }

  /**
   * Tells the node the last Ready was handled: steps the self-acknowledgements and storage
   * acks recorded when it was accepted. Must not be called with asyncStorageWrites.
   */
  advance(): void {
    const r = this.raft;
    if (this.asyncStorageWrites) {
      r.logger.fatal('Advance must not be called when using AsyncStorageWrites');
    }
    const steps = this.stepsOnAdvance;
    const n = this.stepsOnAdvanceCount;
    // Stepping cannot accept a Ready, so nothing is added to steps during the loop.
    for (let i = 0; i < n; i++) {
      const m = steps[i]!;
      steps[i] = BLANK;
      r.step(m);
    }
    assert(this.stepsOnAdvanceCount === n, 'steps were added while advancing');
    this.stepsOnAdvanceCount = 0;
    this.stepStorageAcks();
    assert(!this.hasStepsOnAdvance(), 'steps were added while acknowledging storage');
  }

  private addStepOnAdvance(m: Message): void {
    const i = this.stepsOnAdvanceCount++;
    if (this.stepsOnAdvance === EMPTY_MESSAGES) this.stepsOnAdvance = [m];
    else if (i < this.stepsOnAdvance.length) this.stepsOnAdvance[i] = m;
    else this.stepsOnAdvance.push(m);
  }

  /** The full status (allocates; see basicStatus and withProgress). */
  status(): Status {
    return getStatus(this.raft);
  }

  /** The status without the progress map. */
  basicStatus(): BasicStatus {
    return getBasicStatus(this.raft);
  }

  /** Visits the progress of every peer in ascending id order (copies without inflights). */
  withProgress(visitor: (id: number, type: ProgressType, pr: Progress) => void): void {
    const progress = this.raft.trk.progress;
    const ids = progress.ids;
    for (let i = 0; i < ids.length; i++) {
      const pr = progress.get(ids[i]!)!;
      const type = pr.isLearner ? ProgressType.ProgressTypeLearner : ProgressType.ProgressTypePeer;
      visitor(ids[i]!, type, pr.shallowCopy());
    }
  }

  /** Reports that the last send to `id` failed: a replicating peer goes back to probing. */
  reportUnreachable(id: number): void {
    const m = msg(MessageType.MsgUnreachable, 0, 0);
    m.from = id;
    this.raft.step(m);
  }

  /** Reports how the snapshot sent to `id` ended. */
  reportSnapshot(id: number, status: SnapshotStatus): void {
    const m = msg(MessageType.MsgSnapStatus, 0, 0);
    m.from = id;
    m.reject = status === SnapshotStatus.SnapshotFailure;
    this.raft.step(m);
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeader(transferee: number): void {
    const m = msg(MessageType.MsgTransferLeader, 0, 0);
    m.from = transferee;
    this.raft.step(m);
  }

  /**
   * Makes a follower forget its leader (keeping its term), so that it grants votes at once
   * instead of waiting out the leader's lease. A no-op on leaders and candidates; refused
   * with lease-based reads.
   */
  forgetLeader(): void {
    this.throwIf(this.raft.step(msg(MessageType.MsgForgetLeader, 0, 0)));
  }

  /**
   * Requests a linearizable read point: a ReadState with `rctx` appears in a later Ready once
   * the leader confirmed its leadership; reads are then safe after applying up to its index.
   */
  readIndex(rctx: Uint8Array): void {
    const m = msg(MessageType.MsgReadIndex, 0, 0);
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data: rctx }];
    this.raft.step(m);
  }

  /**
   * Initializes an empty storage with conf changes adding `peers` (etcd's Bootstrap). Prefer
   * setting up the storage with the initial ConfState.
   */
  bootstrap(peers: Peer[]): void {
    bootstrap(this, peers);
  }

  /**
   * Sets the HardState the next Ready is compared with. Internal: only bootstrap uses it, to
   * make the first Ready carry the initial HardState.
   */
  setPrevHardState(hs: HardState): HardState {
    this.prevHardSt = hs;
    this.prevTerm = hs.term;
    this.prevVote = hs.vote;
    this.prevCommit = hs.commit;
    return hs;
  }

  private setPrevSoftState(ss: SoftState): void {
    this.prevLead = ss.lead;
    this.prevRaftState = ss.raftState;
  }
}

