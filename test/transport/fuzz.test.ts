/**
 * Fuzzes the frame decoder with random and mutated frames from a seeded generator.
 *
 *   npx vitest run test/transport/fuzz.test.ts                               # 20,000 frames
 *   FLOTILLA_FUZZ_FRAMES=1000000 npx vitest run test/transport/fuzz.test.ts  # the full run
 *   FLOTILLA_FUZZ_SEED=1234 ...                                              # replay a seed
 *
 * Properties: the decoder never throws anything but `FrameError`, never hangs, and never
 * accepts a frame whose CRC-32 (recomputed here, independently of the decoder's check) does
 * not match its header, nor one whose length disagrees with its header.
 */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { EntryType, MessageType, newMessage } from '../../src/raft/index.js';
import {
  FRAME_HEADER_BYTES,
  FrameCodec,
  FrameError,
  FrameKind,
  FrameReader,
  batchEnvelopes,
  seededRandom,
  type Envelope,
} from '../../src/transport/index.js';
import { crc32 } from '../../src/transport/_bytes.js';
import { append, heartbeat, heartbeatResp } from './_helpers.js';

const FRAMES = Number(process.env.FLOTILLA_FUZZ_FRAMES ?? 20_000);
const SEED = Number(process.env.FLOTILLA_FUZZ_SEED ?? 0x5eed);
const FRAME_BYTES_MAX = 1 << 20;

function corpus(codec: FrameCodec): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let n = 0; n < 24; n++) {
    const batch: Envelope[] = [];
    for (let g = 0; g < (n % 6) * 7 + 1; g++) {
      batch.push(heartbeat(g * (n + 1), 1, 2, n, g * 1000, g % 3 === 0));
      if (g % 2 === 0) batch.push(heartbeatResp(g + n, 1, 2, n));
      if (g % 5 === 0) batch.push(append(g, 1, 2, [0, n, n * 10]));
    }
    if (n % 4 === 0) {
      batch.push({ rangeId: n, quiesce: false, message: newMessage(MessageType.MsgSnap, {
        from: 1, to: 2, term: 3, snapshot: { data: new Uint8Array(n * 3).fill(7), metadata: {
          index: 5, term: 3, confState: { voters: [1, 2], learners: [3], votersOutgoing: [1],
            learnersNext: [], autoLeave: n % 8 === 0 } } } }) });
    }
    if (n % 3 === 0) {
      batch.push({ rangeId: 99, quiesce: false, message: newMessage(MessageType.MsgVote, {
        from: 1, to: 2, term: 9, logTerm: 8, index: 7, context: new Uint8Array([1, 2]) }) });
    }
    frames.push(codec.encodeBatch(1, 2, batch, n % 5 !== 0)!.frame);
  }
  frames.push(codec.encodeControl({ kind: FrameKind.Hello, clusterId: 'c1', nodeId: 1,
    peerNodeId: 2, versionMin: 1, versionMax: 2 }));
  frames.push(codec.encodeControl({ kind: FrameKind.HelloAck, clusterId: 'c1', nodeId: 2,
    version: 2 }));
  frames.push(codec.encodeControl({ kind: FrameKind.Refuse, code: 'ERR_X', reason: 'no' }));
  frames.push(codec.encodeControl({ kind: FrameKind.SnapshotChunk, rangeId: 3, streamId: 1,
    chunkIndex: 0, last: false, message: newMessage(MessageType.MsgSnap, { from: 1, to: 2 }),
    data: new Uint8Array(50).fill(1) }));
  return frames;
}

/** Rewrites the header so the frame passes the length and checksum checks. */
function reseal(frame: Uint8Array): Uint8Array {
  if (frame.length < FRAME_HEADER_BYTES) return frame;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint32(0, frame.length - FRAME_HEADER_BYTES);
  view.setUint32(4, crc32(frame.subarray(FRAME_HEADER_BYTES)));
  return frame;
}

