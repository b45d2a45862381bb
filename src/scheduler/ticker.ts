/**
 * `Ticker`: the one shared tick clock of a store. It visits only awake groups, spreads their
 * ticks over sub-ticks, and accounts for the ticks a quiesced group sleeps through.
 */
import { assert } from '../util/index.js';
import type { GroupId } from './group_id.js';
import { assertGroup } from './_assert.js';
import { growTo } from './_ring.js';
import { resolveTickerOptions } from './options.js';
import type { TickerConfig, TickerOptions } from './options.js';
import { WorkFlag } from './scheduler.js';
import type { WorkFlags } from './scheduler.js';

/** Where the ticker delivers ticks: `Scheduler` implements it. */
export interface TickTarget {
  /** Called with `WorkFlag.Tick` once per due tick of an awake group. */
  enqueue(id: GroupId, flags: WorkFlags): void;
}

/** Slot value of a group the ticker does not know. */
const UNKNOWN = 0;
/** Slot value of a quiesced group. Awake groups have slot = index in their bucket + 1. */
const ASLEEP = -1;

/**
 * The tick clock. The node layer calls `tick()` every `subTickIntervalMs`; tests call it
 * directly. SPREAD: a tick interval is cut into `tickSpreadSlots` sub-ticks and each group
 * has a fixed phase, a Fibonacci hash of its id, so groups created together (consecutive
 * ids, or ids with a stride) land in different phases. Each sub-tick enqueues a `Tick` for
 * the awake groups of one phase only, so the tick work of N groups arrives as
 * `tickSpreadSlots` bursts of about N / tickSpreadSlots instead of one burst of N, and each
 * group still ticks exactly once per `tickIntervalMs`, at a constant period (a per-phase set
 * keeps that exact; walking a slice of one shared array would not, because removals move
 * entries). AWAKE SET: one dense array of ids per phase plus, per group, its index in that
 * array (+1), so add and remove are O(1) swaps and a tick costs O(awake), not O(all).
 */
export class Ticker {
  /** Resolved options (defaults applied, validated). */
  readonly config: Readonly<TickerConfig>;
  /** Milliseconds between two `tick()` calls: `tickIntervalMs / tickSpreadSlots`. */
  readonly subTickIntervalMs: number;

  /** Per group: UNKNOWN, ASLEEP, or awake at `buckets[phase][slot - 1]`. */
  private slots: Int32Array;
  /** Per group, while asleep: the ticks its phase had received when it quiesced, mod 2^32. */
  private sleptFrom: Uint32Array;
  /** Per phase: the awake ids, dense in `[0, bucketLengths[phase])`. */
  private readonly buckets: Int32Array[] = [];
  private readonly bucketLengths: Int32Array;
  private subTickCount = 0;
  private awake = 0;
  private ticking = false;

  /**
   * @param target receives the ticks (normally the store's `Scheduler`).
   * @param options tick interval, spread and limits; invalid values throw `ConfigError`.
   */
  constructor(
    private readonly target: TickTarget,
    options: TickerOptions = {},
  ) {
    this.config = resolveTickerOptions(options);
    assert(typeof target?.enqueue === 'function', 'tick target must have enqueue()');
    const { groupsInitial, tickSpreadSlots, tickIntervalMs } = this.config;
    this.subTickIntervalMs = tickIntervalMs / tickSpreadSlots;
    this.slots = new Int32Array(groupsInitial);
    this.sleptFrom = new Uint32Array(groupsInitial);
    this.bucketLengths = new Int32Array(tickSpreadSlots);
    const bucketInitial = Math.ceil(groupsInitial / tickSpreadSlots);
    for (let phase = 0; phase < tickSpreadSlots; phase++) {
      this.buckets.push(new Int32Array(bucketInitial));
    }
    assert(this.buckets.length === tickSpreadSlots, 'one bucket per phase');
  }

  /** Number of `tick()` calls so far. */
  get subTicks(): number {
    return this.subTickCount;
  }

  /** Number of awake groups (the cost of one full tick interval). */
  get awakeCount(): number {
    return this.awake;
  }

  /** Bytes held by per-group arrays and the awake set (for density accounting). */
  get memoryBytes(): number {
    let bytes = this.slots.byteLength + this.sleptFrom.byteLength;
    for (const bucket of this.buckets) bytes += bucket.byteLength;
    return bytes;
  }

  /** The sub-tick (in `[0, tickSpreadSlots)`) of each interval on which `id` ticks. */
  phaseOf(id: GroupId): number {
    // Fibonacci hashing: the top 16 bits of id * 2^32/phi, scaled to the slot count.
    // Consecutive or strided ids spread almost evenly over the phases.
    const phase = ((Math.imul(id, 0x9e3779b1) >>> 16) * this.config.tickSpreadSlots) >>> 16;
    assert(phase >= 0 && phase < this.config.tickSpreadSlots, 'phase in range');
    return phase;
  }

  /**
   * Advances the clock by one sub-tick: enqueues a `Tick` for every awake group whose phase
   * is due. Must not be re-entered, and the awake set must not change while it runs.
   * @returns the number of groups ticked.
   */
  tick(): number {
    assert(!this.ticking, 'tick() re-entered');
    const phase = this.subTickCount % this.config.tickSpreadSlots;
    this.subTickCount++;
    this.ticking = true;
    const bucket = this.buckets[phase]!;
    const length = this.bucketLengths[phase]!;
    for (let i = 0; i < length; i++) this.target.enqueue(bucket[i]! as GroupId, WorkFlag.Tick);
    this.ticking = false;
    assert(this.bucketLengths[phase] === length, 'awake set changed during tick()');
    return length;
  }

