/**
 * Private: the per-replica state of a store as struct-of-arrays indexed by table slot (the
 * scheduler's `GroupId`). A replica costs a few typed-array slots and three pointer slots
 * here, plus its storage; a quiesced, released replica has no other object (its `RawNode`
 * slot is null).
 *
 * OWNERSHIP. This file is the only writer of `flags`, `tickCredit` and `ticksOwed`: every
 * state transition of a replica is a method below that asserts the state it leaves (at the
 * write) and the predicates assert nothing more than they read. The life of a replica:
 *
 *   allocate -> (markInitialized) -> awake <-> quiesced -> dormant (released) -> awake ...
 *
 * and two ends besides the store's own: `markBroken` (an awake replica isolated for good)
 * and `free` (an uninitialized replica collected; its slot is reused by `allocate`).
 *
 * and, orthogonally while awake, `ReadyPending` between `markReadyPending` (Ready taken in a
 * turn) and `clearReadyPending` (advanced at the batch end).
 *
 * TICK CREDIT (the deferred-tick rules, all here). Most ticks of an awake group only advance
 * its clocks. When a node is settled (nothing owed), it may be granted credit: up to
 * `RawNode.ticksWithoutAction()` ticks that are counted in `ticksOwed` without visiting the
 * node. Whoever touches the node next takes it from `settledNode`, which pays the owed ticks
 * with one `tickIdle` and zeroes the credit. A leader gets no credit while quiescence is on:
 * it checks every tick whether it may quiesce. Invariant: ticksOwed <= tickCredit.
 */
import { assert } from '../util/index.js';
import { StateType, type RawNode } from '../raft/index.js';
import { toGroupId, type GroupId } from '../scheduler/index.js';
import type { ReplicaStorage } from '../storage/index.js';
import type { Envelope } from '../transport/index.js';

/** Bits of `ReplicaTable.flags`. */
const Flag = {
  /** The slot holds a replica. */
  Used: 1,
  /** The replica knows its configuration (created with one, or got a snapshot). */
  Initialized: 2,
  /** The group is quiesced: out of the tick set; `term`, `lead` and `applied` are recorded. */
  Quiesced: 4,
  /** Quiesced and released: `nodes[id]` is null and is rebuilt from storage on wake. */
  Dormant: 8,
  /** A Ready was taken in this batch and is not yet advanced. */
  ReadyPending: 16,
  /** Isolated after Raft panicked on a peer's message: no node, no ticks, refuses all. */
  Broken: 32,
} as const;

/** Credit and counters saturate at this (one byte per slot). */
const BYTE_MAX = 255;

/** Per-replica slots. Every array has `capacity` entries; slots are dense from 0. */
export class ReplicaTable {
  capacity: number;
  /** Slots ever handed out (slots `[0, allocated)` are used). */
  allocated = 0;
  /** Range id of each replica (the `rangeId` of its envelopes on the wire). */
  rangeIds: Uint32Array;
  /** Ticks since the last proposal made on this replica, saturating at 255. */
  idleTicks: Uint8Array;
  /** Number of peers in the group's progress, recorded when it quiesces (status only). */
  peers: Uint8Array;
  /** Recorded when the group quiesces: term, leader and applied index. */
  term: Float64Array;
  lead: Float64Array;
  applied: Float64Array;
  /** The live Raft node, or null while dormant. */
  readonly nodes: (RawNode | null)[] = [];
  /** The replica's storage (kept while dormant: the node is rebuilt from it). */
  readonly storages: (ReplicaStorage | null)[] = [];
  /** Messages waiting for the replica's next turn, or null when none. */
  readonly inboxes: (Envelope[] | null)[] = [];
  /** The slot of each range's replica. */
  readonly slotOfRange = new Map<number, GroupId>();
  /** `Flag` bits; written only by the transitions below. */
  private flags: Uint8Array;
  /** Deferred ticks (see the file comment); written only by the tick-credit methods. */
  private tickCredit: Uint8Array;
  private ticksOwed: Uint8Array;
  /** Slots emptied by `free`, handed out again before new ones. */
  private readonly freeSlots: GroupId[] = [];

