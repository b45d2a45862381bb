/**
 * The KV HTTP API over a `KvService`:
 *
 *     GET    /v1/kv/{key}[?encoding=base64]   -> {"key", "value"}      (404 ERR_KEY_NOT_FOUND)
 *     PUT    /v1/kv/{key}   body: the value's raw bytes               -> {"ok": true}
 *     DELETE /v1/kv/{key}                                             -> {"deleted": bool}
 *     POST   /v1/kv/scan    {"start", "end", "limit", "encoding"}     -> {"pairs", "more"}
 *     POST   /v1/kv/batch   {"ops": [{"op", "key", "value"}], "encoding"} -> {"results"}
 *
 * `{key}` is percent-encoded bytes. Keys and values in JSON are UTF-8 text, or base64 with
 * `encoding: "base64"` (a value that is not valid UTF-8 is refused with `ERR_NOT_UTF8` rather
 * than mangled). Every argument is checked here, before the service sees it: key size,
 * value size (the body limit), scan limit, batch length; a refusal is a JSON error with a
 * stable code (http_util.ts).
 *
 * Routing headers (what `FlotillaClient` sends; plain callers need none):
 *
 *     x-flotilla-command-id: HEX    a write's id (1 to 32 bytes); a retry with the same id
 *                                   applies once
 *     x-flotilla-range-id: N        "this node leads range N, which holds the key": served
 *                                   here or refused (ERR_RANGE_NOT_LEADER with the leader,
 *                                   ERR_RANGE_KEY_MISMATCH with the range now holding the
 *                                   key), never forwarded
 *
 * and every successful answer says which range served it, for the client's cache:
 *
 *     x-flotilla-range: {"rangeId", "generation", "start", "end" (base64), "servedBy",
 *                        "servedHttp"}
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assert } from '../util/index.js';
import type { KvCallContext, KvOp, KvOpResult, KvService } from './kv.js';
import {
  HttpError,
  HttpErrorCode,
  parseJsonObject,
  readBody,
  sendJson,
} from './http_util.js';

/** Limits of the KV API, each checked before the service is called. */
export interface KvLimits {
  /** @default 4096 (bytes) */
  keyBytesMax: number;
  /** Bytes of a request body (a PUT's value, a batch). @default 1048576 (bytes: 1 MiB) */
  bodyBytesMax: number;
  /** @default 1000 (pairs, when a scan names no limit) */
  scanLimitDefault: number;
  /** @default 10000 (pairs) */
  scanLimitMax: number;
  /** @default 1000 (operations) */
  batchOpsMax: number;
}

/** The default `KvLimits`. */
export const KV_LIMITS_DEFAULT: Readonly<KvLimits> = {
  keyBytesMax: 4096,
  bodyBytesMax: 1 << 20,
  scanLimitDefault: 1000,
  scanLimitMax: 10_000,
  batchOpsMax: 1000,
};

type Encoding = 'utf8' | 'base64';

const KEY_PREFIX = '/v1/kv/';

/** Request header: a write's command id, in hex. */
export const HEADER_COMMAND_ID = 'x-flotilla-command-id';
/** Request header: the range the caller believes this node leads (no forwarding). */
export const HEADER_RANGE_ID = 'x-flotilla-range-id';
/** Answer header: the range that served the request (JSON). */
export const HEADER_RANGE = 'x-flotilla-range';
/** Longest command id a request may carry (the range layer's bound). */
const COMMAND_ID_BYTES_MAX = 32;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Whether `path` belongs to the KV API. */
export function isKvPath(path: string): boolean {
  return path.startsWith(KEY_PREFIX);
}

