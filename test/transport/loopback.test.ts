import { describe, expect, it } from 'vitest';
import { MessageType, SnapshotStatus, newMessage } from '../../src/raft/index.js';
import { ConfigError } from '../../src/util/index.js';
import {
  HeartbeatCursor,
  LoopbackNetwork,
  type Envelope,
  type LoopbackNetworkOptions,
} from '../../src/transport/index.js';
import {
  append,
  heartbeat,
  heartbeatResp,
  RecordingHandler,
  VirtualClock,
} from './_helpers.js';

/** Records heartbeat rows as text, and the order of the handler's calls. */
class RowHandler extends RecordingHandler {
  rows: string[] = [];
  calls: string[] = [];

  handleHeartbeats(fromNodeId: number, rows: HeartbeatCursor): void {
    this.calls.push('heartbeats');
    while (rows.next()) {
      this.rows.push(`${rows.type}/${rows.rangeId}/${rows.fromNodeId}>${rows.toNodeId}` +
        `/${rows.term}/${rows.commit}/${rows.quiesce}`);
    }
    expect(fromNodeId).toBe(rows.fromNodeId);
  }

  override handleBatch(fromNodeId: number, envelopes: Envelope[]): void {
    this.calls.push('batch');
    super.handleBatch(fromNodeId, envelopes);
  }
}

const { SnapshotFinish, SnapshotFailure } = SnapshotStatus;

function cluster(nodeIds: number[],
  options: LoopbackNetworkOptions & { autoFlush?: boolean } = {}) {
  const clock = new VirtualClock();
  const network = new LoopbackNetwork({ clock, ...options });
  const handlers = new Map<number, RecordingHandler>();
  const transports = new Map(nodeIds.map((nodeId) => {
    const t = network.createTransport({ nodeId, autoFlush: options.autoFlush ?? true });
    const h = new RecordingHandler();
    t.setHandler(h);
    handlers.set(nodeId, h);
    return [nodeId, t] as const;
  }));
  return { clock, network, transports, handlers };
}

