/**
 * Private: the per-group tick of an awake replica, and deferred ticks (tick credit).
 */
import { assert } from '../util/index.js';
import { StateType, type RawNode } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import { ReplicaFlag } from './_table.js';
import type { StoreCore } from './_core.js';
import { maybeQuiesceLeader } from './_quiescer.js';

/**
 * One tick: a leader that may quiesce does so instead of ticking.
 *
 * Most ticks of an awake group only advance its clocks (a follower's election clock until
 * the randomized timeout; a leader's clocks between heartbeats). Such ticks are deferred:
 * counted in the table (`ticksOwed`, up to the `tickCredit` the node granted when last
 * visited) and paid in one `tickIdle` by whoever touches the node next (`settledNode`).
 * The node's objects stay out of the cache on those ticks, which is most of an awake
 * tick's cost. A leader gets no credit while quiescence is on: it checks every tick.
 */
export function processTick(st: StoreCore, gid: GroupId): boolean {
  const t = st.table;
  const flags = t.flags[gid]!;
  if ((flags & (ReplicaFlag.Used | ReplicaFlag.Quiesced)) !== ReplicaFlag.Used) return false;
  if ((flags & ReplicaFlag.Initialized) === 0) return tickUninitialized(st, gid);
  if (t.idleTicks[gid]! < 255) t.idleTicks[gid]!++;
  const owed = t.ticksOwed[gid]!;
  if (owed < t.tickCredit[gid]!) {
    t.ticksOwed[gid] = owed + 1;
    st.stats.ticks++;
    return false;
  }
  const node = t.settledNode(gid);
  const r = node.raft;
  const state = r.state;
  if (st.quiescence && state === StateType.StateLeader && maybeQuiesceLeader(st, gid, node)) {
    return false;
  }
  st.stats.ticks++;
  const term = r.term;
  const lead = r.lead;
  node.tick();
  // A tick can only start an election or a pre-vote (role, term, leader, messages), send
  // heartbeats or check the quorum (messages, role). Comparing those few fields of one
  // object is much cheaper than `hasReady()`, which walks the log and its unstable part on
  // every tick of every awake group; anything else pending already set the Ready flag.
  const acted = r.msgs.length > 0 || r.msgsAfterAppend.length > 0 || r.state !== state ||
    r.term !== term || r.lead !== lead;
  if (!acted) grantTickCredit(st, gid, node);
  return acted;
}

/**
 * An uninitialized replica only runs its election clock, so that the lease of a leader it
 * heard of expires (see `createUninitialized`); it has no configuration, so it can neither
 * campaign nor quiesce, and it takes no tick credit.
 */
function tickUninitialized(st: StoreCore, gid: GroupId): boolean {
  const node = st.table.nodes[gid];
  assert(node !== null && node !== undefined, 'an uninitialized replica keeps its node');
  assert(!node.raft.promotable(), 'an uninitialized replica cannot campaign');
  st.stats.ticks++;
  node.tick();
  return false;
}

/** Lets the next idle ticks of `gid` be deferred (see `processTick`). */
export function grantTickCredit(st: StoreCore, gid: number, node: RawNode): void {
  const t = st.table;
  assert(t.ticksOwed[gid] === 0, 'credit is granted to a settled node only');
  if (st.quiescence && node.raft.state === StateType.StateLeader) return;
  t.tickCredit[gid] = Math.min(255, node.ticksWithoutAction());
}

/** Grants tick credit to a settled, awake node (after its messages were stepped). */
export function maybeGrantTickCredit(st: StoreCore, gid: number): void {
  const t = st.table;
  const node = t.nodes[gid];
  if ((t.flags[gid]! & ReplicaFlag.Quiesced) !== 0 || node === null || node === undefined ||
    t.ticksOwed[gid] !== 0) return;
  grantTickCredit(st, gid, node);
}
