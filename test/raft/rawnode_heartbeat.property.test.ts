/**
 * RawNode's message-free heartbeat steps (`stepHeartbeat`, `stepHeartbeatResp`) against
 * `step` of the same messages: two three-node clusters built from the same seed run the same
 * random schedule (ticks, deliveries, drops, proposals, Ready turns, rounds); the first steps every
 * message, the second takes the message-free path wherever a node does not decline it, and
 * sends the follower's answer itself, first in the node's next turn, as the store does.
 * After every operation both clusters must be identical: every node's status, facts and
 * whether it has a Ready, and the messages in flight (so every Ready's messages too).
 *
 * RAFT_HEARTBEAT_PROPERTY_RUNS=N runs N schedules (default 40); RAFT_HEARTBEAT_PROPERTY_SEED
 * picks fast-check's seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_BYTES,
  HeartbeatStep,
  MessageType,
  newMessage,
  newNodeFacts,
  type Message,
} from '../../src/raft/index.js';
import { SeededRandom } from '../../src/raft/rand.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';

const RUNS = Number(process.env.RAFT_HEARTBEAT_PROPERTY_RUNS ?? 40);
const SEED = process.env.RAFT_HEARTBEAT_PROPERTY_SEED;
const IDS = [1, 2, 3];

interface Cluster {
  nodes: RawNode[];
  storages: MemoryStorage[];
  /** Messages in flight, in send order. */
  queue: Message[];
  /** Per node: answers sent by the message-free path, leaving first in its next turn. */
  answers: Message[][];
  /** Whether this cluster takes the message-free path. */
  fast: boolean;
}

function newCluster(seed: number, fast: boolean): Cluster {
  const c: Cluster = { nodes: [], storages: [], queue: [], answers: [], fast };
  for (const id of IDS) {
    const storage = new MemoryStorage();
    storage.snap.metadata.confState = {
      voters: IDS, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
    };
    c.storages.push(storage);
    c.nodes.push(new RawNode({ id, storage, electionTick: 4, heartbeatTick: 1,
      checkQuorum: true, preVote: true, random: new SeededRandom(seed * 7 + id) }));
    c.answers.push([]);
  }
  return c;
}

/** Outcomes of the message-free path over every run (coverage of the comparison). */
const taken = new Map<string, number>();
function count(kind: string): void {
  taken.set(kind, (taken.get(kind) ?? 0) + 1);
}

/** Steps `m` into node `i`: `step`, or the message-free path where the node takes it. */
function deliver(c: Cluster, i: number, m: Message): string {
  const node = c.nodes[i]!;
  try {
    if (c.fast && m.context.length === 0 && m.type === MessageType.MsgHeartbeat) {
      const before = node.hasReady();
      const outcome = node.stepHeartbeat(m.from, m.term, m.commit);
      if (outcome !== HeartbeatStep.Declined) {
        count(`follower ${outcome}`);
        if (outcome === HeartbeatStep.Settled) expect(node.hasReady()).toBe(before);
        c.answers[i]!.push(newMessage(MessageType.MsgHeartbeatResp,
          { to: m.from, from: IDS[i]!, term: node.term }));
        return 'ok';
      }
    }
    if (c.fast && m.context.length === 0 && m.type === MessageType.MsgHeartbeatResp) {
      const before = node.hasReady();
      const outcome = node.stepHeartbeatResp(m.from, m.term);
      if (outcome !== HeartbeatStep.Declined) {
        count(`leader ${outcome}`);
        if (outcome === HeartbeatStep.Settled) expect(node.hasReady()).toBe(before);
        return 'ok';
      }
    }
    node.step(m);
    return 'ok';
  } catch (error) {
    return (error as Error).constructor.name;
  }
}

/** Node `i`'s turn: its answers, then its Ready persisted, sent and advanced. */
function turn(c: Cluster, i: number): void {
  const node = c.nodes[i]!;
  const storage = c.storages[i]!;
  for (const m of c.answers[i]!) c.queue.push(m);
  c.answers[i]!.length = 0;
  if (!node.hasReady()) return;
  const rd = node.ready();
  if (rd.entries.length > 0) storage.append(rd.entries);
  if (rd.hardState.term !== 0 || rd.hardState.commit !== 0) storage.setHardState(rd.hardState);
  for (const m of rd.messages) c.queue.push(m);
  node.advance();
}

