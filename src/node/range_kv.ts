/**
 * `RangeKv`: the node's `KvService` over its `RangeNode`. Each call is routed to the range
 * holding its (first) key, using this node's own replicas' descriptors (every member holds
 * every range: they are bootstrapped on all members and a split creates its right side
 * wherever the left is), and goes to that range's leader:
 *
 * 1. This node leads the range, or no leader is known, or the leader's HTTP address is
 *    unknown or the store sees it down: the call runs here. A write on a follower is
 *    proposed here and forwarded by Raft; a read waits for a ReadIndex: both stay
 *    linearizable, the leader only saves the hop.
 * 2. Otherwise it is forwarded over HTTP to the leader (peers.ts has where addresses come
 *    from), marked direct (`x-flotilla-range-id`), so the leader serves it or refuses it and
 *    a request is forwarded at most once. A leader that cannot be reached (killed, not yet
 *    known dead) makes the call run here instead.
 * 3. A direct call (a client that knows the leader, or a forward) is served only by the
 *    leader: elsewhere it is refused with `NotLeaderError` (and the leader known here) or
 *    `RangeKeyMismatchError` (and the range that holds the key now), which `FlotillaClient`
 *    uses to correct its cache.
 *
 * Writes carry a command id: the caller's (`x-flotilla-command-id`), or one made here before
 * the first attempt, so that the fallback of 2. after a forward that may have applied is the
 * same command and applies once (the range's dedupe table).
 *
 * A scan walks the ranges from its start, one range at a time, each routed as above; it is
 * linearizable per range, not across ranges. A batch's keys must lie in one range
 * (`ERR_KEY_OUTSIDE_RANGE` otherwise): it is atomic because one range applies it.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { SeededRandom } from '../raft/index.js';
import {
  NotLeaderError as StoreNotLeaderError,
  newReplicaStatus,
  type Store,
} from '../multiraft/index.js';
import {
  CommandIdSource,
  KEY_MAX,
  NotLeaderError,
  OpType,
  RangeKeyMismatchError,
  USER_KEY_MIN,
  compareKeys,
  descriptorContainsKey,
  keyNext,
  type KvOp as RangeOp,
  type OpResult,
  type RangeDescriptor,
  type RangeNode,
} from '../range/index.js';
import {
  BatchSpansRangesError,
  type KvCallContext,
  type KvOp,
  type KvOpResult,
  type KvPair,
  type KvService,
  type ServedRange,
} from './kv.js';
import { NodeUnreachableError, RemoteKvError, kvCall } from './kv_wire.js';
import type { PeerDirectory } from './peers.js';

/** Options of a `RangeKv`. */
export interface RangeKvOptions {
  rangeNode: RangeNode;
  store: Store;
  /** Where the peers' HTTP addresses are known; null: never forward. */
  peers: PeerDirectory | null;
  /** This node's HTTP address (`HOST:PORT`), once it listens. */
  selfHttp: () => string;
  /** Deadline of one forwarded request. @default 15000 (milliseconds) */
  forwardTimeoutMs?: number;
  /** Seed of this node's command ids' epoch. @default the node id and the start time */
  seed?: number;
  /** @default silent */
  logger?: Logger | null;
}

/** Counters of a `RangeKv`. */
export interface RangeKvStats {
  /** Calls served by this node's replica. */
  servedLocally: number;
  /** Calls forwarded to the range's leader. */
  forwarded: number;
  /** Forwards whose leader could not be reached (then served here). */
  forwardsFailed: number;
  /** Direct calls refused here (not leader, or the key is in another range). */
  directRefused: number;
}

/** Ranges a scan may walk in one call (a bound on its loop). */
const SCAN_HOPS_MAX = 1 << 20;

/** The node's KV service over its ranges (see the file header). */
export class RangeKv implements KvService {
  readonly stats: RangeKvStats = { servedLocally: 0, forwarded: 0, forwardsFailed: 0,
    directRefused: 0 };
  private readonly ids: CommandIdSource;
  private readonly scratch = newReplicaStatus();
  private readonly rn: RangeNode;
  private readonly store: Store;

  constructor(private readonly options: RangeKvOptions) {
    this.rn = options.rangeNode;
    this.store = options.store;
    assert(this.rn.nodeId === this.store.nodeId, 'the range node of this store');
    this.ids = new CommandIdSource(this.store.nodeId,
      new SeededRandom(options.seed ?? (this.store.nodeId * 7919 + Date.now()) >>> 0));
  }

  async get(key: Uint8Array, ctx: KvCallContext = {}): Promise<Uint8Array | null> {
    const [r] = await this.batch([{ op: 'get', key }], ctx);
    assert(r !== undefined && r.op === 'get', 'a get result');
    return r.value;
  }

  async put(key: Uint8Array, value: Uint8Array, ctx: KvCallContext = {}): Promise<void> {
    const [r] = await this.batch([{ op: 'put', key, value }], ctx);
    assert(r !== undefined && r.op === 'put', 'a put result');
  }

