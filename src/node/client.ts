/**
 * `FlotillaClient`: a typed client of a Flotilla cluster's KV HTTP API. It is given the HTTP
 * addresses of some nodes and learns the rest: a cache of ranges (span, generation, leader)
 * and of the leaders' HTTP addresses, filled from every answer's `x-flotilla-range` header
 * and corrected by the refusals.
 *
 * A request for a key whose range and leader are cached goes straight to the leader, marked
 * direct (`x-flotilla-range-id`); otherwise to one of the given nodes in turn, which forwards
 * it (range_kv.ts). Then:
 *
 * - `ERR_RANGE_NOT_LEADER` → note the leader it names (and its address) and retry there; no
 *   leader named (an election is on) → forget the leader, wait, retry through any node;
 * - `ERR_RANGE_KEY_MISMATCH` → cache the range it names (the newest generation wins) or drop
 *   the stale one, and route again at once;
 * - outcome unknown or the node cannot serve now (a proposal timeout, an unreachable or
 *   stopping node, a range without quorum, a full proposal table) → forget the leader, wait
 *   (growing backoff), retry through the next node, with the SAME command id, so that a
 *   write whose first attempt did apply still applies once;
 * - anything else (bad input, a batch over two ranges) is final: it rejects with the node's
 *   `RemoteKvError` and its stable code.
 *
 * At most `attemptsMax` attempts per request; then the last error.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlotillaError, assert } from '../util/index.js';
import { SeededRandom } from '../raft/index.js';
import { CommandIdSource, RoutingCache, type RangeDescriptor } from '../range/index.js';
import type { KvOp, KvOpResult, KvPair, KvService, ServedRange } from './kv.js';
import { kvCall, RemoteKvError, type KvAnswer, type KvCall } from './kv_wire.js';

/** Options of a `FlotillaClient`. */
export interface FlotillaClientOptions {
  /** HTTP addresses (`HOST:PORT`) of one or more nodes of the cluster. */
  nodes: readonly string[];
  /** This client's id in its command ids (1 to 2^32-1). @default a random one */
  clientId?: number;
  /** Attempts per request. @default 40 */
  attemptsMax?: number;
  /** First wait before a retry that waits; it grows 1.5× to 2000 ms. @default 50 (ms) */
  backoffMs?: number;
  /** Deadline of one attempt. @default 15000 (milliseconds) */
  timeoutMs?: number;
}

/** Counters of a client. */
export interface FlotillaClientStats {
  requests: number;
  attempts: number;
  /** Attempts that went straight to a cached leader. */
  direct: number;
  notLeader: number;
  keyMismatch: number;
  /** Attempts retried after an unknown outcome or an unavailable node. */
  retried: number;
}

/** Codes after which the same request is retried later, elsewhere. */
const RETRY_LATER = new Set([
  'ERR_PROPOSAL_TIMEOUT', 'ERR_RANGE_UNAVAILABLE', 'ERR_NODE_STOPPING', 'ERR_NODE_UNREACHABLE',
  'ERR_NOT_LEADER', 'ERR_PROPOSALS_FULL', 'ERR_STORE_CLOSED', 'ERR_DUPLICATE_PROPOSAL',
  'ERR_KV_UNAVAILABLE', 'ERR_RANGE_NOT_FOUND', 'ERR_RANGE_NOT_INITIALIZED',
  'ERR_PROPOSAL_DROPPED', 'ERR_BAD_ANSWER',
]);

/** The client was closed (`close()`) before the request completed. */
export class ClientClosedError extends FlotillaError {
  constructor() {
    super('ERR_CLIENT_CLOSED', 'the client is closed');
  }
}

const encoder = new TextEncoder();
const bytes = (k: Uint8Array | string): Uint8Array => typeof k === 'string' ? encoder.encode(k)
  : k;

/** A client of the KV API of a cluster (see the file header). */
export class FlotillaClient implements KvService {
  /** Ranges as this client knows them (descriptors without replicas). */
  readonly cache = new RoutingCache(1 << 14);
  readonly stats: FlotillaClientStats = { requests: 0, attempts: 0, direct: 0, notLeader: 0,
    keyMismatch: 0, retried: 0 };
  /** HTTP addresses of the nodes heard of, by node id. */
  readonly addresses = new Map<number, string>();
  private readonly ids: CommandIdSource;
  private readonly nodes: readonly string[];
  private readonly attemptsMax: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private turn = 0;
  private closed = false;

  constructor(options: FlotillaClientOptions) {
    this.nodes = [...options.nodes];
    this.attemptsMax = options.attemptsMax ?? 40;
    this.backoffMs = options.backoffMs ?? 50;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    assert(this.nodes.length > 0, 'a client needs at least one node address');
    assert(Number.isSafeInteger(this.attemptsMax) && this.attemptsMax > 0, 'attempts');
    const clientId = options.clientId ?? randomInt(1, 2 ** 32 - 1);
    this.ids = new CommandIdSource(clientId, new SeededRandom(randomInt(0, 2 ** 31)));
  }

  /** Stops retrying: every request pending or later rejects with `ERR_CLIENT_CLOSED`. */
  close(): void {
    this.closed = true;
  }

  async get(key: Uint8Array | string): Promise<Uint8Array | null> {
    const [r] = await this.batch([{ op: 'get', key: bytes(key) }]);
    assert(r !== undefined && r.op === 'get', 'a get result');
    return r.value;
  }

