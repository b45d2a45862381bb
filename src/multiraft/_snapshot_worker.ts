/**
 * Private: the piscina worker of snapshot streaming (_snapshot_work.ts). One job: the running
 * CRC-32 of a big chunk, off the event loop.
 */
import { crc32 } from 'node:zlib';

/** A chunk and the running checksum of everything before it. */
export interface ChecksumJob {
  data: Uint8Array;
  prev: number;
}

/** The running CRC-32 through `data`. */
export default function checksum(job: ChecksumJob): number {
  const n: number = crc32(job.data, job.prev);
  return n;
}
