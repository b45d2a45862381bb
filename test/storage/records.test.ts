/**
 * The record checksum: the JS CRC-32 used for small records must give zlib's value exactly,
 * or records written by one path would fail the other's check.
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JS_CRC_BYTES_MAX, crc32Small } from '../../src/storage/_records.js';

describe('crc32Small', () => {
  it('equals zlib crc32 for every length up to the JS bound and any start value', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 0, maxLength: JS_CRC_BYTES_MAX + 8 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (bytes, start) => {
        expect(crc32Small(bytes, start)).toBe(crc32(bytes, start));
      },
    ), { numRuns: 500 });
  });

  it('chains like zlib: key then payload equals the checksum of both together', () => {
    const key = Uint8Array.from({ length: 17 }, (_, i) => i * 31);
    const payload = Uint8Array.from({ length: 73 }, (_, i) => 255 - i);
    const both = new Uint8Array(90);
    both.set(key);
    both.set(payload, 17);
    expect(crc32Small(payload, crc32Small(key, 0))).toBe(crc32(both));
    expect(crc32Small(new Uint8Array(0), 12345)).toBe(12345);
  });
});
