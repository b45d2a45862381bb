/**
 * `RangeClient`: routes requests to the node holding a key's range and retries on the
 * replicas' answers, in one process (tests, simulations, the embedded API). Its routing
 * cache starts empty and learns from the meta rows of any node and from every answer:
 *
 * - `NotLeaderError` with a leader → retry there; without one (an election is on) → wait a
 *   step and retry on another replica;
 * - `RangeKeyMismatchError` → cache the descriptor it carries (or drop the entry) and route
 *   again;
 * - `ProposalTimeoutError`, `RangeUnavailableError` → wait a step and retry, with the SAME
 *   command id, so that a request whose first attempt did apply still applies once.
 * - no meta row for the key, or one older than the cache's knowledge (a split's or merge's
 *   meta update not yet applied) → the node's local descriptor of the key's range.
 * Other errors (bad input, a failed condition) are final. At most `attemptsMax` attempts.
 */
import { assert } from '../util/index.js';
import type { RandomSource } from '../raft/index.js';
import { CommandIdSource } from './command_ids.js';
import { descriptorContainsKey, type RangeDescriptor } from './descriptor.js';
import {
  NotLeaderError,
  ProposalTimeoutError,
  RangeKeyMismatchError,
  RangeUnavailableError,
} from './errors.js';
import { type KvOp, OpType } from './kv_command.js';
import { lookupRange } from './meta.js';
import type { ProposalResult, RangeNode } from './range_node.js';
import { RoutingCache } from './routing_cache.js';

/** Options of a `RangeClient`. */
export interface RangeClientOptions {
  /** This client's id (command ids). Positive integer below 2^32. */
  clientId: number;
  random: RandomSource;
  /** Attempts per request. @default 30 */
  attemptsMax?: number;
  /** Waits between two attempts (virtual time in tests). @default one event-loop turn */
  backoff?: () => Promise<void>;
}

/** Counters of a client. */
export interface RangeClientStats {
  attempts: number;
  notLeader: number;
  keyMismatch: number;
  retried: number;
}

/** A client of the ranges of several nodes in one process (see the file header). */
export class RangeClient {
  readonly cache = new RoutingCache();
  readonly stats: RangeClientStats = { attempts: 0, notLeader: 0, keyMismatch: 0, retried: 0 };
  private readonly ids: CommandIdSource;
  private readonly attemptsMax: number;
  private readonly backoff: () => Promise<void>;

  constructor(private readonly nodes: ReadonlyMap<number, RangeNode>, o: RangeClientOptions) {
    this.ids = new CommandIdSource(o.clientId, o.random);
    this.attemptsMax = o.attemptsMax ?? 30;
    this.backoff = o.backoff ?? (() => new Promise((resolve) => setImmediate(resolve)));
    assert(nodes.size > 0 && this.attemptsMax > 0, 'a client needs nodes and attempts');
  }

  /** Runs `ops` (all in one range) and returns the results, retrying as described. */
  async batch(ops: KvOp[]): Promise<ProposalResult> {
    const key = firstKey(ops[0]!);
    const id = this.ids.next();
    let target: { desc: RangeDescriptor; nodeId: number } | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.attemptsMax; attempt++) {
      if (attempt > 0) await this.backoff();
      target ??= this.route(key, attempt);
      if (target === undefined) continue;
      const node = this.nodes.get(target.nodeId);
      if (node === undefined) {
        target = undefined;
        continue;
      }
      this.stats.attempts++;
      try {
        return await node.execute(ops, { rangeId: target.desc.rangeId, id });
      } catch (error) {
        lastError = error;
        const next = this.onError(error, target, key, attempt);
        if (next === null) throw error;
        target = next;
      }
    }
    throw lastError ?? new RangeUnavailableError(0, 'no route to the key');
  }

  /** Where to send a request for `key` (cache, then any node's meta rows). */
  private route(key: Uint8Array, attempt: number): { desc: RangeDescriptor; nodeId: number }
    | undefined {
    let entry = this.cache.lookup(key);
    if (entry === undefined) {
      const nodes = [...this.nodes.values()];
      const node = nodes[attempt % nodes.length]!;
      const desc = lookupRange(node.kv, key);
      if (desc !== undefined) this.cache.insert(desc);
      entry = this.cache.lookup(key);
      if (entry === undefined) {
        // No row, or one older than what the cache learned from an answer (the meta update
        // of a split or merge is on its way, or a late one left a stale row): the node's own
        // replicas know the span; a stale one answers with its successor.
        const local = node.localRangeFor(key);
        if (local === undefined) return undefined;
        this.cache.insert(local);
        entry = this.cache.lookup(key);
        if (entry === undefined) return undefined;
      }
    }
    const replicas = entry.descriptor.replicas;
    const nodeId = entry.leaderNodeId !== 0 ? entry.leaderNodeId
      : replicas[attempt % replicas.length]!.nodeId;
    return { desc: entry.descriptor, nodeId };
  }

  /**
   * The next target after `error`: undefined to route again, null if the error is final.
   */
  private onError(
    error: unknown, target: { desc: RangeDescriptor; nodeId: number }, key: Uint8Array,
    attempt: number,
  ): { desc: RangeDescriptor; nodeId: number } | undefined | null {
    const rangeId = target.desc.rangeId;
    if (error instanceof NotLeaderError) {
      this.stats.notLeader++;
      const replicas = target.desc.replicas;
      const next = error.leaderNodeId !== 0 && error.leaderNodeId !== target.nodeId
        ? error.leaderNodeId : replicas[(attempt + 1) % replicas.length]!.nodeId;
      this.cache.noteLeader(rangeId, next);
      return { desc: target.desc, nodeId: next };
    }
    if (error instanceof RangeKeyMismatchError) {
      this.stats.keyMismatch++;
      const desc = error.descriptor;
      if (desc !== undefined) this.cache.insert(desc);
      if (desc === undefined || !descriptorContainsKey(desc, key)) this.cache.evict(rangeId);
      return undefined;
    }
    if (error instanceof ProposalTimeoutError || error instanceof RangeUnavailableError) {
      this.stats.retried++;
      this.cache.noteLeader(rangeId, 0);
      return undefined;
    }
    return null;
  }
}

function firstKey(op: KvOp): Uint8Array {
  return op.type === OpType.Scan || op.type === OpType.DeleteRange ? op.start : op.key;
}
