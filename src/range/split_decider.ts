/**
 * When a range should split, and where.
 *
 * BY SIZE (`sizeSplitReason`, `findSizeSplitKey`): a range holding more than `rangeBytesMax`
 * bytes or `rangeKeysMax` keys splits at the key that halves its bytes.
 *
 * BY LOAD (`LoadSplitDecider`, CockroachDB's split/decider.go with its unweighted finder):
 * requests are counted per second; while the rate is at or above `qpsThreshold` a finder
 * samples request keys into a reservoir of `sampleSize` candidates. Every later request
 * that does not replace a sample counts, for each sample key k, on which side of a split at
 * k it would land: `left` (it lies entirely before k), `right` (it starts at or after k) or
 * `contained` (its span straddles k). After `recordDurationMs` of sampling, the
 * candidate with at least `minCounter` observations that minimises
 *   balance = |left − right| / (left + right)   plus   contained / (left + right + contained)
 * with balance < `balanceThreshold` and contained share < `containedThreshold` is the split
 * key. A rate below the threshold drops the finder. At most one suggestion is made per
 * `suggestionIntervalMs`. The reservoir draws from the injected `RandomSource`, so a run
 * replays from its seed.
 */
import { assert } from '../util/index.js';
import type { RandomSource } from '../raft/index.js';
import type { RangeDescriptor } from './descriptor.js';
import type { RangeStats } from './kv_apply.js';
import { compareKeys } from './keys.js';
import type { KvReader } from './kv_store.js';

/** Size thresholds of a range. */
export interface SizeSplitOptions {
  /** Bytes of user data above which a range splits. @default 67108864 (bytes: 64 MiB) */
  rangeBytesMax: number;
  /** Keys above which a range splits. @default 1000000 (keys) */
  rangeKeysMax: number;
}

/** The default size thresholds. */
export const defaultSizeSplitOptions: Readonly<SizeSplitOptions> = {
  rangeBytesMax: 64 << 20, rangeKeysMax: 1_000_000,
};

/** Why the range is too big ('bytes' or 'keys'), or null if it is not. */
export function sizeSplitReason(stats: RangeStats, o: SizeSplitOptions): 'bytes' | 'keys' | null {
  assert(o.rangeBytesMax > 0 && o.rangeKeysMax > 0, 'size thresholds');
  if (stats.byteCount > o.rangeBytesMax) return 'bytes';
  if (stats.keyCount > o.rangeKeysMax) return 'keys';
  return null;
}

/**
 * The key that splits the range's bytes in halves: the first key at which the bytes before it
 * reach half the total. Undefined if no key strictly after the range's start qualifies (a
 * range of one key cannot split). Reads at most `stats.keyCount` entries.
 */
export function findSizeSplitKey(
  reader: KvReader, desc: RangeDescriptor, stats: RangeStats,
): Uint8Array | undefined {
  if (stats.keyCount < 2) return undefined;
  const rows = reader.scan(desc.startKey, desc.endKey, stats.keyCount);
  assert(rows.length <= stats.keyCount, 'scan bound');
  const half = stats.byteCount / 2;
  let before = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (i > 0 && before >= half) return row.key;
    before += row.key.length + row.value.length;
  }
  return rows.length >= 2 ? rows[rows.length - 1]!.key : undefined;
}

/** Options of a `LoadSplitDecider` (see the file header). */
export interface LoadSplitOptions {
  /** Requests per second at or above which sampling starts. @default 2500 (requests/s) */
  qpsThreshold?: number;
  /** Sampling time before a key may be suggested. @default 10000 (ms) */
  recordDurationMs?: number;
  /** Least time between two suggestions. @default 60000 (ms) */
  suggestionIntervalMs?: number;
  /** Candidates in the reservoir. @default 20 (keys) */
  sampleSize?: number;
  /** Observations a candidate needs. @default 100 (requests) */
  minCounter?: number;
  /** Largest balance score of a suggestion. @default 0.25 */
  balanceThreshold?: number;
  /** Largest share of straddling requests of a suggestion. @default 0.5 */
  containedThreshold?: number;
}

interface Sample {
  key: Uint8Array;
  left: number;
  right: number;
  contained: number;
}

/** Counts of a candidate key, for tests and status pages. */
export type SampleView = Readonly<Sample>;

