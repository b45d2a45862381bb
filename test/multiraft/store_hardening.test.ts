/**
 * The store under bad input, one test per finding of the hardening issue (the number is in
 * each name): forged messages are refused and counted, not a crash; bad API calls throw
 * typed errors and leave the store unchanged; a replica whose Raft panics on a remote
 * message is isolated; close means closed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MessageRefusal,
  NotLeaderError,
  RangeExistsError,
  ReplicaBrokenError,
  StoreClosedError,
  newReplicaStatus,
  type LocalCluster,
  type Store,
} from '../../src/multiraft/index.js';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  RaftPanicError,
  RawNode,
  newMessage,
  type Message,
} from '../../src/raft/index.js';
import { FlotillaError } from '../../src/util/index.js';
import { agreedLeader, bytes, newTestCluster, statuses, tickUntilQuiesced } from './_helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A cluster with range 1 led by node 1, one write applied everywhere. */
function ready(options: Parameters<typeof newTestCluster>[0] = {}) {
  const made = newTestCluster(options);
  made.cluster.createRange(1, { leaderNodeId: 1 });
  made.cluster.settle();
  made.cluster.store(1).propose(1, bytes('first'));
  made.cluster.settle();
  return made;
}

function deliver(store: Store, from: number, rangeId: number, message: Message): void {
  store.handleBatch(from, [{ rangeId, message, quiesce: false }]);
  store.runUntilIdle();
}

/** A write through range 1's leader reaches every store. */
function expectWritesGoOn(cluster: LocalCluster, machines: { of(r: number): string[] }[],
  payload: string): void {
  cluster.tick(30);
  const leader = agreedLeader(cluster, 1);
  cluster.store(leader).propose(1, bytes(payload));
  cluster.settle();
  for (const m of machines) expect(m.of(1)).toContain(payload);
}

describe('finding 1: forged commits and indices are refused, not a crash', () => {
  it('heartbeat commit past the log, on a range and on an unknown group; append at 10^9', () => {
    const { cluster, machines } = ready();
    const s2 = cluster.store(2);
    const { term, lastIndex } = statuses(cluster, 1)[1]!;
    expect(() => deliver(s2, 1, 1, newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2, term,
      commit: lastIndex + 1000 }))).not.toThrow();
    expect(() => deliver(s2, 1, 55, newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2,
      term, commit: 50 }))).not.toThrow();
    expect(() => deliver(s2, 1, 1, newMessage(MessageType.MsgApp, { from: 1, to: 2, term,
      index: lastIndex, logTerm: term, entries: [{ term, index: 1e9,
        type: EntryType.EntryNormal, data: EMPTY_BYTES }] }))).not.toThrow();
    expect(s2.stats.messagesRefused[MessageRefusal.CommitBeyondLog]).toBe(2);
    expect(s2.stats.messagesRefused[MessageRefusal.EntriesNotContiguous]).toBe(1);
    expect(s2.hasRange(55)).toBe(false);
    expect(s2.stats.replicasBroken).toBe(0);
    expectWritesGoOn(cluster, machines, 'after');
  });
});

describe('finding 3: terms are bounded far below 2^53', () => {
  it('a heartbeat with term 2^53 - 1 from a member is refused; the range keeps its leader', () => {
    const { cluster, machines } = ready();
    const s2 = cluster.store(2);
    deliver(s2, 3, 1, newMessage(MessageType.MsgHeartbeat, { from: 3, to: 2,
      term: 2 ** 53 - 1 }));
    for (const s of statuses(cluster, 1)) expect(s.term).toBeLessThan(100);
    expectWritesGoOn(cluster, machines, 'still-led');
    expect(agreedLeader(cluster, 1)).toBe(1);
    expect(s2.stats.messagesRefused[MessageRefusal.TermTooLarge]).toBe(1);
  });
});

