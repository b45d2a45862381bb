/**
 * Small HTTP helpers of the node's server: bounded body reading, JSON answers, and the one
 * error shape every route uses, `{"error": {"code": "ERR_...", "message": "..."}}`, whose
 * `code` is stable and whose HTTP status follows from it (`statusOfCode`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlotillaError } from '../util/index.js';

/** Stable codes of the HTTP layer's own errors. */
export const HttpErrorCode = {
  BadRequest: 'ERR_BAD_REQUEST',
  BodyTooLarge: 'ERR_BODY_TOO_LARGE',
  KeyInvalid: 'ERR_KEY_INVALID',
  KeyNotFound: 'ERR_KEY_NOT_FOUND',
  NotUtf8: 'ERR_NOT_UTF8',
  RouteNotFound: 'ERR_ROUTE_NOT_FOUND',
  MethodNotAllowed: 'ERR_METHOD_NOT_ALLOWED',
  Stopping: 'ERR_NODE_STOPPING',
  AppliedWaitsFull: 'ERR_APPLIED_WAITS_FULL',
  Internal: 'ERR_INTERNAL',
} as const;

/** A refused request: a stable code and a message for the caller. */
export class HttpError extends FlotillaError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** HTTP status of each stable code; codes not listed are 500. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  ERR_BAD_REQUEST: 400,
  ERR_KEY_INVALID: 400,
  ERR_NOT_UTF8: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_KEY_NOT_FOUND: 404,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_NODE_STOPPING: 503,
  ERR_APPLIED_WAITS_FULL: 503,
  ERR_KV_UNAVAILABLE: 503,
  ERR_BATCH_SPANS_RANGES: 400,
  // The store's errors: the client should retry elsewhere or later.
  ERR_NOT_LEADER: 503,
  ERR_RANGE_NOT_FOUND: 503,
  ERR_RANGE_NOT_INITIALIZED: 503,
  ERR_STORE_CLOSED: 503,
  ERR_PROPOSAL_DROPPED: 503,
  // The range layer's: routing answers a client acts on, then refused input.
  ERR_RANGE_NOT_LEADER: 503,
  ERR_RANGE_KEY_MISMATCH: 409,
  ERR_PROPOSAL_TIMEOUT: 503,
  ERR_RANGE_UNAVAILABLE: 503,
  ERR_PROPOSALS_FULL: 503,
  ERR_DUPLICATE_PROPOSAL: 409,
  ERR_NODE_UNREACHABLE: 502,
  ERR_KEY_OUTSIDE_RANGE: 400,
  ERR_KEY_OUTSIDE_KEY_SPACE: 400,
  ERR_KEY_TOO_LARGE: 400,
  ERR_VALUE_TOO_LARGE: 413,
  ERR_BATCH_TOO_LARGE: 413,
  ERR_BAD_COMMAND: 400,
  ERR_CONDITION_FAILED: 409,
};

/** The HTTP status an error code maps to. */
export function statusOfCode(code: string): number {
  return STATUS_OF_CODE[code] ?? 500;
}

/** Writes `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Answers with the error's code and message, plus `details` (fields beside them: a routing
 * answer's leader or range). A typed `FlotillaError` keeps its code; anything else is a bug
 * below and becomes `ERR_INTERNAL` without its details.
 */
export function sendError(res: ServerResponse, error: unknown,
  details?: Record<string, unknown>): void {
  const known = error instanceof FlotillaError;
  const code = known ? error.code : HttpErrorCode.Internal;
  const message = known ? error.message : 'internal error';
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const extra = known && details !== undefined ? details : {};
  sendJson(res, statusOfCode(code), { error: { ...extra, code, message } });
}

/**
 * Reads the request body, refusing more than `bytesMax` (`ERR_BODY_TOO_LARGE`) before it
 * is all buffered.
 */
export function readBody(req: IncomingMessage, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > bytesMax) {
      reject(new HttpError(HttpErrorCode.BodyTooLarge, `body over ${bytesMax} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bytesMax) {
        reject(new HttpError(HttpErrorCode.BodyTooLarge, `body over ${bytesMax} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, bytes)));
    req.on('error', reject);
  });
}

/** Parses a JSON object body, refusing anything else with `ERR_BAD_REQUEST`. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(HttpErrorCode.BadRequest, 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(HttpErrorCode.BadRequest, 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
