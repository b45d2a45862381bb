/**
 * The Raft consensus core: a pure, deterministic state machine with the semantics of etcd's raft
 * library (v3.7.0), driven through `RawNode`.
 *
 * Contract (etcd's doc.go, restated for Flotilla):
 *
 * 1. Time enters only as `tick()` calls (and `tickQuiesced()` for the ticks a quiesced group
 *    slept through); randomness only through the injected `RandomSource` that all groups of a
 *    process share; I/O never: the core imports no `node:*` module, starts no timer and holds
 *    no Promise (scripts/check-imports.ts enforces this).
 * 2. Every call runs to completion synchronously. Inputs are `step(message)`, `propose(data)`,
 *    `proposeConfChange(cc)`, `campaign()`, `transferLeader(id)`, `readIndex(ctx)`,
 *    `forgetLeader()`, `reportUnreachable(id)` and `reportSnapshot(id, status)`.
 * 3. When `hasReady()` is true the caller takes `ready()` and, in this order:
 *    a. persists `snapshot`, `entries` and `hardState` (synchronously when `mustSync`);
 *    b. sends `messages` (only after (a): a message may promise durability);
 *    c. applies `committedEntries`, calling `applyConfChange` for conf-change entries;
 *    d. calls `advance()`.
 *    Any input of (2), ticks and `applyConfChange` may come between `ready()` and
 *    `advance()` (RawNode's contract lists what may and may not).
 *    With `asyncStorageWrites` the persistence and application steps arrive instead as
 *    MsgStorageAppend/MsgStorageApply messages whose responses are stepped back in.
 * 4. Payloads are `Uint8Array`s that the core never copies or re-encodes; the caller must not
 *    mutate a payload after proposing it.
 * 5. Indexes and terms are JavaScript numbers (exact below 2^53). Node ids are integers in
 *    [1, NODE_ID_MAX] (2^31 - 3): the two ids above are the local storage threads', so every
 *    id in a message is a small integer. `Config` refuses others (`NodeIdError`), and so
 *    does `proposeConfChange`.
 *
 * Programmer errors throw `AssertionError`; an inconsistent Raft state throws `RaftPanicError`
 * (etcd's panic). Conditions a caller can handle are typed errors (`ProposalDroppedError`, ...).
 */

export * from './raftpb.js';
export { LogLevel, RaftPanicError, silentLogger, type RaftLogger } from './logger.js';
export { SeededRandom, type RandomSource } from './rand.js';
export {
  CompactedError,
  ErrCompacted,
  ErrProposalDropped,
  ErrSnapOutOfDate,
  ErrSnapshotTemporarilyUnavailable,
  ErrStepLocalMsg,
  ErrStepPeerNotFound,
  ErrUnavailable,
  ProposalDroppedError,
  SnapOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  StepLocalMsgError,
  StepPeerNotFoundError,
  StorageError,
  UnavailableError,
  isStorageError,
} from './errors.js';
export { MemoryStorage, type InitialState, type Storage } from './storage.js';
export {
  Config,
  LOCAL_APPEND_THREAD,
  LOCAL_APPLY_THREAD,
  NODE_ID_MAX,
  NO_LIMIT,
  NodeIdError,
  isNodeId,
  ReadOnlyOption,
  type ConfigOptions,
} from './config.js';
export { StateType, stateTypeNames } from './raft_state.js';
export {
  HeartbeatStep,
  ProgressType,
  RawNode,
  ReadyKind,
  SnapshotStatus,
  mustSync,
  type QuiescedRole,
  type Ready,
} from './rawnode.js';
export type { Peer } from './bootstrap.js';
export {
  newNodeFacts,
  newPeerFacts,
  type NodeFacts,
  type PeerFacts,
} from './node_facts.js';
export { ConfChangeError } from './confchange/index.js';
export type { ReadState } from './read_only.js';
export {
  raftStateName,
  type BasicStatus,
  type SoftState,
  type Status,
} from './status.js';
export {
  asV2,
  confChangesFromString,
  confChangesToString,
  decodeConfChange,
  decodeConfChangeV2,
  encodeConfChange,
  encodeConfChangeV2,
  marshalConfChange,
  unmarshalConfChange,
} from './confchange_codec.js';
export { entrySize, entsSize, isLocalMsg, isResponseMsg, payloadSize } from './util.js';
export {
  describeConfState,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeSoftState,
  type EntryFormatter,
} from './describe.js';
export {
  Inflights,
  Progress,
  ProgressTracker,
  ProgressState,
  TrackerConfig,
  stateTypeName as progressStateName,
} from './tracker/index.js';
