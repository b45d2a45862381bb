/**
 * A `Transport` wrapper that counts the node's Raft messages by type, sent and received, and
 * the snapshots' outcomes, for `/metrics`. It sits between the store and the real transport
 * (TCP): `send` and `handleBatch` add one to a slot of a preallocated array per envelope and
 * pass everything on unchanged, so it costs no allocation on the hot path.
 */
import { assert } from '../util/index.js';
import { MessageType, messageTypeNames, SnapshotStatus } from '../raft/index.js';
import type {
  Envelope,
  SnapshotChunk,
  Transport,
  TransportHandler,
  TransportStats,
} from '../transport/index.js';

/** Message types are small integers; one counter slot per type, the last for "other". */
const TYPE_SLOTS = messageTypeNames.length + 1;

/** Counts of a `CountingTransport`; they only grow. */
export interface MessageCounts {
  /** Envelopes handed to the transport, by `MessageType` (last slot: unknown types). */
  readonly sentByType: Float64Array;
  /** Envelopes delivered by the transport, by `MessageType`. */
  readonly receivedByType: Float64Array;
  /** Snapshot transfers the transport reported finished or failed. */
  snapshotsSent: number;
  snapshotsFailed: number;
  /** Groups reported unreachable (their messages were dropped on the send side). */
  unreachableReports: number;
}

/** The transport the store sees: counts, then delegates to `inner`. */
export class CountingTransport implements Transport, TransportHandler {
  readonly counts: MessageCounts = {
    sentByType: new Float64Array(TYPE_SLOTS),
    receivedByType: new Float64Array(TYPE_SLOTS),
    snapshotsSent: 0,
    snapshotsFailed: 0,
    unreachableReports: 0,
  };
  private handler: TransportHandler | null = null;

  /** Range snapshot chunks pass through unchanged (present when the inner transport's is). */
  readonly sendSnapshotChunk?: (chunk: SnapshotChunk) => boolean;

  constructor(readonly inner: Transport) {
    assert(TYPE_SLOTS > MessageType.MsgForgetLeader, 'a slot per message type');
    const send = inner.sendSnapshotChunk;
    if (send !== undefined) this.sendSnapshotChunk = (chunk) => send.call(inner, chunk);
  }

  /** Hands a range snapshot chunk to the store unchanged. */
  handleSnapshotChunk(fromNodeId: number, chunk: SnapshotChunk): void {
    this.handler?.handleSnapshotChunk?.(fromNodeId, chunk);
  }

  /** The node id of the wrapped transport. */
  get nodeId(): number {
    return this.inner.nodeId;
  }

  /** Installs `handler` behind this wrapper. */
  setHandler(handler: TransportHandler): void {
    this.handler = handler;
    this.inner.setHandler(this);
  }

  /** Counts each envelope by type, then queues them on the wrapped transport. */
  send(envelopes: readonly Envelope[]): void {
    const slots = this.counts.sentByType;
    for (let i = 0; i < envelopes.length; i++) slots[slotOf(envelopes[i]!.message.type)]!++;
    this.inner.send(envelopes);
  }

  /** Flushes the wrapped transport. */
  flush(): void {
    this.inner.flush();
  }

  /** The wrapped transport's counters. */
  stats(): TransportStats {
    return this.inner.stats();
  }

  /** Closes the wrapped transport. */
  close(): Promise<void> {
    return this.inner.close();
  }

  /** Counts each received envelope by type, then hands the batch to the store. */
  handleBatch(fromNodeId: number, envelopes: Envelope[]): void {
    const handler = this.handler;
    assert(handler !== null, 'a handler before the first delivery');
    const slots = this.counts.receivedByType;
    for (let i = 0; i < envelopes.length; i++) slots[slotOf(envelopes[i]!.message.type)]!++;
    handler.handleBatch(fromNodeId, envelopes);
  }

  /** Counts, then passes the report on. */
  reportUnreachable(toNodeId: number, groupIds: readonly number[]): void {
    assert(this.handler !== null, 'a handler before the first report');
    this.counts.unreachableReports += groupIds.length;
    this.handler.reportUnreachable(toNodeId, groupIds);
  }

  /** Counts the snapshot's outcome, then passes the report on. */
  reportSnapshot(rangeId: number, toNodeId: number, status: SnapshotStatus): void {
    assert(this.handler !== null, 'a handler before the first report');
    if (status === SnapshotStatus.SnapshotFinish) this.counts.snapshotsSent++;
    else this.counts.snapshotsFailed++;
    this.handler.reportSnapshot(rangeId, toNodeId, status);
  }
}

/** The counter slot of a message type (the last one for a type outside the table). */
function slotOf(type: number): number {
  return type >= 0 && type < TYPE_SLOTS - 1 ? type : TYPE_SLOTS - 1;
}

/** The label of a counter slot: the message type's name, or `other`. */
export function messageTypeLabel(slot: number): string {
  return messageTypeNames[slot] ?? 'other';
}
