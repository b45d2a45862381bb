/**
 * Range descriptors: which span a range holds, at which generation, on which replicas, and
 * their compact binary codec.
 *
 * A descriptor is immutable: a split, merge or membership change makes a new one with a
 * higher generation. The generation orders descriptors of overlapping spans (a routing cache
 * keeps the newest), and a split or merge command names the generation it was computed from,
 * so that a stale one is refused on apply.
 *
 * CODEC (big-endian, version 1):
 *   u8 version | u64 rangeId | u64 generation | u32 startLen | start | u32 endLen | end |
 *   u16 replicaCount | replicaCount × (u64 nodeId | u64 replicaId | u8 type)
 * Integers are safe JavaScript integers written as two u32 halves. `decodeDescriptor`
 * validates everything (the bytes may come from a peer's snapshot or a corrupt disk) and
 * throws `BadDescriptorError`; it never returns an inconsistent descriptor.
 */
import { assert } from '../util/index.js';
import { BadDescriptorError } from './errors.js';
import { compareKeys, keysEqual, spanContainsKey } from './keys.js';

/** The role of a replica in its range's configuration (CockroachDB's `ReplicaType`). */
export const ReplicaType = {
  /** A full voter of the (only, or incoming and outgoing) configuration. */
  Voter: 0,
  /** Receives the log, never votes: a replica being added, before its promotion. */
  Learner: 1,
  /** In a joint configuration: votes in the incoming configuration only (being added). */
  VoterIncoming: 2,
  /** In a joint configuration: votes in the outgoing configuration only (being removed). */
  VoterOutgoing: 3,
  /** In a joint configuration: an outgoing voter that becomes a learner on leaving it. */
  VoterDemoting: 4,
} as const;
export type ReplicaType = (typeof ReplicaType)[keyof typeof ReplicaType];

const REPLICA_TYPE_COUNT = 5;

/** One replica of a range. */
export interface ReplicaDescriptor {
  /** The node (store) holding the replica. */
  readonly nodeId: number;
  /** The replica's id within the range (its Raft id; the store uses its node id). */
  readonly replicaId: number;
  readonly type: ReplicaType;
}

/** A range: its id, its span `[startKey, endKey)`, its generation and its replicas. */
export interface RangeDescriptor {
  readonly rangeId: number;
  readonly startKey: Uint8Array;
  readonly endKey: Uint8Array;
  /** Incremented by every split, merge and membership change. */
  readonly generation: number;
  readonly replicas: readonly ReplicaDescriptor[];
}

/** Most replicas a descriptor may list (Raft groups are small; bounds a decode). */
export const REPLICAS_MAX = 64;
/** Longest key a descriptor may hold (bounds a decode). */
export const DESCRIPTOR_KEY_BYTES_MAX = 1 << 16;

/** Whether the replica votes in the incoming (or only) configuration. */
export function isVoterIncoming(type: ReplicaType): boolean {
  return type === ReplicaType.Voter || type === ReplicaType.VoterIncoming;
}

/** Whether the replica votes in the outgoing configuration of a joint state. */
export function isVoterOutgoing(type: ReplicaType): boolean {
  return type === ReplicaType.Voter || type === ReplicaType.VoterOutgoing ||
    type === ReplicaType.VoterDemoting;
}

/** Whether the descriptor is in a joint configuration. */
export function isJoint(desc: RangeDescriptor): boolean {
  return desc.replicas.some((r) => r.type === ReplicaType.VoterIncoming ||
    r.type === ReplicaType.VoterOutgoing || r.type === ReplicaType.VoterDemoting);
}

/** The replicas voting in the incoming (or only) configuration. */
export function voters(desc: RangeDescriptor): ReplicaDescriptor[] {
  return desc.replicas.filter((r) => isVoterIncoming(r.type));
}

/** Whether `key` lies in the descriptor's span. */
export function descriptorContainsKey(desc: RangeDescriptor, key: Uint8Array): boolean {
  return spanContainsKey(desc.startKey, desc.endKey, key);
}

/** The replica on `nodeId`, if any. */
export function replicaOnNode(
  desc: RangeDescriptor, nodeId: number,
): ReplicaDescriptor | undefined {
  return desc.replicas.find((r) => r.nodeId === nodeId);
}

/**
 * Checks a descriptor's consistency: positive ids, a non-empty span, distinct nodes and
 * replica ids, known types, at least one voter. Returns the first problem or null.
 */
