/**
 * Whether a Raft message from a peer may be stepped into a replica, decided from a narrow,
 * plain view of that replica, before Raft sees the message. The transport has checked the
 * frame (shape, CRC, every number a non-negative safe integer); this checks what the frame
 * cannot know: the message against the state of the replica it is for. Each refusal names
 * its condition with a stable string; the store counts refusals by reason and logs them at a
 * rate limit. Nothing here throws on bad input.
 *
 * Why it is needed: etcd's raft trusts its peers. A heartbeat whose commit lies past the end
 * of the follower's log, or an append whose entries are not contiguous, makes Raft panic
 * (etcd's `Panicf`); a term near 2^53 leaves the group unable to elect a leader (the next
 * term is no longer a safe integer). What a correct peer sends never trips these rules:
 *
 * ANY MESSAGE
 *   a) its type is one peers send (not a local message, not `MsgForgetLeader`);
 *   b) `from` is the node the connection authenticated, `to` is this node: in Flotilla a
 *      replica's Raft id is its node id, so a peer cannot speak for another (a forwarded
 *      `MsgTransferLeader` therefore names its forwarder as the transferee);
 *   c) its term is at most `TERM_MAX`, and is 0 exactly for a forwarded proposal or read
 *      (etcd sends those without a term; one with a term would make a follower that
 *      forwards it again panic);
 *   d) the sender is in the replica's configuration (voters, learners, outgoing voters and
 *      staged learners), when the replica has one: an initialized replica's leader, voters
 *      and learners are all members. (A replica that has not yet applied the change which
 *      added the sender drops its messages until the leader changes or the replica catches
 *      up; the store adds members only through snapshots and conf changes it applied.);
 *   e) indices (index, commit, reject hint) are at most `LOG_INDEX_MAX`; a `logTerm` is at
 *      most the message's term; a context is at most `CONTEXT_BYTES_MAX` bytes.
 * BY TYPE
 *   MsgApp: `index` is at least `appendIndexMin` (ranges start from a snapshot), entries are
 *     contiguous from `index + 1`, every entry's term lies between
 *     `logTerm` (then the previous entry's) and the message's term, entry data are bytes and a
 *     conf-change entry decodes;
 *   MsgAppResp: an acknowledged index is at most this replica's last index (only entries it
 *     sent can be acknowledged) and a reject hint is at most the rejected index;
 *   MsgHeartbeat: commit is at most this replica's last index (etcd's leader sends
 *     min(match, commit), and match is at most what the follower holds);
 *   MsgProp: at least one entry (an empty one makes a leader panic), normal entries only (the
 *     store proposes conf changes only locally), each within `entryBytesMax`;
 *   MsgSnap: a snapshot with index >= 1, term between 1 and the message's term, a
 *     configuration Raft can restore (`checkConfState`), and a sender that votes in it (a
 *     leader always does): only a plausible leader initializes a replica;
 *   MsgTransferLeader: only to a leader (a follower would forward it with its term: a panic);
 *   MsgTimeoutNow: from the replica's leader at the replica's term (only a leader transfers).
 */
import { FlotillaError } from '../util/index.js';
import {
  EntryType,
  MessageType,
  unmarshalConfChange,
  type ConfState,
  type Entry,
  type Message,
} from '../raft/index.js';

/** Largest term accepted from a peer: far below 2^53, so `term + 1` always stays exact. */
export const TERM_MAX = 2 ** 48;
/** Largest log index accepted from a peer (a million entries a second for 71 years). */
export const LOG_INDEX_MAX = 2 ** 51;
/** Largest node id in a message or configuration (Raft reserves the two above it). */
export const NODE_ID_MAX = Number.MAX_SAFE_INTEGER - 2;
/** Largest message context (read-index request ids): small, it is held until answered. */
export const CONTEXT_BYTES_MAX = 4096;
/** Most members of one group (the quiescence view holds at most this many peers). */
export const GROUP_PEERS_MAX = 64;

