/**
 * The multiraft layer: a `Store` hosts the replicas of many Raft groups (one per range) on
 * one node, and keeps idle groups nearly free.
 *
 * CONTRACT
 *
 * 1. Replicas. A store holds at most one replica per range; its Raft id is the store's node
 *    id. `createRange` creates an initialized replica (a bootstrap or a split); a message of
 *    an unknown range creates an uninitialized one (no configuration, not ticked) that is
 *    initialized by the snapshot its leader sends. Per replica the store keeps a few
 *    typed-array slots (struct of arrays), its storage and, while awake, its `RawNode`: no
 *    per-replica timer, closure, emitter, logger or Map. One seeded random source serves
 *    every group of a process.
 * 2. Turns. The store is the scheduler's `GroupProcessor`. One turn of a group steps its
 *    inbox, then its owed ticks, then takes its `Ready`. A tick that would only advance a
 *    node's clocks (`RawNode.ticksWithoutAction`) is deferred: counted in the table without
 *    touching the node, and paid with `tickIdle` before anything else touches it. At the
 *    end of each batch, for all the batch's groups together: every Ready's snapshot,
 *    entries and HardState are staged into ONE engine batch of the store's
 *    `StorageEngine` (`storageEngine` option, default a `MemoryEngine`) and committed;
 *    once the commit is durable all messages go to the transport in one `send` and one
 *    `flush`; then committed entries are applied and every node advanced (etcd's Ready
 *    contract, batched). A batch that staged nothing commits nothing. The liveness pings
 *    of the store's own clock (5.) are the only other send, between batches. Replicas get
 *    their storage from the engine; the store never constructs one nor reaches into it.
 * 3. Quiescence (quiesce.ts has the rules). A leader quiesces an idle, fully replicated
 *    group at a tick by sending each follower a heartbeat flagged `quiesce`; a follower
 *    quiesces only if term, commit and leader match. A quiesced group leaves the tick set:
 *    it costs nothing per tick. Any proposal, message or campaign wakes it; a follower that
 *    wakes on its own wakes its leader with an empty proposal. On wake-up its election
 *    clock advances by the ticks it slept (`tickQuiesced`), capped below the election
 *    timeout while its leader is live.
 * 4. Release. A quiesced replica releases its `RawNode` (about 2.7 KiB) and keeps term,
 *    leader and applied index in the table; the node is rebuilt from storage on wake-up,
 *    with its role restored without an election (`RawNode.restoreQuiesced`).
 * 5. Liveness. Stores ping their peer nodes once per tick interval (range id 0, one
 *    coalesced row per node pair). A node silent for `livenessTimeoutTicks` is down: the
 *    quiesced followers of its leaders wake and elect new leaders; leaders quiesce without
 *    waiting for followers on down nodes (the lagging set) and wake when they come back.
 * 6. Status. `readStatus` fills a caller-owned object without allocating or waking;
 *    `raftStatus` adds the progress of every follower on demand; `summary` folds a whole
 *    store. Counters are in `Store.stats`.
 * 7. Logs. Through the `logger` option (pino), with `storeNodeId` and `rangeId`; the Raft
 *    core's own lines (elections, leader changes) reach it through one adapter per store.
 * 8. Errors. Requests throw typed `FlotillaError`s (`RangeNotFoundError`, `NotLeaderError`,
 *    ...); invalid options throw `ConfigError`; broken invariants fail assertions.
 * 8. Trust (message_check.ts, api_check.ts). Every message from a peer is checked against
 *    its replica before Raft sees it: sender = the authenticated connection, sender in the
 *    configuration, terms at most `TERM_MAX`, indices in range, commits and acknowledgements
 *    within the log, entries contiguous, snapshots restorable. What fails is dropped, counted
 *    by reason (`stats.messagesRefused`) and logged at a rate limit. A message of an unknown
 *    range creates an uninitialized replica only within `uninitializedReplicasMax`; one that
 *    no snapshot initializes within `uninitializedReplicaTimeoutTicks` is collected (unless it
 *    voted). If Raft still panics on a peer's message, that one replica is isolated (broken:
 *    reported in status and stats, refusing requests with `ReplicaBrokenError`) and the
 *    process goes on; a panic on a local call is a bug and propagates. API arguments are
 *    checked before anything is touched (range ids, configurations, payloads: copied, at
 *    most `proposalBytesMax`); a refused call throws a typed error and changes nothing.
 * 9. Lifecycle. From the moment `close` is called every method throws `StoreClosedError`
 *    (`start` after a pending `close` too), inbound messages are refused and counted, and no
 *    timer ticks the store again. `propose` is at least once: a forwarded proposal that the
 *    network duplicates may be appended twice, so commands must be idempotent.
 * 10. Restart (`_open.ts`). `await Store.open(options, { onProgress?, progressEvery? })`
 *    opens `options.storageEngine` (pass it unopened; a `MemoryEngine` may have served an
 *    earlier, closed store) and seats every replica the engine holds from ONE scan of its
 *    metadata (`StorageEngine.open({ onReplica })`: HardState, log bounds, applied index and
 *    ConfState; no log entry read; a durable engine reads the manifest of its last clean
 *    close instead when there is one). A replica whose committed entries are all applied is
 *    seated DORMANT: a few table slots, no storage object, no `RawNode`; the first message,
 *    proposal, read, campaign, wake or `raftStatus` loads its storage (`loadReplica`, which
 *    checks its log) and builds its node. Its leader is unknown after a restart: woken by a
 *    local request it campaigns at once (CockroachDB's campaign on wake) and requests throw
 *    `NotLeaderError` until it or a peer has won; woken by a message it follows its sender
 *    if that is the leader, and otherwise elects one after an election timeout.
 *    A replica with committed entries not yet applied, or uninitialized, is seated awake
 *    and replays from its applied index. Corrupt records refuse that replica only
 *    (`ReplicaBrokenError` on requests, messages dropped). `StateMachine.replicaOpened
 *    (rangeId, appliedIndex)` is called for each seated replica before anything is
 *    applied. Progress: `onProgress` and an info line on the logger every `progressEvery`
 *    replicas (default 100,000) and at the end, with counts and elapsed ms. `new Store`
 *    seats nothing (an empty engine, or one whose replicas the caller does not want).
 * 11. Membership (_conf_change.ts, _destroy.ts). `proposeConfChange` takes a ConfChangeV2 on
 *    the leader, checked first with Raft's own rules and for quorum (every voter set it
 *    leads to keeps a majority caught up on live nodes), so that Raft never panics on it at
 *    apply; `StateMachine.confChanged` reports each applied change with the new ConfState.
 *    `destroyReplica` deletes a replica's Raft state in the engine and frees its slot for
 *    reuse; a stale message recreates only an empty uninitialized replica, which starts from
 *    the destroyed one's last term and vote (a tombstone), so it cannot vote twice.
 * 12. Log truncation (_truncation.ts). After applying, a replica truncates its own log: a
 *    leader up to what every peer holds (their match), any replica up to its applied index
 *    once its log passes `snapshots.raftLogEntriesMax` entries or `raftLogBytesMax` bytes;
 *    the deletions go into the apply batch. Local, not replicated: the file says why.
 * 13. Snapshots (_snapshot_send.ts, _snapshot_receive.ts). With a transport that carries
 *    chunks, Raft's `MsgSnap` never leaves as such: the leader streams the range from a
 *    consistent engine point (applied state, range-local keys, the data of
 *    `StateMachine.userSpan`) in chunks with a running CRC-32; the receiver drops and counts
 *    out-of-order, duplicate, oversized and corrupt chunks, verifies the whole, and applies it
 *    in the batch of the Ready that restores it (span and range-local keys cleared, data and
 *    metadata written, one batch), then answers; the leader reports Finish or Failure to Raft.
 *    A state machine without `userSpan` gets Raft's own snapshot (metadata and descriptor).
 */
