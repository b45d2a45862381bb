/**
 * The wire and storage types of the Raft core, with the field set of etcd's `raftpb`.
 *
 * Numbers: node ids, terms and indexes are JavaScript numbers. Indexes and terms stay far below
 * 2^53 in any real deployment (a million entries a second for 285 years), so the doubles are
 * exact and avoid bigint's allocation on every comparison.
 *
 * Payloads are `Uint8Array` and are never copied or re-encoded by the core.
 */

/** Message types, with etcd's numbering (the numbers appear on the wire). */
export const MessageType = {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
  MsgStorageAppend: 19,
  MsgStorageAppendResp: 20,
  MsgStorageApply: 21,
  MsgStorageApplyResp: 22,
  MsgForgetLeader: 23,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Name of each message type, indexed by its number (as etcd prints them). */
export const messageTypeNames: readonly string[] = Object.keys(MessageType);

/** Entry types. */
export const EntryType = {
  EntryNormal: 0,
  EntryConfChange: 1,
  EntryConfChangeV2: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];
export const entryTypeNames: readonly string[] = Object.keys(EntryType);

/** Kinds of a single membership change. */
export const ConfChangeType = {
  ConfChangeAddNode: 0,
  ConfChangeRemoveNode: 1,
  ConfChangeUpdateNode: 2,
  ConfChangeAddLearnerNode: 3,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];
export const confChangeTypeNames: readonly string[] = Object.keys(ConfChangeType);

/** How a ConfChangeV2 uses joint consensus. */
export const ConfChangeTransition = {
  /** Simple change if possible, else joint with automatic leave. */
  ConfChangeTransitionAuto: 0,
  /** Joint consensus, left automatically once the joint config commits. */
  ConfChangeTransitionJointImplicit: 1,
  /** Joint consensus, left only by an explicit empty ConfChangeV2. */
  ConfChangeTransitionJointExplicit: 2,
} as const;
export type ConfChangeTransition =
  (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

/** One log entry. `data` is the application's payload (or an encoded conf change). */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** The state a node must persist before sending messages. */
export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

/** A membership configuration, as stored in snapshots and returned by applyConfChange. */
export interface ConfState {
  voters: number[];
  learners: number[];
  /** Voters of the outgoing half while in a joint configuration; empty otherwise. */
  votersOutgoing: number[];
  /** Voters of the outgoing config that become learners once the joint config is left. */
  learnersNext: number[];
  /** Whether the joint configuration is left automatically. */
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/** A version-1 membership change: one node at a time. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  context: Uint8Array;
  /** Unused by Raft; kept so encoded V1 changes round-trip. */
  id: number;
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: number;
}

/** A version-2 membership change: any number of nodes, possibly through joint consensus. */
export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context: Uint8Array;
}

/** A Raft message. Fields unused by a message type keep their zero value. */
export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** Term of the entry at `index` (MsgApp), or the rejection's log term hint (MsgAppResp). */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  /** The candidate voted for (MsgVote/MsgPreVote responses leave it 0). */
  vote: number;
  snapshot: Snapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
  /** Responses carried by local storage messages (MsgStorageAppend/Apply). */
  responses: Message[];
}

/** The empty byte array, shared so that empty payloads allocate nothing. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * Returns a message of the given type with the given fields and every other field at its zero
 * value.
 *
 * V8: every Message is built by one object literal with the fields in this order (here and in
 * raft.ts's `msg`), so all share one hidden class and the step functions stay monomorphic.
 * Object.assign would add any extra key of `fields` (a new shape) and copy `undefined` values
 * into number fields (which then lose their small-integer representation).
 */
export function newMessage(type: MessageType, fields?: Partial<Message>): Message {
  const f = fields ?? NO_FIELDS;
  return {
    type,
    to: f.to ?? 0,
    from: f.from ?? 0,
    term: f.term ?? 0,
    logTerm: f.logTerm ?? 0,
    index: f.index ?? 0,
    entries: f.entries ?? EMPTY_ENTRIES,
    commit: f.commit ?? 0,
    vote: f.vote ?? 0,
    snapshot: f.snapshot ?? null,
    reject: f.reject ?? false,
    rejectHint: f.rejectHint ?? 0,
    context: f.context ?? EMPTY_BYTES,
    responses: f.responses ?? EMPTY_MESSAGES,
  };
}

const NO_FIELDS: Partial<Message> = Object.freeze({});

/**
 * Shared empty arrays. They are frozen so that code which appends to a message's entries
 * by mistake fails at once instead of corrupting every other message.
 */
export const EMPTY_ENTRIES: Entry[] = Object.freeze([] as Entry[]) as Entry[];
export const EMPTY_MESSAGES: Message[] = Object.freeze([] as Message[]) as Message[];

export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function emptyHardState(): HardState {
  return { term: 0, vote: 0, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

export function isEmptySnapshot(s: Snapshot | null): boolean {
  return s === null || s.metadata.index === 0;
}

export function emptySnapshot(): Snapshot {
  return { data: EMPTY_BYTES, metadata: { confState: emptyConfState(), index: 0, term: 0 } };
}
