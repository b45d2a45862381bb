/**
 * The range layer: Flotilla's sharded, linearizable KV. Key ranges, each replicated by its
 * own Raft group on the store, that split as they grow, merge when they shrink and move
 * between nodes, with every decision read from `RaftStatus`.
 *
 * CONTRACT
 *
 * 1. Key space (keys.ts). Keys are bytes in lexicographic order; user keys are
 *    `[USER_KEY_MIN, KEY_MAX)`. Below them: range-local keys (one replica's own state) and
 *    meta keys (descriptors, keyed by end key so that routing is one seek).
 * 2. Descriptors (descriptor.ts, descriptor_ops.ts). A range is `[startKey, endKey)` at a
 *    generation with its replicas; every split, merge or membership change makes a new
 *    descriptor with a higher generation. The user ranges tile the user key space exactly:
 *    no gap, no overlap (`tilingProblem`). The binary codec validates what it decodes.
 * 3. Routing (meta.ts, routing_cache.ts). The meta range holds every descriptor; a node's
 *    routing cache may be stale and is corrected by `NotLeaderError` (the leader) and
 *    `RangeKeyMismatchError` (the current descriptor); the newest generation wins.
 * 4. KV state machine (kv_command.ts, kv_apply.ts, range_state.ts). get, put, delete,
 *    conditional put, scan with a limit, delete-range, and batches of them, encoded with
 *    msgpackr with a command id. A batch applies atomically within one range (all or
 *    nothing), deterministically, over the `KvReader`/`KvWriter` seam (kv_store.ts) that the
 *    storage engine's user data implements (`EngineKv`: each apply's writes are staged in the
 *    store's apply batch, atomic with the applied index and ConfState). Commands apply once: the dedupe table
 *    (dedupe.ts) is replicated state, bounded, persisted with the writes and carried in
 *    snapshots.
 * 5. Proposals (proposals.ts). Each proposal's promise settles exactly once: with its outcome
 *    when it applies locally, or with `ProposalTimeoutError` / `RangeUnavailableError` /
 *    `NotLeaderError`. The tracker is bounded (`ProposalsFullError`).
 * 6. Decisions (split_delay.ts, split_decider.ts, merge_decision.ts,
 *    rebalance_decision.ts): pure functions of `RaftStatus`, descriptors and statistics, each
 *    refusal a stable string, tested on hand-built values.
 * 7. Errors (errors.ts). Every failure a caller may handle is a `FlotillaError` with a stable
 *    code; bad input is refused before anything changes; broken invariants are assertions.
 * 8. On the store (range_node.ts, read_index.ts, split_apply.ts, client.ts). A `RangeNode`
 *    is its store's state machine. Writes are proposed with ids; reads wait for a batched
 *    ReadIndex and the local applied index, then read local data (linearizable, on any
 *    replica). A split applies atomically: the left descriptor shrinks, the right range's
 *    state is born and its replica created on every store holding the left (initialized in
 *    place if a peer's message created it first), the left's leader campaigns for it; the
 *    split-delay helper runs before the proposal. A merge freezes the right range (subsume),
 *    waits until every right replica applied the freeze, then the left subsumes it in one
 *    batch (descriptor, statistics, dedupe records; the right's local rows deleted). The
 *    wait goes through the `MergeWaiter` seam (merge_wait.ts): in process, or a node's RPC.
 *    `RangeClient` routes and retries with the same command id.
 * 9. Replica GC (replica_gc.ts, _membership.ts). A replica that applied its own removal, or
 *    whose range merged away here, is destroyed (Raft state, range-local rows, its span's
 *    data) and leaves a tombstone. One that never applied its removal (cut off meanwhile)
 *    is found stale by a periodic scan of the local meta replica's rows (`staleScanTicks`).
 */