/** Serves one KV request; rejects with an `HttpError` or the service's typed error. */
export async function handleKv(req: IncomingMessage, res: ServerResponse, url: URL,
  service: KvService, limits: KvLimits): Promise<void> {
  const rest = url.pathname.slice(KEY_PREFIX.length);
  assert(url.pathname.startsWith(KEY_PREFIX), 'routed by isKvPath');
  const method = req.method ?? 'GET';
  const ctx = callContext(req);
  if (rest === 'scan' || rest === 'batch') {
    if (method !== 'POST') throw notAllowed(method, url.pathname, 'POST');
    const body = parseJsonObject(await readBody(req, limits.bodyBytesMax));
    const answer = rest === 'scan' ? await scan(body, service, limits, ctx)
      : await batch(body, service, limits, ctx);
    sendServed(res, ctx, answer);
    return;
  }
  const key = checkKey(percentDecode(rest), limits);
  const encoding = encodingOf(url.searchParams.get('encoding') ?? undefined);
  switch (method) {
    case 'GET': {
      const value = await service.get(key, ctx);
      if (value === null) {
        throw new HttpError(HttpErrorCode.KeyNotFound, `no key ${JSON.stringify(rest)}`);
      }
      sendServed(res, ctx, { key: encode(key, encoding), value: encode(value, encoding) });
      return;
    }
    case 'PUT': {
      const value = await readBody(req, limits.bodyBytesMax);
      await service.put(key, new Uint8Array(value.buffer, value.byteOffset, value.length), ctx);
      sendServed(res, ctx, { ok: true });
      return;
    }
    case 'DELETE':
      sendServed(res, ctx, { deleted: await service.delete(key, ctx) });
      return;
    default:
      throw notAllowed(method, url.pathname, 'GET, PUT, DELETE');
  }
}

/** The routing headers of a request, checked (a bad one is `ERR_BAD_REQUEST`). */
function callContext(req: IncomingMessage): KvCallContext {
  const ctx: KvCallContext = {};
  const id = req.headers[HEADER_COMMAND_ID];
  if (id !== undefined) {
    if (typeof id !== 'string' || !/^([0-9a-f]{2}){1,32}$/i.test(id)) {
      throw new HttpError(HttpErrorCode.BadRequest,
        `${HEADER_COMMAND_ID} must be 1 to ${COMMAND_ID_BYTES_MAX} bytes in hex`);
    }
    ctx.commandId = new Uint8Array(Buffer.from(id, 'hex'));
  }
  const range = req.headers[HEADER_RANGE_ID];
  if (range !== undefined) {
    const n = Number(range);
    if (typeof range !== 'string' || !/^[0-9]{1,10}$/.test(range) || n < 1 || n >= 2 ** 32) {
      throw new HttpError(HttpErrorCode.BadRequest, `${HEADER_RANGE_ID} must be a range id`);
    }
    ctx.directRangeId = n;
  }
  assert(ctx.commandId === undefined || ctx.commandId.length <= COMMAND_ID_BYTES_MAX,
    'a bounded command id');
  return ctx;
}

/** Answers 200 with `body` and the range that served it, if the service said. */
function sendServed(res: ServerResponse, ctx: KvCallContext, body: unknown): void {
  const s = ctx.served;
  if (s !== undefined) {
    res.setHeader(HEADER_RANGE, JSON.stringify({ rangeId: s.rangeId,
      generation: s.generation, start: Buffer.from(s.startKey).toString('base64'),
      end: Buffer.from(s.endKey).toString('base64'), servedBy: s.servedBy,
      servedHttp: s.servedHttp }));
  }
  sendJson(res, 200, body);
}

async function scan(body: Record<string, unknown>, service: KvService, limits: KvLimits,
  ctx: KvCallContext): Promise<unknown> {
  const encoding = encodingOf(body['encoding']);
  const start = body['start'] === undefined ? new Uint8Array(0)
    : decode('start', body['start'], encoding);
  const end = body['end'] === undefined ? new Uint8Array(0) : decode('end', body['end'], encoding);
  const limitRaw = body['limit'] ?? Math.min(limits.scanLimitDefault, limits.scanLimitMax);
  if (typeof limitRaw !== 'number' || !Number.isSafeInteger(limitRaw) || limitRaw < 1 ||
    limitRaw > limits.scanLimitMax) {
    throw new HttpError(HttpErrorCode.BadRequest,
      `limit must be an integer in [1, ${limits.scanLimitMax}]`);
  }
  // One more than asked tells whether the answer is complete.
  const pairs = await service.scan(start, end, limitRaw + 1, ctx);
  const shown = pairs.slice(0, limitRaw);
  return {
    pairs: shown.map((p) => ({ key: encode(p.key, encoding), value: encode(p.value, encoding) })),
    more: pairs.length > limitRaw,
  };
}