describe('LoopbackTransport', () => {
  it('delivers one frame per destination per flush, heartbeats coalesced', () => {
    const { clock, transports, handlers } = cluster([1, 2, 3]);
    const t1 = transports.get(1)!;
    const batch: Envelope[] = [];
    for (let g = 0; g < 1000; g++) {
      batch.push(heartbeat(g, 1, 2, 1, g), heartbeat(g, 1, 3, 1, g, true));
    }
    batch.push(append(5, 1, 2, [100, 200]));
    t1.send(batch.slice(0, 700));
    t1.send(batch.slice(700));
    clock.advance(0);
    expect(t1.stats().framesSent).toBe(2);
    expect(t1.stats().heartbeatsCoalesced).toBe(2000);
    expect(handlers.get(2)!.batches).toHaveLength(1);
    expect(handlers.get(3)!.batches).toHaveLength(1);
    const got2 = handlers.get(2)!.envelopes;
    expect(got2).toHaveLength(1001);
    expect(got2.find((e) => e.message.type === MessageType.MsgApp)!.message)
      .toEqual(batch[batch.length - 1]!.message);
    expect(handlers.get(3)!.envelopes.every((e) => e.quiesce)).toBe(true);
    expect(transports.get(2)!.stats().messagesReceived).toBe(1001);
  });

  it('waits flushDelayMs before an automatic flush, or flushes on demand', () => {
    const clock = new VirtualClock();
    const network = new LoopbackNetwork({ clock });
    expect(() => network.createTransport({ nodeId: 9, flushDelayMs: 60, tickIntervalMs: 100 }))
      .toThrow(ConfigError);
    const t1 = network.createTransport({ nodeId: 1, flushDelayMs: 50, tickIntervalMs: 100 });
    const t2 = network.createTransport({ nodeId: 2 });
    const h2 = new RecordingHandler();
    t1.setHandler(new RecordingHandler());
    t2.setHandler(h2);
    t1.send([heartbeat(1, 1, 2, 1, 1)]);
    clock.advance(49);
    expect(h2.batches).toHaveLength(0);
    t1.send([heartbeat(2, 1, 2, 1, 1)]);
    clock.advance(1);
    expect(h2.batches).toHaveLength(1);
    expect(h2.envelopes).toHaveLength(2);
    t1.send([heartbeat(3, 1, 2, 1, 1)]);
    t1.flush();
    clock.advance(0);
    expect(h2.batches).toHaveLength(2);
  });

  it('drops and duplicates per envelope, deterministically from the seed', () => {
    const run = (seed: number): number[] => {
      const { clock, network, transports, handlers } = cluster([1, 2], { seed });
      network.setFaults({ dropRate: 0.3, duplicateRate: 0.2 });
      for (let g = 0; g < 1000; g++) transports.get(1)!.send([append(g, 1, 2, [1])]);
      clock.advance(0);
      const s = network.stats();
      expect(s.envelopesDropped).toBeGreaterThan(200);
      expect(s.envelopesDuplicated).toBeGreaterThan(100);
      return handlers.get(2)!.envelopes.map((e) => e.rangeId);
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    expect(new Set(a).size).toBeLessThan(1000);
    expect(a.length).toBeGreaterThan(new Set(a).size);
  });

  it('delays and reorders batches', () => {
    const { clock, network, transports, handlers } = cluster([1, 2], { seed: 3 });
    network.setFaults({ delayMsMin: 10, delayMsMax: 30, reorderRate: 0.5 });
    for (let g = 0; g < 50; g++) {
      transports.get(1)!.send([append(g, 1, 2, [1]), append(g + 1000, 1, 2, [1])]);
      transports.get(1)!.flush();
      clock.advance(1);
    }
    expect(handlers.get(2)!.batches.length).toBeLessThan(50);
    clock.advance(10);
    expect(handlers.get(2)!.batches.length).toBeGreaterThan(0);
    clock.advance(1000);
    const order = handlers.get(2)!.envelopes.map((e) => e.rangeId);
    expect(order).toHaveLength(100);
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
    expect(network.stats().batchesReordered).toBeGreaterThan(5);
  });

  it('partitions both ways or one way, reports unreachable, and heals', () => {
    const { clock, network, transports, handlers } = cluster([1, 2, 3]);
    const [t1, t2] = [transports.get(1)!, transports.get(2)!];
    network.partitionOneWay([1], [2]);
    t1.send([append(10, 1, 2, [1]), heartbeat(11, 1, 2, 1, 1), append(12, 1, 3, [1])]);
    t2.send([append(10, 2, 1, [1])]);
    clock.advance(0);
    expect(handlers.get(2)!.envelopes).toHaveLength(0);
    expect(handlers.get(3)!.envelopes).toHaveLength(1);
    expect(handlers.get(1)!.envelopes).toHaveLength(1);
    // Heartbeats are not reported: only group 10 is.
    expect(handlers.get(1)!.unreachable).toEqual([{ to: 2, rangeIds: [10] }]);
    expect(t1.stats().messagesDropped).toBe(2);
    network.heal();
    network.partition([1], [2, 3]);
    t1.send([append(1, 1, 2, [1]), append(1, 1, 3, [1])]);
    t2.send([append(1, 2, 1, [1]), append(1, 2, 3, [1])]);
    clock.advance(0);
    expect(handlers.get(3)!.envelopes).toHaveLength(2);
    expect(handlers.get(1)!.envelopes).toHaveLength(1);
    network.heal();
    t1.send([append(1, 1, 2, [1])]);
    clock.advance(0);
    expect(handlers.get(2)!.envelopes).toHaveLength(1);
  });

  it('reports snapshots delivered and lost, and survives a restarted node', async () => {
    const { clock, network, transports, handlers } = cluster([1, 2]);
    const snap = (): Envelope => ({ rangeId: 4, quiesce: false, message: newMessage(
      MessageType.MsgSnap, { from: 1, to: 2, term: 2, snapshot: { data: new Uint8Array(100),
        metadata: { index: 50, term: 2, confState: { voters: [1, 2], learners: [],
          votersOutgoing: [], learnersNext: [], autoLeave: false } } } }) });
    transports.get(1)!.send([snap()]);
    clock.advance(0);
    expect(handlers.get(1)!.snapshots).toEqual([{ rangeId: 4, to: 2, status: SnapshotFinish }]);
    expect(handlers.get(2)!.envelopes[0]!.message.snapshot!.data).toHaveLength(100);
    await transports.get(2)!.close();
    transports.get(1)!.send([snap()]);
    clock.advance(0);
    expect(handlers.get(1)!.snapshots[1]).toEqual({ rangeId: 4, to: 2, status: SnapshotFailure });
    const t2 = network.createTransport({ nodeId: 2 });
    const h2 = new RecordingHandler();
    t2.setHandler(h2);
    transports.get(1)!.send([snap()]);
    clock.advance(0);
    expect(h2.envelopes).toHaveLength(1);
  });

  it('bounds the batches in flight', () => {
    const { clock, network, transports, handlers } = cluster([1, 2], { inFlightBatchesMax: 10 });
    network.setFaults({ delayMsMin: 100 });
    for (let i = 0; i < 20; i++) {
      transports.get(1)!.send([append(i, 1, 2, [1])]);
      transports.get(1)!.flush();
    }
    expect(network.stats().batchesInFlight).toBe(10);
    clock.advance(200);
    expect(handlers.get(2)!.envelopes).toHaveLength(10);
    expect(transports.get(1)!.stats().messagesDropped).toBe(10);
  });

  it('hands a big frame over in slices of deliverBatchMessagesMax', () => {
    const clock = new VirtualClock();
    const network = new LoopbackNetwork({ clock });
    const t1 = network.createTransport({ nodeId: 1 });
    const t2 = network.createTransport({ nodeId: 2, deliverBatchMessagesMax: 100 });
    const h2 = new RecordingHandler();
    t1.setHandler(new RecordingHandler());
    t2.setHandler(h2);
    const sent: Envelope[] = [];
    for (let g = 0; g < 250; g++) sent.push(heartbeat(g, 1, 2, 1, g));
    sent.push(append(1, 1, 2, [1]), append(2, 1, 2, [1]), append(3, 1, 2, [1]));
    t1.send(sent);
    clock.advance(0);
    expect(t2.stats().framesReceived).toBe(1);
    expect(h2.batches.map((b) => b.envelopes.length)).toEqual([100, 100, 53]);
    expect(h2.envelopes.map((e) => e.message)).toEqual(sent.map((e) => e.message));
  });

  it('hands coalesced heartbeats to handleHeartbeats as rows, before the other envelopes', () => {
    const clock = new VirtualClock();
    const network = new LoopbackNetwork({ clock });
    const t1 = network.createTransport({ nodeId: 1 });
    const t2 = network.createTransport({ nodeId: 2, deliverBatchMessagesMax: 2 });
    const plain = new RecordingHandler();
    const rows = new RowHandler();
    t1.setHandler(new RecordingHandler());
    t2.setHandler(rows);
    const sent = [heartbeat(9, 1, 2, 4, 30, true), append(1, 1, 2, [1]), heartbeat(3, 1, 2, 4, 7),
      heartbeatResp(5, 1, 2, 6), append(2, 1, 2, [1]), append(3, 1, 2, [1])];
    t1.send(sent);
    clock.advance(0);
    const hb = MessageType.MsgHeartbeat;
    const resp = MessageType.MsgHeartbeatResp;
    // Sorted by group within each section, heartbeats first: as handleBatch gets them.
    expect(rows.rows).toEqual([`${hb}/3/1>2/4/7/false`, `${hb}/9/1>2/4/30/true`,
      `${resp}/5/1>2/6/0/false`]);
    expect(rows.calls).toEqual(['heartbeats', 'batch', 'batch']);
    expect(rows.envelopes.map((e) => e.message)).toEqual([1, 4, 5].map((i) => sent[i]!.message));
    expect(t2.stats().messagesReceived).toBe(6);
    // The same frame to a handler without handleHeartbeats: the rows come as messages.
    t2.setHandler(plain);
    t1.send(sent);
    clock.advance(0);
    const asRows = plain.envelopes.slice(0, 3).map((e) => `${e.message.type}/${e.rangeId}/` +
      `${e.message.from}>${e.message.to}/${e.message.term}/${e.message.commit}/${e.quiesce}`);
    expect(asRows).toEqual(rows.rows);
  });

  it('skips the codec with encodeFrames: false and still delivers', () => {
    const { clock, transports, handlers } = cluster([1, 2], { encodeFrames: false });
    const sent = [heartbeat(1, 1, 2, 1, 1), append(2, 1, 2, [3])];
    transports.get(1)!.send(sent);
    clock.advance(0);
    expect(handlers.get(2)!.envelopes.map((e) => e.message)).toEqual(sent.map((e) => e.message));
    expect(transports.get(1)!.stats().framesSent).toBe(1);
  });
});

describe('LoopbackNetwork duplication (issue 10, finding 12)', () => {
  it('delivers a duplicate as a deep copy, also with encodeFrames: false', () => {
    // Before the fix both deliveries were the same objects: a leader stamping term and index
    // on a forwarded proposal's entries rewrote the first while appending the second.
    for (const encodeFrames of [false, true]) {
      const { clock, network, transports, handlers } = cluster([1, 2], { encodeFrames });
      network.setFaults({ duplicateRate: 1 });
      const prop = newMessage(MessageType.MsgProp, { from: 1, to: 2, entries: [
        { term: 0, index: 0, type: 0, data: new Uint8Array([1, 2, 3]) }] });
      transports.get(1)!.send([{ rangeId: 4, message: prop, quiesce: false }]);
      clock.advance(0);
      const [first, second] = handlers.get(2)!.envelopes;
      expect(handlers.get(2)!.envelopes).toHaveLength(2);
      expect(second!.message).toEqual(first!.message);
      expect(second!.message).not.toBe(first!.message);
      expect(second!.message.entries[0]).not.toBe(first!.message.entries[0]);
      expect(second!.message.entries[0]!.data).not.toBe(first!.message.entries[0]!.data);
      first!.message.entries[0]!.term = 7;
      first!.message.entries[0]!.data[0] = 9;
      expect(second!.message.entries[0]!.term).toBe(0);
      expect(second!.message.entries[0]!.data[0]).toBe(1);
      expect(network.stats().envelopesDuplicated).toBe(1);
    }
  });
});
