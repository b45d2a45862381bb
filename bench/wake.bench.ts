/**
 * Wake jitter: elections per range after a leader's node dies.
 * Run: `npm run bench:wake -- --ranges N` (default 10,000).
 *
 * Three stores in one process on the loopback transport (virtual time, default timeouts:
 * election 15 ticks, heartbeat 5, liveness 12). N ranges replicated on all three, every
 * leader on store 1, all quiesced, then asleep for `--sleep-ticks` ticks (default 150, beyond
 * the ticker's sleptTicksMax of 100). Then store 1 dies: its links are cut and it is no longer
 * ticked. Stores 2 and 3 tick until every range has a leader among them. For each
 * `leaderDownWakeSpreadTicks` in `--spreads` (default 1, 15 = the default, the election
 * timeout):
 *
 * - elections_per_range_mean: the new leader's term minus the old one, averaged over the
 *   ranges: every election round (a candidate's term) counts, a split vote costs two or
 *   more; the goal is at most 1.1;
 * - ranges_split_percent: ranges that needed more than one round;
 * - failover_ticks: ticks from the death until every range had its new leader (liveness
 *   detection included), and failover_ticks_p50 for the median range.
 *
 * Spread 1 wakes every follower in the same tick (the behaviour before the jitter).
 */
import { argNumber, emit, printTable, type BenchResult } from './_report.js';
import {
  LocalCluster,
  newReplicaStatus,
  type ReplicaStatus,
  type Store,
} from '../src/multiraft/index.js';

const ranges = Math.floor(argNumber('ranges', 10_000));
const spreads = (process.argv.includes('--spreads')
  ? process.argv[process.argv.indexOf('--spreads') + 1]!.split(',').map(Number)
  : [1, 15]);
const seed = Math.floor(argNumber('seed', 1));
const sleepTicks = Math.floor(argNumber('sleep-ticks', 150));
/** Ticks allowed for the whole failover before the run is declared stuck. */
const FAILOVER_TICKS_MAX = 2000;

function build(spread: number): LocalCluster {
  const cluster = new LocalCluster({ seed, store: { leaderDownWakeSpreadTicks: spread } });
  for (let rangeId = 1; rangeId <= ranges; rangeId++) {
    cluster.createRange(rangeId, { leaderNodeId: 1 });
  }
  cluster.settle();
  const status = newReplicaStatus();
  for (let t = 0; t < 200; t++) {
    cluster.tick(1);
    if (cluster.summary().quiesced === 3 * ranges) break;
  }
  const s = cluster.summary();
  if (s.quiesced !== 3 * ranges) throw new Error(`not quiesced: ${JSON.stringify(s)}`);
  for (let rangeId = 1; rangeId <= ranges; rangeId++) {
    cluster.store(2).readStatus(rangeId, status);
    if (status.lead !== 1) throw new Error(`range ${rangeId} is not led by store 1`);
  }
  // A long sleep, as in production: the woken followers count it all (up to the ticker's
  // sleptTicksMax), so without a jitter every one of them campaigns at its first tick.
  cluster.tick(sleepTicks);
  return cluster;
}

/** Whether stores 2 and 3 agree on a leader among them; its term goes to `out.term`. */
function newLeader(survivors: readonly Store[], rangeId: number, s: ReplicaStatus,
  out: { term: number }): boolean {
  let lead = -1;
  for (const store of survivors) {
    store.readStatus(rangeId, s);
    if (s.lead !== 2 && s.lead !== 3) return false;
    if (lead !== -1 && s.lead !== lead) return false;
    lead = s.lead;
    if (s.lead === store.nodeId) out.term = s.term;
  }
  return true;
}

function measure(spread: number): BenchResult {
  const cluster = build(spread);
  const clock = cluster.clock!;
  const survivors = [cluster.store(2), cluster.store(3)];
  const status = newReplicaStatus();
  const termBefore = new Float64Array(ranges + 1);
  for (let rangeId = 1; rangeId <= ranges; rangeId++) {
    survivors[0]!.readStatus(rangeId, status);
    termBefore[rangeId] = status.term;
  }
  cluster.network.isolate(1);
  const slots = survivors[0]!.ticker.config.tickSpreadSlots;
  const subTickMs = survivors[0]!.ticker.subTickIntervalMs;
  const electedAtTick = new Int32Array(ranges + 1).fill(-1);
  const elections = new Float64Array(ranges + 1);
  const found = { term: 0 };
  let remaining = ranges;
  let ticks = 0;
  while (remaining > 0) {
    if (++ticks > FAILOVER_TICKS_MAX) throw new Error(`${remaining} ranges still leaderless`);
    for (let slot = 0; slot < slots; slot++) {
      clock.advance(subTickMs);
      for (const store of survivors) store.tick();
      cluster.settle();
    }
    for (let rangeId = 1; rangeId <= ranges; rangeId++) {
      if (electedAtTick[rangeId] !== -1) continue;
      found.term = 0;
      if (!newLeader(survivors, rangeId, status, found) || found.term === 0) continue;
      electedAtTick[rangeId] = ticks;
      elections[rangeId] = found.term - termBefore[rangeId]!;
      remaining--;
    }
  }
  let sum = 0;
  let split = 0;
  for (let rangeId = 1; rangeId <= ranges; rangeId++) {
    sum += elections[rangeId]!;
    if (elections[rangeId]! > 1) split++;
  }
  const sorted = Array.from(electedAtTick.subarray(1)).sort((a, b) => a - b);
  const deferred = survivors.reduce((n, store) => n + store.stats.wakesDeferred, 0);
  return emit({
    name: 'wake_after_leader_death',
    ranges,
    stores: 3,
    seed,
    sleep_ticks: sleepTicks,
    leader_down_wake_spread_ticks: spread,
    elections_per_range_mean: sum / ranges,
    ranges_split_percent: (100 * split) / ranges,
    failover_ticks: ticks,
    failover_ticks_p50: sorted[Math.floor(sorted.length / 2)]!,
    wakes_deferred: deferred,
  });
}

const results = spreads.map((spread) => measure(spread));
printTable(results, ['leader_down_wake_spread_ticks', 'ranges', 'elections_per_range_mean',
  'ranges_split_percent', 'failover_ticks', 'failover_ticks_p50', 'wakes_deferred']);
