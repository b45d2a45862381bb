/**
 * Small helpers of the Raft core (etcd's util.go, without the Describe* printers, which live
 * in describe.ts): message classification, entry sizes as protobuf counts them, size limits.
 *
 * Sizes: etcd's `entryEncodingSize` is the protobuf encoding size of entries (what
 * MaxSizePerMsg and MaxCommittedSizePerReady limit); `entryPayloadSize` is the length of
 * their data only (what MaxUncommittedEntriesSize limits). Both are plain numbers here; the
 * unlimited value is `NO_LIMIT` (Infinity), which compares and subtracts correctly.
 */

import { assert } from '../util/index.js';
import { LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD, NO_LIMIT } from './config.js';
import type { RaftLogger } from './logger.js';
import {
  EMPTY_BYTES,
  MessageType,
  messageTypeNames,
  type ConfState,
  type Entry,
} from './raftpb.js';

/** A size limit that is never reached: config.ts defines it, re-exported for the log code. */
export { NO_LIMIT };

const localMsgs: readonly boolean[] = flags([
  MessageType.MsgHup,
  MessageType.MsgBeat,
  MessageType.MsgUnreachable,
  MessageType.MsgSnapStatus,
  MessageType.MsgCheckQuorum,
  MessageType.MsgStorageAppend,
  MessageType.MsgStorageAppendResp,
  MessageType.MsgStorageApply,
  MessageType.MsgStorageApplyResp,
]);

const responseMsgs: readonly boolean[] = flags([
  MessageType.MsgAppResp,
  MessageType.MsgVoteResp,
  MessageType.MsgHeartbeatResp,
  MessageType.MsgUnreachable,
  MessageType.MsgReadIndexResp,
  MessageType.MsgPreVoteResp,
  MessageType.MsgStorageAppendResp,
  MessageType.MsgStorageApplyResp,
]);

function flags(types: readonly MessageType[]): boolean[] {
  const out = new Array<boolean>(messageTypeNames.length).fill(false);
  for (const t of types) out[t] = true;
  return out;
}

/** True for message types a node generates for itself and never sends to a peer. */
export function isLocalMsg(type: MessageType): boolean {
  return localMsgs[type] === true;
}

/** True for message types that answer another message. */
export function isResponseMsg(type: MessageType): boolean {
  return responseMsgs[type] === true;
}

/** True when `id` names one of the local storage threads rather than a peer. */
export function isLocalMsgTarget(id: number): boolean {
  return id === LOCAL_APPEND_THREAD || id === LOCAL_APPLY_THREAD;
}

