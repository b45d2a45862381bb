/**
 * Command ids: `[u32 issuer][u32 epoch][u32 counter]`, 12 bytes. The issuer is a node or
 * client id, the epoch a random draw made when the source is created (so that a restarted
 * issuer, whose counter starts again, does not reuse the ids still in a dedupe table), the
 * counter increments per command. A client that retries a request reuses its id: that is
 * what makes the retry apply once.
 */
import { assert } from '../util/index.js';
import type { RandomSource } from '../raft/index.js';

/** Bytes of an id made by `CommandIdSource`. */
export const COMMAND_ID_BYTES = 12;

/** Makes unique command ids for one issuer (see the file header). */
export class CommandIdSource {
  private readonly epoch: number;
  private counter = 0;

  constructor(readonly issuerId: number, random: RandomSource) {
    assert(Number.isSafeInteger(issuerId) && issuerId > 0 && issuerId < 2 ** 32, 'issuer id');
    this.epoch = random.intn(2 ** 32);
  }

  /** The next id. */
  next(): Uint8Array {
    this.counter = (this.counter + 1) >>> 0;
    assert(this.counter !== 0, 'command id counter wrapped');
    const out = new Uint8Array(COMMAND_ID_BYTES);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.issuerId);
    view.setUint32(4, this.epoch);
    view.setUint32(8, this.counter);
    return out;
  }
}

/** Where new range ids come from (a split needs one that no range ever had). */
export interface RangeIdAllocator {
  /** A range id never returned before, cluster-wide. */
  next(): number;
}

/**
 * A process-wide allocator: every node of one process (a test cluster, a simulation) shares
 * it. A multi-process deployment needs the meta range to hand out ids; that is not built.
 */
export class CounterRangeIdAllocator implements RangeIdAllocator {
  constructor(private last: number) {
    assert(Number.isSafeInteger(last) && last >= 0, 'first range id');
  }

  next(): number {
    this.last++;
    return this.last;
  }
}
