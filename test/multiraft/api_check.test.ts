/** The API argument checks of api_check.ts (no store). */
import { describe, expect, it } from 'vitest';
import { checkPayload, checkRangeConfig, checkRangeId } from '../../src/multiraft/api_check.js';
import {
  InputErrorCode,
  InvalidPayloadError,
  InvalidRangeConfigError,
  InvalidRangeIdError,
  PayloadTooLargeError,
} from '../../src/multiraft/input_errors.js';

describe('checkRangeId', () => {
  it('accepts integers in [1, 2^32) and refuses the rest with a typed error', () => {
    expect(checkRangeId(1)).toBe(1);
    expect(checkRangeId(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    for (const bad of [0, -1, 1.5, 2 ** 32, NaN, Infinity, '1', null, undefined, 1n]) {
      expect(() => checkRangeId(bad), String(bad)).toThrow(InvalidRangeIdError);
    }
    try {
      checkRangeId(0);
    } catch (error) {
      expect((error as InvalidRangeIdError).code).toBe(InputErrorCode.InvalidRangeId);
    }
  });
});

describe('checkRangeConfig', () => {
  it('returns sorted private copies of a valid configuration', () => {
    const voters = [3, 1, 2];
    const learners = [5, 4];
    const checked = checkRangeConfig(1, { voters, learners });
    expect(checked).toEqual({ voters: [1, 2, 3], learners: [4, 5] });
    voters.push(9);
    learners.length = 0;
    expect(checked).toEqual({ voters: [1, 2, 3], learners: [4, 5] });
    expect(checkRangeConfig(4, { voters: [1], learners: [4] }).learners).toEqual([4]);
  });

  it('finding 8: refuses every bad voter or learner set with InvalidRangeConfigError', () => {
    const bad: unknown[] = [
      { voters: [0, 1, 2] }, { voters: [1, -5] }, { voters: [1, 2.5] }, { voters: [1, '2'] },
      { voters: [1, 1, 2] }, { voters: [1, 2], learners: [2] }, { voters: [] }, { voters: [2, 3] },
      { voters: [1, 2 ** 53] }, { voters: [1, NaN] }, { voters: 'one' }, {}, null, 7,
      { voters: [1], learners: [3, 3] }, { voters: [1], learners: 'x' },
      { voters: Array.from({ length: 65 }, (_, i) => i + 1) },
      { voters: Array.from({ length: 40 }, (_, i) => i + 1),
        learners: Array.from({ length: 25 }, (_, i) => i + 41) },
    ];
    for (const range of bad) {
      expect(() => checkRangeConfig(1, range), JSON.stringify(range))
        .toThrow(InvalidRangeConfigError);
    }
    expect(checkRangeConfig(1, { voters: Array.from({ length: 64 }, (_, i) => i + 1) })
      .voters.length).toBe(64);
  });
});

describe('checkPayload', () => {
  it('copies a Uint8Array (or Buffer), so later writes by the caller change nothing', () => {
    const data = new Uint8Array([1, 2, 3]);
    const copy = checkPayload(data, 10);
    data[0] = 9;
    expect([...copy]).toEqual([1, 2, 3]);
    expect(Object.getPrototypeOf(copy)).toBe(Uint8Array.prototype);
    const buffer = Buffer.from('abc');
    expect([...checkPayload(buffer, 10)]).toEqual([97, 98, 99]);
    const view = new Uint8Array(new ArrayBuffer(16), 4, 2);
    view.set([7, 8]);
    expect([...checkPayload(view, 10)]).toEqual([7, 8]);
    expect(checkPayload(new Uint8Array(0), 0).length).toBe(0);
  });

  it('finding 10: refuses anything that is not a Uint8Array', () => {
    const bad: unknown[] = ['text', [1, 2], 7, null, undefined, new ArrayBuffer(4),
      new DataView(new ArrayBuffer(4)), new Float64Array(1), new Uint16Array(2),
      new Uint8ClampedArray(2), new Int8Array(2), { length: 1, 0: 1 },
      Object.setPrototypeOf({ length: 0 }, Uint8Array.prototype)];
    for (const [i, data] of bad.entries()) {
      expect(() => checkPayload(data, 100), `case ${i}`).toThrow(InvalidPayloadError);
    }
  });

  it('finding 9: refuses payloads above the limit', () => {
    expect(checkPayload(new Uint8Array(100), 100).length).toBe(100);
    expect(() => checkPayload(new Uint8Array(101), 100)).toThrow(PayloadTooLargeError);
    try {
      checkPayload(new Uint8Array(101), 100);
    } catch (error) {
      expect((error as PayloadTooLargeError).code).toBe(InputErrorCode.PayloadTooLarge);
      expect((error as PayloadTooLargeError).bytes).toBe(101);
    }
  });
});
