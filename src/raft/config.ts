/**
 * The parameters of one Raft group (etcd's `raft.Config`), and their validation.
 *
 * Every limit is a number of bytes or messages; every timeout is a number of ticks (the caller's
 * logical clock, see `RawNode.tick`). Zero means "etcd's default meaning" where etcd gives one
 * (noted on each option), so a configuration written against etcd carries over unchanged.
 */

import { ConfigError } from '../util/index.js';
import { silentLogger, type RaftLogger } from './logger.js';
import type { ConfChange, ConfChangeV2 } from './raftpb.js';
import type { RandomSource } from './rand.js';
import type { Storage } from './storage.js';

/** How a leader answers read-only queries (ReadIndex). */
export const ReadOnlyOption = {
  /** Confirms leadership with a quorum round (heartbeats) for every read. Linearizable. */
  ReadOnlySafe: 0,
  /**
   * Relies on the leader lease (CheckQuorum): no round trip, but unbounded clock drift can break
   * linearizability. Requires `checkQuorum`.
   */
  ReadOnlyLeaseBased: 1,
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

/** A limit that is never reached (etcd's `noLimit`, `math.MaxUint64`). */
export const NO_LIMIT = Number.POSITIVE_INFINITY;

/**
 * The largest node (replica) id: ids are integers in [1, NODE_ID_MAX]. The two ids above it,
 * just below 2^31, are the local storage threads'. etcd reserves the top of uint64 for them;
 * here every id, theirs too, stays a small integer, which V8 keeps unboxed in a message's
 * `from`/`to` (MAX_SAFE_INTEGER made them heap numbers under asyncStorageWrites).
 */
export const NODE_ID_MAX = 2 ** 31 - 3;
/** The id of the local append thread (etcd's LocalAppendThread): target of MsgStorageAppend. */
export const LOCAL_APPEND_THREAD = NODE_ID_MAX + 2;
/** The id of the local apply thread (etcd's LocalApplyThread): target of MsgStorageApply. */
export const LOCAL_APPLY_THREAD = NODE_ID_MAX + 1;

/**
 * A node id outside [1, NODE_ID_MAX]: the configuration's own id, or one a conf change names.
 * A ConfigError (code `ERR_CONFIG`); `field` and `value` say which id.
 */
export class NodeIdError extends ConfigError {
  constructor(
    readonly field: string,
    readonly value: number,
  ) {
    super(`${field} must be a node id in [1, ${NODE_ID_MAX}], got ${value}`);
  }
}

/** Whether `id` may name a node: an integer in [1, NODE_ID_MAX]. */
export function isNodeId(id: number): boolean {
  return Number.isInteger(id) && id >= 1 && id <= NODE_ID_MAX;
}

/**
 * Throws NodeIdError if a change of `cc` names an id outside [1, NODE_ID_MAX]; id 0 passes
 * (etcd ignores changes of node 0).
 */
export function checkConfChangeNodeIds(cc: ConfChange | ConfChangeV2): void {
  if ('changes' in cc) {
    for (const c of cc.changes) {
      if (c.nodeId !== 0 && !isNodeId(c.nodeId)) throw new NodeIdError('nodeId', c.nodeId);
    }
  } else if (cc.nodeId !== 0 && !isNodeId(cc.nodeId)) {
    throw new NodeIdError('nodeId', cc.nodeId);
  }
}

/** The options of a Raft group. Only `id`, `storage` and `random` have no default. */
export interface ConfigOptions {
  /** This node's id within the group: an integer in [1, NODE_ID_MAX]. */
  id: number;
  /**
   * Ticks without hearing from a leader before a follower campaigns (randomized in
   * [electionTick, 2*electionTick-1]). Must exceed `heartbeatTick`; 10x is a good ratio.
   * @default 10
   */
  electionTick?: number;
  /** Ticks between the leader's heartbeats. Must be positive. @default 1 */
  heartbeatTick?: number;
  /** Where the group's log, HardState and snapshot are read from. */
  storage: Storage;
  /**
   * The last applied index, set only when restarting: entries at or below it are not handed
   * out again as committed entries. @default 0
   */
  applied?: number;
  /**
   * Hand storage work out as MsgStorageAppend/MsgStorageApply messages (to the local append
   * and apply threads) instead of through Ready/advance. `advance()` must not be called then.
   * @default false
   */
  asyncStorageWrites?: boolean;
  /**
   * Bytes per append message. 0 means at most one entry per message.
   * @default 1048576 (1 MiB)
   */
  maxSizePerMsg?: number;
  /**
   * Bytes of committed entries handed out for application and not yet acknowledged, across
   * Ready structs. 0 means `maxSizePerMsg`. @default 0
   */
  maxCommittedSizePerReady?: number;
  /**
   * Bytes of uncommitted entry payloads a leader accepts before dropping proposals.
   * 0 means no limit. @default 0
   */
  maxUncommittedEntriesSize?: number;
  /** Append messages in flight to one follower in replicate state. Positive. @default 256 */
  maxInflightMsgs?: number;
  /**
   * Bytes of append messages in flight to one follower. 0 means no limit; otherwise at least
   * `maxSizePerMsg`. @default 0
   */
  maxInflightBytes?: number;
  /**
   * The leader steps down when a quorum was not active within an election timeout; followers
   * then also refuse votes while they hear from a leader (the leader lease). @default false
   */
  checkQuorum?: boolean;
  /** Run a pre-vote round before a real election (Raft thesis 9.6). @default false */
  preVote?: boolean;
  /** How read-only queries are served. @default ReadOnlyOption.ReadOnlySafe */
  readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. @default false */
  disableProposalForwarding?: boolean;
  /**
   * Skip the propose-time checks of conf changes against the active configuration. Only safe
   * when a layer above serializes and verifies conf changes. @default false
   */
  disableConfChangeValidation?: boolean;
  /** A leader removed from (or demoted in) the configuration steps down. @default false */
  stepDownOnRemoval?: boolean;
  /** Where the group logs. @default silentLogger */
  logger?: RaftLogger;
  /** The random source for election timeouts, shared by all groups of a process. */
  random: RandomSource;
}

/** A validated configuration: every option resolved to its effective value. */
export class Config {
  id: number;
  electionTick: number;
  heartbeatTick: number;
  storage: Storage;
  applied: number;
  asyncStorageWrites: boolean;
  maxSizePerMsg: number;
  maxCommittedSizePerReady: number;
  maxUncommittedEntriesSize: number;
  maxInflightMsgs: number;
  maxInflightBytes: number;
  checkQuorum: boolean;
  preVote: boolean;
  readOnlyOption: ReadOnlyOption;
  disableProposalForwarding: boolean;
  disableConfChangeValidation: boolean;
  stepDownOnRemoval: boolean;
  logger: RaftLogger;
  random: RandomSource;

  constructor(options: ConfigOptions) {
    this.id = options.id;
    this.electionTick = options.electionTick ?? 10;
    this.heartbeatTick = options.heartbeatTick ?? 1;
    this.storage = options.storage;
    this.applied = options.applied ?? 0;
    this.asyncStorageWrites = options.asyncStorageWrites ?? false;
    this.maxSizePerMsg = options.maxSizePerMsg ?? 1024 * 1024;
    this.maxCommittedSizePerReady = options.maxCommittedSizePerReady ?? 0;
    this.maxUncommittedEntriesSize = options.maxUncommittedEntriesSize ?? 0;
    this.maxInflightMsgs = options.maxInflightMsgs ?? 256;
    this.maxInflightBytes = options.maxInflightBytes ?? 0;
    this.checkQuorum = options.checkQuorum ?? false;
    this.preVote = options.preVote ?? false;
    this.readOnlyOption = options.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe;
    this.disableProposalForwarding = options.disableProposalForwarding ?? false;
    this.disableConfChangeValidation = options.disableConfChangeValidation ?? false;
    this.stepDownOnRemoval = options.stepDownOnRemoval ?? false;
    this.logger = options.logger ?? silentLogger;
    this.random = options.random;
  }

  /**
   * Checks the configuration as etcd's `Config.validate` does (same checks, same order, same
   * texts) and resolves the zero values that mean a default. Throws `ConfigError`.
   */
  validate(): void {
    if (this.id === 0) throw new ConfigError('cannot use none as id');
    if (this.id === LOCAL_APPEND_THREAD || this.id === LOCAL_APPLY_THREAD) {
      throw new ConfigError('cannot use local target as id');
    }
    if (!isNodeId(this.id)) throw new NodeIdError('id', this.id);
    if (!(this.heartbeatTick > 0)) {
      throw new ConfigError('heartbeat tick must be greater than 0');
    }
    if (!(this.electionTick > this.heartbeatTick)) {
      throw new ConfigError('election tick must be greater than heartbeat tick');
    }
    if (this.storage === undefined || this.storage === null) {
      throw new ConfigError('storage cannot be nil');
    }
    if (this.maxUncommittedEntriesSize === 0) this.maxUncommittedEntriesSize = NO_LIMIT;
    // The two limits used to be one parameter; zero keeps the old meaning.
    if (this.maxCommittedSizePerReady === 0) this.maxCommittedSizePerReady = this.maxSizePerMsg;
    if (!(this.maxInflightMsgs > 0)) {
      throw new ConfigError('max inflight messages must be greater than 0');
    }
    if (this.maxInflightBytes === 0) {
      this.maxInflightBytes = NO_LIMIT;
    } else if (this.maxInflightBytes < this.maxSizePerMsg) {
      throw new ConfigError('max inflight bytes must be >= max message size');
    }
    if (
      this.readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased &&
      !this.checkQuorum
    ) {
      throw new ConfigError(
        'CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased',
      );
    }
    if (this.random === undefined || this.random === null) {
      throw new ConfigError('random source cannot be nil');
    }
    for (const [name, value] of [
      ['electionTick', this.electionTick],
      ['heartbeatTick', this.heartbeatTick],
      ['applied', this.applied],
      ['maxInflightMsgs', this.maxInflightMsgs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new ConfigError(`${name} must be a non-negative integer, got ${value}`);
      }
    }
  }
}