describe('finding 4: uninitialized replicas are capped and collected', () => {
  const heartbeats = (term: number, first: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ rangeId: first + i,
      message: newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2, term }) }));

  it('one frame naming 20,000 unknown groups creates at most the default cap', () => {
    const { cluster } = ready();
    const s2 = cluster.store(2);
    s2.handleBatch(1, heartbeats(statuses(cluster, 1)[1]!.term, 1000, 20_000));
    cluster.settle();
    expect(s2.replicaCount).toBe(1 + 4096);
    expect(s2.stats.messagesRefused[MessageRefusal.UninitializedCap]).toBe(20_000 - 4096);
  });

  it('those that get no snapshot are collected, and their slots reused', () => {
    const { cluster } = ready({ store: { uninitializedReplicasMax: 100,
      uninitializedReplicaTimeoutTicks: 20 } });
    const s2 = cluster.store(2);
    const term = statuses(cluster, 1)[1]!.term;
    s2.handleBatch(1, heartbeats(term, 1000, 20_000));
    cluster.settle();
    expect(s2.replicaCount).toBe(101);
    expect(s2.stats.uninitializedReplicasNow).toBe(100);
    cluster.tick(21);
    expect(s2.replicaCount).toBe(1);
    expect(s2.stats.uninitializedReplicasNow).toBe(0);
    expect(s2.stats.replicasCollected).toBe(100);
    expect(s2.ticker.awakeCount).toBeLessThanOrEqual(1);
    // The slots are reused: a second wave does not grow the table.
    const bytesBefore = s2.tableBytes;
    s2.handleBatch(1, heartbeats(term, 50_000, 100));
    cluster.settle();
    expect(s2.replicaCount).toBe(101);
    expect(s2.tableBytes).toBe(bytesBefore);
  });

  it('an uninitialized replica that voted is kept (forgetting a vote is unsafe)', () => {
    const { cluster } = ready({ store: { uninitializedReplicaTimeoutTicks: 5 } });
    const s2 = cluster.store(2);
    deliver(s2, 3, 77, newMessage(MessageType.MsgVote, { from: 3, to: 2, term: 9, index: 5,
      logTerm: 5 }));
    expect(s2.raftStatus(77)!.vote).toBe(3);
    cluster.tick(10);
    expect(s2.hasRange(77)).toBe(true);
    expect(s2.stats.replicasCollected).toBe(0);
  });

  it('a lazily created replica initialized by its leader is not collected', () => {
    const { cluster, machines } = newTestCluster({ store: { uninitializedReplicaTimeoutTicks: 5 } });
    cluster.createRange(7, { leaderNodeId: 1, lazy: true });
    cluster.settle();
    cluster.tick(10);
    cluster.store(1).propose(7, bytes('lazy'));
    cluster.settle();
    for (const m of machines) expect(m.of(7)).toEqual(['lazy']);
    for (const s of cluster.stores) expect(s.stats.replicasCollected).toBe(0);
  });
});

