/**
 * Private: the per-group tick of an awake replica. Whether a tick may be deferred is the
 * table's rule (tick credit, see `_table.ts`); this file only asks it.
 */
import { assert } from '../util/index.js';
import { StateType } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import type { StoreContext } from './_context.js';
import { maybeQuiesceLeader } from './_quiescer.js';

/**
 * One tick: a leader that may quiesce does so instead of ticking. A tick that would only
 * advance the node's clocks is deferred (counted in the table, paid by whoever touches the
 * node next), which keeps the node's objects out of the cache on most awake ticks.
 */
export function processTick(st: StoreContext, gid: GroupId): boolean {
  const t = st.table;
  if (!t.isUsed(gid) || t.isQuiesced(gid)) return false;
  if (!t.isInitialized(gid)) return tickUninitialized(st, gid);
  if (t.idleTicks[gid]! < 255) t.idleTicks[gid]!++;
  if (t.deferTick(gid)) {
    st.stats.ticks++;
    return false;
  }
  const node = st.settled(gid);
  if (st.quiescence && node.raftState === StateType.StateLeader &&
    maybeQuiesceLeader(st, gid, node)) {
    return false;
  }
  st.stats.ticks++;
  const acted = node.tick();
  if (!acted) t.grantTickCredit(gid, node, st.quiescence);
  return acted;
}

/**
 * An uninitialized replica only runs its election clock, so that the lease of a leader it
 * heard of expires (see `createUninitialized`); it has no configuration, so it can neither
 * campaign nor quiesce, and it takes no tick credit.
 */
function tickUninitialized(st: StoreContext, gid: GroupId): boolean {
  const node = st.table.nodes[gid];
  assert(node !== null && node !== undefined, 'an uninitialized replica keeps its node');
  assert(!node.canCampaign(), 'an uninitialized replica cannot campaign');
  st.stats.ticks++;
  st.enterRange(gid);
  node.tick();
  return false;
}
