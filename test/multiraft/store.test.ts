/** The store: elections, writes, quiescence, wake-up, lazy replicas, liveness. */
import { describe, expect, it } from 'vitest';
import {
  NotLeaderError,
  QuiesceRefusal,
  RangeNotFoundError,
  RangeNotInitializedError,
  Store,
  type StoreStats,
} from '../../src/multiraft/index.js';
import { MessageType, SeededRandom, StateType, newMessage } from '../../src/raft/index.js';
import {
  FrameCodec,
  FrameKind,
  LoopbackNetwork,
  type Envelope,
  type HeartbeatCursor,
} from '../../src/transport/index.js';
import { ConfigError } from '../../src/util/index.js';
import {
  agreedLeader,
  bytes,
  newTestCluster,
  statuses,
  tickUntilQuiesced,
} from './_helpers.js';

const sum = (stats: StoreStats[], key: 'ticks' | 'wakes' | 'nodesRebuilt'): number =>
  stats.reduce((total, s) => total + s[key], 0);

describe('Store', () => {
  it('elects, replicates a write to every store and quiesces every group', () => {
    const { cluster, machines } = newTestCluster();
    for (let r = 1; r <= 9; r++) cluster.createRange(r, { leaderNodeId: (r % 3) + 1 });
    cluster.settle();
    for (let r = 1; r <= 9; r++) cluster.store((r % 3) + 1).propose(r, bytes(`w${r}`));
    cluster.settle();
    for (const m of machines) for (let r = 1; r <= 9; r++) expect(m.of(r)).toEqual([`w${r}`]);
    tickUntilQuiesced(cluster);
    const summary = cluster.summary();
    expect(summary).toMatchObject({ replicas: 27, awake: 0, quiesced: 27, dormant: 27,
      leaders: 9, followers: 18, followersReplicate: 18 });
    for (let r = 1; r <= 9; r++) expect(agreedLeader(cluster, r)).toBe((r % 3) + 1);
  });

  it('gives a quiesced group zero ticks', () => {
    const { cluster } = newTestCluster();
    for (let r = 1; r <= 5; r++) cluster.createRange(r, { leaderNodeId: 1 });
    cluster.settle();
    tickUntilQuiesced(cluster);
    const ticksBefore = sum(cluster.stores.map((s) => s.stats), 'ticks');
    const sentBefore = cluster.stores.map((s) => s.stats.messagesSent);
    cluster.tick(100);
    expect(sum(cluster.stores.map((s) => s.stats), 'ticks')).toBe(ticksBefore);
    for (const store of cluster.stores) expect(store.ticker.awakeCount).toBe(0);
    // Only the liveness pings travel: two peers per store per tick.
    cluster.stores.forEach((s, i) => expect(s.stats.messagesSent - sentBefore[i]!).toBe(200));
  });

  it('commits a proposal to a quiesced group, on its leader or on a follower', () => {
    const { cluster, machines } = newTestCluster();
    cluster.createRange(1, { leaderNodeId: 2 });
    cluster.settle();
    tickUntilQuiesced(cluster);
    const termBefore = statuses(cluster, 1)[0]!.term;
    cluster.store(2).propose(1, bytes('on-leader'));
    cluster.settle();
    cluster.store(3).propose(1, bytes('on-follower'));
    cluster.settle();
    for (const m of machines) expect(m.of(1)).toEqual(['on-leader', 'on-follower']);
    // Released nodes were rebuilt with their roles: no election, same term, same leader.
    expect(sum(cluster.stores.map((s) => s.stats), 'nodesRebuilt')).toBeGreaterThan(0);
    for (const s of statuses(cluster, 1)) expect([s.term, s.lead]).toEqual([termBefore, 2]);
    tickUntilQuiesced(cluster);
  });

  it('wakes a leader when a quiesced follower is woken on its own', () => {
    const { cluster } = newTestCluster();
    cluster.createRange(1, { leaderNodeId: 1 });
    cluster.settle();
    tickUntilQuiesced(cluster);
    cluster.store(3).wakeRange(1);
    cluster.settle();
    const [leader] = statuses(cluster, 1);
    expect(leader!.quiesced).toBe(false);
    expect(leader!.raftState).toBe(StateType.StateLeader);
    tickUntilQuiesced(cluster);
  });

  it('creates replicas lazily and initializes them by snapshot', () => {
    const { cluster, machines } = newTestCluster();
    cluster.createRange(7, { leaderNodeId: 1, lazy: true });
    expect(cluster.store(2).hasRange(7)).toBe(false);
    cluster.settle();
    cluster.store(1).propose(7, bytes('x'));
    cluster.settle();
    for (const id of [2, 3]) {
      const store = cluster.store(id);
      expect(store.stats.replicasCreatedLazily).toBe(1);
      expect(statuses(cluster, 7)[id - 1]!.initialized).toBe(true);
    }
    for (const m of machines) expect(m.of(7)).toEqual(['x']);
    tickUntilQuiesced(cluster);
  });

  it('elects a new leader on the majority side of a partitioned, quiesced leader', () => {
    const { cluster, machines } = newTestCluster();
    cluster.createRange(1, { leaderNodeId: 1 });
    cluster.settle();
    tickUntilQuiesced(cluster);
    const termBefore = statuses(cluster, 1)[0]!.term;
    cluster.network.isolate(1);
    let elected = 0;
    for (let t = 0; t < 60 && elected === 0; t++) {
      cluster.tick(1);
      const [, s2, s3] = statuses(cluster, 1);
      if (s2!.lead === s3!.lead && s2!.lead !== 0 && s2!.lead !== 1) elected = s2!.lead;
    }
    expect([2, 3]).toContain(elected);
    expect(statuses(cluster, 1)[1]!.term).toBeGreaterThan(termBefore);
    cluster.store(elected).propose(1, bytes('after-partition'));
    cluster.settle();
    expect(machines[1]!.of(1)).toEqual(['after-partition']);
    // Healed, the old leader learns the new term and catches up.
    cluster.network.heal();
    cluster.tick(30);
    expect(agreedLeader(cluster, 1)).toBe(elected);
    expect(machines[0]!.of(1)).toEqual(['after-partition']);
  });

  it('never quiesces a follower on a stale quiesce heartbeat', () => {
    const { cluster } = newTestCluster();
    cluster.createRange(1, { leaderNodeId: 1 });
    cluster.settle();
    cluster.store(1).propose(1, bytes('a'));
    cluster.settle();
    cluster.tick(1);
    const [leader, follower] = statuses(cluster, 1);
    expect(follower!.quiesced).toBe(false);
    const store2 = cluster.store(2);
    const stale = (fields: { term?: number; commit?: number; from?: number }): void => {
      const message = newMessage(MessageType.MsgHeartbeat, { to: 2, from: 1,
        term: leader!.term, commit: leader!.commit, ...fields });
      store2.handleBatch(fields.from ?? 1, [{ rangeId: 1, message, quiesce: true }]);
      store2.runUntilIdle();
      expect(statuses(cluster, 1)[1]!.quiesced).toBe(false);
    };
    const refusals = store2.stats.quiesceRefusals;
    stale({ term: leader!.term - 1 });
    expect(refusals[QuiesceRefusal.TermMismatch]).toBe(1);
    stale({ commit: leader!.commit - 1 });
    expect(refusals[QuiesceRefusal.CommitMismatch]).toBe(1);
    stale({ from: 3 });
    expect(refusals[QuiesceRefusal.LeaderMismatch]).toBe(1);
    cluster.settle();
  });

  it('fans in heartbeat rows as the same messages would be stepped, in arrival order', () => {
    const { cluster } = newTestCluster();
    cluster.createRange(1, { leaderNodeId: 1 });
    cluster.settle();
    cluster.store(1).propose(1, bytes('a'));
    cluster.settle();
    cluster.tick(1);
    const [leader] = statuses(cluster, 1);
    const store2 = cluster.store(2);
    const codec = new FrameCodec(1 << 20);
    const rows = (envelopes: Envelope[]): HeartbeatCursor => {
      const frame = codec.decode(codec.encodeBatch(1, 2, envelopes, true)!.frame);
      if (frame.kind !== FrameKind.Batch || frame.heartbeats === null) throw new Error('rows');
      return frame.heartbeats;
    };
    let commit = leader!.commit;
    const quiesceHeartbeat = (term: number): Envelope => ({ rangeId: 1, quiesce: true,
      message: newMessage(MessageType.MsgHeartbeat, { to: 2, from: 1, term, commit }) });
    const refusals = store2.stats.quiesceRefusals;
    // Rows alone: refused or taken exactly as their messages would be.
    store2.handleHeartbeats(1, rows([quiesceHeartbeat(leader!.term - 1)]));
    store2.runUntilIdle();
    expect(refusals[QuiesceRefusal.TermMismatch]).toBe(1);
    expect(statuses(cluster, 1)[1]!.quiesced).toBe(false);
    store2.handleHeartbeats(1, rows([quiesceHeartbeat(leader!.term)]));
    store2.runUntilIdle();
    expect(statuses(cluster, 1)[1]!.quiesced).toBe(true);
    store2.wakeRange(1);
    cluster.settle();
    commit = statuses(cluster, 1)[0]!.commit;
    expect(statuses(cluster, 1)[1]!.quiesced).toBe(false);
    // A row behind a queued message waits behind it: the good heartbeat quiesces, the stale
    // row wakes the group again. The other order would refuse the good one (its Ready not
    // yet taken), which the raft-ready counter would show.
    const wakes = store2.stats.wakes;
    const received = store2.stats.messagesReceived;
    const readyRefusals = refusals[QuiesceRefusal.RaftReady];
    store2.handleBatch(1, [quiesceHeartbeat(leader!.term)]);
    store2.handleHeartbeats(1, rows([quiesceHeartbeat(leader!.term - 1)]));
    store2.runUntilIdle();
    expect(store2.stats.wakes).toBe(wakes + 1);
    expect(refusals[QuiesceRefusal.RaftReady]).toBe(readyRefusals);
    expect(store2.stats.messagesReceived).toBe(received + 2);
    cluster.settle();
  });

  it('quiesces without a down follower (lagging) and catches it up when it returns', () => {
    const { cluster, machines } = newTestCluster();
    cluster.createRange(1, { leaderNodeId: 1 });
    cluster.settle();
    cluster.network.isolate(3);
    cluster.store(1).propose(1, bytes('while-3-is-down'));
    cluster.settle();
    cluster.tick(12);
    const [s1, s2] = statuses(cluster, 1);
    expect(s1!.quiesced && s2!.quiesced).toBe(true);
    expect(cluster.store(1).summary(cluster.summary()).followersLagging).toBe(1);
    expect(machines[2]!.of(1)).toEqual([]);
    cluster.network.heal();
    cluster.tick(12);
    expect(machines[2]!.of(1)).toEqual(['while-3-is-down']);
    tickUntilQuiesced(cluster);
  });

  it('caps the tick debt of a group whose turns fall behind', () => {
    const { cluster } = newTestCluster({ store: { scheduler: { tickDebtMax: 3 } } });
    cluster.createRange(1, { leaderNodeId: 1 });
    cluster.settle();
    const store = cluster.store(2);
    const ticksBefore = store.stats.ticks;
    const slots = store.ticker.config.tickSpreadSlots;
    for (let i = 0; i < 20 * slots; i++) store.tick();
    expect(store.scheduler.pendingTicks(0 as never)).toBe(3);
    store.runUntilIdle();
    expect(store.stats.ticks - ticksBefore).toBe(3);
    expect(store.scheduler.stats.ticksDropped).toBe(17);
    // Three ticks are far below the election timeout: the follower did not campaign.
    expect(statuses(cluster, 1)[1]!.raftState).toBe(StateType.StateFollower);
  });

  it('does not let a hot group starve the others', () => {
    const { cluster, machines } = newTestCluster({
      store: { scheduler: { batchGroupsMax: 4 } },
    });
    for (let r = 1; r <= 12; r++) cluster.createRange(r, { leaderNodeId: 1 });
    cluster.settle();
    // Range 1 is hot: every applied command proposes the next one, forever (up to 400).
    const order: number[] = [];
    let hot = 0;
    machines[0]!.onApply = (rangeId) => {
      order.push(rangeId);
      if (rangeId === 1 && ++hot < 400) cluster.store(1).propose(1, bytes(`h${hot}`));
    };
    cluster.store(1).propose(1, bytes('h0'));
    for (let r = 2; r <= 12; r++) cluster.store(1).propose(r, bytes(`c${r}`));
    cluster.settle();
    expect(hot).toBe(400);
    // Every cold range applied its command while the hot one had done only a few.
    for (let r = 2; r <= 12; r++) {
      const position = order.indexOf(r);
      expect(position).toBeGreaterThanOrEqual(0);
      expect(order.slice(0, position).filter((x) => x === 1).length).toBeLessThan(10);
    }
  });

  it('turns quiescence off and on at run time', () => {
    const { cluster } = newTestCluster();
    for (let r = 1; r <= 3; r++) cluster.createRange(r, { leaderNodeId: r });
    cluster.settle();
    tickUntilQuiesced(cluster);
    for (const s of cluster.stores) s.setQuiescence(false);
    cluster.tick(20);
    expect(cluster.summary()).toMatchObject({ awake: 9, quiesced: 0, leaders: 3 });
    for (const s of statuses(cluster, 2)) expect(s.lead).toBe(2);
    for (const s of cluster.stores) s.setQuiescence(true);
    tickUntilQuiesced(cluster);
  });

  it('reports typed errors', () => {
    const { cluster } = newTestCluster();
    const store = cluster.store(1);
    expect(() => store.propose(42, bytes('x'))).toThrow(RangeNotFoundError);
    cluster.createRange(5, {});
    expect(() => store.propose(5, bytes('x'))).toThrowError(
      expect.objectContaining({ code: 'ERR_NOT_LEADER' }) as never,
    );
    expect(() => store.propose(5, bytes('x'))).toThrow(NotLeaderError);
    cluster.createRange(6, { leaderNodeId: 1, lazy: true });
    const m = newMessage(MessageType.MsgHeartbeat, { to: 2, from: 1, term: 1 });
    const s2 = cluster.store(2);
    s2.handleBatch(1, [{ rangeId: 9, message: m }]);
    expect(() => s2.propose(9, bytes('x'))).toThrow(RangeNotInitializedError);
  });

  it('validates its options', () => {
    const network = new LoopbackNetwork();
    const transport = network.createTransport({ nodeId: 1 });
    const base = { nodeId: 1, transport, random: new SeededRandom(1),
      stateMachine: { apply() {}, applySnapshot() {} } };
    expect(() => new Store({ ...base, electionTimeoutTicks: 1 })).toThrow(ConfigError);
    expect(() => new Store({ ...base, heartbeatIntervalTicks: 20 })).toThrow(ConfigError);
    expect(() => new Store({ ...base, quiesceAfterTicks: 0 })).toThrow(ConfigError);
    expect(() => new Store({ ...base, bogus: 1 } as never)).toThrow(ConfigError);
    expect(() => new Store({ ...base, livenessTimeoutTicks: 1 })).toThrow(ConfigError);
  });
});
