/**
 * The small key-value state machine the simulation replicates, and its command encoding.
 *
 * Commands carry a unique operation id; applying an id twice is a no-op. Raft itself does not
 * promise exactly-once (a duplicated or retried MsgProp appends the command twice), so every
 * real state machine deduplicates, and this one must too or the linearizability checker would
 * rightly flag the second application.
 *
 * The state machine also keeps the chained hash of everything it applied (see
 * `invariants.ts`), so that a snapshot names the exact history it summarizes.
 */
import { assert } from '../../src/util/index.js';
import { CHAIN_HASH_EMPTY } from './invariants.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A KV command as replicated through the log. */
export interface KvCommand {
  opId: number;
  key: string;
  value: string;
}

/** Encodes a put; the format is `p <opId> <key> <value>` (keys and values have no spaces). */
export function encodePut(cmd: KvCommand): Uint8Array {
  assert(!cmd.key.includes(' ') && !cmd.value.includes(' '), 'no spaces in keys or values');
  return encoder.encode(`p ${cmd.opId} ${cmd.key} ${cmd.value}`);
}

/** Decodes a put, or returns null for any other payload (empty entries, markers). */
export function decodePut(data: Uint8Array): KvCommand | null {
  if (data.length < 2 || data[0] !== 0x70 /* p */ || data[1] !== 0x20) return null;
  const parts = decoder.decode(data).split(' ');
  assert(parts.length === 4, 'a put has four fields');
  return { opId: Number(parts[1]), key: parts[2]!, value: parts[3]! };
}

/** The replicated map, its applied index, its history hash and the ids it has applied. */
export class KvStateMachine {
  readonly data = new Map<string, string>();
  readonly applied = new Set<number>();
  appliedIndex = 0;
  chain = CHAIN_HASH_EMPTY;

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Applies one command; returns whether it took effect (false for a duplicate). */
  apply(cmd: KvCommand): boolean {
    if (this.applied.has(cmd.opId)) return false;
    this.applied.add(cmd.opId);
    this.data.set(cmd.key, cmd.value);
    return true;
  }

  /** A snapshot of the whole state (deterministic: keys and ids sorted). */
  encode(): Uint8Array {
    const kv = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const ids = [...this.applied].sort((a, b) => a - b);
    return encoder.encode(JSON.stringify({ i: this.appliedIndex, c: this.chain, kv, ids }));
  }

  /** Rebuilds a state machine from `encode()`'s output (empty data: the empty machine). */
  static decode(bytes: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (bytes.length === 0) return sm;
    const s = JSON.parse(decoder.decode(bytes)) as {
      i: number;
      c: number;
      kv: [string, string][];
      ids: number[];
    };
    sm.appliedIndex = s.i;
    sm.chain = s.c;
    for (const [k, v] of s.kv) sm.data.set(k, v);
    for (const id of s.ids) sm.applied.add(id);
    return sm;
  }
}