/** Why an inbound message was dropped. Stable strings: they are counted and logged. */
export const MessageRefusal = {
  /** A field is not a non-negative safe integer (or not bytes, an array, a boolean). */
  BadField: 'bad-field',
  LocalType: 'local-type',
  SenderMismatch: 'sender-mismatch',
  WrongRecipient: 'wrong-recipient',
  TermTooLarge: 'term-too-large',
  TermZero: 'term-zero',
  /** A forwarded proposal or read with a term: a follower forwarding it again would panic. */
  TermOnForwarded: 'term-on-forwarded',
  IndexTooLarge: 'index-too-large',
  LogTermAboveTerm: 'log-term-above-term',
  ContextTooLarge: 'context-too-large',
  SenderNotMember: 'sender-not-member',
  AppendBelowLogStart: 'append-below-log-start',
  EntriesNotContiguous: 'entries-not-contiguous',
  EntryTermOrder: 'entry-term-order',
  BadEntry: 'bad-entry',
  BadConfChange: 'bad-conf-change',
  AckBeyondLog: 'ack-beyond-log',
  HintBeyondIndex: 'hint-beyond-index',
  CommitBeyondLog: 'commit-beyond-log',
  EmptyProposal: 'empty-proposal',
  RemoteConfChange: 'remote-conf-change',
  ProposalTooLarge: 'proposal-too-large',
  BadSnapshot: 'bad-snapshot',
  SnapshotNotFromVoter: 'snapshot-not-from-voter',
  TimeoutNowNotFromLeader: 'timeout-now-not-from-leader',
  TransferNotToLeader: 'transfer-not-to-leader',
  // Refusals decided by the store rather than by `checkMessage`:
  /** A message of an unknown group whose type does not create a replica. */
  UnknownGroup: 'unknown-group',
  /** An unknown group while `uninitializedReplicasMax` uninitialized replicas exist. */
  UninitializedCap: 'uninitialized-cap',
  StoreFull: 'store-full',
  InboxFull: 'inbox-full',
  /** The replica was isolated after Raft panicked on a remote message. */
  ReplicaBroken: 'replica-broken',
  StoreClosed: 'store-closed',
  /** Raft refused the message with a typed error (e.g. a peer not in its progress). */
  RaftRefused: 'raft-refused',
  /** Raft panicked while stepping the message; the replica is isolated. */
  RaftPanic: 'raft-panic',
} as const;
export type MessageRefusal = (typeof MessageRefusal)[keyof typeof MessageRefusal];

/** Every refusal reason, for counters keyed by reason. */
export const MESSAGE_REFUSALS: readonly MessageRefusal[] = Object.values(MessageRefusal);

/**
 * What the rules read about the replica a message is for. The store keeps one instance and
 * refills it for every message (no allocation per message).
 */
export interface MessageCheckView {
  /** This store's node id (the Raft id of its replicas). */
  nodeId: number;
  /** The node the transport authenticated as the sender of the batch. */
  fromNodeId: number;
  /** Whether the replica knows its configuration (false also for a replica not yet made). */
  initialized: boolean;
  /** Whether `message.from` is in the replica's configuration (read when initialized). */
  senderIsMember: boolean;
  /** The replica's term and leader (0 if none). */
  term: number;
  lead: number;
  /**
   * The replica's last log index (0 if not yet made), or min(that, the index the message's
   * check compares it with: a heartbeat's commit, an append response's index), which
   * decides alike; types whose check does not read it may carry 0.
   */
  lastIndex: number;
  /** Largest payload of one proposed entry, in bytes. */
  entryBytesMax: number;
  /**
   * Smallest `index` of an append: every range starts from a snapshot at this index, so no
   * leader sends entries below it (an empty replica must get the snapshot first).
   */
  appendIndexMin: number;
}

/** Returns an empty view to be refilled for every message. */
export function newMessageCheckView(): MessageCheckView {
  return { nodeId: 0, fromNodeId: 0, initialized: false, senderIsMember: false, term: 0,
    lead: 0, lastIndex: 0, entryBytesMax: 0, appendIndexMin: 0 };
}

/** Message types a peer sends: requests, responses, forwarded proposals and reads. */
const REMOTE_TYPES: readonly boolean[] = (() => {
  const remote = [
    MessageType.MsgProp, MessageType.MsgApp, MessageType.MsgAppResp, MessageType.MsgVote,
    MessageType.MsgVoteResp, MessageType.MsgSnap, MessageType.MsgHeartbeat,
    MessageType.MsgHeartbeatResp, MessageType.MsgTransferLeader, MessageType.MsgTimeoutNow,
    MessageType.MsgReadIndex, MessageType.MsgReadIndexResp, MessageType.MsgPreVote,
    MessageType.MsgPreVoteResp,
  ];
  const out = new Array<boolean>(MessageType.MsgForgetLeader + 1).fill(false);
  for (const t of remote) out[t] = true;
  return out;
})();

