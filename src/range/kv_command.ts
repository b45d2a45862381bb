/**
 * The commands a range replicates, their limits and their msgpackr codec.
 *
 * A command carries an id (1..32 bytes, unique per proposal: the proposer's node id and a
 * counter) so that a command re-proposed after a leader change, or duplicated by the network,
 * applies once (dedupe.ts). A KV command is a batch of operations that applies atomically
 * within one range: all of it or, if any operation fails (a conditional put's condition, a
 * key outside the range), none of it. A split command carries the split key, the new range's
 * id and the generation of the descriptor it was computed from.
 *
 * WIRE (msgpackr, arrays for compactness):
 *   [1, 1, id, ops]                              KV batch; op = [type, ...fields]
 *   [1, 2, id, splitKey, rightRangeId, generation]  split
 *   [1, 3, id, generation]                          subsume (freezes the right of a merge)
 *   [1, 4, id, rightDescriptor, freezeIndex, generation]  merge (on the left)
 * `decodeCommand` validates types, sizes and counts (a payload may come from a peer) and
 * throws `BadCommandError`; it never returns a malformed command.
 */
import { Packr, Unpackr } from 'msgpackr';
import { assert, ConfigError } from '../util/index.js';
import { USER_KEY_BYTES_MAX } from '../storage/index.js';
import {
  BadCommandError,
  BatchTooLargeError,
  KeyOutsideKeySpaceError,
  KeyTooLargeError,
  ValueTooLargeError,
} from './errors.js';
import { compareKeys, isUserKey, KEY_MAX, META_KEY_MIN, spanContainsKey } from './keys.js';

/** Operation types of a KV batch (stable numbers: they are on the wire and in the log). */
export const OpType = {
  Get: 0,
  Put: 1,
  Delete: 2,
  /** Conditional put: writes only if the current value equals `expected` (null: absent). */
  ConditionalPut: 3,
  /** Up to `limit` entries of `[start, end)`, clamped to the range. */
  Scan: 4,
  /** Deletes the keys of `[start, end)` (clamped to the range), at most the scan limit. */
  DeleteRange: 5,
} as const;
export type OpType = (typeof OpType)[keyof typeof OpType];

/** One operation of a KV batch. */
export type KvOp =
  | { type: typeof OpType.Get; key: Uint8Array }
  | { type: typeof OpType.Put; key: Uint8Array; value: Uint8Array }
  | { type: typeof OpType.Delete; key: Uint8Array }
  | {
    type: typeof OpType.ConditionalPut; key: Uint8Array; value: Uint8Array;
    expected: Uint8Array | null;
  }
  | { type: typeof OpType.Scan; start: Uint8Array; end: Uint8Array; limit: number }
  | { type: typeof OpType.DeleteRange; start: Uint8Array; end: Uint8Array };

/** Command kinds (stable numbers). */
export const CommandKind = { Kv: 1, Split: 2, Subsume: 3, Merge: 4 } as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

/** A batch of KV operations applied atomically. */
export interface KvCommand {
  kind: typeof CommandKind.Kv;
  id: Uint8Array;
  ops: KvOp[];
}

/** Splits the range at `splitKey`; the right-hand side becomes range `rightRangeId`. */
export interface SplitCommand {
  kind: typeof CommandKind.Split;
  id: Uint8Array;
  splitKey: Uint8Array;
  rightRangeId: number;
  /** Generation of the descriptor the split was computed from; a later one refuses it. */
  generation: number;
}

/**
 * Freezes the right-hand range of a merge: once applied it refuses every further command, so
 * its state is final at this entry's index (the freeze index).
 */
export interface SubsumeCommand {
  kind: typeof CommandKind.Subsume;
  id: Uint8Array;
  /** Generation of the right descriptor the merge was computed from. */
  generation: number;
}

/** The left range subsumes the frozen right one (whose descriptor it carries, encoded). */
export interface MergeCommand {
  kind: typeof CommandKind.Merge;
  id: Uint8Array;
  right: Uint8Array;
  /** The right range's freeze index: every right replica has applied it. */
  freezeIndex: number;
  /** Generation of the left descriptor the merge was computed from. */
  generation: number;
}

/** Any replicated command of a range. */
export type RangeCommand = KvCommand | SplitCommand | SubsumeCommand | MergeCommand;

/** Size limits of commands, checked at the API boundary and again on decode. */
export interface KvLimits {
  /**
   * Longest key. At most `KEY_BYTES_LIMIT`: a key's meta row (2 bytes of prefix before the
   * key) must fit the storage engine's longest user key. @default 4094 (bytes)
   */
  keyBytesMax: number;
  /** Longest value. @default 262144 (bytes: 256 KiB) */
  valueBytesMax: number;
  /** Most operations in one batch. @default 1024 (operations) */
  batchOpsMax: number;
  /**
   * Most key and value bytes in one batch; below the store's per-message size so that one
   * command always fits one append. @default 524288 (bytes: 512 KiB)
   */
  batchBytesMax: number;
  /** Most entries one scan returns or one delete-range deletes. @default 10000 (entries) */
  scanLimitMax: number;
}