  async delete(key: Uint8Array, ctx: KvCallContext = {}): Promise<boolean> {
    const [r] = await this.batch([{ op: 'delete', key }], ctx);
    assert(r !== undefined && r.op === 'delete', 'a delete result');
    return r.deleted;
  }

  /** Runs `ops` (all in one range) at the range's leader or here (see the file header). */
  async batch(ops: readonly KvOp[], ctx: KvCallContext = {}): Promise<KvOpResult[]> {
    assert(ops.length > 0, 'the HTTP layer refuses empty batches');
    const key = ops[0]!.key;
    if (ctx.directRangeId !== undefined) return this.local(ops, ctx.directRangeId, ctx, true);
    const desc = this.rn.localRangeFor(key);
    const leaderHttp = desc === undefined ? null : this.forwardTarget(desc.rangeId);
    if (desc === undefined || leaderHttp === null) return this.local(ops, desc?.rangeId, ctx);
    if (ops.some((op) => op.op !== 'get')) ctx.commandId ??= this.ids.next();
    try {
      this.stats.forwarded++;
      const answer = await kvCall(leaderHttp, { kind: 'batch', ops }, { commandId: ctx.commandId,
        directRangeId: desc.rangeId, timeoutMs: this.options.forwardTimeoutMs });
      ctx.served = answer.served;
      assert(answer.results !== undefined, 'a batch answers results');
      return answer.results;
    } catch (error) {
      if (!(error instanceof NodeUnreachableError)) throw error;
      this.stats.forwardsFailed++;
      return this.local(ops, desc.rangeId, ctx);
    }
  }

  /** Pairs of `[start, end)` range by range (see the file header). */
  async scan(start: Uint8Array, end: Uint8Array, limit: number, ctx: KvCallContext = {}):
    Promise<KvPair[]> {
    assert(Number.isSafeInteger(limit) && limit > 0, 'a scan limit');
    const endKey = end.length === 0 ? KEY_MAX : end;
    let cursor = start.length === 0 ? USER_KEY_MIN : start;
    const out: KvPair[] = [];
    for (let hops = 0; out.length < limit && compareKeys(cursor, endKey) < 0; hops++) {
      assert(hops < SCAN_HOPS_MAX, 'a scan walks a bounded number of ranges');
      const direct = ctx.directRangeId;
      const desc = direct !== undefined ? this.rn.descriptor(direct) : this.rn.localRangeFor(cursor);
      if (desc === undefined || compareKeys(cursor, desc.endKey) >= 0) {
        this.stats.directRefused += direct !== undefined ? 1 : 0;
        throw new RangeKeyMismatchError(direct ?? 0, cursor, this.rn.localRangeFor(cursor));
      }
      const spanEnd = compareKeys(desc.endKey, endKey) < 0 ? desc.endKey : endKey;
      const want = Math.min(limit - out.length, this.rn.limits.scanLimitMax);
      const { pairs, more } = await this.scanRange(desc, cursor, spanEnd, want, direct);
      out.push(...pairs);
      if (more) cursor = keyNext(pairs[pairs.length - 1]!.key);
      else if (direct !== undefined) break;
      else cursor = spanEnd;
    }
    assert(out.length <= limit, 'a scan returns at most its limit');
    return out;
  }

  private async scanRange(desc: RangeDescriptor, start: Uint8Array, end: Uint8Array,
    limit: number, direct: number | undefined): Promise<{ pairs: KvPair[]; more: boolean }> {
    const leaderHttp = direct !== undefined ? null : this.forwardTarget(desc.rangeId);
    if (leaderHttp !== null) {
      try {
        this.stats.forwarded++;
        const answer = await kvCall(leaderHttp, { kind: 'scan', start, end, limit },
          { directRangeId: desc.rangeId, timeoutMs: this.options.forwardTimeoutMs });
        assert(answer.pairs !== undefined, 'a scan answers pairs');
        return { pairs: answer.pairs, more: answer.more === true };
      } catch (error) {
        if (!(error instanceof NodeUnreachableError)) throw error;
        this.stats.forwardsFailed++;
      }
    }
    if (direct !== undefined) this.checkLeader(desc.rangeId, start);
    this.stats.servedLocally++;
    const result = await this.rn.execute([{ type: OpType.Scan, start, end, limit }],
      { rangeId: desc.rangeId });
    assert(result.kind === 'kv', 'a read settles with its results');
    const scan = result.results[0]!;
    assert(scan.type === OpType.Scan, 'a scan result');
    return { pairs: scan.entries.map((e) => ({ key: e.key, value: e.value })),
      more: scan.resumeKey !== undefined };
  }

  /** The leader's HTTP address if the call should be forwarded there, else null. */
  private forwardTarget(rangeId: number): string | null {
    const peers = this.options.peers;
    if (peers === null || !this.store.readStatus(rangeId, this.scratch)) return null;
    const lead = this.scratch.lead;
    if (lead === 0 || lead === this.store.nodeId || !this.store.isNodeLive(lead)) return null;
    return peers.httpOf(lead);
  }

