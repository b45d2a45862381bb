/**
 * Fuzzes the store past the framing layer: structurally valid frames (encoded and decoded by
 * the transport's codec) full of random Raft messages, delivered to a live three-store
 * cluster while it takes writes.
 *
 *   npx vitest run test/multiraft/store_fuzz.test.ts                                # CI size
 *   FLOTILLA_STORE_FUZZ_MESSAGES=1000000 npx vitest run test/multiraft/store_fuzz.test.ts
 *   FLOTILLA_STORE_FUZZ_SEED=1234 ...                                               # replay
 *
 * Properties: nothing throws out of the store; the ranges the fuzzer attacks from outside
 * their configuration (as node 9) keep one history: on every store, the applied payloads
 * are prefixes of one sequence; after the attack, those ranges still commit writes. Other
 * ranges are attacked as if by their own members (a member can always lie its group into
 * divergence, so only "no crash, the rest goes on" is checked there).
 */
import { describe, expect, it } from 'vitest';
import {
  FrameCodec,
  batchEnvelopes,
  seededRandom,
  type BatchFrame,
} from '../../src/transport/index.js';
import type { Store } from '../../src/multiraft/index.js';
import { MessageFuzzer } from './_fuzz_messages.js';
import { bytes, newTestCluster, type RecordingStateMachine } from './_helpers.js';

const MESSAGES = Number(process.env.FLOTILLA_STORE_FUZZ_MESSAGES ?? 6000);
const SEED = Number(process.env.FLOTILLA_STORE_FUZZ_SEED ?? 0x5eed);
const FUZZER = 9;
const CHECKED = [1, 2, 3, 4];
const SACRIFICED = [5, 6];
const BATCH = 64;

/** Encodes and decodes a batch through the real codec, as the TCP transport would. */
function throughCodec(codec: FrameCodec, from: number, to: number,
  envelopes: Parameters<FrameCodec['encodeBatch']>[2]) {
  const encoded = codec.encodeBatch(from, to, envelopes, true);
  expect(encoded, 'a fuzz batch fits a frame').not.toBeNull();
  return batchEnvelopes(codec.decode(encoded!.frame) as BatchFrame);
}

/** Every store's applied history of `rangeId` is a prefix of the longest one. */
function expectOneHistory(machines: RecordingStateMachine[], rangeId: number, seed: number) {
  const histories = machines.map((m) => m.of(rangeId));
  const longest = histories.reduce((a, b) => (b.length > a.length ? b : a));
  for (const h of histories) {
    expect(h, `seed ${seed}: range ${rangeId} diverged`).toEqual(longest.slice(0, h.length));
  }
  return longest.length;
}

function tryPropose(store: Store, rangeId: number, data: Uint8Array): boolean {
  try {
    store.propose(rangeId, data);
    return true;
  } catch (error) {
    // NotLeaderError and friends while the range is in an election: typed, expected.
    if (error instanceof Error && 'code' in error) return false;
    throw error;
  }
}

describe('store fuzz: random Raft messages in valid frames', () => {
  it(`${MESSAGES} messages: no crash, one history, writes go on`, () => {
    const { cluster, machines } = newTestCluster({ seed: SEED,
      store: { uninitializedReplicasMax: 64, uninitializedReplicaTimeoutTicks: 30 } });
    for (const rangeId of [...CHECKED, ...SACRIFICED]) {
      cluster.createRange(rangeId, { leaderNodeId: 1 + (rangeId % 3) });
    }
    cluster.settle();
    const random = seededRandom(SEED);
    const codec = new FrameCodec(1 << 24);
    const outsider = new MessageFuzzer(random, { memberIds: cluster.nodeIds, senderId: FUZZER,
      rangeIds: CHECKED, term: 6, lastIndex: 8 });
    let sent = 0;
    let written = 0;
    for (let round = 0; sent < MESSAGES; round++) {
      const rangeId = CHECKED[round % CHECKED.length]!;
      const store = cluster.stores[round % 3]!;
      if (tryPropose(store, rangeId, bytes(`w${round}`))) written++;
      for (const target of cluster.stores) {
        target.handleBatch(FUZZER, throughCodec(codec, FUZZER, target.nodeId,
          outsider.batch(target.nodeId, BATCH)));
        sent += BATCH;
        const member = cluster.nodeIds.find((id) => id !== target.nodeId)!;
        const insider = new MessageFuzzer(random, { memberIds: cluster.nodeIds,
          senderId: member, rangeIds: SACRIFICED, term: 6, lastIndex: 8 });
        const forged = insider.batch(target.nodeId, 16).filter((e) =>
          SACRIFICED.includes(e.rangeId));
        target.handleBatch(member, throughCodec(codec, member, target.nodeId, forged));
        sent += forged.length;
      }
      cluster.tick(1);
      if (round % 50 === 0) for (const r of CHECKED) expectOneHistory(machines, r, SEED);
    }
    expect(written).toBeGreaterThan(0);
    // The attack is over: the checked ranges elect (if they must) and commit again.
    cluster.tick(60);
    for (const rangeId of CHECKED) {
      const before = expectOneHistory(machines, rangeId, SEED);
      let accepted = false;
      for (let attempt = 0; attempt < 20 && !accepted; attempt++) {
        for (const store of cluster.stores) {
          if (!accepted && tryPropose(store, rangeId, bytes(`after-${rangeId}`))) accepted = true;
        }
        cluster.tick(5);
      }
      expect(accepted, `seed ${SEED}: range ${rangeId} takes writes`).toBe(true);
      cluster.tick(20);
      expect(expectOneHistory(machines, rangeId, SEED), `seed ${SEED}`).toBeGreaterThan(before);
    }
    const refused = cluster.stores.map((s) => Object.values(s.stats.messagesRefused)
      .reduce((a, b) => a + b, 0));
    if (process.env.FLOTILLA_STORE_FUZZ_MESSAGES !== undefined) {
      // A full run says what the fuzzer reached (stepped = received - dropped).
      const total = (key: 'messagesReceived' | 'messagesDropped' | 'replicasBroken' |
        'replicasCollected' | 'replicasCreatedLazily') =>
        cluster.stores.reduce((n, s) => n + s.stats[key], 0);
      const reasons: Record<string, number> = {};
      for (const s of cluster.stores) {
        for (const [k, n] of Object.entries(s.stats.messagesRefused)) {
          if (n > 0) reasons[k] = (reasons[k] ?? 0) + n;
        }
      }
      process.stdout.write(`${JSON.stringify({ name: 'store_fuzz', seed: SEED,
        messages: sent, received: total('messagesReceived'),
        stepped: total('messagesReceived') - total('messagesDropped'),
        replicasCreatedLazily: total('replicasCreatedLazily'),
        replicasCollected: total('replicasCollected'), replicasBroken: total('replicasBroken'),
        writesAccepted: written, refused: reasons })}\n`);
    }
    expect(refused.every((n) => n > 0)).toBe(true);
    // Uninitialized replicas made by the fuzzer stay within the cap.
    for (const store of cluster.stores) {
      expect(store.stats.uninitializedReplicasNow).toBeLessThanOrEqual(64);
    }
  }, Math.max(60_000, MESSAGES * 2));
});
