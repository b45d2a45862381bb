/**
 * A hostile peer over real sockets: three stores on the TCP transport take writes while a
 * fourth node, which completed the handshake, throws each kind of forged frame at them.
 * Properties: the process stays up (nothing escapes a store), every forged message is
 * refused and counted under its reason, the heap grows by less than `HEAP_GROWTH_BYTES_MAX`
 * over the whole attack (20,000 unknown groups included: they are capped), and the
 * legitimate writes go on after every frame.
 */
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_BYTES, EntryType, MessageType, newMessage, type Message } from '../../src/raft/index.js';
import type { Envelope } from '../../src/transport/index.js';
import { MessageRefusal, type MessageRefusal as Refusal } from '../../src/multiraft/index.js';
import { bytes } from './_helpers.js';
import {
  HostilePeer,
  eventually,
  startTcpCluster,
  stopTcpCluster,
  type TcpStore,
} from './_tcp_cluster.js';

const ATTACKER = 9;
/** Ranges of the three stores only, and one where the attacker holds a (silent) vote. */
const RANGES = [1, 2, 3];
const SHARED = 10;
const UNINITIALIZED_MAX = 256;
/** Bound on heap growth across the attack (the 20,000-group frame alone cost 34 MiB). */
const HEAP_GROWTH_BYTES_MAX = 48 * 2 ** 20;

let nodes: TcpStore[] = [];
let attacker: HostilePeer;
const sockets = new Map<number, net.Socket>();
let writes = 0;

beforeAll(async () => {
  attacker = new HostilePeer(ATTACKER);
  const address = await attacker.listen();
  nodes = await startTcpCluster({ extraPeers: [[ATTACKER, address]],
    store: { uninitializedReplicasMax: UNINITIALIZED_MAX } });
  for (const rangeId of RANGES) {
    for (const n of nodes) n.store.createRange(rangeId, { voters: [1, 2, 3] });
  }
  for (const n of nodes) n.store.createRange(SHARED, { voters: [1, 2, 3, ATTACKER] });
  nodes[0]!.store.campaign(1);
  nodes[1]!.store.campaign(2);
  nodes[2]!.store.campaign(3);
  nodes[0]!.store.campaign(SHARED);
  for (const n of nodes) sockets.set(n.store.nodeId, await attacker.dial(n.address, n.store.nodeId));
  await writeEverywhere();
}, 60_000);

afterAll(async () => {
  await attacker.close();
  await stopTcpCluster(nodes);
});

/** Proposes one write to every range through its leader; resolves once all stores applied it. */
async function writeEverywhere(): Promise<void> {
  const round = writes++;
  for (const rangeId of [...RANGES, SHARED]) {
    const payload = `w${round}-${rangeId}`;
    await eventually(() => {
      for (const n of nodes) {
        try {
          n.store.propose(rangeId, bytes(payload));
          return true;
        } catch {
          // No leader known yet on this store: try another, then again later.
        }
      }
      return false;
    }, `a store taking a write on range ${rangeId}`);
    await eventually(() => nodes.every((n) => n.machine.of(rangeId).includes(payload)),
      `write ${payload} applied on every store`);
  }
}

function msg(type: MessageType, to: number, fields: Partial<Message>): Message {
  return newMessage(type, { from: ATTACKER, to, term: 6, ...fields });
}

/** Each forged frame: what it carries and the reason every store must count. */
const FORGED: { name: string; reason: Refusal; build: (to: number) => Envelope[] }[] = [
  { name: 'heartbeat commit past the log', reason: MessageRefusal.CommitBeyondLog,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgHeartbeat, to,
      { term: 2 ** 20, commit: 1e6 }) }] },
  { name: 'heartbeat commit past the log, unknown group', reason: MessageRefusal.CommitBeyondLog,
    build: (to) => [{ rangeId: 777, message: msg(MessageType.MsgHeartbeat, to, { commit: 50 }) }] },
  { name: 'append with entry index 10^9', reason: MessageRefusal.EntriesNotContiguous,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgApp, to, { term: 2 ** 20,
      index: 6, logTerm: 5, entries: [{ term: 2 ** 20, index: 1e9,
        type: EntryType.EntryNormal, data: EMPTY_BYTES }] }) }] },
  { name: 'heartbeat with term 2^53 - 1', reason: MessageRefusal.TermTooLarge,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgHeartbeat, to,
      { term: 2 ** 53 - 1 }) }] },
  { name: 'empty proposal', reason: MessageRefusal.EmptyProposal,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgProp, to, { term: 0 }) }] },
  { name: 'snapshot Raft cannot restore', reason: MessageRefusal.BadSnapshot,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgSnap, to, { term: 2 ** 20,
      snapshot: { data: EMPTY_BYTES, metadata: { index: 99, term: 7, confState: {
        voters: [1, 1, 9], learners: [], votersOutgoing: [], learnersNext: [],
        autoLeave: false } } } }) }] },
  { name: 'acknowledging entries never sent', reason: MessageRefusal.AckBeyondLog,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgAppResp, to,
      { index: 1e9 }) }] },
  { name: 'a local message type', reason: MessageRefusal.LocalType,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgHup, to, {}) }] },
  { name: 'speaking for node 1', reason: MessageRefusal.SenderMismatch,
    build: (to) => [{ rangeId: 1, message: msg(MessageType.MsgHeartbeat, to,
      { from: to === 1 ? 2 : 1, term: 2 ** 20 }) }] },
  { name: 'a range it is not a member of', reason: MessageRefusal.SenderNotMember,
    build: (to) => [{ rangeId: 2, message: msg(MessageType.MsgVote, to, { term: 2 ** 20,
      index: 1e6, logTerm: 2 ** 20 }) }] },
  { name: 'timeout-now from a non-leader', reason: MessageRefusal.TimeoutNowNotFromLeader,
    build: (to) => [{ rangeId: SHARED, message: msg(MessageType.MsgTimeoutNow, to, {}) }] },
  { name: 'append below the log start, unknown group', reason: MessageRefusal.AppendBelowLogStart,
    build: (to) => [{ rangeId: 778, message: msg(MessageType.MsgApp, to, { index: 0,
      logTerm: 0, commit: 1, entries: [{ term: 6, index: 1, type: EntryType.EntryNormal,
        data: bytes('forged') }] }) }] },
  { name: '20,000 unknown groups', reason: MessageRefusal.UninitializedCap,
    build: (to) => Array.from({ length: 20_000 }, (_, i) => ({ rangeId: 100_000 + i,
      message: msg(MessageType.MsgHeartbeat, to, { commit: 0 }) })) },
];

describe('hostile peer over TCP', () => {
  it('every forged frame is refused and counted; writes go on; memory stays bounded', async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    for (const forged of FORGED) {
      const before = nodes.map((n) => n.store.stats.messagesRefused[forged.reason]);
      for (const n of nodes) {
        attacker.sendBatch(sockets.get(n.store.nodeId)!, n.store.nodeId, forged.build(n.store.nodeId));
      }
      await eventually(() => nodes.every((n, i) =>
        n.store.stats.messagesRefused[forged.reason] > before[i]!), `${forged.name} refused`);
      await writeEverywhere();
    }
    for (const n of nodes) {
      expect(n.store.stats.uninitializedReplicasNow).toBeLessThanOrEqual(UNINITIALIZED_MAX);
      expect(n.store.stats.replicasBroken).toBe(0);
      // The attacker's connection was never closed: its frames were all well formed.
      expect(n.transport.stats().framesRejected).toBe(0);
    }
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(HEAP_GROWTH_BYTES_MAX);
  }, 120_000);
});
