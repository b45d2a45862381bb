/**
 * `SnapshotStats`: the counters of log truncation and range snapshots (`StoreStats.snapshots`).
 */

/** Why a received snapshot chunk was dropped. */
export const ChunkRefusal = {
  /** No stream of that sender, range and snapshot id is being received (or it just ended). */
  UnknownStream: 'unknown-stream',
  /** Its offset is past what was received: a chunk before it was lost or reordered. */
  OutOfOrder: 'out-of-order',
  /** Its offset is before what was received: a chunk already taken. */
  Duplicate: 'duplicate',
  /** Over the chunk limit, or the stream over its total limit. */
  Oversized: 'oversized',
  /** Its checksum does not match its bytes, or the reassembled snapshot does not verify. */
  Corrupt: 'corrupt',
  /** Too many snapshots are being received at once. */
  Busy: 'busy',
} as const;
export type ChunkRefusal = (typeof ChunkRefusal)[keyof typeof ChunkRefusal];

/** Counters of truncation and snapshots; they only grow. */
export interface SnapshotStats {
  /** Truncations staged (each deletes a run of entries) and the entries they deleted. */
  logTruncations: number;
  logEntriesTruncated: number;
  /** Snapshot streams started by this store's leaders, and those that ended in a failure. */
  snapshotsSent: number;
  snapshotsSendFailed: number;
  /** Chunks and payload bytes sent. */
  chunksSent: number;
  bytesSent: number;
  /** Snapshots received whole and verified, and those then applied. */
  snapshotsReceived: number;
  snapshotsApplied: number;
  /** Received chunks dropped, by reason. */
  chunksRefused: Record<ChunkRefusal, number>;
  /** Chunks whose checksum (and encoding) ran on a worker thread. */
  chunksOnWorkers: number;
}

/** Zeroed counters. */
export function newSnapshotStats(): SnapshotStats {
  const chunksRefused = {} as Record<ChunkRefusal, number>;
  for (const reason of Object.values(ChunkRefusal)) chunksRefused[reason] = 0;
  return {
    logTruncations: 0, logEntriesTruncated: 0, snapshotsSent: 0, snapshotsSendFailed: 0,
    chunksSent: 0, bytesSent: 0, snapshotsReceived: 0, snapshotsApplied: 0, chunksRefused,
    chunksOnWorkers: 0,
  };
}