/** The response type of a vote request type (MsgVote -> MsgVoteResp, MsgPreVote -> ...). */
export function voteRespMsgType(type: MessageType): MessageType {
  if (type === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (type === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new Error(`not a vote message: ${messageTypeNames[type] ?? String(type)}`);
}

/** Bytes of the protobuf varint encoding of a non-negative integer below 2^53. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  let rest = Math.floor(v / 0x10000000);
  while (rest > 0) {
    n++;
    rest = Math.floor(rest / 0x80);
  }
  return n;
}

/**
 * The protobuf encoding size of one entry, as etcd v3.7's `proto.Size(entry)`.
 *
 * etcd v3.7 encodes with standard protobuf over proto2 `optional` fields: a field is written
 * only when set. Raft always sets Term and Index of log entries (tag + varint each), sets
 * Type only on conf-change entries (normal proposals and the leader's empty entry leave it
 * unset), and Data is written when non-nil. Without presence bits we count Type when it is
 * not EntryNormal, and treat the shared `EMPTY_BYTES` as Go's nil data: any other array,
 * even an empty one (as a decoder produces for a present empty field), counts as present
 * (tag + length + bytes). (gogo-era etcd always wrote Type: 2 bytes more per normal entry.)
 */
export function entrySize(e: Entry): number {
  let n = 2 + varintSize(e.term) + varintSize(e.index);
  if (e.type !== 0) n += 1 + varintSize(e.type);
  const data = e.data;
  if (data !== EMPTY_BYTES) n += 1 + varintSize(data.length) + data.length;
  return n;
}

/** The summed protobuf encoding size of `ents` (etcd's `entsSize`). */
export function entsSize(ents: readonly Entry[]): number {
  let size = 0;
  for (let i = 0; i < ents.length; i++) size += entrySize(ents[i]!);
  return size;
}

/**
 * The end (exclusive) of the longest run `ents[lo..end)` of `ents[lo..hi)` whose total size
 * does not exceed `maxSize`, but at least one entry when `lo < hi`. The allocation-free core
 * of `limitSize`: callers slice once with the result.
 */
export function limitSizeEnd(
  ents: readonly Entry[],
  lo: number,
  hi: number,
  maxSize: number,
): number {
  assert(0 <= lo && lo <= hi && hi <= ents.length, 'limitSizeEnd: range out of bounds');
  if (lo === hi || maxSize === NO_LIMIT) return hi;
  let size = entrySize(ents[lo]!);
  for (let i = lo + 1; i < hi; i++) {
    size += entrySize(ents[i]!);
    if (size > maxSize) return i;
  }
  return hi;
}

/**
 * The longest prefix of `ents` whose total size does not exceed `maxSize`; never empty when
 * `ents` is not (a first entry larger than `maxSize` is returned alone). Returns `ents`
 * itself when nothing is cut, so the caller must treat the result as read-only.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  const end = limitSizeEnd(ents, 0, ents.length, maxSize);
  return end === ents.length ? ents : ents.slice(0, end);
}

/** The payload size of an entry: the length of its data (etcd's `payloadSize`). */
export function payloadSize(e: Entry): number {
  return e.data.length;
}

/** The summed payload size of `ents` (etcd's `payloadsSize`). */
export function payloadsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (let i = 0; i < ents.length; i++) s += ents[i]!.data.length;
  return s;
}

/**
 * `dst` followed by `vals`, in a new array of exactly the needed length (etcd's `extend`).
 * Neither input is modified, so both may be shared with the log.
 */
export function extend(dst: readonly Entry[], vals: readonly Entry[]): Entry[] {
  const out = new Array<Entry>(dst.length + vals.length);
  for (let i = 0; i < dst.length; i++) out[i] = dst[i]!;
  for (let i = 0; i < vals.length; i++) out[dst.length + i] = vals[i]!;
  return out;
}

/** Formats ids as Go's `%v` of a `[]uint64`: `[1 2 3]`. */
function formatIds(ids: readonly number[]): string {
  return `[${ids.join(' ')}]`;
}

/**
 * A ConfState as gogo-era etcd's `%+v` printed it. Only for confStatesEquivalent's panic text:
 * etcd v3.7 prints `%+#v` of the generated struct there, which includes protobuf-go's
 * internal state (a pointer among it), so no output can match it byte for byte.
 */
function formatConfStateGo(cs: ConfState): string {
  return (
    `{Voters:${formatIds(cs.voters)} Learners:${formatIds(cs.learners)} ` +
    `VotersOutgoing:${formatIds(cs.votersOutgoing)} ` +
    `LearnersNext:${formatIds(cs.learnersNext)} AutoLeave:${String(cs.autoLeave)}}`
  );
}

function sortedCopy(ids: readonly number[]): number[] {
  return ids.slice().sort((a, b) => a - b);
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const sa = sortedCopy(a);
  const sb = sortedCopy(b);
  for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return false;
  return true;
}

function sortedConfState(cs: ConfState): ConfState {
  return {
    voters: sortedCopy(cs.voters),
    learners: sortedCopy(cs.learners),
    votersOutgoing: sortedCopy(cs.votersOutgoing),
    learnersNext: sortedCopy(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

/**
 * Null when two ConfStates are equivalent (equal up to the order of ids in each list),
 * otherwise etcd's error text (raftpb's `ConfState.Equivalent`).
 */
export function confStatesEquivalent(cs1: ConfState, cs2: ConfState): string | null {
  const same =
    cs1.autoLeave === cs2.autoLeave &&
    sameIds(cs1.voters, cs2.voters) &&
    sameIds(cs1.learners, cs2.learners) &&
    sameIds(cs1.votersOutgoing, cs2.votersOutgoing) &&
    sameIds(cs1.learnersNext, cs2.learnersNext);
  if (same) return null;
  const s1 = formatConfStateGo(sortedConfState(cs1));
  const s2 = formatConfStateGo(sortedConfState(cs2));
  return `ConfStates not equivalent after sorting:\n${s1}\n${s2}\nInputs were:\n` +
    `${formatConfStateGo(cs1)}\n${formatConfStateGo(cs2)}`;
}

/** Panics (logger.fatal) unless the two ConfStates are equivalent. */
export function assertConfStatesEquivalent(
  logger: RaftLogger,
  cs1: ConfState,
  cs2: ConfState,
): void {
  const err = confStatesEquivalent(cs1, cs2);
  if (err !== null) logger.fatal(err);
}
