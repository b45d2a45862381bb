/**
 * Private: the per-replica state of a store as struct-of-arrays indexed by group id. A
 * replica costs a few typed-array slots and three pointer slots here, plus its storage; a
 * quiesced, released replica has no other object (its `RawNode` slot is null).
 */
import { assert } from '../util/index.js';
import type { MemoryStorage, RawNode } from '../raft/index.js';
import type { Envelope } from '../transport/index.js';

/** Bits of `ReplicaTable.flags`. */
export const ReplicaFlag = {
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
} as const;

/** Per-replica slots. Every array has `capacity` entries; ids are dense from 0. */
export class ReplicaTable {
  capacity: number;
  /** Slots ever handed out (ids `[0, allocated)` are used). */
  allocated = 0;
  /** Range id of each replica (the group id on the wire). */
  rangeIds: Uint32Array;
  /** `ReplicaFlag` bits. */
  flags: Uint8Array;
  /** Ticks since the last proposal made on this replica, saturating at 255. */
  idleTicks: Uint8Array;
  /** Number of peers in the group's progress, recorded when it quiesces (status only). */
  peers: Uint8Array;
  /**
   * Deferred ticks of an awake group (see `Store.processTick`): `tickCredit` more ticks may
   * be counted in `ticksOwed` without visiting the node, because they would only advance its
   * clocks (`RawNode.ticksWithoutAction`). Whoever touches the node first pays the owed
   * ticks with `tickIdle` and zeroes the credit. Invariant: ticksOwed <= tickCredit.
   */
  tickCredit: Uint8Array;
  ticksOwed: Uint8Array;
  /** Recorded when the group quiesces: term, leader and applied index. */
  term: Float64Array;
  lead: Float64Array;
  applied: Float64Array;
  /** The live Raft node, or null while dormant. */
  readonly nodes: (RawNode | null)[] = [];
  /** The replica's storage (kept while dormant: the node is rebuilt from it). */
  readonly storages: (MemoryStorage | null)[] = [];
  /** Messages waiting for the replica's next turn, or null when none. */
  readonly inboxes: (Envelope[] | null)[] = [];

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

  /** Takes the next free slot for `rangeId`; the caller fills the node and storage. */
  allocate(rangeId: number): number {
    assert(this.allocated < this.max, 'table full: the store checks replicasMax first');
    if (this.allocated === this.capacity) this.grow();
    const id = this.allocated++;
    assert(this.flags[id] === 0, 'a fresh slot is empty');
    this.rangeIds[id] = rangeId;
    this.flags[id] = ReplicaFlag.Used;
    this.idleTicks[id] = 255;
    assert(this.tickCredit[id] === 0 && this.ticksOwed[id] === 0, 'a fresh slot owes no ticks');
    this.nodes.push(null);
    this.storages.push(null);
    this.inboxes.push(null);
    assert(this.nodes.length === this.allocated, 'pointer arrays in step');
    return id;
  }

  /**
   * The node of an awake replica, with its deferred ticks paid: every caller that steps,
   * ticks, proposes to or advances a node takes it from here, never from `nodes` directly.
   */
  settledNode(id: number): RawNode {
    const node = this.nodes[id]!;
    assert(node !== null && node !== undefined, 'a replica with a node');
    const owed = this.ticksOwed[id]!;
    if (owed !== 0) {
      node.tickIdle(owed);
      this.ticksOwed[id] = 0;
    }
    this.tickCredit[id] = 0;
    return node;
  }

  /** Bytes of the typed arrays and pointer slots (for density accounting). */
  get memoryBytes(): number {
    return this.capacity * (4 + 1 + 1 + 1 + 1 + 1 + 8 * 3) + this.allocated * 8 * 3;
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
