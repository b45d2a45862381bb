/**
 * Options of log truncation and range snapshots (`StoreOptions.snapshots`): each with its unit
 * and default, validated once (a bad value throws `ConfigError`).
 */
import { integerIn, rejectUnknownKeys } from '../util/index.js';

/** Options of log truncation and snapshot streaming. */
export interface SnapshotOptions {
  /**
   * Entries a replica's log may hold (first index to last) before it is truncated to the
   * applied index even if a follower still needs them (that follower gets a snapshot).
   * @default 10000 (entries)
   */
  raftLogEntriesMax?: number;
  /**
   * Estimated bytes (`ReplicaStorage.logBytes`) a replica's log may hold before it is
   * truncated to the applied index, like `raftLogEntriesMax`.
   * @default 16777216 (bytes: 16 MiB, CockroachDB's raft log truncation threshold)
   */
  raftLogBytesMax?: number;
  /**
   * Entries a truncation must remove at least; smaller ones wait (one truncation then
   * deletes a run, and its RaftState write is amortized).
   * @default 64 (entries)
   */
  raftLogTruncateMinEntries?: number;
  /**
   * Payload bytes per snapshot chunk. Must fit the transport's frames (`frameBytesMax`, 16 MiB
   * by default, less the chunk's header): a bigger chunk is dropped by the transport.
   * @default 1048576 (bytes: 1 MiB)
   */
  chunkBytes?: number;
  /** Snapshot streams this store sends at once; more are refused (Raft retries). @default 4 */
  sendsMax?: number;
  /** Snapshot streams this store receives at once; chunks of more are dropped. @default 8 */
  receivesMax?: number;
  /**
   * Bytes all snapshot streams being received may buffer together (each stream is also bound
   * by the transport's `inboundSnapshotBytesMax`); a chunk over it fails its stream.
   * @default 268435456 (bytes: 256 MiB)
   */
  receiveBytesMax?: number;
  /**
   * Milliseconds a sent snapshot may go without its receiver's answer before the sender
   * reports it failed (a lost chunk or answer); Raft then retries.
   * @default 30000 (milliseconds)
   */
  sendTimeoutMs?: number;
  /**
   * Chunks of at least this many bytes are encoded (sender) and checksummed (both sides) on a
   * piscina worker thread instead of the event loop; smaller ones inline, where the trip to a
   * worker would cost more than the CRC. 0 sends every chunk to a worker.
   * @default 262144 (bytes: 256 KiB)
   */
  workerBytesMin?: number;
  /** Worker threads of the snapshot pool (created on first use). @default 1 (threads) */
  workerThreads?: number;
}

/** `SnapshotOptions` with every default applied. */
export type SnapshotConfig = Required<SnapshotOptions>;

const KEYS = [
  'raftLogEntriesMax', 'raftLogBytesMax', 'raftLogTruncateMinEntries', 'chunkBytes',
  'sendsMax', 'receivesMax', 'receiveBytesMax', 'sendTimeoutMs', 'workerBytesMin',
  'workerThreads',
] as const;

/** Applies defaults and validates; throws `ConfigError`. */
export function resolveSnapshotOptions(o: SnapshotOptions): SnapshotConfig {
  rejectUnknownKeys('snapshots', o, KEYS);
  const n = (name: (typeof KEYS)[number], fallback: number, min: number, max: number): number =>
    integerIn(`snapshots.${name}`, o[name] ?? fallback, min, max);
  return {
    raftLogEntriesMax: n('raftLogEntriesMax', 10_000, 1, 2 ** 40),
    raftLogBytesMax: n('raftLogBytesMax', 16 * 2 ** 20, 1, 2 ** 50),
    raftLogTruncateMinEntries: n('raftLogTruncateMinEntries', 64, 1, 2 ** 40),
    chunkBytes: n('chunkBytes', 2 ** 20, 64, 2 ** 30),
    sendsMax: n('sendsMax', 4, 1, 1024),
    receivesMax: n('receivesMax', 8, 1, 1024),
    receiveBytesMax: n('receiveBytesMax', 256 * 2 ** 20, 1, 2 ** 50),
    sendTimeoutMs: n('sendTimeoutMs', 30_000, 1, 3_600_000),
    workerBytesMin: n('workerBytesMin', 256 * 1024, 0, 2 ** 40),
    workerThreads: n('workerThreads', 1, 1, 64),
  };
}
