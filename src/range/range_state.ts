/**
 * The replicated state of one range on one replica: its descriptor, its statistics and its
 * dedupe table, and the function that applies one committed command to it.
 *
 * Applying is deterministic: it reads only the command, the range's data and this state, so
 * every replica that applies the same log reaches the same state and the same outcomes. Bad
 * payloads (which a correct proposer never makes, but a log may hold after a bug or from a
 * bad peer) are refused with a typed outcome on every replica alike; they never throw.
 *
 * Range-local rows, written in the same batch as the command's writes:
 *   local(rangeId, 'd', id) → dedupe record (dedupe.ts)
 *   local(rangeId, 's')     → statistics: f64 keyCount, f64 byteCount (exact integers)
 *   local(rangeId, 'f')     → freeze index (f64), once a merge froze the range
 *   local(rangeId, 'r')     → the descriptor (descriptor.ts codec), as of the last split,
 *                             merge or bootstrap: what a restart rebuilds the replica from
 */
import { assert, FlotillaError } from '../util/index.js';
import { decodeDescriptor, encodeDescriptor, type RangeDescriptor } from './descriptor.js';
import { DedupeTable, type DedupeRecord } from './dedupe.js';
import { BadCommandError } from './errors.js';
import { applyKvOps, type KvOutcome, type RangeStats } from './kv_apply.js';
import {
  CommandKind,
  decodeCommand,
  type KvLimits,
  type MergeCommand,
  type RangeCommand,
  type SplitCommand,
  type SubsumeCommand,
} from './kv_command.js';
import { RangeKeyMismatchError } from './errors.js';
import { localKey } from './keys.js';
import type { KvReader, KvWriter } from './kv_store.js';

/** Tag byte of the statistics row (`s`). */
export const STATS_TAG = 0x73;
/** Tag byte of the freeze row (`f`). */
export const FREEZE_TAG = 0x66;
/** Tag byte of the descriptor row (`r`). */
export const DESCRIPTOR_TAG = 0x72;

/** What applying one entry did. */
export type ApplyOutcome =
  /** The payload was not a valid command: nothing changed (no id to answer). */
  | { kind: 'bad'; error: FlotillaError }
  /** The id had applied before: nothing changed; `record` says how it went then. */
  | { kind: 'duplicate'; id: Uint8Array; record: DedupeRecord }
  /** A KV batch applied (or failed as a whole). */
  | { kind: 'kv'; id: Uint8Array; outcome: KvOutcome }
  /**
   * A split command, decoded and deduplicated; the caller (which creates the right-hand
   * replica) carries it out with `applySplit` in the same batch.
   */
  | { kind: 'split'; id: Uint8Array; command: SplitCommand }
  /** A subsume or merge command, for the caller to carry out (merge_apply.ts). */
  | { kind: 'subsume'; id: Uint8Array; command: SubsumeCommand }
  | { kind: 'merge'; id: Uint8Array; command: MergeCommand }
  /** The range is frozen by a merge: every command is refused (and not recorded). */
  | { kind: 'frozen'; id: Uint8Array; error: FlotillaError };

/** The replicated state of one range (see the file header). */
export class RangeState {
  /** The descriptor as of the last applied entry. */
  descriptor: RangeDescriptor;
  /** Size of the range's user data as of the last applied entry. */
  readonly stats: RangeStats = { keyCount: 0, byteCount: 0 };
  readonly dedupe: DedupeTable;
  /** The freeze index (0: not frozen): a merge froze the range as of this entry. */
  frozenAt = 0;

  constructor(descriptor: RangeDescriptor, readonly limits: KvLimits, dedupeEntriesMax?: number) {
    this.descriptor = descriptor;
    this.dedupe = new DedupeTable(descriptor.rangeId, dedupeEntriesMax);
  }

  /** Range id (fixed for the life of the replica). */
  get rangeId(): number {
    return this.descriptor.rangeId;
  }