  /** Refuses a direct call unless this node leads `rangeId`. */
  private checkLeader(rangeId: number, key: Uint8Array): void {
    if (!this.store.readStatus(rangeId, this.scratch)) {
      this.stats.directRefused++;
      throw new RangeKeyMismatchError(rangeId, key, this.rn.localRangeFor(key));
    }
    if (this.scratch.lead !== this.store.nodeId) {
      this.stats.directRefused++;
      throw new NotLeaderError(rangeId, this.scratch.lead);
    }
  }

  /** Runs `ops` on this node's replica of `rangeId` (the one holding the key if undefined). */
  private async local(ops: readonly KvOp[], rangeId: number | undefined, ctx: KvCallContext,
    direct = false): Promise<KvOpResult[]> {
    if (direct) this.checkLeader(rangeId!, ops[0]!.key);
    const routed = this.rn.descriptor(rangeId ?? this.rn.localRangeFor(ops[0]!.key)?.rangeId ?? 0);
    if (routed !== undefined && descriptorContainsKey(routed, ops[0]!.key) &&
      ops.some((op) => !descriptorContainsKey(routed, op.key))) {
      throw new BatchSpansRangesError(routed.rangeId);
    }
    this.stats.servedLocally++;
    const rangeOps = ops.map(toRangeOp);
    const result = await this.rn.execute(rangeOps, { rangeId, id: ctx.commandId });
    const served = rangeId ?? this.rn.localRangeFor(ops[0]!.key)?.rangeId;
    const desc = served === undefined ? undefined : this.rn.descriptor(served);
    if (desc !== undefined) {
      ctx.served = servedRange(desc, this.store.nodeId, this.options.selfHttp());
    }
    if (result.kind === 'kv') return result.results.map(fromRangeResult);
    assert(result.kind === 'duplicate', 'a KV batch settles with results or as a duplicate');
    // A retry of a write that had applied: its results are gone; gets are read again, a
    // replayed delete reports that it deleted (it did, or the key was absent already).
    const gets = ops.filter((op) => op.op === 'get');
    const again = gets.length === 0 ? [] : await this.local(gets, rangeId, {}, direct);
    let g = 0;
    return ops.map((op): KvOpResult => op.op === 'get' ? again[g++]!
      : op.op === 'put' ? { op: 'put' } : { op: 'delete', deleted: true });
  }
}

function toRangeOp(op: KvOp): RangeOp {
  if (op.op === 'get') return { type: OpType.Get, key: op.key };
  if (op.op === 'put') return { type: OpType.Put, key: op.key, value: op.value };
  return { type: OpType.Delete, key: op.key };
}

function fromRangeResult(r: OpResult): KvOpResult {
  switch (r.type) {
    case OpType.Get: return { op: 'get', value: r.value ?? null };
    case OpType.Put: return { op: 'put' };
    case OpType.Delete: return { op: 'delete', deleted: r.existed };
    default: throw new Error(`unexpected result type ${r.type} of a get/put/delete batch`);
  }
}

/** The `ServedRange` of a descriptor. */
export function servedRange(desc: RangeDescriptor, servedBy: number, servedHttp: string):
  ServedRange {
  return { rangeId: desc.rangeId, generation: desc.generation, startKey: desc.startKey,
    endKey: desc.endKey, servedBy, servedHttp };
}

/** A descriptor as JSON (keys in base64), as the error details carry it. */
export function descriptorJson(desc: RangeDescriptor): Record<string, unknown> {
  return { rangeId: desc.rangeId, generation: desc.generation,
    start: Buffer.from(desc.startKey).toString('base64'),
    end: Buffer.from(desc.endKey).toString('base64'),
    replicas: desc.replicas.map((r) => r.nodeId) };
}

/**
 * The fields an error answer carries beside its code: the leader of a not-leader answer
 * (with its HTTP address when known), the range now holding the key of a mismatch, a
 * forwarded answer's own fields.
 */
export function kvErrorDetails(peers: PeerDirectory | null, selfHttp: () => string,
  selfNodeId: number): (error: unknown) => Record<string, unknown> | undefined {
  return (error) => {
    if (error instanceof RemoteKvError) {
      const { code: _code, message: _message, ...rest } = error.details;
      return rest;
    }
    if (error instanceof NotLeaderError || error instanceof StoreNotLeaderError) {
      const lead = error.leaderNodeId;
      const http = lead === 0 ? null : lead === selfNodeId ? selfHttp() : peers?.httpOf(lead);
      return { rangeId: error.rangeId, leaderNodeId: lead, leaderHttp: http ?? null };
    }
    if (error instanceof RangeKeyMismatchError) {
      return { rangeId: error.rangeId,
        range: error.descriptor === undefined ? null : descriptorJson(error.descriptor) };
    }
    return undefined;
  };
}
