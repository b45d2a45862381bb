/**
 * The merge's wait for application across node processes (the range layer's `MergeWaiter`
 * seam, merge_wait.ts), over the peers' HTTP that `--peer-http` wires.
 *
 * WIRE. `GET /v1/internal/applied?range=R&index=I&wait_ms=W` asks "has your replica of
 * range R applied index I?". The answering node looks at its own replica (the store's
 * applied index) every `APPLIED_POLL_MS` until it has, or `W` ms passed (a long poll,
 * capped at `APPLIED_WAIT_MS_MAX`), and answers
 * `{"nodeId": N, "rangeId": R, "appliedIndex": A, "present": bool}` (A: 0 when it holds no
 * replica of R: not created yet, as a split's right side before the split applies there).
 * It is read-only; the arguments are checked before anything is read (`ERR_BAD_REQUEST`),
 * and at most `APPLIED_WAITS_MAX` long polls are open at once (`ERR_APPLIED_WAITS_FULL`,
 * 503), so a peer cannot pile up work here.
 *
 * CALLER. `HttpMergeWaiter` asks the peer again after each answer below I, and after a
 * network failure (a peer restarting), until `timeoutMs` passed: then
 * `MergeWaitTimeoutError`. A peer whose HTTP address is unknown, or whose answer is
 * malformed or names another node or range, is `MergeWaitPeerError`: nothing it says is
 * trusted.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { newReplicaStatus, type Store } from '../multiraft/index.js';
import {
  MergeWaitPeerError,
  MergeWaitTimeoutError,
  type MergeWaiter,
} from '../range/index.js';
import { HttpError, HttpErrorCode } from './http_util.js';
import type { PeerDirectory } from './peers.js';

/** The route of the question. */
export const APPLIED_PATH = '/v1/internal/applied';
/** Longest long poll one answer holds. @default 5000 (milliseconds) */
export const APPLIED_WAIT_MS_MAX = 5000;
/** Long polls open at once on one node. */
export const APPLIED_WAITS_MAX = 64;
/** Time between two looks at the local replica during a long poll (milliseconds). */
const APPLIED_POLL_MS = 20;

/** What the route answers. */
export interface AppliedAnswer {
  nodeId: number;
  rangeId: number;
  appliedIndex: number;
  present: boolean;
}

/** The answering side: this node's replicas (see the file header). */
export class AppliedResponder {
  private open = 0;
  private readonly scratch = newReplicaStatus();

  constructor(private readonly store: Store) {}

  /** Long polls open now. */
  get waitsOpen(): number {
    return this.open;
  }

  /** Answers the query of `url`. @throws HttpError on bad arguments or too many waits */
  async answer(url: URL): Promise<AppliedAnswer> {
    const rangeId = intParam(url, 'range', 1, Number.MAX_SAFE_INTEGER);
    const index = intParam(url, 'index', 1, Number.MAX_SAFE_INTEGER);
    const waitMs = intParam(url, 'wait_ms', 0, APPLIED_WAIT_MS_MAX);
    if (this.open >= APPLIED_WAITS_MAX) {
      throw new HttpError(HttpErrorCode.AppliedWaitsFull,
        `${APPLIED_WAITS_MAX} applied-index waits are open here`);
    }
    this.open++;
    try {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const now = this.look(rangeId);
        if (now.appliedIndex >= index || Date.now() >= deadline) return now;
        await new Promise((resolve) => setTimeout(resolve, APPLIED_POLL_MS));
      }
    } finally {
      this.open--;
      assert(this.open >= 0, 'waits counted once each');
    }
  }

  private look(rangeId: number): AppliedAnswer {
    let present: boolean;
    try {
      present = this.store.readStatus(rangeId, this.scratch);
    } catch {
      // The store closed under a long poll: the node is stopping.
      throw new HttpError(HttpErrorCode.Stopping, 'the node is shutting down');
    }
    return { nodeId: this.store.nodeId, rangeId, present,
      appliedIndex: present ? this.scratch.applied : 0 };
  }
}