describe('finding 8: createRange refuses bad configurations before touching state', () => {
  it('every bad call throws a typed error and leaves no zombie', () => {
    const { cluster } = ready();
    const s1 = cluster.store(1);
    const bad: [unknown, unknown][] = [
      [2, { voters: [0, 1, 2] }], [2, { voters: [1, -5] }], [2, { voters: [1, 2.5] }],
      [2, { voters: [1, '2'] }], [2, { voters: [1, 1, 2] }], [2, { voters: [1, 2], learners: [2] }],
      [2, { voters: [] }], [2, { voters: [2, 3] }],
      [2, { voters: Array.from({ length: 65 }, (_, i) => i + 1) }],
      [0, { voters: [1] }], [1.5, { voters: [1] }], [2 ** 32, { voters: [1] }],
    ];
    for (const [rangeId, range] of bad) {
      let error: unknown;
      try {
        s1.createRange(rangeId as number, range as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify([rangeId, range])).toBeInstanceOf(FlotillaError);
      expect(['ERR_INVALID_RANGE_CONFIG', 'ERR_INVALID_RANGE_ID'])
        .toContain((error as FlotillaError).code);
      expect(s1.replicaCount).toBe(1);
      expect(s1.hasRange(2)).toBe(false);
    }
    // A retry with a good configuration works, and a peer's message for it is handled.
    s1.createRange(2, { voters: [1, 2, 3] });
    expect(() => s1.createRange(2, { voters: [1, 2, 3] })).toThrow(RangeExistsError);
    expect(s1.raftStatus(2)?.replicaId).toBe(1);
    cluster.store(2).createRange(2, { voters: [1, 2, 3] });
    cluster.store(3).createRange(2, { voters: [1, 2, 3] });
    s1.campaign(2);
    cluster.settle();
    expect(agreedLeader(cluster, 2)).toBe(1);
  });

  it('the caller changing its voter array later changes nothing', () => {
    const { cluster } = newTestCluster();
    const voters = [1, 2, 3];
    for (const s of cluster.stores) s.createRange(4, { voters });
    voters.push(99);
    cluster.store(1).campaign(4);
    cluster.settle();
    expect(cluster.store(1).raftStatus(4)!.progress.map((p) => p.nodeId).sort())
      .toEqual([1, 2, 3]);
  });
});

describe('finding 9: proposals above the frame limit are refused', () => {
  it('17 MiB is refused with PayloadTooLargeError; the range goes on committing', () => {
    const { cluster, machines } = ready();
    const s1 = cluster.store(1);
    const before = s1.stats.proposals;
    expect(() => s1.propose(1, new Uint8Array(17 * 2 ** 20)))
      .toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD_TOO_LARGE' }));
    expect(s1.stats.proposals).toBe(before);
    expect(s1.config.proposalBytesMax).toBeLessThan(16 * 2 ** 20);
    s1.propose(1, new Uint8Array(s1.config.proposalBytesMax).fill(7));
    cluster.settle();
    s1.propose(1, bytes('small'));
    cluster.settle();
    for (const m of machines) expect(m.of(1).at(-1)).toBe('small');
  });
});

describe('finding 10: payloads must be Uint8Arrays, and are copied', () => {
  it('strings, arrays, numbers, buffers, views and wide typed arrays are refused', () => {
    const { cluster, machines } = ready();
    const s1 = cluster.store(1);
    for (const data of ['text', [1, 2], 7, new ArrayBuffer(4), new DataView(new ArrayBuffer(4)),
      new Float64Array([1.5])]) {
      expect(() => s1.propose(1, data as never))
        .toThrow(expect.objectContaining({ code: 'ERR_INVALID_PAYLOAD' }));
    }
    // The store is intact: the next batch and write work on every replica.
    const data = bytes('kept');
    s1.propose(1, data);
    data.fill(0x21);
    cluster.settle();
    for (const m of machines) expect(m.of(1).at(-1)).toBe('kept');
  });
});

describe('finding 11: close means closed', () => {
  it('start after a pending close is refused, and no timer ticks a closed store', async () => {
    const { cluster } = ready();
    const s1 = cluster.store(1);
    const closing = s1.close();
    expect(() => s1.start()).toThrow(StoreClosedError);
    await closing;
    const out = newReplicaStatus();
    for (const call of [() => s1.setQuiescence(false), () => s1.runUntilIdle(), () => s1.tick(),
      () => s1.start(), () => s1.propose(1, bytes('x')), () => s1.createRange(9, { voters: [1] }),
      () => s1.campaign(1), () => s1.wakeRange(1), () => s1.readStatus(1, out),
      () => s1.raftStatus(1), () => s1.summary(cluster.summary())]) {
      expect(call).toThrow(StoreClosedError);
    }
    const dropped = s1.stats.messagesRefused[MessageRefusal.StoreClosed];
    s1.handleBatch(2, [{ rangeId: 1, message: newMessage(MessageType.MsgHeartbeat,
      { from: 2, to: 1, term: 6 }) }]);
    expect(s1.stats.messagesRefused[MessageRefusal.StoreClosed]).toBe(dropped + 1);
    await expect(s1.close()).resolves.toBeUndefined();
  });

  it('a started store closed without awaiting stops ticking', async () => {
    const { cluster } = ready();
    const s1 = cluster.store(1);
    s1.start();
    void s1.close();
    const ticks = s1.stats.ticks;
    await new Promise((r) => setTimeout(r, 3 * s1.ticker.subTickIntervalMs));
    expect(s1.stats.ticks).toBe(ticks);
  });
});

describe('isolation: Raft panicking on a remote message breaks one replica only', () => {
  it('the replica is marked broken, refuses requests, and the other ranges go on', () => {
    const { cluster, machines } = ready();
    cluster.createRange(2, { leaderNodeId: 1 });
    cluster.settle();
    const marker = new Uint8Array([0xde, 0xad]);
    const step = RawNode.prototype.step;
    vi.spyOn(RawNode.prototype, 'step').mockImplementation(function (this: RawNode, m) {
      if (m.context.length === 2 && m.context[0] === 0xde) throw new RaftPanicError('forced');
      step.call(this, m);
    });
    const s2 = cluster.store(2);
    const term = statuses(cluster, 1)[1]!.term;
    expect(() => deliver(s2, 1, 1, newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2,
      term, context: marker }))).not.toThrow();
    expect(s2.stats.replicasBroken).toBe(1);
    expect(s2.stats.messagesRefused[MessageRefusal.RaftPanic]).toBe(1);
    const status = newReplicaStatus();
    expect(s2.readStatus(1, status)).toBe(true);
    expect(status.broken).toBe(true);
    expect(s2.summary(cluster.summary()).broken).toBe(1);
    expect(() => s2.propose(1, bytes('no'))).toThrow(ReplicaBrokenError);
    expect(() => s2.campaign(1)).toThrow(ReplicaBrokenError);
    deliver(s2, 1, 1, newMessage(MessageType.MsgHeartbeat, { from: 1, to: 2, term }));
    expect(s2.stats.messagesRefused[MessageRefusal.ReplicaBroken]).toBeGreaterThan(0);
    vi.restoreAllMocks();
    // Range 1 goes on with the two healthy replicas; range 2 on all three.
    cluster.tick(20);
    cluster.store(1).propose(1, bytes('two-of-three'));
    cluster.store(1).propose(2, bytes('all'));
    cluster.settle();
    expect(machines[0]!.of(1).at(-1)).toBe('two-of-three');
    expect(machines[2]!.of(1).at(-1)).toBe('two-of-three');
    for (const m of machines) expect(m.of(2)).toEqual(['all']);
  });

  it('a panic on a local request still propagates (a local bug is a bug)', () => {
    const { cluster } = ready();
    vi.spyOn(RawNode.prototype, 'campaign').mockImplementation(() => {
      throw new RaftPanicError('local');
    });
    expect(() => cluster.store(2).campaign(1)).toThrow(RaftPanicError);
  });
});

describe('churn: a quiesced follower woken by a non-leader wakes its leader', () => {
  it('a late message from a non-leader does not leave the leader asleep', () => {
    const { cluster } = ready();
    tickUntilQuiesced(cluster);
    const before = statuses(cluster, 1);
    // A late vote response from node 3 (for an election long over) reaches follower 2.
    deliver(cluster.store(2), 3, 1, newMessage(MessageType.MsgPreVoteResp, { from: 3, to: 2,
      term: before[0]!.term, reject: true }));
    cluster.settle();
    const leader = newReplicaStatus();
    cluster.store(1).readStatus(1, leader);
    expect(leader.quiesced).toBe(false);
    cluster.tick(100);
    const after = statuses(cluster, 1);
    expect(after.map((s) => s.term)).toEqual(before.map((s) => s.term));
    expect(agreedLeader(cluster, 1)).toBe(1);
  });
});

describe('Store.propose on a follower', () => {
  it('NotLeaderError is still typed when no leader is known', () => {
    const { cluster } = newTestCluster();
    for (const s of cluster.stores) s.createRange(3, { voters: [1, 2, 3] });
    expect(() => cluster.store(2).propose(3, bytes('x'))).toThrow(NotLeaderError);
  });
});