/** Samples the load of one range and suggests a split key (see the file header). */
export class LoadSplitDecider {
  readonly qpsThreshold: number;
  readonly recordDurationMs: number;
  readonly suggestionIntervalMs: number;
  readonly sampleSize: number;
  readonly minCounter: number;
  readonly balanceThreshold: number;
  readonly containedThreshold: number;
  private windowStartMs = -1;
  private windowCount = 0;
  private lastQpsValue = 0;
  private finderStartMs = -1;
  private samples: Sample[] = [];
  private seen = 0;
  private lastSuggestionMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly random: RandomSource, options: LoadSplitOptions = {}) {
    this.qpsThreshold = options.qpsThreshold ?? 2500;
    this.recordDurationMs = options.recordDurationMs ?? 10_000;
    this.suggestionIntervalMs = options.suggestionIntervalMs ?? 60_000;
    this.sampleSize = options.sampleSize ?? 20;
    this.minCounter = options.minCounter ?? 100;
    this.balanceThreshold = options.balanceThreshold ?? 0.25;
    this.containedThreshold = options.containedThreshold ?? 0.5;
    assert(this.qpsThreshold > 0 && this.sampleSize > 0 && this.minCounter > 0, 'options');
    assert(this.recordDurationMs >= 0 && this.suggestionIntervalMs >= 0, 'durations');
  }

  /** The last full second's request rate. */
  get lastQps(): number {
    return this.lastQpsValue;
  }

  /** Whether the finder is sampling. */
  get sampling(): boolean {
    return this.finderStartMs >= 0;
  }

  /** The reservoir's candidates (copies). */
  candidates(): SampleView[] {
    return this.samples.map((s) => ({ ...s }));
  }

  /**
   * Records `n` requests over `[start, end)` (`end` undefined: a point request at `start`) at
   * `nowMs`. Returns true when a split key should be taken now (at most once per interval).
   */
  record(nowMs: number, n: number, start: Uint8Array, end?: Uint8Array): boolean {
    assert(n >= 0 && Number.isFinite(nowMs), 'record arguments');
    this.rollOver(nowMs, n);
    if (!this.sampling || n === 0) return false;
    this.sample(start, end);
    if (nowMs - this.lastSuggestionMs < this.suggestionIntervalMs) return false;
    if (nowMs - this.finderStartMs < this.recordDurationMs) return false;
    if (this.splitKey() === undefined) return false;
    this.lastSuggestionMs = nowMs;
    return true;
  }

  /** The best candidate now, or undefined (see the file header for the score). */
  splitKey(): Uint8Array | undefined {
    let best: Sample | undefined;
    let bestScore = 2;
    for (const s of this.samples) {
      const total = s.left + s.right + s.contained;
      if (total < this.minCounter) continue;
      const balance = s.left + s.right === 0 ? 1 : Math.abs(s.left - s.right) / (s.left + s.right);
      const contained = s.contained / total;
      if (balance >= this.balanceThreshold || contained >= this.containedThreshold) continue;
      if (balance + contained < bestScore) {
        best = s;
        bestScore = balance + contained;
      }
    }
    assert(bestScore <= 2, 'scores are at most 2');
    return best?.key.slice();
  }

  /** Forgets everything (the range just split or merged). */
  reset(): void {
    this.windowStartMs = -1;
    this.windowCount = 0;
    this.lastQpsValue = 0;
    this.dropFinder();
    this.lastSuggestionMs = Number.NEGATIVE_INFINITY;
  }

  private rollOver(nowMs: number, n: number): void {
    this.windowCount += n;
    if (this.windowStartMs < 0) this.windowStartMs = nowMs;
    const elapsedMs = nowMs - this.windowStartMs;
    if (elapsedMs < 1000) return;
    this.lastQpsValue = (this.windowCount / elapsedMs) * 1000;
    this.windowStartMs = nowMs;
    this.windowCount = 0;
    if (this.lastQpsValue >= this.qpsThreshold) {
      if (!this.sampling) this.finderStartMs = nowMs;
    } else {
      this.dropFinder();
    }
  }

  private dropFinder(): void {
    this.finderStartMs = -1;
    this.samples = [];
    this.seen = 0;
  }

  /** Reservoir sampling: the i-th request replaces a sample with probability size/i. */
  private sample(start: Uint8Array, end: Uint8Array | undefined): void {
    const i = this.seen++;
    if (i < this.sampleSize) {
      this.samples.push({ key: start.slice(), left: 0, right: 0, contained: 0 });
      return;
    }
    const slot = this.random.intn(i);
    if (slot < this.sampleSize) {
      this.samples[slot] = { key: start.slice(), left: 0, right: 0, contained: 0 };
      return;
    }
    for (const s of this.samples) {
      const straddles = end !== undefined && compareKeys(start, s.key) < 0 &&
        compareKeys(s.key, end) < 0;
      if (straddles) s.contained++;
      else if (compareKeys(s.key, start) <= 0) s.right++;
      else s.left++;
    }
    assert(this.samples.length === this.sampleSize, 'reservoir is full');
  }
}
