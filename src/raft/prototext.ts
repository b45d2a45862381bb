/**
 * What etcd v3.7's log lines print for `%v` (or `%+v`) of a protobuf message: v3.7 generates
 * raftpb with protoc-gen-go, whose `String()` is the single-line text format
 * (`protoimpl.X.MessageStringOf`): set fields in declaration order as `name:value`, separated
 * by a space, enums by name, bytes quoted and escaped, nested messages as `name:{...}`,
 * repeated fields one `name:value` per element, and an unset message as the empty string.
 *
 * Two choices, because the Go output is not fully determined by the message:
 * - protobuf-go adds a second space before some fields, at random per binary (to keep
 *   callers from depending on the format); this prints the variant without it, one of the
 *   outputs etcd can produce, as describe.ts does for Go's map order.
 * - proto2 presence: our types carry none, so a field counts as set when the encoder of
 *   confchange_codec.ts would write it (what etcd sets in practice): ConfChange `type` and
 *   `node_id` always, `id` when non-zero, `context` when not EMPTY_BYTES; ConfChangeV2
 *   `transition` when non-zero; ConfState lists per element, `auto_leave` when true.
 */

import { assert } from '../util/index.js';
import {
  ConfChangeTransition,
  EMPTY_BYTES,
  confChangeTypeNames,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
} from './raftpb.js';

/** The transitions' names, indexed by value. */
const confChangeTransitionNames: readonly string[] = Object.keys(ConfChangeTransition);
assert(
  confChangeTransitionNames.every(
    (k, i) => (ConfChangeTransition as Record<string, number>)[k] === i,
  ),
  'transition names in value order',
);

/** `%v` of a `*pb.ConfChange` in etcd v3.7: `type:ConfChangeAddNode node_id:2`. */
export function confChangeText(cc: ConfChange): string {
  let s = `type:${enumName(confChangeTypeNames, cc.type)} node_id:${cc.nodeId}`;
  if (cc.context !== EMPTY_BYTES) s += ` context:${bytesText(cc.context)}`;
  if (cc.id !== 0) s += ` id:${cc.id}`;
  return s;
}

/**
 * `%v` of a `*pb.ConfChangeV2` in etcd v3.7:
 * `transition:ConfChangeTransitionJointExplicit changes:{type:ConfChangeAddNode node_id:2}`.
 */
export function confChangeV2Text(cc: ConfChangeV2): string {
  const parts: string[] = [];
  if (cc.transition !== 0) {
    parts.push(`transition:${enumName(confChangeTransitionNames, cc.transition)}`);
  }
  for (const c of cc.changes) {
    parts.push(`changes:{type:${enumName(confChangeTypeNames, c.type)} node_id:${c.nodeId}}`);
  }
  if (cc.context !== EMPTY_BYTES) parts.push(`context:${bytesText(cc.context)}`);
  return parts.join(' ');
}

/** `%v` of a `*pb.ConfState` in etcd v3.7: `voters:1 voters:2 learners:3 auto_leave:true`. */
export function confStateText(cs: ConfState): string {
  const parts: string[] = [];
  for (const id of cs.voters) parts.push(`voters:${id}`);
  for (const id of cs.learners) parts.push(`learners:${id}`);
  for (const id of cs.votersOutgoing) parts.push(`voters_outgoing:${id}`);
  for (const id of cs.learnersNext) parts.push(`learners_next:${id}`);
  if (cs.autoLeave) parts.push('auto_leave:true');
  return parts.join(' ');
}

function enumName(names: readonly string[], v: number): string {
  // protobuf-go prints an unknown enum value as its number.
  return names[v] ?? String(v);
}

/**
 * A bytes field as the text format quotes it: printable ASCII as is, `\"` `\\` `\n` `\r`
 * `\t`, other control bytes and invalid UTF-8 as `\xNN`, U+0080..U+009F as `\u00NN`, and
 * other valid UTF-8 sequences unchanged.
 */
export function bytesText(b: Uint8Array): string {
  let s = '"';
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : utf8Length(b, i);
    if (n === 0) {
      s += `\\x${hex2(c)}`;
      i++;
      continue;
    }
    if (n === 1) {
      s += asciiText(c);
    } else {
      const cp = codePoint(b, i, n);
      s += cp <= 0x9f ? `\\u00${hex2(cp)}` : String.fromCodePoint(cp);
    }
    i += n;
  }
  return `${s}"`;
}

function asciiText(c: number): string {
  if (c === 0x22) return '\\"';
  if (c === 0x5c) return '\\\\';
  if (c === 0x0a) return '\\n';
  if (c === 0x0d) return '\\r';
  if (c === 0x09) return '\\t';
  if (c < 0x20 || c === 0x7f) return `\\x${hex2(c)}`;
  return String.fromCharCode(c);
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

/** The length of the valid UTF-8 sequence at `i` (as Go's decoder accepts it), or 0. */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i]!;
  let n = 0;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3;
  else if (c >= 0xf0 && c <= 0xf4) n = 4;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const cp = codePoint(b, i, n);
  const min = n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

function codePoint(b: Uint8Array, i: number, n: number): number {
  assert(n >= 2 && n <= 4, 'a multi-byte UTF-8 sequence');
  let cp = b[i]! & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) cp = (cp << 6) | (b[i + k]! & 0x3f);
  assert(cp >= 0x80, 'a non-ASCII code point');
  return cp;
}