async function batch(body: Record<string, unknown>, service: KvService, limits: KvLimits,
  ctx: KvCallContext): Promise<unknown> {
  const encoding = encodingOf(body['encoding']);
  const raw = body['ops'];
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > limits.batchOpsMax) {
    throw new HttpError(HttpErrorCode.BadRequest,
      `ops must be an array of 1 to ${limits.batchOpsMax} operations`);
  }
  const ops = raw.map((op, i) => batchOp(op, i, encoding, limits));
  const results = await service.batch(ops, ctx);
  assert(results.length === ops.length, 'one result per operation');
  return { results: results.map((r) => resultJson(r, encoding)) };
}

function batchOp(raw: unknown, i: number, encoding: Encoding, limits: KvLimits): KvOp {
  if (typeof raw !== 'object' || raw === null) {
    throw new HttpError(HttpErrorCode.BadRequest, `ops[${i}] must be an object`);
  }
  const o = raw as Record<string, unknown>;
  const key = checkKey(decode(`ops[${i}].key`, o['key'], encoding), limits);
  switch (o['op']) {
    case 'get': return { op: 'get', key };
    case 'delete': return { op: 'delete', key };
    case 'put': return { op: 'put', key, value: decode(`ops[${i}].value`, o['value'], encoding) };
    default:
      throw new HttpError(HttpErrorCode.BadRequest, `ops[${i}].op must be get, put or delete`);
  }
}

function resultJson(r: KvOpResult, encoding: Encoding): unknown {
  if (r.op !== 'get') return r;
  return { op: 'get', value: r.value === null ? null : encode(r.value, encoding) };
}

function encodingOf(raw: unknown): Encoding {
  if (raw === undefined || raw === 'utf8') return 'utf8';
  if (raw === 'base64') return 'base64';
  throw new HttpError(HttpErrorCode.BadRequest, 'encoding must be utf8 or base64');
}

function decode(what: string, raw: unknown, encoding: Encoding): Uint8Array {
  if (typeof raw !== 'string') {
    throw new HttpError(HttpErrorCode.BadRequest, `${what} must be a string`);
  }
  if (encoding === 'utf8') return new Uint8Array(Buffer.from(raw, 'utf8'));
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw)) {
    throw new HttpError(HttpErrorCode.BadRequest, `${what} is not base64`);
  }
  return new Uint8Array(Buffer.from(raw, 'base64'));
}

function encode(bytes: Uint8Array, encoding: Encoding): string {
  if (encoding === 'base64') return Buffer.from(bytes).toString('base64');
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new HttpError(HttpErrorCode.NotUtf8, 'the data is not valid UTF-8: ask with ' +
      'encoding=base64');
  }
}

function checkKey(key: Uint8Array, limits: KvLimits): Uint8Array {
  if (key.length === 0 || key.length > limits.keyBytesMax) {
    throw new HttpError(HttpErrorCode.KeyInvalid,
      `a key is 1 to ${limits.keyBytesMax} bytes, got ${key.length}`);
  }
  return key;
}

/** Percent-decodes a path segment to bytes (not to text: keys need not be UTF-8). */
function percentDecode(segment: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === 0x25) {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new HttpError(HttpErrorCode.KeyInvalid, 'bad percent-encoding in the key');
      }
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      out.push(c);
    } else {
      out.push(...Buffer.from(segment[i]!, 'utf8'));
    }
  }
  return new Uint8Array(out);
}

function notAllowed(method: string, path: string, allowed: string): HttpError {
  return new HttpError(HttpErrorCode.MethodNotAllowed, `${method} ${path}: use ${allowed}`);
}
