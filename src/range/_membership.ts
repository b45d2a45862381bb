/**
 * Private: the membership side of a `RangeNode` (its file header says what it is): applied
 * membership changes (the descriptor follows the ConfState), waiting for a descriptor,
 * replica GC with the tombstones it leaves, and the range snapshots that carry a range's
 * state to a new replica (STOP-GAP codec in _snapshot_stopgap.ts until the engine's).
 *
 * Everything here runs synchronously in the store's batch end (`confChanged`,
 * `applySnapshot`, `snapshotData`, `acceptsSnapshot`) or at the node's tick (`tick`), never
 * across an await.
 */
import type { Logger } from 'pino';
import { assert, FlotillaError } from '../util/index.js';
import type { ConfState, Snapshot } from '../raft/index.js';
import { RangeNotFoundError, ReplicaBusyError, type Store } from '../multiraft/index.js';
import { isVoterIncoming, replicaOnNode, type RangeDescriptor } from './descriptor.js';
import { RangeUnavailableError } from './errors.js';
import type { KvStore } from './kv_store.js';
import type { EngineBatch } from '../storage/index.js';
import { compareKeys } from './keys.js';
import type { ProposalTracker } from './proposals.js';
import { RangeState } from './range_state.js';
import type { ReadIndexBatcher } from './read_index.js';
import type { RoutingCache } from './routing_cache.js';
import { descriptorForConfState } from './change_replicas.js';
import {
  GcReason,
  ReplicaGcQueue,
  type GcResult,
} from './replica_gc.js';
import { decodeRangeSnapshot, encodeRangeSnapshot, localSpan } from './_snapshot_stopgap.js';
import type { KvLimits } from './kv_command.js';

function overlaps(a: RangeDescriptor, b: RangeDescriptor): boolean {
  return compareKeys(a.startKey, b.endKey) < 0 && compareKeys(b.startKey, a.endKey) < 0;
}

/**
 * Whether the replica `s` is a frozen right range that `desc` merged: frozen (its merge was
 * decided), inside `desc`'s span and older. Only a merge widens a range over another's span,
 * so its merge has applied: its state is in `desc`'s data, and its group is dead (a replica
 * that missed the merge entry, a snapshot having carried its left past it, would otherwise
 * wait for it for ever).
 */
function subsumedBy(s: RangeState, desc: RangeDescriptor): boolean {
  return s.frozenAt > 0 && s.descriptor.generation < desc.generation &&
    compareKeys(desc.startKey, s.descriptor.startKey) <= 0 &&
    compareKeys(s.descriptor.endKey, desc.endKey) <= 0;
}

/** Keys deleted per scan while a removed replica's span is cleared (bounds one scan). */
const CLEAR_CHUNK_KEYS = 1024;
/** Tombstones kept at most (oldest dropped first); one is a Map entry. */
const TOMBSTONES_MAX = 65536;

/** The parts of its range node that membership works on. */
export interface MembershipHost {
  readonly nodeId: number;
  readonly kv: KvStore;
  readonly limits: KvLimits;
  readonly dedupeEntriesMax: number | undefined;
  readonly replicas: Map<number, RangeState>;
  readonly local: RoutingCache;
  readonly proposals: ProposalTracker<unknown>;
  readonly reads: ReadIndexBatcher;
  readonly log: Logger | null;
  store(): Store;
}

/** Counters of membership on one node. */
export interface MembershipStats {
  confChangesApplied: number;
  replicasCollected: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  /** Snapshots refused: older than the range's tombstone here, or not naming this node. */
  snapshotsStale: number;
  badSnapshots: number;
}

/** See the file header. */
export class Membership {
  readonly stats: MembershipStats = { confChangesApplied: 0, replicasCollected: 0,
    snapshotsSent: 0, snapshotsInstalled: 0, snapshotsStale: 0, badSnapshots: 0 };
  readonly gc = new ReplicaGcQueue();
  /** Range id → generation of the descriptor that left this node out. */
  private readonly tombstones = new Map<number, number>();
  private readonly waiters: { rangeId: number; done: (d: RangeDescriptor) => boolean;
    atTick: number; wake: (desc: RangeDescriptor | null) => void }[] = [];
  private nowTick = 0;

  constructor(private readonly host: MembershipHost) {}

  /**
   * A membership change applied on the local replica of `rangeId` (see the file header); the
   * new descriptor's row is staged into `batch`, with the applied index.
   */
  confChanged(rangeId: number, cs: ConfState, batch: EngineBatch): void {
    const h = this.host;
    const state = h.replicas.get(rangeId);
    if (state === undefined) return;
    state.descriptor = descriptorForConfState(state.descriptor, cs);
    h.kv.bind(batch);
    try {
      state.saveDescriptor(h.kv);
    } finally {
      h.kv.bind(null);
    }
    h.local.insert(state.descriptor);
    this.stats.confChangesApplied++;
    if (replicaOnNode(state.descriptor, h.nodeId) === undefined) {
      this.gc.add(rangeId, GcReason.Removed);
    }
    this.wakeWaiters(rangeId, state.descriptor);
  }

