/**
 * Human-readable descriptions of the Raft core's types, exactly as etcd's util.go prints them
 * (`DescribeEntry`, `DescribeMessage`, `DescribeReady`, ...). The conformance corpus compares
 * these texts byte for byte, so every space, bracket and number base here is deliberate:
 * message endpoints print in hexadecimal, everything else in decimal, and normal entry
 * payloads are quoted as Go's `%q` quotes a byte slice.
 *
 * Debugging aids: these allocate freely and belong off the hot path.
 */
import { assert } from '../util/index.js';
import { LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD } from './config.js';
import { decodeConfChange, decodeConfChangeV2 } from './confchange_codec.js';
import {
  ConfChangeType,
  EntryType,
  entryTypeNames,
  isEmptyHardState,
  isEmptySnapshot,
  messageTypeNames,
  type ConfChangeSingle,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './raftpb.js';
import { stateTypeNames } from './raft_state.js';
import type { ReadState } from './read_only.js';
import type { SoftState } from './status.js';

/**
 * Formats an entry's payload for display. The default quotes it as Go's `%q` does
 * ({@link goQuote}).
 */
export type EntryFormatter = (data: Uint8Array) => string;

/** The volatile state printed at the head of a Ready: status.ts's SoftState (one definition). */
export type SoftStateLike = SoftState;

/** A ReadIndex answer as a Ready carries it: read_only.ts's ReadState (one definition). */
export type ReadStateLike = ReadState;

/** The parts of a Ready that {@link describeReady} prints. */
export interface ReadyLike {
  softState?: SoftStateLike | null;
  hardState: HardState;
  readStates: readonly ReadStateLike[];
  entries: readonly Entry[];
  snapshot: Snapshot | null;
  committedEntries: readonly Entry[];
  messages: readonly Message[];
  mustSync: boolean;
}

const HEX_DIGITS = '0123456789abcdef';

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and ASCII space. */
const PRINTABLE_RE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function hexByte(b: number): string {
  return HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!;
}

/**
 * Decodes one UTF-8 sequence at `data[i]` as Go's `utf8.DecodeRune` does: returns the code
 * point and its width, or `[-1, 1]` for an invalid or truncated sequence (overlong forms and
 * surrogates included).
 */
function decodeRune(data: Uint8Array, i: number): [number, number] {
  const b0 = data[i]!;
  if (b0 < 0x80) return [b0, 1];
  let width: number;
  let min: number;
  let cp: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [width, min, cp] = [2, 0x80, b0 & 0x1f];
  else if (b0 >= 0xe0 && b0 <= 0xef) [width, min, cp] = [3, 0x800, b0 & 0x0f];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [width, min, cp] = [4, 0x10000, b0 & 0x07];
  else return [-1, 1];
  if (i + width > data.length) return [-1, 1];
  for (let k = 1; k < width; k++) {
    const b = data[i + k]!;
    if ((b & 0xc0) !== 0x80) return [-1, 1];
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1];
  return [cp, width];
}

/** Appends rune `r` escaped as Go's `strconv.Quote` escapes it. */
function quoteRune(r: number): string {
  if (r === 0x22) return '\\"';
  if (r === 0x5c) return '\\\\';
  const ch = String.fromCodePoint(r);
  if (PRINTABLE_RE.test(ch)) return ch;
  switch (r) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return `\\x${hexByte(r)}`;
  if (r < 0x10000) return `\\u${r.toString(16).padStart(4, '0')}`;
  return `\\U${r.toString(16).padStart(8, '0')}`;
}

/**
 * Quotes bytes as Go's `fmt.Sprintf("%q", data)` does: a double-quoted string with Go escape
 * sequences; printable UTF-8 stays as is, invalid bytes print as `\xNN`.
 */
export function goQuote(data: Uint8Array): string {
  let out = '"';
  for (let i = 0; i < data.length; ) {
    const [r, width] = decodeRune(data, i);
    assert(width >= 1 && width <= 4 && i + width <= data.length, 'goQuote: bad rune width');
    out += r < 0 ? `\\x${hexByte(data[i]!)}` : quoteRune(r);
    i += width;
  }
  return out + '"';
}

/** Go's `%v` of a `[]uint64`: `[1 2 3]`. */
function goIds(ids: readonly number[]): string {
  return `[${ids.join(' ')}]`;
}

/** Go's `%v` of a `[]byte`: `[102 111 111]`. */
function goBytes(data: Uint8Array): string {
  return `[${Array.from(data).join(' ')}]`;
}

/** The conf-change tokens etcd prints (`v2 l3 r4 u5`; etcd's `ConfChangesToString`). */
export function describeConfChangeSingles(ccs: readonly ConfChangeSingle[]): string {
  return ccs
    .map((cc) => {
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          return `v${cc.nodeId}`;
        case ConfChangeType.ConfChangeAddLearnerNode:
          return `l${cc.nodeId}`;
        case ConfChangeType.ConfChangeRemoveNode:
          return `r${cc.nodeId}`;
        case ConfChangeType.ConfChangeUpdateNode:
          return `u${cc.nodeId}`;
        default:
          return `unknown${cc.nodeId}`;
      }
    })
    .join(' ');
}