  /** Registers a new group, awake. The id must not be registered already. */
  add(id: GroupId): void {
    this.checkMutable(id);
    if (id >= this.slots.length) this.grow(id);
    assertGroup(this.slots[id] === UNKNOWN, id, 'already registered');
    this.insertAwake(id);
  }

  /** Unregisters a group (awake or asleep), e.g. when its replica is destroyed. */
  remove(id: GroupId): void {
    this.checkMutable(id);
    const slot = id < this.slots.length ? this.slots[id]! : UNKNOWN;
    assertGroup(slot !== UNKNOWN, id, 'remove of an unregistered group');
    if (slot > 0) this.removeAwake(id);
    this.slots[id] = UNKNOWN;
  }

  /**
   * Takes an awake group out of the tick set: it receives no ticks until `wake()`.
   * @returns false if it was already asleep.
   */
  quiesce(id: GroupId): boolean {
    this.checkMutable(id);
    const slot = id < this.slots.length ? this.slots[id]! : UNKNOWN;
    assertGroup(slot !== UNKNOWN, id, 'quiesce of an unregistered group');
    if (slot === ASLEEP) return false;
    this.removeAwake(id);
    this.slots[id] = ASLEEP;
    this.sleptFrom[id] = this.ticksDelivered(this.phaseOf(id)) >>> 0;
    return true;
  }

  /**
   * Puts a quiesced group back in the tick set. Cheap and idempotent: call it on every
   * message to a group.
   * @returns the ticks it slept through (what it would have received while awake), capped
   *   at `sleptTicksMax`; the store calls `tickQuiesced` that many times. 0 if it was awake.
   */
  wake(id: GroupId): number {
    this.checkMutable(id);
    const slot = id < this.slots.length ? this.slots[id]! : UNKNOWN;
    assertGroup(slot !== UNKNOWN, id, 'wake of an unregistered group');
    if (slot !== ASLEEP) return 0;
    const slept = ((this.ticksDelivered(this.phaseOf(id)) >>> 0) - this.sleptFrom[id]!) >>> 0;
    this.insertAwake(id);
    return Math.min(slept, this.config.sleptTicksMax);
  }

  /** Whether `id` is registered and awake. */
  isAwake(id: GroupId): boolean {
    return id < this.slots.length && this.slots[id]! > 0;
  }

  /** Whether `id` is registered (awake or asleep). */
  isRegistered(id: GroupId): boolean {
    return id < this.slots.length && this.slots[id] !== UNKNOWN;
  }

  /**
   * Checks the awake set by a full scan: O(groups). For tests and the simulation only.
   * INVARIANT: an id is at `buckets[p][i]` iff its phase is p and its slot is i + 1.
   */
  assertInvariants(): void {
    let awake = 0;
    for (let phase = 0; phase < this.buckets.length; phase++) {
      const bucket = this.buckets[phase]!;
      for (let i = 0; i < this.bucketLengths[phase]!; i++) {
        const id = bucket[i]! as GroupId;
        assertGroup(this.slots[id] === i + 1, id, 'slot does not point at its entry');
        assertGroup(this.phaseOf(id) === phase, id, 'in the wrong phase');
        awake++;
      }
    }
    let slotsAwake = 0;
    for (let id = 0; id < this.slots.length; id++) if (this.slots[id]! > 0) slotsAwake++;
    assert(awake === this.awake && slotsAwake === this.awake, 'awake count');
  }

  /** Ticks delivered so far to the groups of `phase` (sub-ticks k < now with k % S = p). */
  private ticksDelivered(phase: number): number {
    const slotsPerTick = this.config.tickSpreadSlots;
    const now = this.subTickCount;
    assert(phase >= 0 && phase < slotsPerTick, 'phase in range');
    return now > phase ? Math.floor((now - 1 - phase) / slotsPerTick) + 1 : 0;
  }

  private checkMutable(id: GroupId): void {
    const valid = id >= 0 && (id | 0) === id && id < this.config.groupIdsMax;
    assertGroup(valid, id, 'not an id in [0, groupIdsMax)');
    assert(!this.ticking, 'awake set changed during tick()');
  }

  private grow(id: number): void {
    assert(this.slots.length === this.sleptFrom.length, 'per-group arrays in step');
    this.slots = growTo(this.slots, id + 1, this.config.groupIdsMax);
    this.sleptFrom = growTo(this.sleptFrom, id + 1, this.config.groupIdsMax);
  }

  private insertAwake(id: GroupId): void {
    const phase = this.phaseOf(id);
    const length = this.bucketLengths[phase]!;
    assertGroup(this.slots[id]! <= 0, id, 'inserted into the awake set twice');
    if (length === this.buckets[phase]!.length) {
      this.buckets[phase] = growTo(this.buckets[phase]!, length + 1, this.config.groupIdsMax);
    }
    this.buckets[phase]![length] = id;
    this.bucketLengths[phase] = length + 1;
    this.slots[id] = length + 1;
    this.awake++;
    assert(this.awake <= this.config.groupIdsMax, 'awake count within groupIdsMax');
  }

  private removeAwake(id: GroupId): void {
    const phase = this.phaseOf(id);
    const index = this.slots[id]! - 1;
    const last = this.bucketLengths[phase]! - 1;
    const bucket = this.buckets[phase]!;
    assertGroup(index >= 0 && index <= last && bucket[index] === id, id, 'not awake');
    // Swap-remove: move the last entry into the hole and repoint its slot.
    const moved = bucket[last]!;
    bucket[index] = moved;
    this.slots[moved] = index + 1;
    this.bucketLengths[phase] = last;
    this.awake--;
    assert(this.awake >= 0 && this.awake >= last, 'awake count covers the bucket');
  }
}