  /**
   * Resolves with the local descriptor of `rangeId` once it satisfies `done`, or null after
   * `ticks`.
   */
  waitDescriptor(rangeId: number, done: (d: RangeDescriptor) => boolean, ticks: number):
    Promise<RangeDescriptor | null> {
    const now = this.host.replicas.get(rangeId)?.descriptor;
    if (now !== undefined && done(now)) return Promise.resolve(now);
    return new Promise((wake) => this.waiters.push({ rangeId, done, atTick: this.nowTick + ticks,
      wake }));
  }

  private wakeWaiters(rangeId: number, desc: RangeDescriptor): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.rangeId !== rangeId || !w.done(desc)) continue;
      this.waiters.splice(i, 1);
      w.wake(desc);
    }
  }

  /** One tick: descriptor waits time out, queued replicas are destroyed. */
  tick(): void {
    this.nowTick++;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.atTick > this.nowTick) continue;
      this.waiters.splice(i, 1);
      w.wake(null);
    }
    const givenUp = this.gc.run((rangeId, reason) => this.destroy(rangeId, reason));
    for (const rangeId of givenUp) this.host.log?.error({ rangeId }, 'replica GC gave up');
  }

  /** Destroys the local replica of `rangeId` (replica_gc.ts). */
  private destroy(rangeId: number, reason: GcReason): GcResult {
    const h = this.host;
    const state = h.replicas.get(rangeId);
    // Added back before its GC ran (the learner of a later change, caught up by the log on
    // this very replica): it is a member again (range sim seed 4075).
    if (reason === GcReason.Removed && state !== undefined &&
      replicaOnNode(state.descriptor, h.nodeId) !== undefined) return 'kept';
    if (reason === GcReason.Removed && state !== undefined && this.stillLeads(rangeId, state)) {
      return 'busy';
    }
    // The range-local rows and the span's data go in the batch that deletes the Raft state.
    const clear = (batch: EngineBatch) => {
      if (reason === GcReason.MergedAway || state === undefined) return;
      h.kv.bind(batch);
      try {
        state.destroyRows(h.kv);
        this.clearSpan(state.descriptor);
      } finally {
        h.kv.bind(null);
      }
    };
    try {
      h.store().destroyReplica(rangeId, clear);
    } catch (error) {
      if (error instanceof ReplicaBusyError) return 'busy';
      if (!(error instanceof RangeNotFoundError)) throw error;
    }
    if (reason !== GcReason.MergedAway && state !== undefined) {
      h.replicas.delete(rangeId);
      h.local.evict(rangeId);
      this.addTombstone(rangeId, state.descriptor.generation);
      const gone = () => new RangeUnavailableError(rangeId, 'replica removed from this store');
      h.proposals.rejectRange(rangeId, gone);
      h.reads.failRange(rangeId, gone());
    }
    this.stats.replicasCollected++;
    h.log?.info({ rangeId, reason }, 'replica collected');
    assert(!h.replicas.has(rangeId) || reason === GcReason.MergedAway, 'removed state gone');
    return 'destroyed';
  }

  /**
   * Whether the removed replica still leads its range (a safety net: `changeReplicas` never
   * removes the leader). Raft keeps a leader that removed itself leading, and destroying it
   * would leave its quiesced followers waiting for a live node; it is kept, and asked to
   * hand over (its peers may refuse a removed node's messages: then GC gives up, logged).
   */
  private stillLeads(rangeId: number, state: RangeState): boolean {
    const store = this.host.store();
    const status = store.raftStatus(rangeId);
    if (status === undefined || status.lead !== this.host.nodeId) return false;
    const to = state.descriptor.replicas.find((r) => isVoterIncoming(r.type));
    assert(to !== undefined && to.nodeId !== this.host.nodeId, 'a voter remains elsewhere');
    if (status.leadTransferee === 0) store.transferLeadership(rangeId, to.nodeId);
    return true;
  }

  private addTombstone(rangeId: number, generation: number): void {
    this.tombstones.delete(rangeId);
    if (this.tombstones.size >= TOMBSTONES_MAX) {
      this.tombstones.delete(this.tombstones.keys().next().value as number);
    }
    this.tombstones.set(rangeId, generation);
  }

  /** Deletes the user keys of `desc`'s span (no other local range covers it). */
  private clearSpan(desc: RangeDescriptor): void {
    const kv = this.host.kv;
    for (;;) {
      const rows = kv.scan(desc.startKey, desc.endKey, CLEAR_CHUNK_KEYS);
      for (const r of rows) kv.delete(r.key);
      if (rows.length < CLEAR_CHUNK_KEYS) return;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Snapshots (STOP-GAP codec).

  /** The range's state at the applied point, for a snapshot the leader sends. */
  snapshotData(rangeId: number): Uint8Array {
    const state = this.host.replicas.get(rangeId);
    if (state === undefined) return new Uint8Array(0);
    this.stats.snapshotsSent++;
    return encodeRangeSnapshot(state.descriptor, this.host.kv);
  }

  /**
   * Whether an uninitialized replica may take `snapshot`: one carrying a descriptor that names
   * this node, is newer than the range's tombstone here, and overlaps no range held here
   * (CockroachDB's `canApplySnapshot`: a range born of a split that has not applied here yet
   * gets its state from that split, with the left's data as of the split).
   */
  acceptsRangeSnapshot(rangeId: number, snapshot: Snapshot): boolean {
    const desc = this.snapshotDescriptor(snapshot);
    if (desc === null) return false;
    const tomb = this.tombstones.get(rangeId);
    const overlaps = this.overlapsOthers(rangeId, desc);
    const ok = desc.rangeId === rangeId && replicaOnNode(desc, this.host.nodeId) !== undefined &&
      (tomb === undefined || desc.generation > tomb) && !overlaps;
    if (!ok) this.stats.snapshotsStale++;
    return ok;
  }

  /** The descriptor a range snapshot carries; null when it has none (a bad one is counted). */
  private snapshotDescriptor(snapshot: Snapshot): RangeDescriptor | null {
    if (snapshot.data.length === 0) return null;
    try {
      return decodeRangeSnapshot(snapshot.data).descriptor;
    } catch (error) {
      if (!(error instanceof FlotillaError)) throw error;
      this.stats.badSnapshots++;
      return null;
    }
  }

  /**
   * Whether `desc` overlaps a replica here other than `rangeId`'s, not counting the ones it
   * subsumes.
   */
  private overlapsOthers(rangeId: number, desc: RangeDescriptor): boolean {
    return [...this.host.replicas.values()].some((s) => s.rangeId !== rangeId &&
      overlaps(s.descriptor, desc) && !subsumedBy(s, desc));
  }

  /**
   * Whether a range snapshot for the replica of `rangeId` held here overlaps another replica
   * here (an empty one carries no span: false).
   */
  snapshotOverlaps(rangeId: number, snapshot: Snapshot): boolean {
    if (snapshot.data.length === 0) return false;
    const desc = this.snapshotDescriptor(snapshot);
    if (desc === null) return true;
    const overlaps = this.overlapsOthers(rangeId, desc);
    if (overlaps) this.stats.snapshotsStale++;
    return overlaps;
  }

  /**
   * Installs a range snapshot: the span's user data and the range-local rows are replaced by
   * the snapshot's, and the replica's state is rebuilt from them. Frozen right ranges here
   * that the snapshot's range merged (`subsumedBy`) go too: their rows now, their groups by
   * the caller. @returns the subsumed ranges, or null if `data` carries no range state (the
   * empty initial snapshot of a split-born range).
   */
  installSnapshot(rangeId: number, data: Uint8Array): number[] | null {
    if (data.length === 0) return null;
    const h = this.host;
    const snap = decodeRangeSnapshot(data);
    assert(snap.descriptor.rangeId === rangeId, 'a snapshot of this range');
    const subsumed = [...h.replicas.values()].filter((s) => s.rangeId !== rangeId &&
      overlaps(s.descriptor, snap.descriptor));
    for (const s of subsumed) {
      assert(subsumedBy(s, snap.descriptor), 'a snapshot overlaps only what it subsumes');
      s.destroyRows(h.kv);
      h.replicas.delete(s.rangeId);
    }
    const old = h.replicas.get(rangeId);
    if (old !== undefined) old.destroyRows(h.kv);
    this.clearSpan(snap.descriptor);
    const { start, end } = localSpan(rangeId);
    for (const r of h.kv.scan(start, end, 1 << 30)) h.kv.delete(r.key);
    for (const r of snap.local) h.kv.put(r.key, r.value);
    for (const r of snap.user) h.kv.put(r.key, r.value);
    const state = new RangeState(snap.descriptor, h.limits, h.dedupeEntriesMax);
    state.load(h.kv);
    h.replicas.set(rangeId, state);
    h.local.insert(snap.descriptor);
    this.tombstones.delete(rangeId);
    this.stats.snapshotsInstalled++;
    this.wakeWaiters(rangeId, snap.descriptor);
    return subsumed.map((s) => s.rangeId);
  }

}
