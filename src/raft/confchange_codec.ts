/**
 * Membership changes on the wire and in text (etcd's raftpb/confchange.go plus the protobuf
 * encoding of raft.pb.go): the bytes of ConfChange / ConfChangeV2 inside EntryConfChange /
 * EntryConfChangeV2 entries, V1 -> V2 conversion, the joint-consensus predicates, and the
 * token syntax `v1 l2 r3 u4` of the conformance corpus.
 *
 * Encoding: etcd v3.7 marshals with standard protobuf over proto2 `optional` fields, which
 * writes a scalar only when it is set. Our types carry no presence bit, so we write what etcd
 * sets in practice and nothing else:
 * - ConfChange: `id` (1) when non-zero (etcd-internal, usually unset); `type` (2) and
 *   `node_id` (3) always; `context` (4) when it is not `EMPTY_BYTES` (Go's nil).
 * - ConfChangeV2: `transition` (1) when non-zero; each change (2) as a nested message with
 *   `type` (1) and `node_id` (2) always; `context` (3) when not `EMPTY_BYTES`.
 * Fields are written in field-number order, as both gogo and standard protobuf do. Decoding
 * accepts any valid encoding (fields in any order, unknown fields skipped, zero values
 * present or not), so gogo-encoded bytes of older etcd versions decode too.
 *
 * Decoded `context` is a view (`subarray`) into the input, which is immutable by contract.
 */

import { FlotillaError, assert } from '../util/index.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
} from './raftpb.js';
import { varintSize } from './util.js';

/** The bytes of a conf change could not be decoded (the text is gogo protobuf's). */
export class ConfChangeDecodeError extends FlotillaError {
  constructor(message: string) {
    super('ERR_RAFT_CONF_CHANGE_DECODE', message);
  }
}

/** A conf change token string could not be parsed (the text is etcd's). */
export class ConfChangeParseError extends FlotillaError {
  constructor(message: string) {
    super('ERR_RAFT_CONF_CHANGE_PARSE', message);
  }
}

// ---- encoding ---------------------------------------------------------------------------

function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  assert(Number.isInteger(v) && v >= 0, 'varint must be a non-negative integer');
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

function writeBytes(buf: Uint8Array, pos: number, tag: number, b: Uint8Array): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

function bytesFieldSize(b: Uint8Array): number {
  return b === EMPTY_BYTES ? 0 : 1 + varintSize(b.length) + b.length;
}

/** The encoded size of a ConfChange (etcd's `proto.Size`). */
export function confChangeSize(cc: ConfChange): number {
  return (cc.id !== 0 ? 1 + varintSize(cc.id) : 0) +
    1 + varintSize(cc.type) + 1 + varintSize(cc.nodeId) + bytesFieldSize(cc.context);
}

/** Encodes a ConfChange as etcd does (the data of an EntryConfChange entry). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const buf = new Uint8Array(confChangeSize(cc));
  let pos = 0;
  if (cc.id !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint(buf, pos, cc.id);
  }
  buf[pos++] = 0x10;
  pos = writeVarint(buf, pos, cc.type);
  buf[pos++] = 0x18;
  pos = writeVarint(buf, pos, cc.nodeId);
  if (cc.context !== EMPTY_BYTES) pos = writeBytes(buf, pos, 0x22, cc.context);
  assert(pos === buf.length, 'encodeConfChange: size mismatch');
  return buf;
}

function singleSize(c: ConfChangeSingle): number {
  return 2 + varintSize(c.type) + varintSize(c.nodeId);
}

/** The encoded size of a ConfChangeV2 (etcd's `proto.Size`). */
export function confChangeV2Size(cc: ConfChangeV2): number {
  let n = cc.transition !== 0 ? 1 + varintSize(cc.transition) : 0;
  for (const c of cc.changes) {
    const l = singleSize(c);
    n += 1 + varintSize(l) + l;
  }
  return n + bytesFieldSize(cc.context);
}

/** Encodes a ConfChangeV2 as etcd does (the data of an EntryConfChangeV2 entry). */
export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  const buf = new Uint8Array(confChangeV2Size(cc));
  let pos = 0;
  if (cc.transition !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint(buf, pos, cc.transition);
  }
  for (const c of cc.changes) {
    buf[pos++] = 0x12;
    pos = writeVarint(buf, pos, singleSize(c));
    buf[pos++] = 0x08;
    pos = writeVarint(buf, pos, c.type);
    buf[pos++] = 0x10;
    pos = writeVarint(buf, pos, c.nodeId);
  }
  if (cc.context !== EMPTY_BYTES) pos = writeBytes(buf, pos, 0x1a, cc.context);
  assert(pos === buf.length, 'encodeConfChangeV2: size mismatch');
  return buf;
}

// ---- decoding ---------------------------------------------------------------------------