/** Longest command id. */
export const COMMAND_ID_BYTES_MAX = 32;

/** The largest `keyBytesMax`: the engine's longest user key less the meta prefix. */
export const KEY_BYTES_LIMIT = USER_KEY_BYTES_MAX - META_KEY_MIN.length;

const DEFAULT_LIMITS: KvLimits = {
  keyBytesMax: KEY_BYTES_LIMIT, valueBytesMax: 256 * 1024, batchOpsMax: 1024, batchBytesMax: 512 * 1024,
  scanLimitMax: 10_000,
};

/** Applies defaults and validates; throws `ConfigError` on a bad value. */
export function resolveKvLimits(options: Partial<KvLimits> = {}): KvLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(options)) {
    if (!(name in DEFAULT_LIMITS)) throw new ConfigError(`unknown KV limit: ${name}`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 1 << 30) {
      throw new ConfigError(`${name} must be an integer in [1, 2^30], got ${String(value)}`);
    }
    out[name as keyof KvLimits] = value;
  }
  if (out.keyBytesMax > KEY_BYTES_LIMIT) {
    throw new ConfigError(`keyBytesMax must be at most ${KEY_BYTES_LIMIT}`);
  }
  if (out.valueBytesMax + out.keyBytesMax > out.batchBytesMax) {
    throw new ConfigError('batchBytesMax must hold one key and one value');
  }
  return out;
}

/** The default limits. */
export const defaultKvLimits: Readonly<KvLimits> = resolveKvLimits();

// -----------------------------------------------------------------------------------------
// Validation (the API boundary): typed errors, nothing proposed.

/**
 * Checks a KV batch against the limits and the user key space (`system`: the meta keys too,
 * for the range layer's own writes to the meta range and for decoding, where the range's
 * span check at apply time does the rest).
 * @throws KeyOutsideKeySpaceError, KeyTooLargeError, ValueTooLargeError, BatchTooLargeError,
 *   BadCommandError (an empty batch, an inverted span, a bad limit)
 */
export function validateKvOps(ops: readonly KvOp[], limits: KvLimits, system = false): void {
  if (ops.length === 0) throw new BadCommandError('empty batch');
  if (ops.length > limits.batchOpsMax) {
    throw new BatchTooLargeError('operations', ops.length, limits.batchOpsMax);
  }
  let bytes = 0;
  for (const op of ops) bytes += validateOp(op, limits, system);
  if (bytes > limits.batchBytesMax) {
    throw new BatchTooLargeError('bytes', bytes, limits.batchBytesMax);
  }
}

function validateOp(op: KvOp, limits: KvLimits, system: boolean): number {
  switch (op.type) {
    case OpType.Get:
    case OpType.Delete:
      return checkKey(op.key, limits, system);
    case OpType.Put:
      return checkKey(op.key, limits, system) + checkValue(op.value, limits);
    case OpType.ConditionalPut:
      return checkKey(op.key, limits, system) + checkValue(op.value, limits) +
        (op.expected === null ? 0 : checkValue(op.expected, limits));
    case OpType.Scan:
      if (!Number.isSafeInteger(op.limit) || op.limit < 1 || op.limit > limits.scanLimitMax) {
        throw new BadCommandError(`scan limit must be in [1, ${limits.scanLimitMax}]`);
      }
      return checkSpan(op.start, op.end, limits, system);
    case OpType.DeleteRange:
      return checkSpan(op.start, op.end, limits, system);
    default:
      throw new BadCommandError(`unknown operation ${String((op as { type: unknown }).type)}`);
  }
}

function checkKey(key: Uint8Array, limits: KvLimits, system: boolean): number {
  if (!(key instanceof Uint8Array)) throw new BadCommandError('key is not bytes');
  if (key.length > limits.keyBytesMax) throw new KeyTooLargeError(key.length, limits.keyBytesMax);
  const inSpace = system ? spanContainsKey(META_KEY_MIN, KEY_MAX, key) : isUserKey(key);
  if (!inSpace) throw new KeyOutsideKeySpaceError(key);
  return key.length;
}

function checkValue(value: Uint8Array, limits: KvLimits): number {
  if (!(value instanceof Uint8Array)) throw new BadCommandError('value is not bytes');
  if (value.length > limits.valueBytesMax) {
    throw new ValueTooLargeError(value.length, limits.valueBytesMax);
  }
  return value.length;
}

/** A span's end may be `KEY_MAX` itself (the end of the key space), so it is checked apart. */
function checkSpan(
  start: Uint8Array, end: Uint8Array, limits: KvLimits, system: boolean,
): number {
  const bytes = checkKey(start, limits, system);
  if (!(end instanceof Uint8Array)) throw new BadCommandError('span end is not bytes');
  if (end.length > limits.keyBytesMax) throw new KeyTooLargeError(end.length, limits.keyBytesMax);
  if (compareKeys(start, end) >= 0) throw new BadCommandError('empty or inverted span');
  return bytes + end.length;
}

// -----------------------------------------------------------------------------------------
// Codec.

const VERSION = 1;
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