  /**
   * @param initial slots allocated up front.
   * @param max the most slots ever (the store's `replicasMax`).
   */
  constructor(
    initial: number,
    private readonly max: number,
  ) {
    assert(initial >= 1 && initial <= max, 'table capacity within its maximum');
    this.capacity = initial;
    this.rangeIds = new Uint32Array(initial);
    this.flags = new Uint8Array(initial);
    this.idleTicks = new Uint8Array(initial);
    this.peers = new Uint8Array(initial);
    this.tickCredit = new Uint8Array(initial);
    this.ticksOwed = new Uint8Array(initial);
    this.term = new Float64Array(initial);
    this.lead = new Float64Array(initial);
    this.applied = new Float64Array(initial);
  }

  /** Number of replicas. */
  get size(): number {
    return this.slotOfRange.size;
  }

  /** The slot `index` as a typed slot id (for scans over `[0, allocated)`). */
  slotAt(index: number): GroupId {
    assert(index < this.allocated, 'a handed-out slot');
    return toGroupId(index);
  }

  // ---------------------------------------------------------------------------------------
  // Transitions (the only writers of `flags`).

  /** Takes the next free slot for `rangeId`; the caller fills the node and storage. */
  allocate(rangeId: number): GroupId {
    assert(!this.slotOfRange.has(rangeId), 'one replica per range');
    let id = this.freeSlots.pop();
    if (id === undefined) {
      assert(this.allocated < this.max, 'table full: the store checks replicasMax first');
      if (this.allocated === this.capacity) this.grow();
      id = toGroupId(this.allocated++);
      this.nodes.push(null);
      this.storages.push(null);
      this.inboxes.push(null);
    }
    assert(this.flags[id] === 0 && this.nodes[id] === null, 'a fresh slot is empty');
    this.rangeIds[id] = rangeId;
    this.flags[id] = Flag.Used;
    this.idleTicks[id] = BYTE_MAX;
    assert(this.tickCredit[id] === 0 && this.ticksOwed[id] === 0, 'a fresh slot owes no ticks');
    this.slotOfRange.set(rangeId, id);
    assert(this.nodes.length === this.allocated, 'pointer arrays in step');
    return id;
  }

  /**
   * Empties the slot of an uninitialized replica being collected, for reuse. The caller has
   * taken it out of the ticker; work the scheduler still holds for it finds an unused slot.
   */
  free(id: GroupId): void {
    const flags = this.flagsOf(id);
    assert((flags & (Flag.Initialized | Flag.ReadyPending)) === 0, 'free an idle, empty replica');
    this.slotOfRange.delete(this.rangeIds[id]!);
    this.flags[id] = 0;
    this.tickCredit[id] = 0;
    this.ticksOwed[id] = 0;
    this.nodes[id] = null;
    this.storages[id] = null;
    this.inboxes[id] = null;
    this.freeSlots.push(id);
    assert(this.freeSlots.length <= this.allocated, 'free slots are handed-out slots');
  }

  /**
   * Isolates an awake replica for good: its node is dropped (its state is suspect), and it
   * keeps its slot, storage and the record of its last term and leader for status.
   */
  markBroken(id: GroupId, node: RawNode): void {
    const flags = this.flagsOf(id);
    assert((flags & (Flag.Quiesced | Flag.Dormant | Flag.ReadyPending)) === 0,
      'an awake replica with no Ready out breaks');
    assert(this.nodes[id] === node, 'the replica of this slot');
    this.term[id] = node.term;
    this.lead[id] = node.lead;
    this.nodes[id] = null;
    this.tickCredit[id] = 0;
    this.ticksOwed[id] = 0;
    this.flags[id] = flags | Flag.Broken;
  }

  /**
   * A replica seated at open from its persisted state (_open.ts): initialized, quiesced and
   * dormant without ever having had a node; its leader is unknown (0).
   */
  markOpenedDormant(id: GroupId, term: number, applied: number): void {
    const flags = this.flagsOf(id);
    assert(flags === Flag.Used && this.nodes[id] === null, 'a fresh slot is seated dormant');
    this.term[id] = term;
    this.lead[id] = 0;
    this.applied[id] = applied;
    this.flags[id] = Flag.Used | Flag.Initialized | Flag.Quiesced | Flag.Dormant;
  }

