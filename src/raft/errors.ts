/**
 * The errors of the Raft core: etcd's sentinel errors (`ErrCompacted`, `ErrUnavailable`, ...)
 * as typed subclasses of `FlotillaError`, each with a stable `code`.
 *
 * Convention (see also the top of log.ts):
 * - Every etcd sentinel has ONE preallocated instance here (`ErrCompacted`, ...). Code that
 *   returns or throws one of these returns that instance, so checks are identity checks
 *   (`err === ErrCompacted`), exactly like Go's `err == ErrCompacted`. `instanceof CompactedError`
 *   works too and is the right check for errors a custom `Storage` may construct itself
 *   (etcd's `errors.Is`).
 * - Returning the shared instance costs no allocation, which keeps the "value or error"
 *   results of `Storage.term`, `Storage.entries`, `RaftLog.term`, ... allocation-free.
 *   The shared instances carry the stack of module load; they are values, not diagnostics.
 * - The message texts are etcd's, because the conformance corpus prints some of them
 *   (e.g. `raft proposal dropped`, `raft: cannot step as peer not found`).
 */

import { FlotillaError } from '../util/index.js';

/** Base class of the errors a `Storage` returns for entries or snapshots it cannot serve. */
export class StorageError extends FlotillaError {}

/** A requested index predates the last snapshot (etcd's `ErrCompacted`). */
export class CompactedError extends StorageError {
  constructor() {
    super('ERR_RAFT_COMPACTED', 'requested index is unavailable due to compaction');
  }
}

/** A snapshot request is older than the existing snapshot (etcd's `ErrSnapOutOfDate`). */
export class SnapOutOfDateError extends StorageError {
  constructor() {
    super('ERR_RAFT_SNAP_OUT_OF_DATE', 'requested index is older than the existing snapshot');
  }
}

/** The requested log entries are not available (etcd's `ErrUnavailable`). */
export class UnavailableError extends StorageError {
  constructor() {
    super('ERR_RAFT_UNAVAILABLE', 'requested entry at index is unavailable');
  }
}

/**
 * The snapshot is being prepared and cannot be returned yet
 * (etcd's `ErrSnapshotTemporarilyUnavailable`); Raft retries later.
 */
export class SnapshotTemporarilyUnavailableError extends StorageError {
  constructor() {
    super('ERR_RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'snapshot is temporarily unavailable');
  }
}

/** A proposal was dropped (no leader, leader transfer, uncommitted size limit...). */
export class ProposalDroppedError extends FlotillaError {
  constructor() {
    super('ERR_PROPOSAL_DROPPED', 'raft proposal dropped');
  }
}

/** `RawNode.step` was handed a message that only the node itself may generate. */
export class StepLocalMsgError extends FlotillaError {
  constructor() {
    super('ERR_RAFT_STEP_LOCAL_MSG', 'raft: cannot step raft local message');
  }
}

/** `RawNode.step` was handed a response from a peer that is not in the configuration. */
export class StepPeerNotFoundError extends FlotillaError {
  constructor() {
    super('ERR_RAFT_STEP_PEER_NOT_FOUND', 'raft: cannot step as peer not found');
  }
}

/** etcd's `ErrCompacted`: the one shared instance (compare with `===`). */
export const ErrCompacted: CompactedError = new CompactedError();
/** etcd's `ErrSnapOutOfDate`: the one shared instance. */
export const ErrSnapOutOfDate: SnapOutOfDateError = new SnapOutOfDateError();
/** etcd's `ErrUnavailable`: the one shared instance. */
export const ErrUnavailable: UnavailableError = new UnavailableError();
/** etcd's `ErrSnapshotTemporarilyUnavailable`: the one shared instance. */
export const ErrSnapshotTemporarilyUnavailable: SnapshotTemporarilyUnavailableError =
  new SnapshotTemporarilyUnavailableError();
/** etcd's `ErrProposalDropped`: the one shared instance. */
export const ErrProposalDropped: ProposalDroppedError = new ProposalDroppedError();
/** etcd's `ErrStepLocalMsg`: the one shared instance. */
export const ErrStepLocalMsg: StepLocalMsgError = new StepLocalMsgError();
/** etcd's `ErrStepPeerNotFound`: the one shared instance. */
export const ErrStepPeerNotFound: StepPeerNotFoundError = new StepPeerNotFoundError();

/** True for a `StorageError` result (the error half of a "value or error" return). */
export function isStorageError(v: unknown): v is StorageError {
  return v instanceof StorageError;
}