/** Encodes a command (which must be valid: encode what `validateKvOps` accepted). */
export function encodeCommand(cmd: RangeCommand): Uint8Array {
  assert(cmd.id.length > 0 && cmd.id.length <= COMMAND_ID_BYTES_MAX, 'command id length');
  if (cmd.kind === CommandKind.Subsume) {
    return packr.pack([VERSION, cmd.kind, cmd.id, cmd.generation]);
  }
  if (cmd.kind === CommandKind.Merge) {
    return packr.pack([VERSION, cmd.kind, cmd.id, cmd.right, cmd.freezeIndex, cmd.generation]);
  }
  if (cmd.kind === CommandKind.Split) {
    return packr.pack([VERSION, cmd.kind, cmd.id, cmd.splitKey, cmd.rightRangeId, cmd.generation]);
  }
  assert(cmd.ops.length > 0, 'a KV command has operations');
  const ops = cmd.ops.map(opToWire);
  return packr.pack([VERSION, cmd.kind, cmd.id, ops]);
}

function opToWire(op: KvOp): unknown[] {
  switch (op.type) {
    case OpType.Get:
    case OpType.Delete:
      return [op.type, op.key];
    case OpType.Put:
      return [op.type, op.key, op.value];
    case OpType.ConditionalPut:
      return [op.type, op.key, op.value, op.expected];
    case OpType.Scan:
      return [op.type, op.start, op.end, op.limit];
    case OpType.DeleteRange:
      return [op.type, op.start, op.end];
  }
}

/**
 * Decodes and validates a command from the log or the network.
 * @throws BadCommandError (malformed), or the limit errors of `validateKvOps`
 */
export function decodeCommand(bytes: Uint8Array, limits: KvLimits): RangeCommand {
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (error) {
    throw new BadCommandError(`undecodable: ${(error as Error).message}`);
  }
  if (!Array.isArray(raw) || raw[0] !== VERSION) throw new BadCommandError('not a command');
  const id = bin(raw[2], 'id');
  if (id.length === 0 || id.length > COMMAND_ID_BYTES_MAX) throw new BadCommandError('id length');
  if (raw[1] === CommandKind.Split) {
    if (raw.length !== 6) throw new BadCommandError('split arity');
    const splitKey = bin(raw[3], 'split key');
    const rightRangeId = int(raw[4], 'right range id', 1);
    const generation = int(raw[5], 'generation', 0);
    return { kind: CommandKind.Split, id, splitKey, rightRangeId, generation };
  }
  if (raw[1] === CommandKind.Subsume) {
    if (raw.length !== 4) throw new BadCommandError('subsume arity');
    return { kind: CommandKind.Subsume, id, generation: int(raw[3], 'generation', 0) };
  }
  if (raw[1] === CommandKind.Merge) {
    if (raw.length !== 6) throw new BadCommandError('merge arity');
    return { kind: CommandKind.Merge, id, right: bin(raw[3], 'right descriptor'),
      freezeIndex: int(raw[4], 'freeze index', 1), generation: int(raw[5], 'generation', 0) };
  }
  if (raw[1] !== CommandKind.Kv || raw.length !== 4) throw new BadCommandError('kind');
  const wireOps = raw[3];
  if (!Array.isArray(wireOps)) throw new BadCommandError('ops');
  if (wireOps.length > limits.batchOpsMax) {
    throw new BatchTooLargeError('operations', wireOps.length, limits.batchOpsMax);
  }
  const ops = wireOps.map(opFromWire);
  validateKvOps(ops, limits, true);
  return { kind: CommandKind.Kv, id, ops };
}

function opFromWire(w: unknown): KvOp {
  if (!Array.isArray(w)) throw new BadCommandError('op is not an array');
  const arity = (n: number) => {
    if (w.length !== n) throw new BadCommandError(`op ${String(w[0])} arity`);
  };
  switch (w[0]) {
    case OpType.Get: arity(2); return { type: OpType.Get, key: bin(w[1], 'key') };
    case OpType.Delete: arity(2); return { type: OpType.Delete, key: bin(w[1], 'key') };
    case OpType.Put:
      arity(3);
      return { type: OpType.Put, key: bin(w[1], 'key'), value: bin(w[2], 'value') };
    case OpType.ConditionalPut:
      arity(4);
      return {
        type: OpType.ConditionalPut, key: bin(w[1], 'key'), value: bin(w[2], 'value'),
        expected: w[3] === null ? null : bin(w[3], 'expected'),
      };
    case OpType.Scan:
      arity(4);
      return {
        type: OpType.Scan, start: bin(w[1], 'start'), end: bin(w[2], 'end'),
        limit: int(w[3], 'limit', 1),
      };
    case OpType.DeleteRange:
      arity(3);
      return { type: OpType.DeleteRange, start: bin(w[1], 'start'), end: bin(w[2], 'end') };
    default:
      throw new BadCommandError(`unknown op ${String(w[0])}`);
  }
}

/** A binary field, copied out of the decoder's buffer into a plain `Uint8Array`. */
function bin(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new BadCommandError(`${what} is not bytes`);
  return new Uint8Array(v);
}

function int(v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new BadCommandError(`${what} is not an integer ≥ ${min}`);
  }
  return v;
}