  /**
   * A replica whose records the engine refused (at open, or when its dormant storage was
   * loaded): isolated like a broken one, with no node. The caller unregisters its ticks.
   */
  markRefused(id: GroupId): void {
    const flags = this.flagsOf(id);
    assert((flags & Flag.ReadyPending) === 0 && this.nodes[id] === null, 'no node, no Ready');
    this.tickCredit[id] = 0;
    this.ticksOwed[id] = 0;
    this.flags[id] = (flags & Flag.Initialized) | Flag.Used | Flag.Broken;
  }

  /** The replica knows its configuration from now on. @returns false if it already did. */
  markInitialized(id: GroupId): boolean {
    const flags = this.flagsOf(id);
    if ((flags & Flag.Initialized) !== 0) return false;
    this.flags[id] = flags | Flag.Initialized;
    return true;
  }

  /**
   * An awake, settled group quiesces: records term, leader and applied index (and the
   * number of peers, for status) from `node`.
   */
  markQuiesced(id: GroupId, node: RawNode, applied: number, peers: number): void {
    const flags = this.flagsOf(id);
    assert((flags & (Flag.Quiesced | Flag.Dormant)) === 0, 'quiesce an awake group');
    assert(this.ticksOwed[id] === 0 && this.tickCredit[id] === 0, 'a settled node quiesces');
    this.flags[id] = flags | Flag.Quiesced;
    this.term[id] = node.term;
    this.lead[id] = node.lead;
    this.applied[id] = applied;
    this.peers[id] = Math.min(BYTE_MAX, peers);
  }

  /** A quiesced group with nothing in flight drops its node (see `Quiescer.maybeRelease`). */
  markDormant(id: GroupId, applied: number): void {
    const flags = this.flagsOf(id);
    assert((flags & Flag.Quiesced) !== 0, 'release a quiesced group');
    assert((flags & (Flag.Dormant | Flag.ReadyPending)) === 0, 'nothing in flight');
    assert(this.ticksOwed[id] === 0, 'a quiesced group owes no ticks');
    this.applied[id] = applied;
    this.nodes[id] = null;
    this.flags[id] = flags | Flag.Dormant;
  }

  /** A dormant group's node was rebuilt from its storage and record. */
  markRestored(id: GroupId, node: RawNode): void {
    const flags = this.flagsOf(id);
    assert((flags & Flag.Dormant) !== 0 && this.nodes[id] === null, 'restore a dormant group');
    this.nodes[id] = node;
    this.flags[id] = flags & ~Flag.Dormant;
  }

  /** A quiesced group wakes (its node, if dormant, is restored separately). */
  markAwake(id: GroupId): void {
    const flags = this.flagsOf(id);
    assert((flags & Flag.Quiesced) !== 0, 'wake a quiesced group');
    this.flags[id] = flags & ~Flag.Quiesced;
  }

  /** A Ready was taken from the group's node in this batch. */
  markReadyPending(id: GroupId): void {
    const flags = this.flagsOf(id);
    assert((flags & Flag.ReadyPending) === 0, 'one Ready per group per batch');
    this.flags[id] = flags | Flag.ReadyPending;
  }

  /** The group's Ready was advanced at the batch end. */
  clearReadyPending(id: GroupId): void {
    const flags = this.flagsOf(id);
    assert((flags & Flag.ReadyPending) !== 0, 'advance a taken Ready');
    this.flags[id] = flags & ~Flag.ReadyPending;
  }

  // ---------------------------------------------------------------------------------------
  // Predicates.

  isUsed(id: number): boolean {
    return (this.flags[id]! & Flag.Used) !== 0;
  }
  isInitialized(id: number): boolean {
    return (this.flags[id]! & Flag.Initialized) !== 0;
  }
  isQuiesced(id: number): boolean {
    return (this.flags[id]! & Flag.Quiesced) !== 0;
  }
  isDormant(id: number): boolean {
    return (this.flags[id]! & Flag.Dormant) !== 0;
  }
  isReadyPending(id: number): boolean {
    return (this.flags[id]! & Flag.ReadyPending) !== 0;
  }
  isBroken(id: number): boolean {
    return (this.flags[id]! & Flag.Broken) !== 0;
  }
  /** A replica the scheduler's turns may touch: used and not broken. */
  isServing(id: number): boolean {
    return id < this.allocated && (this.flags[id]! & (Flag.Used | Flag.Broken)) === Flag.Used;
  }
  /** Used, initialized and awake: the state in which a group's ticks reach its node. */
  isAwakeInitialized(id: number): boolean {
    return (this.flags[id]! & (Flag.Used | Flag.Initialized | Flag.Quiesced)) ===
      (Flag.Used | Flag.Initialized);
  }

