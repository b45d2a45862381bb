/**
 * Private: range snapshots of a store, when its transport streams chunks
 * (`Transport.sendSnapshotChunk`): the sender (_snapshot_send.ts), the receiver
 * (_snapshot_receive.ts) and the checksum work they share (_snapshot_work.ts). Without such a
 * transport the store sends Raft's `MsgSnap` as it is (metadata and descriptor only).
 */
import { SnapshotChunkKind, type SnapshotChunk } from '../transport/index.js';
import type { StoreContext } from './_context.js';
import { SnapshotReceiver } from './_snapshot_receive.js';
import { SnapshotSender } from './_snapshot_send.js';
import { ChecksumWork } from './_snapshot_work.js';

/** The snapshot streams of one store. */
export class SnapshotStreams {
  readonly sender: SnapshotSender;
  readonly receiver: SnapshotReceiver;
  private readonly work: ChecksumWork;

  private constructor(st: StoreContext) {
    const c = st.config.snapshots;
    this.work = new ChecksumWork(c.workerBytesMin, c.workerThreads, st.stats.snapshots);
    this.sender = new SnapshotSender(st, st.config.transport, this.work);
    this.receiver = new SnapshotReceiver(st, st.config.transport, this.work);
  }

  /** The streams of `st`, or null if its transport cannot carry chunks. */
  static create(st: StoreContext): SnapshotStreams | null {
    return st.config.transport.sendSnapshotChunk === undefined ? null : new SnapshotStreams(st);
  }

  /** A chunk or an answer from `fromNodeId`. */
  onChunk(fromNodeId: number, chunk: SnapshotChunk): void {
    if (chunk.kind === SnapshotChunkKind.Data) this.receiver.onChunk(fromNodeId, chunk);
    else this.sender.answer(fromNodeId, chunk);
  }

  /** Ends every stream and stops the workers. */
  async close(): Promise<void> {
    this.sender.close();
    this.receiver.close();
    await this.work.close();
  }
}
