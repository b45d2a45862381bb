import pino from 'pino';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  newMessage,
  type Message,
} from '../../src/raft/index.js';
import type {
  Envelope,
  SnapshotStatus,
  TransportClock,
  TransportHandler,
} from '../../src/transport/index.js';

export const silentLogger = pino({ level: 'silent' });

export function heartbeat(groupId: number, from: number, to: number, term: number,
  commit: number, quiesce = false): Envelope {
  return { groupId, message: newMessage(MessageType.MsgHeartbeat, { from, to, term, commit }),
    quiesce };
}

export function heartbeatResp(groupId: number, from: number, to: number, term: number): Envelope {
  return { groupId, message: newMessage(MessageType.MsgHeartbeatResp, { from, to, term }),
    quiesce: false };
}

export function append(groupId: number, from: number, to: number, payloads: number[]): Envelope {
  const message: Message = newMessage(MessageType.MsgApp, {
    from, to, term: 3, logTerm: 2, index: 10, commit: 9,
    entries: payloads.map((size, i) => ({ term: 3, index: 11 + i, type: EntryType.EntryNormal,
      data: size === 0 ? EMPTY_BYTES : new Uint8Array(size).fill(i + 1) })),
  });
  return { groupId, message, quiesce: false };
}

/** A handler that records everything. */
export class RecordingHandler implements TransportHandler {
  batches: { from: number; envelopes: Envelope[] }[] = [];
  unreachable: { to: number; groupIds: number[] }[] = [];
  snapshots: { groupId: number; to: number; status: SnapshotStatus }[] = [];
  private waiters: (() => void)[] = [];

  handleBatch(fromNodeId: number, envelopes: Envelope[]): void {
    this.batches.push({ from: fromNodeId, envelopes });
    this.wake();
  }
  reportUnreachable(toNodeId: number, groupIds: readonly number[]): void {
    this.unreachable.push({ to: toNodeId, groupIds: [...groupIds] });
    this.wake();
  }
  reportSnapshot(groupId: number, toNodeId: number, status: SnapshotStatus): void {
    this.snapshots.push({ groupId, to: toNodeId, status });
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

/** A virtual clock: timers run only when the test advances time. */
export class VirtualClock implements TransportClock {
  private now = 0;
  private seq = 0;
  private timers: { at: number; seq: number; callback: () => void; cancelled: boolean }[] = [];

  nowMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, callback: () => void): unknown {
    const timer = { at: this.now + Math.max(0, delayMs), seq: this.seq++, callback,
      cancelled: false };
    this.timers.push(timer);
    return timer;
  }
  clearTimer(handle: unknown): void {
    (handle as { cancelled: boolean }).cancelled = true;
  }
  /** Runs every timer due up to now + `ms`, in time order then creation order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.callback();
    }
    this.now = end;
  }
}
