/**
 * The one source of randomness the Raft core uses (randomized election timeouts). It is
 * injected, so a whole cluster replays exactly from one seed, and shared by every group of a
 * process, so a group carries no generator state of its own.
 */

/** A source of uniformly distributed integers. */
export interface RandomSource {
  /** Returns an integer in [0, n). `n` must be a positive integer below 2^32. */
  intn(n: number): number;
}

/**
 * A small, fast, seedable generator (`xoshiro128**`, four 32-bit lanes).
 * Not cryptographic; statistically good enough for timeouts and simulation schedules.
 */
export class SeededRandom implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // splitmix32 expands one seed into four non-zero lanes.
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /** Returns the next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  intn(n: number): number {
    if (!(n > 0 && n <= 0x100000000 && Number.isInteger(n))) {
      throw new RangeError(`intn: n must be an integer in (0, 2^32], got ${n}`);
    }
    // Multiply-shift maps 32 random bits onto [0, n) with negligible bias for small n.
    return Math.floor((this.nextUint32() / 0x100000000) * n);
  }

  /** Returns a float in [0, 1). */
  float(): number {
    return this.nextUint32() / 0x100000000;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
