/**
 * Private: Raft log truncation, decided by each replica for its own log after it applied.
 *
 * LOCAL, NOT REPLICATED. CockroachDB replicates a truncation (the leader proposes a
 * TruncateLog command that every replica applies at the same index); etcd lets each node
 * compact its own log. Flotilla truncates locally because:
 * - A truncated entry is one every replica that needs it can replace with a snapshot built
 *   from its own engine (the applied state, range-local keys and user span), so replicas need
 *   not agree on their first index: a follower's short log costs at most a snapshot if it is
 *   elected and a peer lags.
 * - A replicated truncation is a log entry, a round trip and an apply on every replica of
 *   every range; with a million mostly idle ranges that is write amplification for nothing
 *   the local rule does not give.
 * - The leader, the one that sends entries, has the information that matters (every
 *   follower's match, from its progress), so its rule spares snapshots; a follower only
 *   bounds its log.
 *
 * THE RULE, after a replica applied (its applied index `a`, first index `f`):
 * - Leader: truncate to `min(a, match of every peer)` (everything every replica holds).
 * - Any replica whose log past the first index holds more than `raftLogEntriesMax` entries or
 *   `raftLogBytesMax` bytes (estimated, `ReplicaStorage.logBytes`): truncate to `a`, even if a
 *   follower still needs those entries (it gets a snapshot).
 * - Only if that removes at least `raftLogTruncateMinEntries` entries: one truncation deletes
 *   many entries, and the RaftState record it rewrites is amortized.
 * Never past the applied index (the storage refuses it): entries not yet applied here are
 * still needed to apply. The deletions are staged into the batch of the applied point that
 * allows them (the apply batch), so a crash keeps both or neither.
 */
import { assert } from '../util/index.js';
import { StateType, type RawNode } from '../raft/index.js';
import type { EngineBatch, ReplicaStorage } from '../storage/index.js';
import type { StoreContext } from './_context.js';

/** The truncation index the rule allows, or 0 for none (see the file header). */
export function truncationIndex(st: StoreContext, node: RawNode, storage: ReplicaStorage):
  number {
  const c = st.config.snapshots;
  const first = storage.firstIndex();
  const applied = storage.appliedState().index;
  if (applied - first + 1 < c.raftLogTruncateMinEntries) return 0;
  const entries = storage.lastIndex() - first + 1;
  if (entries > c.raftLogEntriesMax || storage.logBytes() > c.raftLogBytesMax) return applied;
  const facts = st.scratch.facts;
  node.readFacts(facts);
  if (facts.raftState !== StateType.StateLeader) return 0;
  const peers = st.scratch.peers;
  node.readPeers(peers);
  let index = applied;
  for (let i = 0; i < peers.count; i++) {
    if (peers.ids[i] !== st.nodeId) index = Math.min(index, peers.match[i]!);
  }
  return index - first + 1 >= c.raftLogTruncateMinEntries ? index : 0;
}

/** Stages the truncation the rule allows into `batch` (the apply batch), if any. */
export function maybeTruncate(st: StoreContext, node: RawNode, storage: ReplicaStorage,
  batch: EngineBatch): void {
  const index = truncationIndex(st, node, storage);
  if (index === 0) return;
  const first = storage.firstIndex();
  assert(index >= first && index <= storage.appliedState().index,
    'truncate applied entries past the first index only');
  const error = storage.compact(index, batch);
  assert(error === null, 'a truncation past the first index is never ErrCompacted');
  st.stats.snapshots.logTruncations++;
  st.stats.snapshots.logEntriesTruncated += index - first + 1;
}
