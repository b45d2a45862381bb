import { describe, expect, it } from 'vitest';
import { MessageType, newMessage, type Message } from '../../src/raft/index.js';
import {
  FRAME_HEADER_BYTES,
  FrameCodec,
  FrameError,
  FrameKind,
  FrameReader,
  batchEnvelopes,
  type Envelope,
} from '../../src/transport/index.js';
import { ByteReader, ByteWriter, crc32 } from '../../src/transport/_bytes.js';
import { append, heartbeat, heartbeatResp } from './_helpers.js';

const MB = 2 ** 20;

function decodeBatch(codec: FrameCodec, frame: Uint8Array): Envelope[] {
  const decoded = codec.decode(frame);
  if (decoded.kind !== FrameKind.Batch) throw new Error('not a batch');
  return batchEnvelopes(decoded);
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('bytes', () => {
  it('CRC-32 is the IEEE one (the check value of "123456789")', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('varints round-trip up to 2^53 - 1', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40 + 5,
      Number.MAX_SAFE_INTEGER];
    const writer = new ByteWriter(8, 1024);
    for (const v of values) {
      writer.ensure(8);
      writer.varint(v);
    }
    const reader = new ByteReader(writer.copy());
    for (const v of values) expect(reader.varint()).toBe(v);
    expect(() => reader.varint()).toThrow();
  });
});

describe('FrameCodec batches', () => {
  it('round-trips coalesced heartbeats to identical Raft messages', () => {
    const codec = new FrameCodec(16 * MB);
    const sent: Envelope[] = [];
    for (let g = 0; g < 500; g++) {
      sent.push(heartbeat(g * 7 % 500 + 1_000_000, 1, 2, 5 + (g % 3), g * 1000, g % 4 === 0));
      sent.push(heartbeatResp(g + 10, 1, 2, 5));
    }
    const encoded = codec.encodeBatch(1, 2, sent, true)!;
    expect(encoded.coalesced).toBe(1000);
    const received = decodeBatch(codec, encoded.frame);
    expect(received).toHaveLength(1000);
    const key = (e: Envelope): string => `${e.message.type}/${e.rangeId}`;
    const byKey = new Map(received.map((e) => [key(e), e]));
    for (const e of sent) {
      const r = byKey.get(key(e))!;
      expect(r.message).toEqual(e.message);
      expect(r.quiesce).toBe(e.quiesce);
    }
    // Heartbeats come out sorted by group, then responses.
    const hbs = received.filter((e) => e.message.type === MessageType.MsgHeartbeat);
    expect(hbs.map((e) => e.rangeId)).toEqual([...hbs.map((e) => e.rangeId)].sort((a, b) => a - b));
  });

  it('spends at most 12 bytes per heartbeat', () => {
    const codec = new FrameCodec(16 * MB);
    for (const commit of [0, 1000, 2 ** 20, 2 ** 40]) {
      const sent = Array.from({ length: 10_000 }, (_, g) => heartbeat(g, 1, 2, 7, commit));
      const frame = codec.encodeBatch(1, 2, sent, true)!.frame;
      expect(frame.length / sent.length).toBeLessThanOrEqual(12);
      expect(decodeBatch(codec, frame).map((e) => e.message)).toEqual(sent.map((e) => e.message));
    }
  });

  it('carries heartbeats with a context, and everything else, as ordinary messages', () => {
    const codec = new FrameCodec(16 * MB);
    const withContext = heartbeat(5, 1, 2, 3, 4);
    withContext.message.context = new Uint8Array([1, 2, 3]);
    const vote: Message = newMessage(MessageType.MsgVoteResp, { from: 1, to: 2, term: 9,
      reject: true });
    const snap = newMessage(MessageType.MsgSnap, { from: 1, to: 2, term: 4, snapshot: {
      data: new Uint8Array([9, 9]), metadata: { index: 100, term: 4, confState: { voters: [1, 2],
        learners: [3], votersOutgoing: [], learnersNext: [], autoLeave: false } } } });
    const sent: Envelope[] = [withContext, append(7, 1, 2, [0, 10, 3000]),
      { rangeId: 8, message: vote, quiesce: false }, { rangeId: 2 ** 32 - 1, message: snap,
        quiesce: true }, heartbeat(1, 1, 2, 3, 4)];
    const encoded = codec.encodeBatch(1, 2, sent, true)!;
    expect(encoded.coalesced).toBe(1);
    const received = decodeBatch(codec, encoded.frame);
    expect(received.map((e) => e.rangeId)).toEqual([1, 5, 7, 8, 2 ** 32 - 1]);
    expect(received.slice(1).map((e) => e.message)).toEqual(sent.slice(0, 4).map((e) => e.message));
    expect(received[4]!.quiesce).toBe(true);
    // Payloads are views into the frame, not copies.
    const data = received[2]!.message.entries[2]!.data;
    expect(data.buffer).toBe(encoded.frame.buffer);
  });

  it('protocol version 1 sends heartbeats uncoalesced, and they decode the same', () => {
    const codec = new FrameCodec(16 * MB);
    const sent = [heartbeat(3, 1, 2, 1, 1, true), heartbeat(1, 1, 2, 1, 1)];
    const encoded = codec.encodeBatch(1, 2, sent, false)!;
    expect(encoded.coalesced).toBe(0);
    const received = decodeBatch(codec, encoded.frame);
    expect(received).toEqual(sent);
  });

  it('returns null for a batch above frameBytesMax', () => {
    const codec = new FrameCodec(4096);
    expect(codec.encodeBatch(1, 2, [append(1, 1, 2, [5000])], true)).toBeNull();
  });
});