export function descriptorProblem(desc: RangeDescriptor): string | null {
  if (!isId(desc.rangeId)) return `range id ${desc.rangeId}`;
  if (!Number.isSafeInteger(desc.generation) || desc.generation < 0) return 'generation';
  if (!(desc.startKey instanceof Uint8Array) || !(desc.endKey instanceof Uint8Array)) {
    return 'keys are not bytes';
  }
  if (compareKeys(desc.startKey, desc.endKey) >= 0) return 'empty span';
  if (desc.replicas.length > REPLICAS_MAX) return 'too many replicas';
  const nodes = new Set<number>();
  const ids = new Set<number>();
  let voterCount = 0;
  for (const r of desc.replicas) {
    if (!isId(r.nodeId) || !isId(r.replicaId)) return 'replica ids';
    if (!Number.isInteger(r.type) || r.type < 0 || r.type >= REPLICA_TYPE_COUNT) return 'type';
    if (nodes.has(r.nodeId) || ids.has(r.replicaId)) return 'duplicate replica';
    nodes.add(r.nodeId);
    ids.add(r.replicaId);
    if (isVoterIncoming(r.type)) voterCount++;
  }
  if (voterCount === 0) return 'no voter';
  return null;
}

function isId(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

/** Whether two descriptors are equal field by field. */
export function descriptorsEqual(a: RangeDescriptor, b: RangeDescriptor): boolean {
  if (a.rangeId !== b.rangeId || a.generation !== b.generation) return false;
  if (!keysEqual(a.startKey, b.startKey) || !keysEqual(a.endKey, b.endKey)) return false;
  if (a.replicas.length !== b.replicas.length) return false;
  return a.replicas.every((r, i) => {
    const o = b.replicas[i]!;
    return r.nodeId === o.nodeId && r.replicaId === o.replicaId && r.type === o.type;
  });
}

// -----------------------------------------------------------------------------------------
// Codec.

const VERSION = 1;
const REPLICA_BYTES = 17;

/** Encodes a valid descriptor (see the file header for the layout). */
export function encodeDescriptor(desc: RangeDescriptor): Uint8Array {
  const problem = descriptorProblem(desc);
  assert(problem === null, `encoding an invalid descriptor: ${problem}`);
  const size = 1 + 8 + 8 + 4 + desc.startKey.length + 4 + desc.endKey.length + 2 +
    desc.replicas.length * REPLICA_BYTES;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = VERSION;
  at = writeU64(view, at, desc.rangeId);
  at = writeU64(view, at, desc.generation);
  at = writeBytes(out, view, at, desc.startKey);
  at = writeBytes(out, view, at, desc.endKey);
  view.setUint16(at, desc.replicas.length);
  at += 2;
  for (const r of desc.replicas) {
    at = writeU64(view, at, r.nodeId);
    at = writeU64(view, at, r.replicaId);
    out[at++] = r.type;
  }
  assert(at === size, 'descriptor size');
  return out;
}

/**
 * Decodes and validates a descriptor.
 * @throws BadDescriptorError on truncated, oversized, trailing or inconsistent input
 */
export function decodeDescriptor(bytes: Uint8Array): RangeDescriptor {
  if (!(bytes instanceof Uint8Array)) throw new BadDescriptorError('not bytes');
  const r = new Reader(bytes);
  if (r.u8() !== VERSION) throw new BadDescriptorError('unknown version');
  const rangeId = r.u64();
  const generation = r.u64();
  const startKey = r.bytes();
  const endKey = r.bytes();
  const count = r.u16();
  if (count > REPLICAS_MAX) throw new BadDescriptorError('too many replicas');
  const replicas: ReplicaDescriptor[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = r.u64();
    const replicaId = r.u64();
    replicas.push({ nodeId, replicaId, type: r.u8() as ReplicaType });
  }
  if (r.at !== bytes.length) throw new BadDescriptorError('trailing bytes');
  const desc: RangeDescriptor = { rangeId, startKey, endKey, generation, replicas };
  const problem = descriptorProblem(desc);
  if (problem !== null) throw new BadDescriptorError(problem);
  return desc;
}

function writeU64(view: DataView, at: number, n: number): number {
  view.setUint32(at, Math.floor(n / 0x100000000));
  view.setUint32(at + 4, n >>> 0);
  return at + 8;
}

function writeBytes(out: Uint8Array, view: DataView, at: number, b: Uint8Array): number {
  view.setUint32(at, b.length);
  out.set(b, at + 4);
  return at + 4 + b.length;
}

/** A bounds-checked reader: every overrun is a `BadDescriptorError`. */
class Reader {
  at = 0;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private need(n: number): void {
    if (this.at + n > this.b.length) throw new BadDescriptorError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.b[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.at);
    const lo = this.view.getUint32(this.at + 4);
    this.at += 8;
    if (hi >= 0x200000) throw new BadDescriptorError('integer beyond 2^53');
    return hi * 0x100000000 + lo;
  }
  bytes(): Uint8Array {
    this.need(4);
    const n = this.view.getUint32(this.at);
    this.at += 4;
    if (n > DESCRIPTOR_KEY_BYTES_MAX) throw new BadDescriptorError('key too long');
    this.need(n);
    const out = this.b.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
}
