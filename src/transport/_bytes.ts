/**
 * Private byte helpers: a reusable growable writer, a bounds-checked reader of unsigned
 * varints (LEB128, up to 2^53 - 1), and CRC-32.
 */
import * as zlib from 'node:zlib';
import { assert } from '../util/index.js';

const TWO_POW_31 = 0x80000000;

/**
 * A growable byte buffer reused across encodes, so the hot path allocates only when a frame
 * is larger than every frame before it. `bytesMax` bounds its growth.
 */
export class ByteWriter {
  buffer: Uint8Array;
  position = 0;
  private readonly bytesMax: number;

  constructor(initialBytes: number, bytesMax: number) {
    assert(initialBytes > 0 && initialBytes <= bytesMax, 'ByteWriter: bad sizes');
    this.buffer = new Uint8Array(initialBytes);
    this.bytesMax = bytesMax;
  }

  reset(): void {
    this.position = 0;
  }

  /** Makes room for `bytes` more bytes. */
  ensure(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.buffer.length) return;
    assert(needed <= this.bytesMax, `ByteWriter: ${needed} bytes exceeds ${this.bytesMax}`);
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.bytesMax));
    grown.set(this.buffer.subarray(0, this.position));
    this.buffer = grown;
  }

  /**
   * Writes `value` (a safe non-negative integer) as an unsigned LEB128 varint. The caller has
   * reserved at least `VARINT_BYTES_MAX` bytes with `ensure`.
   */
  varint(value: number): void {
    const buffer = this.buffer;
    let position = this.position;
    let v = value;
    while (v >= TWO_POW_31) {
      buffer[position++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      buffer[position++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buffer[position++] = v;
    this.position = position;
  }

  /** Returns a copy of the bytes written so far. */
  copy(): Uint8Array {
    return this.buffer.slice(0, this.position);
  }
}

/** A 53-bit varint takes at most 8 bytes. */
export const VARINT_BYTES_MAX = 8;

/** Thrown by `ByteReader` on malformed input; the caller turns it into a `FrameError`. */
export class ByteReaderError extends Error {}

/** Reads varints from a byte range, checking every bound. */
export class ByteReader {
  position: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.position = start;
  }

  /** Reads an unsigned varint; throws `ByteReaderError` past the end or above 2^53 - 1. */
  varint(): number {
    const bytes = this.bytes;
    let position = this.position;
    if (position >= this.end) throw new ByteReaderError('varint past end');
    let byte = bytes[position++]!;
    if (byte < 0x80) {
      this.position = position;
      return byte;
    }
    let value = byte & 0x7f;
    let multiplier = 128;
    for (let i = 1; i < VARINT_BYTES_MAX; i++) {
      if (position >= this.end) throw new ByteReaderError('varint past end');
      byte = bytes[position++]!;
      value += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) throw new ByteReaderError('varint above 2^53');
        this.position = position;
        return value;
      }
      multiplier *= 128;
    }
    throw new ByteReaderError('varint longer than 8 bytes');
  }
}

/**
 * CRC-32 (IEEE 802.3, as zlib and gzip) of `bytes`: Node's native `zlib.crc32`, which every
 * runtime this package supports (engines >= 20.20) has.
 */
export function crc32(bytes: Uint8Array): number {
  return zlib.crc32(bytes) >>> 0;
}