class Generator {
  private readonly packr = new Packr({ useRecords: true, moreTypes: false });
  constructor(private readonly random: () => number, private readonly seeds: Uint8Array[]) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** A random msgpack value of bounded depth: maps with the wire's own keys, numbers, bins. */
  value(depth: number): unknown {
    const keys = ['type', 'to', 'from', 'term', 'entries', 'snapshot', 'reject', 'context',
      'data', 'metadata', 'confState', 'voters', 'f', 't', 'h', 'e', 'g', 'c', 'n', 'p', 'lo',
      'hi', 'v', 'responses', 'index', 'commit', 'logTerm', 'vote', 'rejectHint', 'autoLeave'];
    switch (depth <= 0 ? this.int(6) : this.int(9)) {
      case 0: return this.int(300) - 20;
      case 1: return [0, 2 ** 32, 2 ** 53, -1, 0.5, NaN, 2 ** 60][this.int(7)];
      case 2: return this.random() < 0.5;
      case 3: return null;
      case 4: return new Uint8Array(this.int(20)).map(() => this.int(256));
      case 5: return 'x'.repeat(this.int(5));
      case 6: case 7: {
        const out: Record<string, unknown> = {};
        for (let i = this.int(8); i > 0; i--) {
          out[keys[this.int(keys.length)]!] = this.value(depth - 1);
        }
        return out;
      }
      default: return Array.from({ length: this.int(6) }, () => this.value(depth - 1));
    }
  }

  mutate(source: Uint8Array): Uint8Array {
    let frame: Uint8Array = Uint8Array.from(source);
    for (let rounds = 1 + this.int(3); rounds > 0; rounds--) {
      switch (this.int(7)) {
        case 0: // flip bits
          for (let i = 1 + this.int(4); i > 0 && frame.length > 0; i--) {
            frame[this.int(frame.length)]! ^= 1 << this.int(8);
          }
          break;
        case 1: // overwrite a byte with an interesting value
          if (frame.length > 0) frame[this.int(frame.length)] = [0, 0xff, 0x7f, 0x80, 0xc1,
            0xdd, 0xdf, 0xd4, 0x72][this.int(9)]!;
          break;
        case 2: frame = frame.subarray(0, this.int(frame.length + 1)); break;
        case 3: { // append junk
          const extra = new Uint8Array(this.int(16)).map(() => this.int(256));
          frame = Buffer.concat([frame, extra]);
          break;
        }
        case 4: { // splice two frames
          const other = this.seeds[this.int(this.seeds.length)]!;
          frame = Buffer.concat([frame.subarray(0, this.int(frame.length + 1)),
            other.subarray(this.int(other.length))]);
          break;
        }
        case 5: { // remove a range
          const at = this.int(frame.length + 1);
          frame = Buffer.concat([frame.subarray(0, at), frame.subarray(at + this.int(8))]);
          break;
        }
        default: { // rewrite the length field
          if (frame.length >= 4) new DataView(frame.buffer, frame.byteOffset).setUint32(0,
            [0, 1, frame.length, 2 ** 32 - 1, FRAME_BYTES_MAX][this.int(5)]!);
        }
      }
    }
    return frame;
  }

  frame(): Uint8Array {
    const seed = this.seeds[this.int(this.seeds.length)]!;
    const r = this.random();
    if (r < 0.4) { // checksum almost always wrong
      const frame = this.mutate(seed);
      // Half the time fix the length field, so that the frame reaches the checksum check.
      if (this.random() < 0.5 && frame.length >= FRAME_HEADER_BYTES) {
        new DataView(frame.buffer, frame.byteOffset).setUint32(0,
          frame.length - FRAME_HEADER_BYTES);
      }
      return frame;
    }
    if (r < 0.75) return reseal(Buffer.from(this.mutate(seed))); // valid checksum, bad body
    if (r < 0.9) { // structured random body of a random kind
      const body = this.packr.pack(this.value(4));
      const frame = Buffer.alloc(FRAME_HEADER_BYTES + 1 + body.length);
      frame[FRAME_HEADER_BYTES] = this.int(7);
      frame.set(body, FRAME_HEADER_BYTES + 1);
      return reseal(frame);
    }
    const junk = new Uint8Array(this.int(256)).map(() => this.int(256));
    return this.random() < 0.5 ? reseal(junk) : junk;
  }
}

