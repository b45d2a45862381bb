/**
 * The node's `/status` document: who the node is, the peers it knows (address, version,
 * liveness), the store's summary, and every range with its RaftStatus summary (on a leader,
 * each follower's progress). The status page and `flotilla status` read this and nothing
 * else, so its field names are a contract: add fields, never rename them.
 */
import { assert } from '../util/index.js';
import { progressStateName, stateTypeNames } from '../raft/index.js';
import {
  newReplicaStatus,
  newStoreSummary,
  type Store,
  type StoreSummary,
} from '../multiraft/index.js';
import type { RangeCounters } from './metrics.js';

/** A peer as the node knows it. */
export interface PeerInfo {
  nodeId: number;
  /** `HOST:PORT` of its Raft transport. */
  address: string;
  /** `HOST:PORT` of its HTTP server, if known (given at start: `--peer-http`). */
  http?: string | null;
  /** Its Flotilla version, as its `/v1/node` last answered (null: not heard yet). */
  version: string | null;
  /** The protocol version it advertises, as its `/v1/node` last answered. */
  protocolVersion?: number | null;
  /** Live as the store's liveness pings see it. */
  live: boolean;
}

/** Who the node is. */
export interface NodeIdentity {
  nodeId: number;
  clusterId: string;
  /** Flotilla's version. */
  version: string;
  /** `HOST:PORT` of the Raft transport. */
  listen: string;
  /** `HOST:PORT` of the HTTP server. */
  http: string;
  /** Wall-clock start time, ms since the epoch. */
  startedAtMs: number;
}

/** One range as `/status` shows it. */
export interface RangeStatusJson {
  rangeId: number;
  /** `StateLeader`, `StateFollower`, `StateCandidate`, `StatePreCandidate`. */
  state: string;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  /** The leader this replica knows (0: none). */
  lead: number;
  initialized: boolean;
  quiesced: boolean;
  dormant: boolean;
  /** On a leader: every replica's progress (itself included); elsewhere empty. */
  progress: { nodeId: number; match: number; next: number; state: string;
    recentActive: boolean; isLearner: boolean }[];
}

/** The whole `/status` document. */
export interface NodeStatusJson {
  node: NodeIdentity & { uptimeS: number };
  peers: PeerInfo[];
  summary: StoreSummary;
  /** The store's counters since it started (rates: the difference of two answers). */
  counters: { proposals: number; entriesApplied: number; ticks: number; messagesSent: number;
    messagesReceived: number; messagesDropped: number; quiesces: number; wakes: number };
  /** Ranges, by range id, at most `rangesMax` of them. */
  ranges: RangeStatusJson[];
  /** More ranges exist than were listed. */
  rangesTruncated: boolean;
  /** The range layer's counters (splits, merges, KV calls), when the node runs one. */
  rangeCounters?: RangeCounters;
}

/** What `/status` reads. */
export interface StatusSource {
  identity: NodeIdentity;
  store: Store;
  peers(): PeerInfo[];
  /** Wall clock, ms since the epoch. */
  nowMs(): number;
  /** The range layer's counters. @default none (not shown) */
  rangeCounters?(): RangeCounters;
}

/** Ranges listed by default; the rest are counted in the summary. */
export const STATUS_RANGES_DEFAULT = 1000;
/** Most ranges one `/status` answer lists (`?ranges=`), bounding its size. */
export const STATUS_RANGES_MAX = 100_000;

/** Builds the `/status` document, listing at most `rangesMax` ranges (lowest ids first). */
export function buildStatus(source: StatusSource, rangesMax = STATUS_RANGES_DEFAULT):
  NodeStatusJson {
  assert(Number.isSafeInteger(rangesMax) && rangesMax >= 0, 'a range count');
  const store = source.store;
  const ids: number[] = [];
  store.forEachRange((rangeId) => ids.push(rangeId));
  ids.sort((a, b) => a - b);
  const listed = ids.slice(0, rangesMax);
  const ranges = listed.map((rangeId) => rangeStatus(store, rangeId));
  assert(ranges.length <= rangesMax, 'bounded listing');
  const { identity } = source;
  return {
    node: { ...identity, uptimeS: Math.max(0, (source.nowMs() - identity.startedAtMs) / 1000) },
    peers: source.peers(),
    summary: store.summary(newStoreSummary()),
    counters: countersOf(store),
    ranges,
    rangesTruncated: ids.length > listed.length,
    ...(source.rangeCounters === undefined ? {} : { rangeCounters: source.rangeCounters() }),
  };
}

function countersOf(store: Store): NodeStatusJson['counters'] {
  const s = store.stats;
  return { proposals: s.proposals, entriesApplied: s.entriesApplied, ticks: s.ticks,
    messagesSent: s.messagesSent, messagesReceived: s.messagesReceived,
    messagesDropped: s.messagesDropped, quiesces: s.quiesces, wakes: s.wakes };
}

function rangeStatus(store: Store, rangeId: number): RangeStatusJson {
  const basic = newReplicaStatus();
  const found = store.readStatus(rangeId, basic);
  assert(found, 'listed ranges exist');
  const leader = basic.lead === store.nodeId && basic.initialized;
  const full = leader ? store.raftStatus(rangeId) : undefined;
  return {
    rangeId,
    state: stateTypeNames[basic.raftState] ?? String(basic.raftState),
    term: basic.term,
    commit: basic.commit,
    applied: basic.applied,
    lastIndex: basic.lastIndex,
    lead: basic.lead,
    initialized: basic.initialized,
    quiesced: basic.quiesced,
    dormant: basic.dormant,
    progress: (full?.progress ?? []).map((p) => ({
      nodeId: p.nodeId, match: p.match, next: p.next,
      state: progressStateName(p.state as 0 | 1 | 2), recentActive: p.recentActive,
      isLearner: p.isLearner,
    })),
  };
}
