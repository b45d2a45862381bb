/**
 * The crash-model engine for simulations: the durable engine (the very code LevelDB runs
 * under) on a simulated disk. Deterministic: a commit completes only when the test calls
 * `completeWrite` (the virtual disk latency is the test's choice), and `crash()` returns a
 * fresh, unopened engine over only what completed, as a power cut leaves LevelDB: every
 * write not yet synced is lost whole. Faults: `failNextWrite`, and `disk.poke` to damage a
 * record.
 */
import { assert } from '../util/index.js';
import { SimDisk } from './_sim_disk.js';
import { DurableEngine, type DurableEngineOptions } from './durable_engine.js';
import type { EngineOpenOptions } from './engine.js';

/** The durable engine on a simulated disk. */
export class CrashModelEngine extends DurableEngine {
  /** The simulated disk (tests may damage records with `poke`). */
  readonly disk: SimDisk;
  private readonly options: DurableEngineOptions;

  constructor(options: DurableEngineOptions, disk: SimDisk = new SimDisk()) {
    super(disk, options);
    this.disk = disk;
    this.options = options;
  }

  /**
   * Opens like the durable engine; the identity write of a new disk completes at once (an
   * open is not a point the simulation crashes in).
   */
  override async open(options: EngineOpenOptions = {}): Promise<readonly number[]> {
    let settled = false;
    const opening = super.open(options).finally(() => {
      settled = true;
    });
    // Only microtasks run inside `open` on this disk: bounded turns suffice.
    for (let turns = 0; !settled; turns++) {
      assert(turns < 100_000, 'an open on the simulated disk settles');
      this.disk.completeNext();
      await Promise.resolve();
    }
    return opening;
  }

  /**
   * Closes like the durable engine; the manifest write of a clean close completes at once
   * (like the open, a close is not a point the simulation crashes in).
   */
  override async close(): Promise<void> {
    let settled = false;
    const closing = super.close().finally(() => {
      settled = true;
    });
    for (let turns = 0; !settled; turns++) {
      assert(turns < 100_000, 'a close on the simulated disk settles');
      this.disk.completeNext();
      await Promise.resolve();
    }
    return closing;
  }

  /** Writes issued and not yet completed (0 or 1: the engine issues one at a time). */
  get pendingWrites(): number {
    return this.disk.pendingCount;
  }

  /**
   * Writes issued to the disk since this engine's disk was created (a crash point: "the
   * disk dies with the k-th write in flight" is `writesIssued === k` and a pending write).
   */
  get writesIssued(): number {
    return this.disk.writesIssued;
  }

  /** Completes the write in flight; false if none was. Batches' callbacks run inside. */
  completeWrite(): boolean {
    return this.disk.completeNext();
  }

  /** Completes writes until none is pending (follow-up writes included); returns how many. */
  completeAll(): number {
    let n = 0;
    while (this.disk.completeNext()) n++;
    return n;
  }

  /** The next write fails with `error`, breaking the engine. */
  failNextWrite(error: Error): void {
    this.disk.failNextWrite(error);
  }

  /**
   * The engine as a restart after a crash finds it: only completed writes. This engine must
   * not be used afterwards; open the returned one.
   */
  crash(options: Partial<DurableEngineOptions> = {}): CrashModelEngine {
    return new CrashModelEngine({ ...this.options, ...options }, this.disk.crash());
  }
}
