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
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assert } from '../util/index.js';
import type { KvOp, KvOpResult, KvService } from './kv.js';
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
  if (rest === 'scan' || rest === 'batch') {
    if (method !== 'POST') throw notAllowed(method, url.pathname, 'POST');
    const body = parseJsonObject(await readBody(req, limits.bodyBytesMax));
    const answer = rest === 'scan' ? await scan(body, service, limits)
      : await batch(body, service, limits);
    sendJson(res, 200, answer);
    return;
  }
  const key = checkKey(percentDecode(rest), limits);
  const encoding = encodingOf(url.searchParams.get('encoding') ?? undefined);
  switch (method) {
    case 'GET': {
      const value = await service.get(key);
      if (value === null) {
        throw new HttpError(HttpErrorCode.KeyNotFound, `no key ${JSON.stringify(rest)}`);
      }
      sendJson(res, 200, { key: encode(key, encoding), value: encode(value, encoding) });
      return;
    }
    case 'PUT': {
      const value = await readBody(req, limits.bodyBytesMax);
      await service.put(key, new Uint8Array(value.buffer, value.byteOffset, value.length));
      sendJson(res, 200, { ok: true });
      return;
    }
    case 'DELETE':
      sendJson(res, 200, { deleted: await service.delete(key) });
      return;
    default:
      throw notAllowed(method, url.pathname, 'GET, PUT, DELETE');
  }
}

async function scan(body: Record<string, unknown>, service: KvService, limits: KvLimits):
  Promise<unknown> {
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
  const pairs = await service.scan(start, end, limitRaw + 1);
  const shown = pairs.slice(0, limitRaw);
  return {
    pairs: shown.map((p) => ({ key: encode(p.key, encoding), value: encode(p.value, encoding) })),
    more: pairs.length > limitRaw,
  };
}

async function batch(body: Record<string, unknown>, service: KvService, limits: KvLimits):
  Promise<unknown> {
  const encoding = encodingOf(body['encoding']);
  const raw = body['ops'];
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > limits.batchOpsMax) {
    throw new HttpError(HttpErrorCode.BadRequest,
      `ops must be an array of 1 to ${limits.batchOpsMax} operations`);
  }
  const ops = raw.map((op, i) => batchOp(op, i, encoding, limits));
  const results = await service.batch(ops);
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
  return r;
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