function apply(c: Cluster, op: number, a: number, b: number): string {
  const i = a % IDS.length;
  switch (op) {
    case 0:
      c.nodes[i]!.tick();
      return 'ok';
    case 1: {
      if (c.queue.length === 0) return 'empty';
      const [m] = c.queue.splice(b % c.queue.length, 1);
      // A copy: the receiver must not share the sender's object.
      return deliver(c, IDS.indexOf(m!.to), { ...m! });
    }
    case 2:
      if (c.queue.length > 0) c.queue.splice(b % c.queue.length, 1);
      return 'ok';
    case 3:
      try {
        c.nodes[i]!.propose(new Uint8Array([b & 0xff]));
        return 'ok';
      } catch (error) {
        return (error as Error).constructor.name;
      }
    case 4:
      turn(c, i);
      return 'ok';
    default:
      return round(c);
  }
}

/** Every node's turn, then every message in flight delivered in order (fair progress). */
function round(c: Cluster): string {
  for (let i = 0; i < IDS.length; i++) turn(c, i);
  const queue = c.queue.splice(0, c.queue.length);
  const outcomes: string[] = [];
  for (const m of queue) outcomes.push(deliver(c, IDS.indexOf(m.to), { ...m }));
  return outcomes.join();
}

function expectSame(slow: Cluster, fast: Cluster): void {
  const f1 = newNodeFacts();
  const f2 = newNodeFacts();
  for (let i = 0; i < IDS.length; i++) {
    const s = slow.nodes[i]!;
    const f = fast.nodes[i]!;
    expect(f.basicStatus()).toEqual(s.basicStatus());
    s.readFacts(f1);
    f.readFacts(f2);
    expect(f2).toEqual(f1);
    // The slow node holds its answers in its Ready; the fast one in `answers`.
    expect(f.hasReady() || fast.answers[i]!.length > 0).toBe(s.hasReady());
  }
  expect(fast.queue).toEqual(slow.queue);
}

/** Weighted operations: deliveries and turns must outnumber drops for progress. */
const OP = fc.constantFrom(0, 0, 0, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 5);

describe('RawNode message-free heartbeat steps', () => {
  it('leave two clusters identical to stepping the messages (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1 << 20 }),
      fc.array(fc.tuple(OP, fc.nat(), fc.nat()), { minLength: 100, maxLength: 600 }),
      (seed, ops) => {
        const slow = newCluster(seed, false);
        const fast = newCluster(seed, true);
        for (const [op, a, b] of ops) {
          expect(apply(fast, op, a, b)).toBe(apply(slow, op, a, b));
          expectSame(slow, fast);
        }
        for (let i = 0; i < IDS.length; i++) {
          turn(slow, i);
          turn(fast, i);
        }
        expectSame(slow, fast);
      },
    ), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: Number(SEED) }) });
    // Both sides of the fast path, and both outcomes of each, were compared.
    for (const kind of ['follower 1', 'follower 2', 'leader 1', 'leader 2']) {
      expect(taken.get(kind) ?? 0).toBeGreaterThan(0);
    }
  });

  it('declines what it does not stand for, changing nothing', () => {
    const c = newCluster(1, true);
    const node = c.nodes[0]!;
    node.campaign();
    turn(c, 0);
    const before = node.basicStatus();
    // A candidate's heartbeat (it becomes a follower through step), a stale or newer term,
    // a self-addressed one, an answer on a non-leader, an answer from an unknown peer.
    expect(node.stepHeartbeat(2, node.term, 0)).toBe(HeartbeatStep.Declined);
    expect(node.stepHeartbeat(2, node.term + 1, 0)).toBe(HeartbeatStep.Declined);
    expect(node.stepHeartbeat(1, node.term, 0)).toBe(HeartbeatStep.Declined);
    expect(node.stepHeartbeatResp(2, node.term)).toBe(HeartbeatStep.Declined);
    expect(node.basicStatus()).toEqual(before);
    node.step(newMessage(MessageType.MsgHeartbeat, { from: 2, to: 1, term: node.term + 1,
      context: EMPTY_BYTES }));
    expect(node.lead).toBe(2);
    expect(node.stepHeartbeat(2, node.term - 1, 0)).toBe(HeartbeatStep.Declined);
    // Its answer is still queued: the next answer would not be the turn's first message.
    expect(node.stepHeartbeat(2, node.term, 0)).toBe(HeartbeatStep.Declined);
    turn(c, 0);
    expect(node.stepHeartbeat(2, node.term, 0)).toBe(HeartbeatStep.Settled);
    expect(node.stepHeartbeatResp(9, node.term)).toBe(HeartbeatStep.Declined);
  });
});
