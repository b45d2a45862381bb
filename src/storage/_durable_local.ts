/**
 * Range-local keys on a durable engine: each is one checksummed record under prefix 0x05
 * (_keys.ts), mirrored in memory (_local_keys.ts says why). The mirror is loaded by one scan
 * at open; a damaged record refuses its range (the error is kept and thrown by
 * `loadReplica`), every other range loads.
 */
import { assert } from '../util/index.js';
import type { DurableBatch, EngineCore } from './_durable_core.js';
import { LOCAL_END, LOCAL_KEY_PREFIX_BYTES, LOCAL_START, keyHex, rangeIdOfKey } from './_keys.js';
import { LocalKeys } from './_local_keys.js';
import { decodeUserValue } from './_records.js';
import { ReplicaCorruptError } from './errors.js';

/** Stages a put (`value` non-null) or delete of a range-local key, mirror included. */
export function stageLocal(core: EngineCore, local: LocalKeys, batch: DurableBatch,
  rangeId: number, key: Uint8Array, value: Uint8Array | null): void {
  const stored = core.keys.localKey(rangeId, key);
  if (value === null) core.del(batch, stored);
  else core.put(batch, stored, core.codec.userValue(stored, value));
  local.set(rangeId, key, value);
}

/** Stages the deletion of every range-local key of `rangeId`. */
export function clearLocal(core: EngineCore, local: LocalKeys, batch: DurableBatch,
  rangeId: number): void {
  for (const key of local.take(rangeId)) core.del(batch, core.keys.localKey(rangeId, key));
  assert(local.scan(rangeId, new Uint8Array(1), null, 1).length === 0, 'the range is clear');
}

/**
 * Loads every range-local record into `local`; returns the ranges refused for a damaged
 * record (their keys are left out of the mirror).
 */
export async function loadLocal(core: EngineCore, local: LocalKeys):
  Promise<Map<number, ReplicaCorruptError>> {
  const refused = new Map<number, ReplicaCorruptError>();
  const it = core.backend.iterate(LOCAL_START, LOCAL_END, null);
  try {
    for (;;) {
      const rows = await it.nextv(4096);
      if (rows.length === 0) break;
      for (const [key, value] of rows) loadRecord(local, refused, key, value);
    }
  } finally {
    await it.close();
  }
  return refused;
}

function loadRecord(local: LocalKeys, refused: Map<number, ReplicaCorruptError>,
  key: Uint8Array, value: Uint8Array): void {
  if (key.length <= LOCAL_KEY_PREFIX_BYTES) return;
  const rangeId = rangeIdOfKey(key);
  if (refused.has(rangeId)) return;
  try {
    local.set(rangeId, key.subarray(LOCAL_KEY_PREFIX_BYTES), decodeUserValue(key, value));
  } catch {
    refused.set(rangeId, new ReplicaCorruptError(rangeId, keyHex(key),
      'range-local record: checksum mismatch'));
  }
}
