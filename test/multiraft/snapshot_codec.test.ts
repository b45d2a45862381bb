/**
 * The snapshot payload: what the encoder cuts into chunks the decoder reads back whole, and a
 * truncated, extended or inconsistent payload is refused (`BadSnapshotPayload`).
 */
import { describe, expect, it } from 'vitest';
import {
  BadSnapshotPayload,
  SnapshotEncoder,
  decodeSnapshot,
  type SnapshotHeader,
} from '../../src/multiraft/_snapshot_codec.js';
import { b, str } from './_snapshot_helpers.js';

const header: SnapshotHeader = {
  rangeId: 9, index: 120, term: 4, msgTerm: 5, descriptor: b('desc'), engineState: true,
  confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [],
    autoLeave: false },
  span: { start: b('a'), end: b('m') },
};

function encode(chunkBytes: number, users: number): Uint8Array[] {
  const enc = new SnapshotEncoder(chunkBytes);
  enc.header(header);
  enc.record(true, { key: b('descriptor'), value: b('d') });
  for (let i = 0; i < users; i++) enc.record(false, { key: b(`b${i}`), value: b(`v${i}`) });
  enc.end();
  const chunks: Uint8Array[] = [];
  while (enc.chunkReady) chunks.push(enc.take(false));
  chunks.push(enc.take(true));
  return chunks;
}

describe('snapshot payload', () => {
  it('chunks of exactly the chunk size (the last shorter) decode back whole', () => {
    const chunks = encode(64, 40);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.slice(0, -1).every((c) => c.length === 64)).toBe(true);
    const d = decodeSnapshot(Buffer.concat(chunks));
    expect(d.header).toEqual({ ...header, descriptor: d.header.descriptor,
      span: d.header.span });
    expect(str(d.header.descriptor)).toBe('desc');
    expect(d.local.map((e) => str(e.key))).toEqual(['descriptor']);
    expect(d.user.map((e) => `${str(e.key)}=${str(e.value)}`)[39]).toBe('b39=v39');
  });

  it('refuses a truncated payload, trailing bytes and a foreign magic', () => {
    const whole = Buffer.concat(encode(1024, 5));
    for (const bad of [whole.subarray(0, whole.length - 3), Buffer.concat([whole,
      Uint8Array.of(0)]), Buffer.concat([Uint8Array.of(0), whole.subarray(1)])]) {
      expect(() => decodeSnapshot(bad)).toThrow(BadSnapshotPayload);
    }
  });
});
