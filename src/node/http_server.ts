/**
 * The node's HTTP server (node:http): the status page at `/`, `/status` (JSON), `/metrics`
 * (Prometheus text), `/v1/node` (who this node is: its peers ask, peers.ts),
 * `/v1/internal/applied` (a merge's wait, applied_wait.ts) and the KV API under `/v1/kv/`
 * (http_kv.ts).
 *
 * Lifecycle: `listen` (an address that cannot be bound is a `StartupError`), then `close`:
 * stop accepting, answer requests that arrive on kept-alive connections meanwhile with
 * `503 ERR_NODE_STOPPING`, let in-flight requests finish (up to `drainTimeoutMs`, then cut
 * them), resolve once every connection is closed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError, FlotillaError, assert } from '../util/index.js';
import type { HostPort } from './cli_args.js';
import { NodeErrorCode, StartupError } from './errors.js';
import { HttpError, HttpErrorCode, sendError, sendJson } from './http_util.js';
import { KV_LIMITS_DEFAULT, handleKv, isKvPath, type KvLimits } from './http_kv.js';
import { KvUnavailableError, type KvService } from './kv.js';
import { APPLIED_PATH, type AppliedResponder } from './applied_wait.js';
import type { NodeMetrics } from './metrics.js';
import { STATUS_RANGES_MAX, buildStatus, type StatusSource } from './status.js';
import { STATUS_PAGE_HTML } from './status_page.js';

/** Options of a `NodeHttpServer`. */
export interface NodeHttpServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port; read it from `listen()`'s result) */
  port?: number;
  /** What `/status` and the page show. */
  status: StatusSource;
  /** What `/metrics` exports. */
  metrics: NodeMetrics;
  /** What serves the KV API; without one it answers `503 ERR_KV_UNAVAILABLE`. @default null */
  kv?: KvService | null;
  /** @default KV_LIMITS_DEFAULT */
  kvLimits?: Partial<KvLimits>;
  /** Fields an error answer carries beside its code (a leader, a range). @default none */
  errorDetails?: (error: unknown) => Record<string, unknown> | undefined;
  /** What `/v1/node` answers; without it the route is not found. @default none */
  nodeInfo?: () => unknown;
  /** Answers the merge's applied-index question (applied_wait.ts). @default not found */
  applied?: AppliedResponder | null;
  /** Time `close` lets in-flight requests finish. @default 10000 (milliseconds) */
  drainTimeoutMs?: number;
  /** @default silent */
  logger?: Logger | null;
}

/** The HTTP face of one node. */
export class NodeHttpServer {
  private readonly server: Server;
  private readonly kvLimits: KvLimits;
  private readonly drainTimeoutMs: number;
  private inFlight = 0;
  private stopping = false;
  private closed: Promise<void> | null = null;

  constructor(private readonly options: NodeHttpServerOptions) {
    this.kvLimits = { ...KV_LIMITS_DEFAULT, ...options.kvLimits };
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    if (!Number.isSafeInteger(this.drainTimeoutMs) || this.drainTimeoutMs < 0) {
      throw new ConfigError('drainTimeoutMs must be a non-negative integer (milliseconds)');
    }
    this.server = createServer((req, res) => this.serve(req, res));
    // Slowloris bounds: a client must send its headers and body in reasonable time.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** Requests being served now. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Starts listening. @returns the bound address
   * @throws StartupError (`ERR_LISTEN`) when the address is taken or cannot be bound
   */
  listen(): Promise<HostPort> {
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port ?? 0;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new StartupError(NodeErrorCode.ListenFailed,
          `cannot listen for HTTP on ${host}:${port}: ${error.code ?? error.message}`,
          { cause: error }));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        resolve({ host, port: address.port });
      });
    });
  }

  /** Stops accepting, drains in-flight requests, closes. Idempotent. */
  close(): Promise<void> {
    if (this.closed !== null) return this.closed;
    this.stopping = true;
    this.closed = new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      const cut = setTimeout(() => this.server.closeAllConnections(), this.drainTimeoutMs);
      this.server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.closed;
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    if (this.stopping) {
      res.setHeader('connection', 'close');
      sendError(res, new HttpError(HttpErrorCode.Stopping, 'the node is shutting down'));
      return;
    }
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      assert(this.inFlight >= 0, 'in-flight requests are counted once each');
      // Draining: a connection whose last request just ended is idle now.
      if (this.stopping) this.server.closeIdleConnections();
    });
    this.route(req, res).catch((error: unknown) => {
      // A typed refusal is an answer (a routing hint, bad input); anything else is a bug.
      if (!(error instanceof FlotillaError)) {
        this.options.logger?.warn({ err: error, url: req.url }, 'request failed');
      } else if (!(error instanceof HttpError)) {
        this.options.logger?.debug({ code: error.code, url: req.url }, 'request refused');
      }
      sendError(res, error, this.options.errorDetails?.(error));
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://node');
    const path = url.pathname;
    if (isKvPath(path)) {
      const kv = this.options.kv ?? null;
      if (kv === null) throw new KvUnavailableError();
      await handleKv(req, res, url, kv, this.kvLimits);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(HttpErrorCode.MethodNotAllowed, `${req.method} ${path}: use GET`);
    }
    switch (path) {
      case '/':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store' });
        res.end(STATUS_PAGE_HTML);
        return;
      case '/v1/node': {
        const info = this.options.nodeInfo;
        if (info === undefined) throw new HttpError(HttpErrorCode.RouteNotFound, 'no /v1/node');
        sendJson(res, 200, info());
        return;
      }
      case APPLIED_PATH: {
        const applied = this.options.applied ?? null;
        if (applied === null) throw new HttpError(HttpErrorCode.RouteNotFound, `no ${path}`);
        sendJson(res, 200, await applied.answer(url));
        return;
      }
      case '/status':
        sendJson(res, 200, buildStatus(this.options.status, rangesParam(url)));
        return;
      case '/metrics': {
        const metrics = this.options.metrics;
        const text = await metrics.text();
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(text);
        return;
      }
      default:
        throw new HttpError(HttpErrorCode.RouteNotFound, `no route ${path}`);
    }
  }
}

function rangesParam(url: URL): number | undefined {
  const raw = url.searchParams.get('ranges');
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > STATUS_RANGES_MAX) {
    throw new HttpError(HttpErrorCode.BadRequest,
      `ranges must be an integer in [0, ${STATUS_RANGES_MAX}]`);
  }
  return n;
}
