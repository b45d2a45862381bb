/**
 * Node liveness as one store sees it: which peer nodes were heard from recently, measured
 * in the store's own ticks. Quiesced groups exchange nothing, so the store pings every
 * known peer node once per `livenessIntervalTicks` (one coalesced heartbeat row per node
 * pair, on the reserved group id 0) and any batch from a node counts as hearing from it.
 *
 * Two consequences, both CockroachDB's: a quiesced follower whose leader's node goes down
 * wakes (and elects a new leader), and a leader may quiesce with followers on down nodes
 * left behind (the lagging set), waking again when such a node comes back.
 *
 * Peers are few (a handful of nodes), so they live in small parallel arrays.
 */
import { assert } from '../util/index.js';

/** The group id reserved for store-to-store liveness pings; no range may use it. */
export const LIVENESS_GROUP_ID = 0;

/** Most peer nodes one store tracks. */
export const LIVENESS_PEERS_MAX = 1024;

/** A change of a peer's liveness, reported by `NodeLiveness.update`. */
export interface LivenessChange {
  nodeId: number;
  live: boolean;
}

/** Which peers are live, from when each was last heard from. */
export class NodeLiveness {
  /** Peer node ids, in the order first seen. */
  readonly nodeIds: number[] = [];
  /** Store tick at which each peer was last heard from. */
  private readonly heardAtTick: number[] = [];
  /** Liveness of each peer as of the last `update`. */
  private readonly liveNow: boolean[] = [];
  /** Peers not tracked because `LIVENESS_PEERS_MAX` were tracked already. */
  peersRefused = 0;

  /**
   * @param selfNodeId this store's node id (never a peer).
   * @param timeoutTicks ticks of silence after which a peer is down.
   */
  constructor(
    private readonly selfNodeId: number,
    private readonly timeoutTicks: number,
  ) {
    assert(selfNodeId > 0, 'self node id');
    assert(Number.isInteger(timeoutTicks) && timeoutTicks > 0, 'liveness timeout');
  }

  /**
   * Records that `nodeId` is a peer (heard from now if new: a new peer starts live, so that
   * groups are not woken by nodes the store merely has not heard from yet).
   */
  addPeer(nodeId: number, nowTick: number): void {
    if (nodeId === this.selfNodeId || this.indexOf(nodeId) >= 0) return;
    // Peers are named by configurations and by whoever connects: beyond the limit a node is
    // not tracked (it counts as live: no evidence), never an assertion.
    if (this.nodeIds.length >= LIVENESS_PEERS_MAX) {
      this.peersRefused++;
      return;
    }
    this.nodeIds.push(nodeId);
    this.heardAtTick.push(nowTick);
    this.liveNow.push(true);
  }

  /** Records hearing from `nodeId` at `nowTick`. */
  heardFrom(nodeId: number, nowTick: number): void {
    const i = this.indexOf(nodeId);
    if (i < 0) {
      this.addPeer(nodeId, nowTick);
      return;
    }
    this.heardAtTick[i] = nowTick;
  }

  /** Whether `nodeId` is live: itself, unknown nodes (no evidence), or heard from lately. */
  isLive(nodeId: number): boolean {
    if (nodeId === this.selfNodeId) return true;
    const i = this.indexOf(nodeId);
    return i < 0 || this.liveNow[i]!;
  }

  /**
   * Re-evaluates every peer at `nowTick` and appends the peers whose liveness changed to
   * `changes` (which it empties first).
   */
  update(nowTick: number, changes: LivenessChange[]): void {
    changes.length = 0;
    for (let i = 0; i < this.nodeIds.length; i++) {
      const live = nowTick - this.heardAtTick[i]! <= this.timeoutTicks;
      if (live === this.liveNow[i]) continue;
      this.liveNow[i] = live;
      changes.push({ nodeId: this.nodeIds[i]!, live });
    }
    assert(changes.length <= this.nodeIds.length, 'at most one change per peer');
  }

  private indexOf(nodeId: number): number {
    const ids = this.nodeIds;
    for (let i = 0; i < ids.length; i++) if (ids[i] === nodeId) return i;
    return -1;
  }
}