  // ---------------------------------------------------------------------------------------
  // Tick credit (the deferred-tick rules, see the file comment).

  /**
   * The node of an awake replica, with its deferred ticks paid: every caller that steps,
   * ticks, proposes to or advances a node takes it from here, never from `nodes` directly.
   */
  settledNode(id: number): RawNode {
    const node = this.nodes[id];
    assert(node !== null && node !== undefined, 'a replica with a node');
    const owed = this.ticksOwed[id]!;
    if (owed !== 0) {
      node.tickIdle(owed);
      this.ticksOwed[id] = 0;
    }
    this.tickCredit[id] = 0;
    return node;
  }

  /** Counts one tick without visiting the node, if its credit allows. */
  deferTick(id: number): boolean {
    const owed = this.ticksOwed[id]!;
    if (owed >= this.tickCredit[id]!) return false;
    this.ticksOwed[id] = owed + 1;
    assert(owed + 1 <= this.tickCredit[id]!, 'ticksOwed <= tickCredit');
    return true;
  }

  /**
   * Lets the next idle ticks of a settled node be deferred. `leaderChecksEveryTick`: a
   * leader gets no credit (quiescence is on, so it must check at every tick).
   */
  grantTickCredit(id: number, node: RawNode, leaderChecksEveryTick: boolean): void {
    assert(this.ticksOwed[id] === 0, 'credit is granted to a settled node only');
    assert(this.nodes[id] === node, 'the replica of this slot');
    if (leaderChecksEveryTick && node.raftState === StateType.StateLeader) return;
    this.tickCredit[id] = Math.min(BYTE_MAX, node.ticksWithoutAction());
  }

  /** Grants credit to an awake node that is settled (else it keeps what it has). */
  maybeGrantTickCredit(id: number, leaderChecksEveryTick: boolean): void {
    const node = this.nodes[id];
    if (this.isQuiesced(id) || node === null || node === undefined || this.ticksOwed[id] !== 0) {
      return;
    }
    this.grantTickCredit(id, node, leaderChecksEveryTick);
  }

  /** Pays every node's deferred ticks (quiescence was turned on: leaders must check). */
  settleAll(): void {
    for (let id = 0; id < this.allocated; id++) if (this.tickCredit[id] !== 0) this.settledNode(id);
  }

  // ---------------------------------------------------------------------------------------

  /** Bytes of the typed arrays and pointer slots (for density accounting). */
  get memoryBytes(): number {
    return this.capacity * (4 + 1 + 1 + 1 + 1 + 1 + 8 * 3) + this.allocated * 8 * 3;
  }

  private flagsOf(id: GroupId): number {
    const flags = this.flags[id]!;
    assert(id < this.allocated && (flags & Flag.Used) !== 0, 'a slot with a replica');
    return flags;
  }

  private grow(): void {
    const capacity = Math.min(this.max, this.capacity * 2);
    assert(capacity > this.capacity, 'table can grow');
    this.rangeIds = grown(this.rangeIds, new Uint32Array(capacity));
    this.flags = grown(this.flags, new Uint8Array(capacity));
    this.idleTicks = grown(this.idleTicks, new Uint8Array(capacity));
    this.peers = grown(this.peers, new Uint8Array(capacity));
    this.tickCredit = grown(this.tickCredit, new Uint8Array(capacity));
    this.ticksOwed = grown(this.ticksOwed, new Uint8Array(capacity));
    this.term = grown(this.term, new Float64Array(capacity));
    this.lead = grown(this.lead, new Float64Array(capacity));
    this.applied = grown(this.applied, new Float64Array(capacity));
    this.capacity = capacity;
  }
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