interface FuzzResult {
  frames: number;
  accepted: number;
  rejectedByCode: Record<string, number>;
  readerFrames: number;
  elapsedMs: number;
}

function fuzz(frames: number, seed: number): FuzzResult {
  const codec = new FrameCodec(FRAME_BYTES_MAX);
  const seeds = corpus(codec);
  const generator = new Generator(seededRandom(seed), seeds);
  // What the seeds decode to before any garbage: later decodes must still give the same.
  const pristine = seeds.map((frame) => decodedText(codec, frame));
  const result: FuzzResult = { frames, accepted: 0, rejectedByCode: {}, readerFrames: 0,
    elapsedMs: 0 };
  const started = performance.now();
  for (let i = 0; i < frames; i++) {
    const frame = generator.frame();
    let accepted = false;
    try {
      const decoded = codec.decode(frame);
      accepted = true;
      if (decoded.kind === FrameKind.Batch) {
        for (const e of batchEnvelopes(decoded)) {
          if (!(e.rangeId >= 0 && e.rangeId < 2 ** 32 && e.message.type <= 23)) {
            throw new Error(`seed ${seed} frame ${i}: accepted a bad envelope`);
          }
          for (const entry of e.message.entries) {
            if (entry.type > EntryType.EntryConfChangeV2) throw new Error('bad entry type');
          }
        }
      }
    } catch (error) {
      if (!(error instanceof FrameError)) {
        throw new Error(`seed ${seed} frame ${i}: decoder threw ${String(error)}`,
          { cause: error });
      }
      result.rejectedByCode[error.code] = (result.rejectedByCode[error.code] ?? 0) + 1;
    }
    if (accepted) {
      result.accepted++;
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      if (view.getUint32(0) !== frame.length - FRAME_HEADER_BYTES ||
        view.getUint32(4) !== crc32(frame.subarray(FRAME_HEADER_BYTES))) {
        throw new Error(`seed ${seed} frame ${i}: accepted a frame that fails its checksum`);
      }
    }
    if (i % 64 === 0) result.readerFrames += throughReader(frame, generator);
    if (i % 1024 === 0) checkPristine(codec, pristine, seed, i);
  }
  result.elapsedMs = Math.round(performance.now() - started);
  return result;
}

/** A decoded frame as text, heartbeats fanned out. */
function decodedText(codec: FrameCodec, bytes: Uint8Array): string {
  const frame = codec.decode(bytes);
  return JSON.stringify(frame.kind === FrameKind.Batch ? batchEnvelopes(frame) : frame);
}

/** The codec still decodes every valid seed frame as before: bad frames left no state. */
function checkPristine(codec: FrameCodec, pristine: string[], seed: number, i: number): void {
  const seeds = corpus(codec);
  for (let s = 0; s < seeds.length; s++) {
    if (decodedText(codec, seeds[s]!) !== pristine[s]) {
      throw new Error(`seed ${seed} frame ${i}: decoder state corrupted (seed frame ${s})`);
    }
  }
}

/** Feeds bytes to a `FrameReader` in random pieces; returns the frames it split out. */
function throughReader(bytes: Uint8Array, generator: Generator): number {
  const reader = new FrameReader(FRAME_BYTES_MAX);
  let count = 0;
  try {
    for (let at = 0; at < bytes.length;) {
      const size = 1 + generator.int(64);
      reader.push(bytes.subarray(at, at + size));
      at += size;
      while (reader.next() !== null) count++;
    }
  } catch (error) {
    if (!(error instanceof FrameError)) throw error;
  }
  return count;
}

describe('frame decoder fuzz', () => {
  it(`survives ${FRAMES} random and mutated frames (seed ${SEED})`, () => {
    const result = fuzz(FRAMES, SEED);
    // Printed on purpose: the full run's figures go into the report.
    console.log(JSON.stringify({ name: 'transport.fuzz', seed: SEED, ...result }));
    expect(result.accepted).toBeGreaterThan(0);
    expect(Object.keys(result.rejectedByCode).sort()).toEqual(['ERR_FRAME_CHECKSUM',
      'ERR_FRAME_DECODE', 'ERR_FRAME_OVERSIZED', 'ERR_FRAME_TRUNCATED']);
  }, 1_200_000);
});