  async put(key: Uint8Array | string, value: Uint8Array | string): Promise<void> {
    await this.batch([{ op: 'put', key: bytes(key), value: bytes(value) }]);
  }

  async delete(key: Uint8Array | string): Promise<boolean> {
    const [r] = await this.batch([{ op: 'delete', key: bytes(key) }]);
    assert(r !== undefined && r.op === 'delete', 'a delete result');
    return r.deleted;
  }

  /** Pairs of `[start, end)` (empty `end`: no bound), at most `limit`, through any node. */
  async scan(start: Uint8Array | string, end: Uint8Array | string, limit: number):
    Promise<KvPair[]> {
    const answer = await this.send(undefined,
      { kind: 'scan', start: bytes(start), end: bytes(end), limit }, undefined);
    assert(answer.pairs !== undefined, 'a scan answers pairs');
    return answer.pairs;
  }

  /** Runs `ops` (keys in one range) atomically, retrying as the file header says. */
  async batch(ops: readonly KvOp[]): Promise<KvOpResult[]> {
    assert(ops.length > 0, 'a batch has operations');
    const writes = ops.some((op) => op.op !== 'get');
    const answer = await this.send(ops[0]!.key, { kind: 'batch', ops },
      writes ? this.ids.next() : undefined);
    assert(answer.results !== undefined && answer.results.length === ops.length, 'results');
    return answer.results;
  }

  private async send(key: Uint8Array | undefined, call: KvCall,
    commandId: Uint8Array | undefined): Promise<KvAnswer> {
    this.stats.requests++;
    let lastError: unknown;
    let wait = 0;
    for (let attempt = 0; attempt < this.attemptsMax; attempt++) {
      if (wait > 0) await sleep(wait);
      if (this.closed) throw new ClientClosedError();
      const entry = key === undefined ? undefined : this.cache.lookup(key);
      const leader = entry?.leaderNodeId ?? 0;
      const direct = leader !== 0 && this.addresses.has(leader) ? entry!.descriptor : undefined;
      const address = direct !== undefined ? this.addresses.get(leader)!
        : this.nodes[this.turn++ % this.nodes.length]!;
      this.stats.attempts++;
      if (direct !== undefined) this.stats.direct++;
      try {
        const answer = await kvCall(address, call, { commandId, timeoutMs: this.timeoutMs,
          directRangeId: direct?.rangeId });
        if (answer.served !== undefined) this.learn(answer.served);
        return answer;
      } catch (error) {
        lastError = error;
        const next = this.onError(error, direct);
        if (next === null) throw error;
        wait = next === 0 ? 0 : Math.min(2000, Math.max(wait * 1.5, this.backoffMs));
      }
    }
    throw lastError;
  }

  /** Caches the range that served an answer and where its server is. */
  private learn(s: ServedRange): void {
    this.cache.insert(pseudoDescriptor(s.rangeId, s.generation, s.startKey, s.endKey),
      s.servedBy);
    if (s.servedHttp !== '') this.addresses.set(s.servedBy, s.servedHttp);
  }

  /** How to go on after `error`: null (final), 0 (retry now), 1 (retry after a wait). */
  private onError(error: unknown, direct: RangeDescriptor | undefined): 0 | 1 | null {
    if (!(error instanceof FlotillaError)) return null;
    const details = error instanceof RemoteKvError ? error.details : {};
    if (error.code === 'ERR_RANGE_NOT_LEADER') {
      this.stats.notLeader++;
      const rangeId = Number(details['rangeId'] ?? direct?.rangeId ?? 0);
      const lead = Number(details['leaderNodeId'] ?? 0);
      const http = details['leaderHttp'];
      if (typeof http === 'string' && lead > 0) this.addresses.set(lead, http);
      this.cache.noteLeader(rangeId, lead > 0 && typeof http === 'string' ? lead : 0);
      return lead > 0 ? 0 : 1;
    }
    if (error.code === 'ERR_RANGE_KEY_MISMATCH') {
      this.stats.keyMismatch++;
      const range = parseRange(details['range']);
      if (direct !== undefined) this.cache.evict(direct.rangeId);
      if (range !== undefined) this.cache.insert(range);
      // Two mismatches in a row are worth a pause: a split may be applying.
      return this.stats.keyMismatch % 2 === 0 ? 1 : 0;
    }
    if (RETRY_LATER.has(error.code)) {
      this.stats.retried++;
      if (direct !== undefined) this.cache.noteLeader(direct.rangeId, 0);
      return 1;
    }
    return null;
  }
}

function pseudoDescriptor(rangeId: number, generation: number, startKey: Uint8Array,
  endKey: Uint8Array): RangeDescriptor {
  return { rangeId, generation, startKey, endKey, replicas: [] };
}

/** A range from an error's details (`descriptorJson`); undefined if absent or malformed. */
function parseRange(raw: unknown): RangeDescriptor | undefined {
  const o = raw as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return undefined;
  if (!Number.isSafeInteger(o['rangeId']) || !Number.isSafeInteger(o['generation']) ||
    typeof o['start'] !== 'string' || typeof o['end'] !== 'string') return undefined;
  return pseudoDescriptor(o['rangeId'] as number, o['generation'] as number,
    new Uint8Array(Buffer.from(o['start'], 'base64')),
    new Uint8Array(Buffer.from(o['end'], 'base64')));
}
