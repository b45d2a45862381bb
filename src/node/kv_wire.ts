/**
 * The KV API as seen from the calling side: one HTTP request to one node, in base64 JSON
 * (keys need not be UTF-8), with the routing headers of http_kv.ts. `FlotillaClient` and a
 * node forwarding to a range's leader both call through `kvCall`.
 *
 * An answer the other side refused becomes a `RemoteKvError` that keeps its stable code and
 * the fields beside it (a leader, a range); a node that cannot be reached, or that does not
 * answer within the deadline, is a `NodeUnreachableError`. Nothing from the other side is
 * trusted: an answer that is not the expected JSON is `ERR_BAD_ANSWER`.
 */
import { FlotillaError, assert } from '../util/index.js';
import { HEADER_COMMAND_ID, HEADER_RANGE, HEADER_RANGE_ID } from './http_kv.js';
import type { KvOp, KvOpResult, KvPair, ServedRange } from './kv.js';

/** Stable codes of the calling side's own errors. */
export const KvWireErrorCode = {
  /** The node could not be reached or did not answer in time. */
  NodeUnreachable: 'ERR_NODE_UNREACHABLE',
  /** The node answered something that is not the KV API's JSON. */
  BadAnswer: 'ERR_BAD_ANSWER',
} as const;

/** The node at `address` could not be reached (refused, reset, timed out). */
export class NodeUnreachableError extends FlotillaError {
  constructor(readonly address: string, reason: string) {
    super(KvWireErrorCode.NodeUnreachable, `node ${address} unreachable: ${reason}`);
  }
}

/** The node answered with an error: its code, message and details, as it sent them. */
export class RemoteKvError extends FlotillaError {
  constructor(code: string, message: string, readonly status: number,
    readonly details: Record<string, unknown>) {
    super(code, message);
  }
}

/** What one call carries beside its operations. */
export interface KvCallHeaders {
  commandId?: Uint8Array;
  /** Send as "you lead this range" (no forwarding on the other side). */
  directRangeId?: number;
  /** Deadline of the whole request. @default 15000 (milliseconds) */
  timeoutMs?: number;
}

/** One KV call: a batch (get, put, delete go as one-op batches) or a scan. */
export type KvCall =
  | { kind: 'batch'; ops: readonly KvOp[] }
  | { kind: 'scan'; start: Uint8Array; end: Uint8Array; limit: number };

/** A call's answer: results or pairs, and the range that served it (if the node said). */
export interface KvAnswer {
  results?: KvOpResult[];
  pairs?: KvPair[];
  more?: boolean;
  served: ServedRange | undefined;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (text: unknown): Uint8Array => {
  if (typeof text !== 'string') throw badAnswer('a key or value is not a string');
  return new Uint8Array(Buffer.from(text, 'base64'));
};

function badAnswer(why: string): RemoteKvError {
  return new RemoteKvError(KvWireErrorCode.BadAnswer, `bad answer: ${why}`, 0, {});
}

/** Sends `call` to the node whose HTTP address is `address` (`HOST:PORT`). */
export async function kvCall(address: string, call: KvCall, headers: KvCallHeaders = {}):
  Promise<KvAnswer> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (headers.commandId !== undefined) {
    h[HEADER_COMMAND_ID] = Buffer.from(headers.commandId).toString('hex');
  }
  if (headers.directRangeId !== undefined) h[HEADER_RANGE_ID] = String(headers.directRangeId);
  const body = call.kind === 'scan'
    ? { encoding: 'base64', start: b64(call.start), end: b64(call.end), limit: call.limit }
    : { encoding: 'base64', ops: call.ops.map((op) => op.op === 'put'
      ? { op: op.op, key: b64(op.key), value: b64(op.value) } : { op: op.op, key: b64(op.key) }) };
  let res: Response;
  let json: unknown;
  try {
    res = await fetch(`http://${address}/v1/kv/${call.kind}`, { method: 'POST', headers: h,
      body: JSON.stringify(body), signal: AbortSignal.timeout(headers.timeoutMs ?? 15_000) });
    json = await res.json();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new NodeUnreachableError(address, cause ?? (error as Error).name ?? String(error));
  }
  if (typeof json !== 'object' || json === null) throw badAnswer('not a JSON object');
  const o = json as Record<string, unknown>;
  if (!res.ok) throw remoteError(res.status, o['error']);
  const served = parseServed(res.headers.get(HEADER_RANGE));
  if (call.kind === 'scan') return { pairs: parsePairs(o['pairs']), more: o['more'] === true,
    served };
  const results = parseResults(o['results'], call.ops);
  return { results, served };
}

function remoteError(status: number, raw: unknown): RemoteKvError {
  if (typeof raw !== 'object' || raw === null) return badAnswer(`HTTP ${status} without error`);
  const e = raw as Record<string, unknown>;
  const code = typeof e['code'] === 'string' ? e['code'] : 'ERR_INTERNAL';
  const message = typeof e['message'] === 'string' ? e['message'] : `HTTP ${status}`;
  return new RemoteKvError(code, message, status, e);
}

function parsePairs(raw: unknown): KvPair[] {
  if (!Array.isArray(raw)) throw badAnswer('pairs is not an array');
  return raw.map((p: unknown) => {
    const o = p as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null) throw badAnswer('a pair is not an object');
    return { key: unb64(o['key']), value: unb64(o['value']) };
  });
}

function parseResults(raw: unknown, ops: readonly KvOp[]): KvOpResult[] {
  if (!Array.isArray(raw) || raw.length !== ops.length) throw badAnswer('results per op');
  const out = raw.map((r: unknown, i): KvOpResult => {
    const o = (r ?? {}) as Record<string, unknown>;
    const op = ops[i]!.op;
    if (o['op'] !== op) throw badAnswer(`results[${i}] is not a ${op}`);
    if (op === 'get') return { op, value: o['value'] === null ? null : unb64(o['value']) };
    if (op === 'delete') return { op, deleted: o['deleted'] === true };
    return { op };
  });
  assert(out.length === ops.length, 'one result per op');
  return out;
}

/** Parses the `x-flotilla-range` answer header; undefined if absent or malformed. */
export function parseServed(raw: string | null): ServedRange | undefined {
  if (raw === null) return undefined;
  try {
    const o = JSON.parse(raw) as Record<string, unknown>;
    const ok = Number.isSafeInteger(o['rangeId']) && Number.isSafeInteger(o['generation']) &&
      Number.isSafeInteger(o['servedBy']) && typeof o['start'] === 'string' &&
      typeof o['end'] === 'string' && typeof o['servedHttp'] === 'string';
    if (!ok) return undefined;
    return { rangeId: o['rangeId'] as number, generation: o['generation'] as number,
      startKey: unb64(o['start']), endKey: unb64(o['end']), servedBy: o['servedBy'] as number,
      servedHttp: o['servedHttp'] as string };
  } catch {
    return undefined;
  }
}