function intParam(url: URL, name: string, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  const n = raw === null || raw === '' ? NaN : Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new HttpError(HttpErrorCode.BadRequest,
      `${name} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

/** Options of an `HttpMergeWaiter`. */
export interface HttpMergeWaiterOptions {
  /** Where the peers' HTTP addresses are known. */
  peers: PeerDirectory;
  /** Time one wait may take in all. @default 30000 (milliseconds) */
  timeoutMs?: number;
  /** Long poll asked of the peer per request. @default 2000 (milliseconds) */
  pollMs?: number;
  /** Pause after a failed request (the peer down or restarting). @default 250 (milliseconds) */
  retryMs?: number;
  /** @default silent */
  logger?: Logger | null;
}

/** The asking side (see the file header). */
export class HttpMergeWaiter implements MergeWaiter {
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly retryMs: number;

  constructor(private readonly options: HttpMergeWaiterOptions) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.pollMs = Math.min(options.pollMs ?? 2000, APPLIED_WAIT_MS_MAX);
    this.retryMs = options.retryMs ?? 250;
    assert(this.timeoutMs > 0 && this.pollMs >= 0 && this.retryMs > 0, 'wait options');
  }

  async waitApplied(nodeId: number, rangeId: number, index: number): Promise<void> {
    assert(Number.isSafeInteger(index) && index > 0, 'a freeze index');
    const http = this.options.peers.httpOf(nodeId);
    if (http === null) throw new MergeWaitPeerError(nodeId, rangeId, 'no HTTP address known');
    const deadline = Date.now() + this.timeoutMs;
    let applied = 0;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new MergeWaitTimeoutError(nodeId, rangeId, index, applied);
      const waitMs = Math.max(0, Math.min(this.pollMs, left));
      const answer = await this.ask(http, nodeId, rangeId, index, waitMs);
      if (answer !== null) {
        applied = answer.appliedIndex;
        if (applied >= index) return;
      } else {
        await new Promise((resolve) => setTimeout(resolve, Math.min(this.retryMs, left)));
      }
    }
  }

  /** One long poll; null when the peer could not be reached or refused for now. */
  private async ask(http: string, nodeId: number, rangeId: number, index: number,
    waitMs: number): Promise<AppliedAnswer | null> {
    let res: Response;
    try {
      res = await fetch(`http://${http}${APPLIED_PATH}?range=${rangeId}&index=${index}` +
        `&wait_ms=${waitMs}`, { signal: AbortSignal.timeout(waitMs + 3000) });
    } catch (error) {
      this.options.logger?.debug({ peer: nodeId, rangeId, err: error }, 'applied wait: retry');
      return null;
    }
    if (res.status === 503) {
      await res.body?.cancel();
      return null; // stopping, or its waits are full: ask again
    }
    let body: unknown;
    try {
      body = res.ok ? await res.json() : undefined;
    } catch {
      body = undefined;
    }
    const answer = checkAnswer(body);
    if (answer === null || answer.nodeId !== nodeId || answer.rangeId !== rangeId) {
      throw new MergeWaitPeerError(nodeId, rangeId,
        `unexpected answer (HTTP ${res.status}) from ${http}`);
    }
    return answer;
  }
}

/** Checks an answer from the network; null if it is not one. */
export function checkAnswer(raw: unknown): AppliedAnswer | null {
  const o = raw as Partial<AppliedAnswer> | null | undefined;
  if (typeof o !== 'object' || o === null) return null;
  const ok = Number.isSafeInteger(o.nodeId) && o.nodeId! > 0 &&
    Number.isSafeInteger(o.rangeId) && o.rangeId! > 0 &&
    Number.isSafeInteger(o.appliedIndex) && o.appliedIndex! >= 0 &&
    typeof o.present === 'boolean' && (o.present || o.appliedIndex === 0);
  return ok ? { nodeId: o.nodeId!, rangeId: o.rangeId!, appliedIndex: o.appliedIndex!,
    present: o.present! } : null;
}