describe('FrameCodec rejects bad frames', () => {
  const codec = new FrameCodec(64 * 1024);
  const good = codec.encodeBatch(1, 2, [append(1, 1, 2, [10]), heartbeat(2, 1, 2, 1, 1)], true)!
    .frame;

  it('truncated', () => {
    expectCode(() => codec.decode(good.subarray(0, 5)), 'ERR_FRAME_TRUNCATED');
    expectCode(() => codec.decode(good.subarray(0, good.length - 1)), 'ERR_FRAME_TRUNCATED');
  });
  it('oversized', () => {
    const big = Uint8Array.from(good);
    new DataView(big.buffer).setUint32(0, 1 << 20);
    expectCode(() => codec.decode(big), 'ERR_FRAME_OVERSIZED');
  });
  it('checksum', () => {
    const flipped = Uint8Array.from(good);
    flipped[flipped.length - 3]! ^= 0x10;
    expectCode(() => codec.decode(flipped), 'ERR_FRAME_CHECKSUM');
  });
  it('undecodable', () => {
    const garbage = new Uint8Array([0xc1, 0xc1, 0xc1]);
    const frame = Buffer.alloc(FRAME_HEADER_BYTES + 1 + garbage.length);
    frame[FRAME_HEADER_BYTES] = FrameKind.Batch;
    frame.set(garbage, FRAME_HEADER_BYTES + 1);
    frame.writeUInt32BE(1 + garbage.length, 0);
    frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
    expectCode(() => codec.decode(frame), 'ERR_FRAME_DECODE');
  });
});

describe('FrameReader', () => {
  it('splits a stream cut anywhere into the same frames', () => {
    const codec = new FrameCodec(MB);
    const frames = [1, 2, 3].map((g) => codec.encodeBatch(1, 2, [append(g, 1, 2, [g * 100])],
      true)!.frame);
    const stream = Buffer.concat(frames);
    for (const cut of [1, 3, 7, 8, 9, 50, 1000]) {
      const reader = new FrameReader(MB);
      const out: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += cut) {
        reader.push(stream.subarray(i, i + cut));
        for (let f = reader.next(); f !== null; f = reader.next()) out.push(f);
      }
      expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual(
        frames.map((f) => Buffer.from(f).toString('hex')));
      expect(reader.bufferedBytes).toBe(0);
    }
  });

  it('rejects an oversized header before buffering the body', () => {
    const reader = new FrameReader(1024);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(10_000, 0);
    reader.push(header);
    expectCode(() => reader.next(), 'ERR_FRAME_OVERSIZED');
  });
});
