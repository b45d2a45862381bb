/**
 * What the store layer's state machine keeps on its store's engine, and how the simulation
 * reads a crashed disk back.
 *
 * APPLY RECORDS. Applying an entry stages, in the engine batch the store hands `apply` (the
 * batch that also carries the replica's applied index), one user key per replica and index:
 * `a/<range, 10 digits>/<index, 16 digits>` = one flag byte (1: the command took effect, 0:
 * a duplicate of an earlier operation id) followed by the entry's data. The records are the
 * state machine's durable state: after a crash the KV of a replica is rebuilt from them
 * alone (`rebuildKv`), so whatever the disk lost the KV lost too, and the checker sees it.
 */
import { NO_LIMIT, type Entry } from '../../src/raft/index.js';
import type { CrashModelEngine } from '../../src/storage/index.js';
import { hashBytes } from './events.js';
import { KvStateMachine, decodePut } from './kv.js';
import type { AppliedRecord, DurableImage, DurableReplicaImage } from './store_durability.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A command of the simulated KV: a put, or a get served through the log. */
export type Command = { kind: 'put'; opId: number; key: string; value: string } |
  { kind: 'get'; opId: number; key: string };

/** Decodes a command, or null for any other payload. */
export function decodeCommand(data: Uint8Array): Command | null {
  const put = decodePut(data);
  if (put !== null) return { kind: 'put', ...put };
  if (data[0] !== 0x67 /* g */) return null;
  const parts = decoder.decode(data).split(' ');
  return { kind: 'get', opId: Number(parts[1]), key: parts[2]! };
}

function prefixOf(rangeId: number): string {
  return `a/${String(rangeId).padStart(10, '0')}/`;
}

/** The user key of the apply record of `rangeId` at `index`. */
export function appliedRecordKey(rangeId: number, index: number): Uint8Array {
  return encoder.encode(`${prefixOf(rangeId)}${String(index).padStart(16, '0')}`);
}

/** The value of an apply record. */
export function encodeAppliedRecord(effective: boolean, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = effective ? 1 : 0;
  out.set(data, 1);
  return out;
}

function recordOf(term: number, value: Uint8Array): AppliedRecord & { data: Uint8Array } {
  const data = value.subarray(1);
  return { term, hash: hashBytes(data), effective: value[0] === 1,
    opId: decodeCommand(data)?.opId ?? 0, data };
}

/** One replica of a crashed disk, with its apply records' data (for `rebuildKv`). */
export interface ReplicaImage extends DurableReplicaImage {
  data: Map<number, Uint8Array>;
}

/**
 * Reads what a reopened crash image holds for every replica it lists (a replica it refuses
 * as corrupt throws: a bad record after a crash is a failure of the engine).
 */
export async function readDurableImage(engine: CrashModelEngine, nodeId: number,
  listed: readonly number[]): Promise<DurableImage & { replicas: ReplicaImage[] }> {
  const replicas: ReplicaImage[] = [];
  for (const rangeId of listed) {
    const storage = engine.loadReplica(rangeId);
    const applied = storage.appliedState().index;
    const prefix = prefixOf(rangeId);
    const rows = await engine.scanUser(encoder.encode(prefix), encoder.encode(`${prefix}~`),
      1_000_000);
    const records = new Map<number, AppliedRecord>();
    const data = new Map<number, Uint8Array>();
    for (const row of rows) {
      const index = Number(decoder.decode(row.key).slice(prefix.length));
      const term = storage.term(index);
      const rec = recordOf(typeof term === 'number' ? term : 0, row.value);
      records.set(index, { term: rec.term, hash: rec.hash, effective: rec.effective,
        opId: rec.opId });
      data.set(index, rec.data);
    }
    replicas.push({
      rangeId, hardState: { ...storage.hardState() }, applied,
      firstIndex: storage.firstIndex(), lastIndex: storage.lastIndex(), records, data,
      entry: (index) => {
        const ents = storage.entries(index, index + 1, NO_LIMIT);
        if (!Array.isArray(ents) || ents.length !== 1) return null;
        const e = ents[0] as Entry;
        return { term: e.term, hash: hashBytes(e.data) };
      },
    });
  }
  return { nodeId, replicas };
}

/**
 * The KV a replica's apply records add up to, replayed in index order; a record whose flag
 * disagrees with the replay (a duplicate marked effective, or the reverse) is reported.
 */
export function rebuildKv(r: ReplicaImage): { kv: KvStateMachine; mismatch: number | null } {
  const kv = new KvStateMachine();
  let mismatch: number | null = null;
  for (const index of [...r.data.keys()].sort((a, b) => a - b)) {
    const cmd = decodeCommand(r.data.get(index)!);
    if (cmd === null) continue;
    const effective = !kv.applied.has(cmd.opId);
    if (effective !== r.records.get(index)!.effective) mismatch ??= index;
    if (!effective) continue;
    if (cmd.kind === 'put') kv.apply(cmd);
    else kv.applied.add(cmd.opId);
    kv.appliedIndex = index;
  }
  return { kv, mismatch };
}