function isIndex(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/**
 * Decides whether `m` may be stepped into the replica `v` describes (rules above).
 * @returns null if it may, else the first rule it breaks.
 */
export function checkMessage(v: MessageCheckView, m: Message): MessageRefusal | null {
  const head = checkHeader(v, m);
  if (head !== null) return head;
  switch (m.type) {
    case MessageType.MsgApp:
      return m.index < v.appendIndexMin ? MessageRefusal.AppendBelowLogStart : checkAppend(m);
    case MessageType.MsgAppResp:
      if (!m.reject && m.index > v.lastIndex) return MessageRefusal.AckBeyondLog;
      return m.reject && m.rejectHint > m.index ? MessageRefusal.HintBeyondIndex : null;
    case MessageType.MsgHeartbeat:
      return m.commit > v.lastIndex ? MessageRefusal.CommitBeyondLog : null;
    case MessageType.MsgProp: return checkProposal(v, m);
    case MessageType.MsgSnap: return checkSnapshotMessage(m);
    case MessageType.MsgTransferLeader:
      // Only a leader handles it; a follower would forward it with its term set (a panic).
      return v.lead === v.nodeId ? null : MessageRefusal.TransferNotToLeader;
    case MessageType.MsgTimeoutNow:
      return m.from === v.lead && m.term === v.term ? null
        : MessageRefusal.TimeoutNowNotFromLeader;
    default: return null;
  }
}

/** Rules a) to e), common to every type. */
function checkHeader(v: MessageCheckView, m: Message): MessageRefusal | null {
  if (typeof m !== 'object' || m === null) return MessageRefusal.BadField;
  const type = m.type;
  if (!isIndex(type, REMOTE_TYPES.length - 1)) return MessageRefusal.BadField;
  if (!REMOTE_TYPES[type]) return MessageRefusal.LocalType;
  if (m.from !== v.fromNodeId || m.from === v.nodeId) return MessageRefusal.SenderMismatch;
  if (m.to !== v.nodeId) return MessageRefusal.WrongRecipient;
  if (!isIndex(m.term, Number.MAX_SAFE_INTEGER)) return MessageRefusal.BadField;
  if (m.term > TERM_MAX) return MessageRefusal.TermTooLarge;
  const forwarded = type === MessageType.MsgProp || type === MessageType.MsgReadIndex;
  if (forwarded !== (m.term === 0)) {
    return forwarded ? MessageRefusal.TermOnForwarded : MessageRefusal.TermZero;
  }
  if (v.initialized && !v.senderIsMember) return MessageRefusal.SenderNotMember;
  if (!isIndex(m.logTerm, Number.MAX_SAFE_INTEGER) || !isIndex(m.index, Number.MAX_SAFE_INTEGER) ||
    !isIndex(m.commit, Number.MAX_SAFE_INTEGER) || !isIndex(m.rejectHint, Number.MAX_SAFE_INTEGER) ||
    !isIndex(m.vote, NODE_ID_MAX) || typeof m.reject !== 'boolean' || !isBytes(m.context) ||
    !Array.isArray(m.entries)) return MessageRefusal.BadField;
  if (m.index > LOG_INDEX_MAX || m.commit > LOG_INDEX_MAX || m.rejectHint > LOG_INDEX_MAX) {
    return MessageRefusal.IndexTooLarge;
  }
  if (m.logTerm > m.term && type !== MessageType.MsgProp) return MessageRefusal.LogTermAboveTerm;
  if (m.context.length > CONTEXT_BYTES_MAX) return MessageRefusal.ContextTooLarge;
  if (type !== MessageType.MsgSnap && m.snapshot !== null) return MessageRefusal.BadField;
  return null;
}

function checkEntryShape(e: Entry): boolean {
  return typeof e === 'object' && e !== null && isBytes(e.data) &&
    (e.type === EntryType.EntryNormal || e.type === EntryType.EntryConfChange ||
      e.type === EntryType.EntryConfChangeV2);
}

/** MsgApp: contiguous entries with terms in order; conf changes that decode. */
function checkAppend(m: Message): MessageRefusal | null {
  const entries = m.entries;
  if (m.index + entries.length > LOG_INDEX_MAX) return MessageRefusal.IndexTooLarge;
  let previousTerm = m.logTerm;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!checkEntryShape(e)) return MessageRefusal.BadEntry;
    if (e.index !== m.index + 1 + i) return MessageRefusal.EntriesNotContiguous;
    if (!isIndex(e.term, m.term) || e.term < previousTerm) return MessageRefusal.EntryTermOrder;
    previousTerm = e.term;
    if (e.type !== EntryType.EntryNormal && !confChangeDecodes(e)) {
      return MessageRefusal.BadConfChange;
    }
  }
  return null;
}

