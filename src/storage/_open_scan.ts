/**
 * The open scan of the durable engine: turns the metadata records of the 0x02 range (in key
 * order: every record of one replica, then the next replica's) into one `ReplicaSummary` per
 * replica, without building a storage or reading a log entry. That is what lets a store
 * seat a million replicas dormant in one pass: the log is walked and checked only when a
 * replica is loaded (`loadReplica`, on its first wake).
 *
 * Checked here, as `loadReplica` would: every record's checksum and layout, the HardState's
 * commit and the applied index at most the last index. A replica failing a check is reported
 * with `error` set (counted in `replicasRefused`, logged with range and key); the others are
 * unaffected.
 */
import { assert } from '../util/index.js';
import { emptyConfState, type ConfState } from '../raft/index.js';
import type { EngineCore } from './_durable_core.js';
import { MetaKind, keyHex } from './_keys.js';
import { SummaryDecoder } from './_records.js';
import type { ReplicaSummary } from './engine.js';
import { ReplicaCorruptError } from './errors.js';

/** The configuration of a replica with no Applied record (uninitialized). */
const EMPTY_CONF_STATE: ConfState = Object.freeze(emptyConfState());

/** Accumulates one replica's records and reports it when the scan moves past it. */
export class SummaryScan {
  /** Replicas reported so far. */
  reported = 0;
  private readonly summary: ReplicaSummary = {
    rangeId: 0, term: 0, vote: 0, commit: 0, lastIndex: 0, appliedIndex: 0,
    confState: EMPTY_CONF_STATE, error: null,
  };
  /** Keys of the records read for the current replica (for error messages). */
  private raftStateKey: Uint8Array | null = null;
  private appliedKey: Uint8Array | null = null;
  private readonly decoder = new SummaryDecoder();

  constructor(
    private readonly core: EngineCore,
    private readonly onReplica: (summary: ReplicaSummary) => void,
  ) {}

  /** One metadata record (`key`, `value` fresh copies from the iterator). */
  record(rangeId: number, key: Uint8Array, value: Uint8Array): void {
    const s = this.summary;
    if (rangeId !== s.rangeId) {
      assert(rangeId > s.rangeId, 'the scan runs in range id order');
      this.finish();
      this.begin(rangeId);
    }
    if (s.error !== null) return;
    try {
      const kind = key[9];
      if (kind === MetaKind.RaftState) {
        this.decoder.raftState(rangeId, key, value, s);
        this.raftStateKey = key;
      } else if (kind === MetaKind.Applied) {
        this.decoder.applied(rangeId, key, value, s);
        this.appliedKey = key;
      }
    } catch (error) {
      if (!(error instanceof ReplicaCorruptError)) throw error;
      s.error = error;
    }
  }

  /** Reports the replica being accumulated, if any (call once more after the last row). */
  finish(): void {
    const s = this.summary;
    if (s.rangeId === 0) return;
    if (s.error === null) this.check();
    if (s.error !== null) {
      this.core.counters.replicasRefused++;
      this.core.logger.error({ rangeId: s.rangeId, key: s.error.keyHex, err: s.error },
        'replica refused at open');
    }
    this.reported++;
    this.onReplica(s);
    s.rangeId = 0;
  }

  private begin(rangeId: number): void {
    const s = this.summary;
    s.rangeId = rangeId;
    s.term = s.vote = s.commit = s.lastIndex = s.appliedIndex = 0;
    s.confState = EMPTY_CONF_STATE;
    s.error = null;
    this.raftStateKey = null;
    this.appliedKey = null;
  }

  private check(): void {
    const s = this.summary;
    if (s.commit > s.lastIndex) {
      s.error = new ReplicaCorruptError(s.rangeId, keyHex(this.raftStateKey!),
        `HardState commit ${s.commit} exceeds the last index ${s.lastIndex}`);
    } else if (s.appliedIndex > s.lastIndex) {
      s.error = new ReplicaCorruptError(s.rangeId, keyHex(this.appliedKey!),
        `applied index ${s.appliedIndex} exceeds the last index ${s.lastIndex}`);
    }
  }
}