export { Store } from './store.js';
export type { OpenProgress, StoreOpenOptions } from './_open.js';
export { RANGE_INITIAL_INDEX, RANGE_INITIAL_TERM, type RangeConfig } from './range_config.js';
export { newStoreStats, type StorageCommitObserver, type StoreStats } from './stats.js';
export { ChunkRefusal, newSnapshotStats, type SnapshotStats } from './snapshot_stats.js';
export {
  resolveSnapshotOptions, type SnapshotConfig, type SnapshotOptions,
} from './snapshot_options.js';
export {
  resolveStoreOptions,
  type StateMachine,
  type StoreConfig,
  type StoreOptions,
} from './options.js';
export {
  NotLeaderError,
  RangeBusyError,
  RangeExistsError,
  RangeNotFoundError,
  RangeNotInitializedError,
  StoreClosedError,
  StoreErrorCode,
  StoreFullError,
} from './errors.js';
export {
  QUIESCE_REFUSALS,
  QuiesceRefusal,
  newFollowerQuiesceView,
  newLeaderQuiesceView,
  shouldFollowerQuiesce,
  shouldLeaderQuiesce,
  type FollowerQuiesceView,
  type LeaderQuiesceView,
} from './quiesce.js';
export { LIVENESS_GROUP_ID, NodeLiveness, type LivenessChange } from './liveness.js';
export {
  CONTEXT_BYTES_MAX,
  GROUP_PEERS_MAX,
  LOG_INDEX_MAX,
  MESSAGE_REFUSALS,
  MessageRefusal,
  NODE_ID_MAX,
  TERM_MAX,
  checkConfState,
  checkMessage,
  newMessageCheckView,
  type MessageCheckView,
} from './message_check.js';
export {
  checkConfChangeV2,
  checkPayload,
  checkRangeConfig,
  checkRangeId,
} from './api_check.js';
export {
  ConfChangeQuorumError,
  ConfChangeRefusedError,
  InvalidConfChangeError,
  MembershipErrorCode,
  ReplicaBusyError,
} from './membership_errors.js';
export { leavesJoint, nextConfState } from './conf_change_check.js';
export {
  InputErrorCode,
  InvalidPayloadError,
  InvalidRangeConfigError,
  InvalidRangeIdError,
  PayloadTooLargeError,
  ReplicaBrokenError,
} from './input_errors.js';
export {
  addSummary,
  newReplicaStatus,
  newStoreSummary,
  type FollowerProgress,
  type RaftStatus,
  type ReplicaStatus,
  type StoreSummary,
} from './status.js';
export {
  CountingStateMachine,
  LocalCluster,
  type ClusterStoreOptions,
  type LocalClusterOptions,
} from './cluster.js';