/** A cursor over protobuf bytes, with gogo's error texts. */
class Reader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let shift = 0; ; shift += 7) {
      if (shift >= 64) throw new ConfChangeDecodeError('proto: integer overflow');
      if (this.pos >= this.end) throw new ConfChangeDecodeError('unexpected EOF');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) return result;
    }
  }

  /** Reads a length prefix and returns the end of the delimited field. */
  delimitedEnd(): number {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.end) throw new ConfChangeDecodeError('unexpected EOF');
    return end;
  }

  /** Reads a length-delimited field as a view into the buffer (payloads are never copied). */
  bytes(): Uint8Array {
    const end = this.delimitedEnd();
    const view = this.buf.subarray(this.pos, end);
    this.pos = end;
    return view;
  }

  /** Skips a field of the given wire type (its tag already read). */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.advance(8);
    else if (wireType === 2) this.pos = this.delimitedEnd();
    else if (wireType === 5) this.advance(4);
    else throw new ConfChangeDecodeError(`proto: illegal wireType ${wireType}`);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ConfChangeDecodeError('unexpected EOF');
    this.pos += n;
  }

  /** Reads a tag; returns [fieldNumber, wireType] packed as fieldNumber * 8 + wireType. */
  tag(message: string): number {
    const wire = this.varint();
    const fieldNum = Math.floor(wire / 8);
    const wireType = wire % 8;
    if (wireType === 4) {
      throw new ConfChangeDecodeError(`proto: ${message}: wiretype end group for non-group`);
    }
    if (fieldNum <= 0) {
      throw new ConfChangeDecodeError(
        `proto: ${message}: illegal tag ${fieldNum} (wire type ${wire})`,
      );
    }
    return wire;
  }
}

function wrongWireType(wireType: number, field: string): ConfChangeDecodeError {
  return new ConfChangeDecodeError(`proto: wrong wireType = ${wireType} for field ${field}`);
}

function expectWire(wire: number, want: number, field: string): void {
  if (wire % 8 !== want) throw wrongWireType(wire % 8, field);
}

/** Decodes the data of an EntryConfChange entry. Throws ConfChangeDecodeError. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const cc: ConfChange = { type: 0, nodeId: 0, context: EMPTY_BYTES, id: 0 };
  const r = new Reader(data, 0, data.length);
  while (r.pos < r.end) {
    const wire = r.tag('ConfChange');
    switch (Math.floor(wire / 8)) {
      case 1: expectWire(wire, 0, 'ID'); cc.id = r.varint(); break;
      case 2: expectWire(wire, 0, 'Type'); cc.type = r.varint() as ConfChangeType; break;
      case 3: expectWire(wire, 0, 'NodeID'); cc.nodeId = r.varint(); break;
      case 4: expectWire(wire, 2, 'Context'); cc.context = r.bytes(); break;
      default: r.skip(wire % 8);
    }
  }
  return cc;
}

function decodeSingle(r: Reader, end: number): ConfChangeSingle {
  const c: ConfChangeSingle = { type: 0, nodeId: 0 };
  const sub = new Reader(r.buf, r.pos, end);
  while (sub.pos < sub.end) {
    const wire = sub.tag('ConfChangeSingle');
    switch (Math.floor(wire / 8)) {
      case 1: expectWire(wire, 0, 'Type'); c.type = sub.varint() as ConfChangeType; break;
      case 2: expectWire(wire, 0, 'NodeID'); c.nodeId = sub.varint(); break;
      default: sub.skip(wire % 8);
    }
  }
  r.pos = end;
  return c;
}

/**
 * Decodes the data of an EntryConfChangeV2 entry; empty data is the zero ConfChangeV2 (leave
 * a joint configuration). Throws ConfChangeDecodeError.
 */
export function decodeConfChangeV2(data: Uint8Array): ConfChangeV2 {
  const cc: ConfChangeV2 = { transition: 0, changes: [], context: EMPTY_BYTES };
  const r = new Reader(data, 0, data.length);
  while (r.pos < r.end) {
    const wire = r.tag('ConfChangeV2');
    switch (Math.floor(wire / 8)) {
      case 1:
        expectWire(wire, 0, 'Transition');
        cc.transition = r.varint() as ConfChangeTransition;
        break;
      case 2:
        expectWire(wire, 2, 'Changes');
        cc.changes.push(decodeSingle(r, r.delimitedEnd()));
        break;
      case 3: expectWire(wire, 2, 'Context'); cc.context = r.bytes(); break;
      default: r.skip(wire % 8);
    }
  }
  return cc;
}

// ---- conversions and predicates ---------------------------------------------------------

/** True for a V1 ConfChange (as opposed to a ConfChangeV2). */
export function isConfChangeV1(c: ConfChange | ConfChangeV2): c is ConfChange {
  return (c as ConfChangeV2).changes === undefined;
}

/** The V2 change carrying out the same operation (etcd's `ConfChangeI.AsV2`). */
export function asV2(c: ConfChange | ConfChangeV2): ConfChangeV2 {
  if (!isConfChangeV1(c)) return c;
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type: c.type, nodeId: c.nodeId }],
    context: c.context,
  };
}

/** The V1 change, or null for a V2 change (etcd's `ConfChangeI.AsV1`). */
export function asV1(c: ConfChange | ConfChangeV2): ConfChange | null {
  return isConfChangeV1(c) ? c : null;
}