/** Whether a conf-change entry decodes and names only valid node ids. */
function confChangeDecodes(e: Entry): boolean {
  if (e.type === EntryType.EntryConfChangeV2 && e.data.length === 0) return true;
  try {
    const cc = unmarshalConfChange(e.type, e.data);
    if ('changes' in cc) {
      if (cc.changes.length > GROUP_PEERS_MAX) return false;
      for (const c of cc.changes) if (!isIndex(c.nodeId, NODE_ID_MAX) || c.nodeId === 0) return false;
      return true;
    }
    return isIndex(cc.nodeId, NODE_ID_MAX) && cc.nodeId !== 0;
  } catch (error) {
    // Only the decoder's typed refusal means "bad bytes"; anything else is a bug.
    if (error instanceof FlotillaError) return false;
    throw error;
  }
}

/** A forwarded proposal: what the follower's store accepted from its caller. */
function checkProposal(v: MessageCheckView, m: Message): MessageRefusal | null {
  const entries = m.entries;
  if (entries.length === 0) return MessageRefusal.EmptyProposal;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!checkEntryShape(e)) return MessageRefusal.BadEntry;
    if (e.type !== EntryType.EntryNormal) return MessageRefusal.RemoteConfChange;
    if (e.data.length > v.entryBytesMax) return MessageRefusal.ProposalTooLarge;
  }
  return null;
}

function checkSnapshotMessage(m: Message): MessageRefusal | null {
  const s = m.snapshot;
  if (typeof s !== 'object' || s === null || !isBytes(s.data)) return MessageRefusal.BadSnapshot;
  const md = s.metadata;
  if (typeof md !== 'object' || md === null) return MessageRefusal.BadSnapshot;
  if (!isIndex(md.index, LOG_INDEX_MAX) || md.index === 0) return MessageRefusal.BadSnapshot;
  if (!isIndex(md.term, m.term) || md.term === 0) return MessageRefusal.BadSnapshot;
  if (!checkConfState(md.confState)) return MessageRefusal.BadSnapshot;
  return snapshotFromVoter(m) ? null : MessageRefusal.SnapshotNotFromVoter;
}

/** Marks of `checkConfState`: which list an id was seen in (reused, never reallocated). */
const seen = new Map<number, number>();
const IN_VOTERS = 1;
const IN_LEARNERS = 2;
const IN_OUTGOING = 4;
const IN_LEARNERS_NEXT = 8;

/**
 * Whether Raft can restore `cs` (etcd's confchange restore would fail or panic otherwise):
 * lists of valid, distinct node ids; at least one voter; no voter also a learner (incoming
 * or staged); staged learners are outgoing voters that are not incoming voters; a joint
 * configuration only with outgoing voters; at most `GROUP_PEERS_MAX` members.
 */
export function checkConfState(cs: ConfState): boolean {
  if (typeof cs !== 'object' || cs === null || typeof cs.autoLeave !== 'boolean') return false;
  seen.clear();
  if (!markIds(cs.voters, IN_VOTERS) || !markIds(cs.learners, IN_LEARNERS) ||
    !markIds(cs.votersOutgoing, IN_OUTGOING) ||
    !markIds(cs.learnersNext, IN_LEARNERS_NEXT)) return false;
  if (cs.voters.length === 0 || seen.size > GROUP_PEERS_MAX) return false;
  const joint = cs.votersOutgoing.length > 0;
  if (!joint && (cs.learnersNext.length > 0 || cs.autoLeave)) return false;
  for (const marks of seen.values()) {
    if ((marks & IN_LEARNERS) !== 0 && (marks & (IN_VOTERS | IN_OUTGOING)) !== 0) return false;
    if ((marks & IN_LEARNERS_NEXT) !== 0 &&
      ((marks & IN_OUTGOING) === 0 || (marks & IN_VOTERS) !== 0)) return false;
  }
  seen.clear();
  return true;
}

function markIds(ids: unknown, mark: number): boolean {
  if (!Array.isArray(ids) || ids.length > GROUP_PEERS_MAX) return false;
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (!isIndex(id, NODE_ID_MAX) || id === 0) return false;
    const marks = seen.get(id as number) ?? 0;
    if ((marks & mark) !== 0) return false;
    seen.set(id as number, marks | mark);
  }
  return true;
}

/**
 * Whether a snapshot comes from a plausible leader of its own configuration: the sender is a
 * voter (incoming or outgoing) in it. Only such a snapshot may initialize a replica that a
 * message created; an uninitialized replica that gets none is collected.
 */
export function snapshotFromVoter(m: Message): boolean {
  const cs = m.snapshot?.metadata.confState;
  return cs !== undefined && (cs.voters.includes(m.from) || cs.votersOutgoing.includes(m.from));
}