export {
  compareKeys,
  endKeyOfMetaKey,
  isUserKey,
  KEY_MAX,
  keyNext,
  keysEqual,
  localKey,
  localPrefix,
  META_KEY_MAX,
  META_KEY_MIN,
  metaKey,
  prefixEnd,
  printableKey,
  spanContainsKey,
  spanContainsSpan,
  USER_KEY_MIN,
} from './keys.js';
export {
  decodeDescriptor,
  descriptorContainsKey,
  descriptorProblem,
  descriptorsEqual,
  encodeDescriptor,
  isJoint,
  isVoterIncoming,
  isVoterOutgoing,
  replicaOnNode,
  REPLICAS_MAX,
  ReplicaType,
  voters,
  type RangeDescriptor,
  type ReplicaDescriptor,
} from './descriptor.js';
export {
  mergeDescriptors,
  mergeProblem,
  splitDescriptor,
  splitKeyProblem,
} from './descriptor_ops.js';
export {
  lookupRange,
  putMetaRow,
  putMetaRowsForMerge,
  putMetaRowsForSplit,
  scanMeta,
  tilingProblem,
} from './meta.js';
export { RoutingCache, type RoutingEntry } from './routing_cache.js';
export * from './errors.js';
export {
  EngineKv,
  entriesAscending,
  MemoryKv,
  type KvEntry,
  type KvStore,
  type KvReader,
  type KvWriter,
} from './kv_store.js';
export {
  COMMAND_ID_BYTES_MAX,
  CommandKind,
  decodeCommand,
  defaultKvLimits,
  encodeCommand,
  KEY_BYTES_LIMIT,
  OpType,
  resolveKvLimits,
  validateKvOps,
  type KvCommand,
  type KvLimits,
  type KvOp,
  type RangeCommand,
  type SplitCommand,
} from './kv_command.js';
export {
  applyKvOps,
  DELETE_RANGE_KEYS_MAX,
  type KvOutcome,
  type OpResult,
  type RangeStats,
} from './kv_apply.js';
export {
  DEDUPE_ENTRIES_DEFAULT,
  DEDUPE_TAG,
  DedupeTable,
  type DedupeRecord,
} from './dedupe.js';
export { RangeState, STATS_TAG, type ApplyOutcome } from './range_state.js';
export {
  ProposalTracker,
  type ProposalTrackerOptions,
} from './proposals.js';
export {
  assessSplitDelay,
  delaySplit,
  type SplitDelayAssessment,
  type SplitDelayHost,
  type SplitDelayOptions,
  type SplitDelayReport,
} from './split_delay.js';
export {
  defaultSizeSplitOptions,
  findSizeSplitKey,
  LoadSplitDecider,
  sizeSplitReason,
  type LoadSplitOptions,
  type SampleView,
  type SizeSplitOptions,
} from './split_decider.js';
export {
  MergeRefusal,
  shouldMerge,
  type MergeOptions,
  type MergeSide,
} from './merge_decision.js';
export {
  checkRemovalKeepsQuorum,
  chooseAddTarget,
  chooseRebalance,
  chooseRemoveTarget,
  filterBehindReplicas,
  filterUnremovableReplicas,
  quorum,
  replicaIsBehind,
  replicaMayNeedSnapshot,
  SnapshotNeed,
  type StoreLoad,
} from './rebalance_decision.js';
export {
  CommandIdSource,
  COMMAND_ID_BYTES,
  CounterRangeIdAllocator,
  type RangeIdAllocator,
} from './command_ids.js';
export { applySplit, type SplitOutcome } from './split_apply.js';
export { ReadIndexBatcher, type ReadIndexHost } from './read_index.js';
export {
  META_RANGE_ID,
  RangeNode,
  type ProposalResult,
  type RangeNodeOptions,
  type RangeNodeStats,
} from './range_node.js';
export { RangeClient, type RangeClientOptions, type RangeClientStats } from './client.js';
export { applyMerge, applySubsume, type MergeOutcome } from './merge_apply.js';
export {
  inProcessMergeWaiter,
  MergeWaitErrorCode,
  MergeWaitPeerError,
  MergeWaitTimeoutError,
  type LocalAppliedSource,
  type MergeWaiter,
} from './merge_wait.js';
export type { MergeCommand, SubsumeCommand } from './kv_command.js';