  /** Applies the command of the entry at `index`, writing through `writer`. */
  apply(index: number, data: Uint8Array, writer: KvWriter): ApplyOutcome {
    assert(index > 0, 'entries have positive indexes');
    let cmd: RangeCommand;
    try {
      cmd = decodeCommand(data, this.limits);
    } catch (error) {
      if (!(error instanceof FlotillaError)) throw error;
      return { kind: 'bad', error };
    }
    const seen = this.dedupe.lookup(cmd.id);
    if (seen !== undefined) return { kind: 'duplicate', id: cmd.id, record: seen };
    if (this.frozenAt > 0) {
      return { kind: 'frozen', id: cmd.id,
        error: new RangeKeyMismatchError(this.rangeId, this.descriptor.startKey, this.descriptor) };
    }
    if (cmd.kind === CommandKind.Split) return { kind: 'split', id: cmd.id, command: cmd };
    if (cmd.kind === CommandKind.Subsume) return { kind: 'subsume', id: cmd.id, command: cmd };
    if (cmd.kind === CommandKind.Merge) return { kind: 'merge', id: cmd.id, command: cmd };
    assert(cmd.kind === CommandKind.Kv, 'command kind');
    const outcome = applyKvOps(this.descriptor, cmd.ops, writer, this.stats);
    // Only a command that took effect is recorded: one that failed changed nothing, and its
    // retry (elsewhere after a split or merge, or once the condition holds) must apply.
    if (outcome.ok) {
      this.dedupe.record(cmd.id, index, '', writer);
      this.saveStats(writer);
    }
    return { kind: 'kv', id: cmd.id, outcome };
  }

  /** Records a non-KV command's id (a split's, once carried out) in the dedupe table. */
  recordApplied(id: Uint8Array, index: number, code: string, writer: KvWriter): void {
    this.dedupe.record(id, index, code, writer);
  }

  /** Writes the statistics row. */
  saveStats(writer: KvWriter): void {
    writer.put(localKey(this.rangeId, STATS_TAG, new Uint8Array(0)), encodeStats(this.stats));
  }

  /** Writes the descriptor row (in the batch of the change that made the descriptor). */
  saveDescriptor(writer: KvWriter): void {
    writer.put(localKey(this.rangeId, DESCRIPTOR_TAG, new Uint8Array(0)),
      encodeDescriptor(this.descriptor));
  }

  /** The descriptor row of `rangeId`, if any (a restart's view of the range). */
  static storedDescriptor(reader: KvReader, rangeId: number): RangeDescriptor | undefined {
    const row = reader.get(localKey(rangeId, DESCRIPTOR_TAG, new Uint8Array(0)));
    if (row === undefined) return undefined;
    const desc = decodeDescriptor(row);
    assert(desc.rangeId === rangeId, 'a descriptor row names its range');
    return desc;
  }

  /** Freezes the range as of entry `index` (a subsume command applied). */
  freeze(index: number, writer: KvWriter): void {
    assert(this.frozenAt === 0 && index > 0, 'a range freezes once');
    this.frozenAt = index;
    const row = new Uint8Array(8);
    new DataView(row.buffer).setFloat64(0, index);
    writer.put(localKey(this.rangeId, FREEZE_TAG, new Uint8Array(0)), row);
  }

  /** Deletes every range-local row (the range merged away or its replica is destroyed). */
  destroyRows(writer: KvWriter): void {
    this.dedupe.clear(writer);
    writer.delete(localKey(this.rangeId, STATS_TAG, new Uint8Array(0)));
    writer.delete(localKey(this.rangeId, FREEZE_TAG, new Uint8Array(0)));
    writer.delete(localKey(this.rangeId, DESCRIPTOR_TAG, new Uint8Array(0)));
  }

  /** Rebuilds statistics and dedupe table from the range-local rows (restart, snapshot). */
  load(reader: KvReader): void {
    const row = reader.get(localKey(this.rangeId, STATS_TAG, new Uint8Array(0)));
    const stats = row === undefined ? { keyCount: 0, byteCount: 0 } : decodeStats(row);
    this.stats.keyCount = stats.keyCount;
    this.stats.byteCount = stats.byteCount;
    const frozen = reader.get(localKey(this.rangeId, FREEZE_TAG, new Uint8Array(0)));
    this.frozenAt = frozen === undefined || frozen.length !== 8 ? 0
      : new DataView(frozen.buffer, frozen.byteOffset, 8).getFloat64(0);
    this.dedupe.load(reader);
  }
}

function encodeStats(s: RangeStats): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setFloat64(0, s.keyCount);
  view.setFloat64(8, s.byteCount);
  return out;
}

function decodeStats(b: Uint8Array): RangeStats {
  if (b.length !== 16) throw new BadCommandError('statistics row');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const keyCount = view.getFloat64(0);
  const byteCount = view.getFloat64(8);
  if (!Number.isSafeInteger(keyCount) || !Number.isSafeInteger(byteCount) || keyCount < 0 ||
    byteCount < 0) {
    throw new BadCommandError('statistics values');
  }
  return { keyCount, byteCount };
}
