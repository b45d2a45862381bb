/**
 * The range snapshot chunk frame: it round-trips through the codec, a malformed one is a
 * `FrameError`, and a chunk past the receiver's `inboundSnapshotBytesMax` is dropped and
 * counted without closing anything; the loopback carries chunks with the network's faults.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotStatus } from '../../src/raft/index.js';
import {
  FrameCodec,
  FrameError,
  FrameKind,
  LoopbackNetwork,
  SnapshotChunkKind,
  type SnapshotChunk,
  type TransportHandler,
} from '../../src/transport/index.js';
import { VirtualClock } from '../../src/util/index.js';

const chunk = (over: Partial<SnapshotChunk> = {}): SnapshotChunk => ({
  rangeId: 7, fromNodeId: 1, toNodeId: 2, snapshotId: 3, index: 40,
  kind: SnapshotChunkKind.Data, offset: 128, last: false, checksum: 0xdeadbeef,
  data: Uint8Array.of(1, 2, 3, 4), ...over,
});

function receiver(into: SnapshotChunk[]): TransportHandler {
  return {
    handleBatch: () => undefined,
    reportUnreachable: () => undefined,
    reportSnapshot: (_r: number, _t: number, _s: SnapshotStatus) => undefined,
    handleSnapshotChunk: (_from, c) => void into.push(c),
  };
}

describe('range snapshot chunk frames', () => {
  it('round-trip through the codec with every field', () => {
    const codec = new FrameCodec(1 << 20);
    const sent = chunk({ last: true, kind: SnapshotChunkKind.Applied });
    const frame = codec.decode(codec.encodeChunk(sent)!);
    expect(frame.kind).toBe(FrameKind.RangeSnapshotChunk);
    if (frame.kind !== FrameKind.RangeSnapshotChunk) return;
    expect({ ...frame.chunk, data: [...frame.chunk.data] })
      .toEqual({ ...sent, data: [...sent.data] });
  });

  it('refuses malformed fields as FrameError and a chunk over frameBytesMax at encode', () => {
    const codec = new FrameCodec(1 << 20);
    for (const bad of [{ rangeId: 0 }, { kind: 9 as SnapshotChunkKind }, { fromNodeId: 0 }]) {
      // Encoded by a peer that skips the sender's checks (the assertion guards ours).
      const raw = new FrameCodec(1 << 20) as unknown as { encodePayload(k: number, b: unknown):
        Uint8Array };
      const c = chunk(bad);
      const bytes = raw.encodePayload(FrameKind.RangeSnapshotChunk, { g: c.rangeId,
        f: c.fromNodeId, t: c.toNodeId, s: c.snapshotId, i: c.index, k: c.kind, o: c.offset,
        l: c.last, c: c.checksum, d: c.data });
      expect(() => codec.decode(bytes)).toThrow(FrameError);
    }
    expect(new FrameCodec(4096).encodeChunk(chunk({ data: new Uint8Array(8192) }))).toBeNull();
  });

  it('the loopback delivers chunks; past inboundSnapshotBytesMax they are dropped, counted',
    () => {
      const clock = new VirtualClock();
      const network = new LoopbackNetwork({ clock });
      const a = network.createTransport({ nodeId: 1 });
      const b = network.createTransport({ nodeId: 2, inboundSnapshotBytesMax: 1000 });
      const got: SnapshotChunk[] = [];
      a.setHandler(receiver([]));
      b.setHandler(receiver(got));
      expect(a.sendSnapshotChunk(chunk({ offset: 0 }))).toBe(true);
      expect(a.sendSnapshotChunk(chunk({ offset: 998 }))).toBe(true);
      clock.runDue();
      expect(got.map((c) => c.offset)).toEqual([0]);
      expect(b.stats().snapshotChunksRefused).toBe(1);
      expect(b.stats().snapshotChunksReceived).toBe(2);
      expect(a.stats().snapshotChunksSent).toBe(2);
      network.partition([1], [2]);
      expect(a.sendSnapshotChunk(chunk())).toBe(false);
      expect(a.stats().snapshotChunksDropped).toBe(1);
    });
});