/** The entry type and data etcd proposes for a conf change (etcd's `MarshalConfChange`). */
export interface MarshaledConfChange {
  type: EntryType;
  data: Uint8Array;
}

/**
 * Encodes a conf change for an entry: V1 as EntryConfChange, V2 as EntryConfChangeV2, and
 * null as an EntryConfChangeV2 with nil data (the zero V2 change, which leaves a joint config
 * and, having no payload, is never refused for its size).
 */
export function marshalConfChange(c: ConfChange | ConfChangeV2 | null): MarshaledConfChange {
  if (c === null) return { type: EntryType.EntryConfChangeV2, data: EMPTY_BYTES };
  if (isConfChangeV1(c)) return { type: EntryType.EntryConfChange, data: encodeConfChange(c) };
  return { type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(c) };
}

/**
 * Decodes the conf change of an EntryConfChange / EntryConfChangeV2 entry's type and data.
 * Throws ConfChangeDecodeError.
 */
export function unmarshalConfChange(type: EntryType, data: Uint8Array): ConfChange | ConfChangeV2 {
  assert(type !== EntryType.EntryNormal, 'unmarshalConfChange: not a conf change entry');
  return type === EntryType.EntryConfChange ? decodeConfChange(data) : decodeConfChangeV2(data);
}

/** The result of `enterJoint` (etcd's `(autoLeave, ok)` pair). Shared, frozen values. */
export interface EnterJointResult {
  /** Whether the joint configuration is left automatically; only with `ok`. */
  readonly autoLeave: boolean;
  /** Whether the change uses joint consensus. */
  readonly ok: boolean;
}

const NOT_JOINT: EnterJointResult = Object.freeze({ autoLeave: false, ok: false });
const JOINT_AUTO_LEAVE: EnterJointResult = Object.freeze({ autoLeave: true, ok: true });
const JOINT_EXPLICIT: EnterJointResult = Object.freeze({ autoLeave: false, ok: true });

/**
 * Whether the change enters a joint configuration (more than one change, or a transition
 * other than Auto), and if so whether it is left automatically (Auto and JointImplicit) or
 * only by an explicit empty change (JointExplicit).
 */
export function enterJoint(cc: ConfChangeV2): EnterJointResult {
  if (cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length <= 1) {
    return NOT_JOINT;
  }
  switch (cc.transition) {
    case ConfChangeTransition.ConfChangeTransitionAuto:
    case ConfChangeTransition.ConfChangeTransitionJointImplicit:
      return JOINT_AUTO_LEAVE;
    case ConfChangeTransition.ConfChangeTransitionJointExplicit:
      return JOINT_EXPLICIT;
    default:
      throw new Error(`unknown transition: ${String(cc.transition)}`);
  }
}

/** Whether the change leaves a joint configuration: the zero change (context aside). */
export function leaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto &&
    cc.changes.length === 0;
}

// ---- text -------------------------------------------------------------------------------

const tokenTypes: Readonly<Record<string, ConfChangeType>> = {
  v: ConfChangeType.ConfChangeAddNode,
  l: ConfChangeType.ConfChangeAddLearnerNode,
  r: ConfChangeType.ConfChangeRemoveNode,
  u: ConfChangeType.ConfChangeUpdateNode,
};

const tokenLetters: readonly string[] = ['v', 'r', 'u', 'l'];

/** Go's strconv.ParseUint(s, 10, 64), limited to ids JavaScript represents exactly. */
function parseNodeId(s: string): number {
  if (!/^[0-9]+$/.test(s)) {
    throw new ConfChangeParseError(`strconv.ParseUint: parsing "${s}": invalid syntax`);
  }
  const id = Number(s);
  if (!Number.isSafeInteger(id)) {
    throw new ConfChangeParseError(`strconv.ParseUint: parsing "${s}": value out of range`);
  }
  return id;
}

/**
 * Parses space-separated operations: `vN` makes N a voter, `lN` a learner, `rN` removes N,
 * `uN` updates N. Throws ConfChangeParseError with etcd's message.
 */
export function confChangesFromString(s: string): ConfChangeSingle[] {
  const trimmed = s.trim();
  if (trimmed === '') return [];
  const ccs: ConfChangeSingle[] = [];
  for (const tok of trimmed.split(' ')) {
    if (tok.length < 2) throw new ConfChangeParseError(`unknown token ${tok}`);
    const type = tokenTypes[tok[0]!];
    if (type === undefined) throw new ConfChangeParseError(`unknown input: ${tok}`);
    ccs.push({ type, nodeId: parseNodeId(tok.slice(1)) });
  }
  return ccs;
}

/** The inverse of confChangesFromString (`v1 l2 r3`). */
export function confChangesToString(ccs: readonly ConfChangeSingle[]): string {
  let out = '';
  for (let i = 0; i < ccs.length; i++) {
    const cc = ccs[i]!;
    if (i > 0) out += ' ';
    out += (tokenLetters[cc.type] ?? 'unknown') + String(cc.nodeId);
  }
  return out;
}
