/**
 * Followers of a dead leader wake spread over a jitter window (leaderDownWakeSpreadTicks),
 * not all in one tick, and so rarely split their first election.
 */
import { describe, expect, it } from 'vitest';
import { newReplicaStatus, type LocalCluster } from '../../src/multiraft/index.js';
import { newTestCluster, tickUntilQuiesced } from './_helpers.js';

const RANGES = 60;

/** Quiesced ranges led by store 1, asleep long enough that waking means campaigning. */
function sleepingCluster(spread?: number): LocalCluster {
  const { cluster } = newTestCluster({
    store: spread === undefined ? {} : { leaderDownWakeSpreadTicks: spread },
  });
  for (let r = 1; r <= RANGES; r++) cluster.createRange(r, { leaderNodeId: 1 });
  cluster.settle();
  tickUntilQuiesced(cluster);
  cluster.tick(120);
  return cluster;
}

interface Failover {
  /** Followers woken by each survivor tick after the death (stats.wakes deltas). */
  wakesPerTick: number[];
  wakesDeferred: number;
  /** New term minus old term, summed over the ranges. */
  elections: number;
}

/** Kills store 1 and ticks stores 2 and 3 until every range has a leader among them. */
function failover(cluster: LocalCluster): Failover {
  const survivors = [cluster.store(2), cluster.store(3)];
  const s = newReplicaStatus();
  const termBefore: number[] = [];
  for (let r = 1; r <= RANGES; r++) {
    survivors[0]!.readStatus(r, s);
    termBefore[r] = s.term;
  }
  cluster.network.isolate(1);
  const wakes = () => survivors.reduce((n, store) => n + store.stats.wakes, 0);
  const wakesPerTick: number[] = [];
  const leaderless = () => {
    for (let r = 1; r <= RANGES; r++) {
      const leads = survivors.map((store) => (store.readStatus(r, s), s.lead));
      if (leads[0] !== leads[1] || leads[0] === 1 || leads[0] === 0) return true;
    }
    return false;
  };
  for (let t = 0; t < 300 && leaderless(); t++) {
    const before = wakes();
    for (let slot = 0; slot < survivors[0]!.ticker.config.tickSpreadSlots; slot++) {
      cluster.clock!.advance(survivors[0]!.ticker.subTickIntervalMs);
      for (const store of survivors) store.tick();
      cluster.settle();
    }
    wakesPerTick.push(wakes() - before);
  }
  expect(leaderless()).toBe(false);
  let elections = 0;
  for (let r = 1; r <= RANGES; r++) {
    const leader = survivors.find((store) => (store.readStatus(r, s), s.lead === store.nodeId))!;
    leader.readStatus(r, s);
    elections += s.term - termBefore[r]!;
  }
  const wakesDeferred = survivors.reduce((n, store) => n + store.stats.wakesDeferred, 0);
  return { wakesPerTick, wakesDeferred, elections };
}

describe('wake jitter after a leader dies', () => {
  it('without a window every follower wakes in one tick and every first vote splits', () => {
    const f = failover(sleepingCluster(1));
    expect(f.wakesDeferred).toBe(0);
    expect(f.wakesPerTick.filter((n) => n > 0)[0]).toBe(2 * RANGES);
    expect(f.elections).toBeGreaterThanOrEqual(2 * RANGES);
  });

  it('with the default window wake-ups spread over several ticks and rarely split', () => {
    const f = failover(sleepingCluster());
    expect(f.wakesDeferred).toBeGreaterThan(0);
    const busyTicks = f.wakesPerTick.filter((n) => n > 0);
    expect(busyTicks.length).toBeGreaterThan(3);
    expect(Math.max(...busyTicks)).toBeLessThan(RANGES);
    // One election per range, bar the few whose two followers drew the same tick.
    expect(f.elections).toBeLessThan(1.5 * RANGES);
  });
});