function describeEntryPayload(e: Entry, formatter: EntryFormatter): string {
  try {
    switch (e.type) {
      case EntryType.EntryNormal:
        return formatter(e.data);
      case EntryType.EntryConfChange: {
        const cc = decodeConfChange(e.data);
        return describeConfChangeSingles([{ type: cc.type, nodeId: cc.nodeId }]);
      }
      case EntryType.EntryConfChangeV2:
        return describeConfChangeSingles(decodeConfChangeV2(e.data).changes);
      default:
        return '';
    }
  } catch (err) {
    // etcd prints the unmarshalling error in place of the payload.
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * `term/index Type payload`, e.g. `1/4 EntryNormal "foo"` or `1/5 EntryConfChangeV2 v2 l3`
 * (etcd's `DescribeEntry`). The payload and its space are left out when empty.
 */
export function describeEntry(e: Entry, formatter: EntryFormatter = goQuote): string {
  const payload = describeEntryPayload(e, formatter);
  const type = entryTypeNames[e.type] ?? `EntryType(${String(e.type)})`;
  return `${e.term}/${e.index} ${type}${payload === '' ? '' : ' ' + payload}`;
}

/** One {@link describeEntry} line per entry, each ending in a newline. */
export function describeEntries(
  ents: readonly Entry[],
  formatter: EntryFormatter = goQuote,
): string {
  let out = '';
  for (const e of ents) out += describeEntry(e, formatter) + '\n';
  return out;
}

/** A message endpoint: hexadecimal id, or `None` / `AppendThread` / `ApplyThread`. */
function describeTarget(id: number): string {
  if (id === 0) return 'None';
  if (id === LOCAL_APPEND_THREAD) return 'AppendThread';
  if (id === LOCAL_APPLY_THREAD) return 'ApplyThread';
  return id.toString(16);
}

/** Responses nest one level (storage messages carry them); this bounds the recursion. */
const RESPONSE_INDENT_MAX = 8;

function describeMessageWithIndent(indent: string, m: Message, formatter: EntryFormatter): string {
  assert(indent.length <= RESPONSE_INDENT_MAX, 'describeMessage: responses nested too deeply');
  const type = messageTypeNames[m.type] ?? `MessageType(${String(m.type)})`;
  let out =
    `${indent}${describeTarget(m.from)}->${describeTarget(m.to)} ${type} ` +
    `Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) out += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) out += ` Commit:${m.commit}`;
  if (m.vote !== 0) out += ` Vote:${m.vote}`;
  if (m.entries.length === 1) {
    out += ` Entries:[${describeEntry(m.entries[0]!, formatter)}]`;
  } else if (m.entries.length > 1) {
    out += ' Entries:[';
    for (const e of m.entries) out += `\n${indent}  ${describeEntry(e, formatter)}`;
    out += `\n${indent}]`;
  }
  if (m.snapshot !== null && !isEmptySnapshot(m.snapshot)) {
    out += `\n${indent}  Snapshot: ${describeSnapshot(m.snapshot)}`;
  }
  if (m.responses.length > 0) {
    out += ' Responses:[';
    for (const r of m.responses) {
      out += '\n' + describeMessageWithIndent(indent + '  ', r, formatter);
    }
    out += `\n${indent}]`;
  }
  return out;
}

/**
 * `from->to Type Term:T Log:logTerm/index`, then ` Rejected (Hint: H)`, ` Commit:C`,
 * ` Vote:V`, the entries (inline when one, one per line when several), the snapshot and the
 * responses, as etcd's `DescribeMessage` prints them. No trailing newline.
 */
export function describeMessage(m: Message, formatter: EntryFormatter = goQuote): string {
  return describeMessageWithIndent('', m, formatter);
}

/** `Term:T Vote:V Commit:C`, the vote only when set (etcd's `DescribeHardState`). */
export function describeHardState(hs: HardState): string {
  let out = `Term:${hs.term}`;
  if (hs.vote !== 0) out += ` Vote:${hs.vote}`;
  return out + ` Commit:${hs.commit}`;
}

/** `Lead:L State:StateLeader` (etcd's `DescribeSoftState`). */
export function describeSoftState(ss: SoftStateLike): string {
  const state = stateTypeNames[ss.raftState] ?? `StateType(${String(ss.raftState)})`;
  return `Lead:${ss.lead} State:${state}`;
}

/** `Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false`. */
export function describeConfState(cs: ConfState): string {
  return (
    `Voters:${goIds(cs.voters)} VotersOutgoing:${goIds(cs.votersOutgoing)} ` +
    `Learners:${goIds(cs.learners)} LearnersNext:${goIds(cs.learnersNext)} ` +
    `AutoLeave:${String(cs.autoLeave)}`
  );
}

/** `Index:I Term:T ConfState:...` (etcd's `DescribeSnapshot`). */
export function describeSnapshot(snap: Snapshot): string {
  const m = snap.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:${describeConfState(m.confState)}`;
}

/** Go's `%v` of a `[]ReadState`: `[{5 [102 111 111]}]`. */
function describeReadStates(rss: readonly ReadStateLike[]): string {
  return `[${rss.map((rs) => `{${rs.index} ${goBytes(rs.requestCtx)}}`).join(' ')}]`;
}

/**
 * `Ready MustSync=...:` followed by the non-empty parts in etcd's order (soft state, hard
 * state, read states, entries, snapshot, committed entries, messages), or `<empty Ready>`.
 * Ends in a newline unless empty (etcd's `DescribeReady`).
 */
export function describeReady(rd: ReadyLike, formatter: EntryFormatter = goQuote): string {
  let out = '';
  if (rd.softState !== undefined && rd.softState !== null) {
    out += describeSoftState(rd.softState) + '\n';
  }
  if (!isEmptyHardState(rd.hardState)) out += `HardState ${describeHardState(rd.hardState)}\n`;
  if (rd.readStates.length > 0) out += `ReadStates ${describeReadStates(rd.readStates)}\n`;
  if (rd.entries.length > 0) out += 'Entries:\n' + describeEntries(rd.entries, formatter);
  if (rd.snapshot !== null && !isEmptySnapshot(rd.snapshot)) {
    out += `Snapshot ${describeSnapshot(rd.snapshot)}\n`;
  }
  if (rd.committedEntries.length > 0) {
    out += 'CommittedEntries:\n' + describeEntries(rd.committedEntries, formatter);
  }
  if (rd.messages.length > 0) {
    out += 'Messages:\n';
    for (const m of rd.messages) out += describeMessage(m, formatter) + '\n';
  }
  if (out === '') return '<empty Ready>';
  return `Ready MustSync=${String(rd.mustSync)}:\n${out}`;
}
