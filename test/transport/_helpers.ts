import pino from 'pino';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  newMessage,
  type Message,
  type SnapshotStatus,
} from '../../src/raft/index.js';
import type { Envelope, TransportHandler } from '../../src/transport/index.js';

/** The shared virtual clock (src/util/clock.ts): timers run only when the test advances. */
export { VirtualClock } from '../../src/util/index.js';

export const silentLogger = pino({ level: 'silent' });

export function heartbeat(rangeId: number, from: number, to: number, term: number,
  commit: number, quiesce = false): Envelope {
  return { rangeId, message: newMessage(MessageType.MsgHeartbeat, { from, to, term, commit }),
    quiesce };
}

export function heartbeatResp(rangeId: number, from: number, to: number, term: number): Envelope {
  return { rangeId, message: newMessage(MessageType.MsgHeartbeatResp, { from, to, term }),
    quiesce: false };
}

export function append(rangeId: number, from: number, to: number, payloads: number[]): Envelope {
  const message: Message = newMessage(MessageType.MsgApp, {
    from, to, term: 3, logTerm: 2, index: 10, commit: 9,
    entries: payloads.map((size, i) => ({ term: 3, index: 11 + i, type: EntryType.EntryNormal,
      data: size === 0 ? EMPTY_BYTES : new Uint8Array(size).fill(i + 1) })),
  });
  return { rangeId, message, quiesce: false };
}

/** A handler that records everything. */
export class RecordingHandler implements TransportHandler {
  batches: { from: number; envelopes: Envelope[] }[] = [];
  unreachable: { to: number; rangeIds: number[] }[] = [];
  snapshots: { rangeId: number; to: number; status: SnapshotStatus }[] = [];
  private waiters: (() => void)[] = [];

  handleBatch(fromNodeId: number, envelopes: Envelope[]): void {
    this.batches.push({ from: fromNodeId, envelopes });
    this.wake();
  }
  reportUnreachable(toNodeId: number, rangeIds: readonly number[]): void {
    this.unreachable.push({ to: toNodeId, rangeIds: [...rangeIds] });
    this.wake();
  }
  reportSnapshot(rangeId: number, toNodeId: number, status: SnapshotStatus): void {
    this.snapshots.push({ rangeId, to: toNodeId, status });
    this.wake();
  }
  get envelopes(): Envelope[] {
    return this.batches.flatMap((b) => b.envelopes);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once `predicate` holds (checked after every event), or rejects after a timeout. */
  async until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for condition');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
