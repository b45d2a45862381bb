/**
 * The simulated network (TigerBeetle's `packet_simulator`, for Raft messages): each message
 * sent may be dropped, duplicated, or delayed by a random amount (which reorders messages),
 * and links may be cut symmetrically or in one direction only. All choices come from the one
 * seeded random source, so a seed decides every message's fate.
 *
 * The network is keyed by node id and knows nothing of Raft; the world decides what a
 * delivery means.
 */
import { assert } from '../../src/util/index.js';
import type { SeededRandom } from '../../src/raft/index.js';

/** The fault rates of one network. Probabilities are in [0, 1]; delays in virtual ms. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicateRate: number;
  /** Smallest one-way delay. */
  delayMsMin: number;
  /** Largest ordinary one-way delay; the delay is uniform in [min, max]. */
  delayMsMax: number;
  /** Probability that a message is delayed much longer (up to `spikeDelayMsMax`). */
  spikeRate: number;
  spikeDelayMsMax: number;
}

/** A network with no faults at all other than its (fixed-range) delays. */
export function reliableFaults(delayMsMin = 1, delayMsMax = 5): NetworkFaults {
  return {
    dropRate: 0, duplicateRate: 0, delayMsMin, delayMsMax, spikeRate: 0, spikeDelayMsMax: 0,
  };
}

/** What happens to one message: the delays of its copies (empty when dropped). */
export interface Fate {
  delaysMs: number[];
  /** Why it was dropped, for traces. */
  dropped: 'partition' | 'loss' | null;
}

/** Decides the fate of messages and holds the current partitions. */
export class SimNetwork {
  /** Cut directed links, as `from * LINK_SHIFT + to`. */
  private readonly cut = new Set<number>();
  faults: NetworkFaults;

  constructor(
    private readonly random: SeededRandom,
    faults: NetworkFaults,
  ) {
    this.faults = faults;
  }

  /** Whether messages from `from` to `to` currently get through. */
  connected(from: number, to: number): boolean {
    return !this.cut.has(linkKey(from, to));
  }

  /** Cuts the link from `from` to `to` (one way). */
  cutOneWay(from: number, to: number): void {
    assert(from !== to, 'a node is always connected to itself');
    this.cut.add(linkKey(from, to));
  }

  /** Splits `ids` into two sides that cannot talk to each other (both directions). */
  partition(sideA: readonly number[], sideB: readonly number[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        if (a === b) continue;
        this.cutOneWay(a, b);
        this.cutOneWay(b, a);
      }
    }
  }

  /** Isolates `id` from all of `others` (both directions). */
  isolate(id: number, others: readonly number[]): void {
    this.partition([id], others);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** How many directed links are cut. */
  get cutLinks(): number {
    return this.cut.size;
  }

  /** Draws the fate of one message sent now from `from` to `to`. */
  fate(from: number, to: number): Fate {
    if (!this.connected(from, to)) return { delaysMs: [], dropped: 'partition' };
    const f = this.faults;
    if (f.dropRate > 0 && this.random.float() < f.dropRate) {
      return { delaysMs: [], dropped: 'loss' };
    }
    const delaysMs = [this.delay()];
    if (f.duplicateRate > 0 && this.random.float() < f.duplicateRate) delaysMs.push(this.delay());
    return { delaysMs, dropped: null };
  }

  private delay(): number {
    const f = this.faults;
    assert(f.delayMsMin >= 0 && f.delayMsMax >= f.delayMsMin, 'bad delay range');
    if (f.spikeRate > 0 && this.random.float() < f.spikeRate) {
      return f.delayMsMax + this.random.intn(Math.max(1, f.spikeDelayMsMax - f.delayMsMax) + 1);
    }
    return f.delayMsMin + this.random.intn(f.delayMsMax - f.delayMsMin + 1);
  }
}

/** Node ids stay far below this, so a pair packs into one safe integer. */
const LINK_SHIFT = 1 << 20;

function linkKey(from: number, to: number): number {
  assert(from > 0 && from < LINK_SHIFT && to > 0 && to < LINK_SHIFT, 'node id out of range');
  return from * LINK_SHIFT + to;
}
