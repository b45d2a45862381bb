/**
 * Randomness, the one home of it: one seeded generator (`SeededRandom`) behind one small
 * interface (`RandomSource`). The Raft core takes a `RandomSource` injected (randomized
 * election timeouts) and one is shared by every group of a process; the transports draw
 * jitter from one, the simulation its schedule, the benchmarks their workloads, so that
 * every run replays exactly from its seed. Nothing in Flotilla calls `Math.random`.
 */

/** A source of uniformly distributed integers. */
export interface RandomSource {
  /** Returns an integer in [0, n). `n` must be a positive integer, at most 2^32. */
  intn(n: number): number;
}

/**
 * A small, fast, seedable generator (`xoshiro128**`, four 32-bit lanes).
 * Not cryptographic; statistically good enough for timeouts, jitter and simulation.
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

  /** Returns an integer in [0, n). @throws RangeError unless n is an integer in (0, 2^32]. */
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

/**
 * A generator seeded from the system's entropy, for production defaults (backoff jitter)
 * where replay does not matter; tests and the simulation pass a `SeededRandom` instead.
 */
export function unseededRandom(): SeededRandom {
  const seed = new Uint32Array(1);
  crypto.getRandomValues(seed);
  return new SeededRandom(seed[0]!);
}

/** `random` as a function returning floats in [0, 1) (the shape jitter and faults take). */
export function floatsOf(random: SeededRandom): () => number {
  return () => random.float();
}
