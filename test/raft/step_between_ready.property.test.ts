/**
 * Property: any input may be stepped into a node between `ready()` and `advance()` (the
 * RawNode contract) without breaking an invariant. Four nodes (voters 1-3; node 4 joins and
 * leaves) run a random schedule in which a taken Ready is finished (persisted, sent, applied,
 * advanced) only by a later operation, so ticks, messages (snapshots among them), proposals,
 * conf changes, campaigns and restarts of other nodes land in between. Checked on every
 * operation: no panic or assertion, at most one leader per term, every index applied with the
 * same entry everywhere; and once the cluster has drained, every node's configuration equals
 * the one its application derived from the conf changes and snapshots it applied.
 *
 * A second property drives one follower against a scripted leader, which reaches the
 * snapshot-during-conf-change case far more often: without raft.ts's `applyingConfChange`
 * it fails within its default 300 runs ("config is already joint").
 *
 * RAFT_STEP_PROPERTY_RUNS=N runs N cluster schedules and 5N follower ones (default 60);
 * RAFT_STEP_PROPERTY_SEED picks fast-check's seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlotillaError } from '../../src/util/index.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  MessageType,
  isEmptyHardState,
  newMessage,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Message,
  type Ready,
} from '../../src/raft/index.js';
import { silentLogger } from '../../src/raft/logger.js';
import { SeededRandom } from '../../src/raft/rand.js';
import { StateType } from '../../src/raft/raft_state.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { marshalConfChange, unmarshalConfChange } from '../../src/raft/confchange_codec.js';

const RUNS = Number(process.env.RAFT_STEP_PROPERTY_RUNS ?? 60);
const IDS = [1, 2, 3, 4];
/** Operation codes, repeated to weight them: progress must be likelier than chaos. */
const OP_TABLE = [0, 1, 2, 2, 11, 11, 11, 3, 4, 4, 5, 5, 6, 7, 8, 8, 8, 9, 10, 10, 12, 12, 12, 12];

interface PNode {
  id: number;
  rn: RawNode;
  storage: MemoryStorage;
  /** The Ready taken and not yet finished: input stepped meanwhile is the point. */
  pending: Ready | null;
  /** The configuration the application derived from what it applied. */
  cs: ConfState;
  /** False while crashed: operations on it do nothing, messages to it are lost. */
  up: boolean;
}

const CONF_CHANGES: (ConfChange | ConfChangeV2)[] = [
  { type: ConfChangeType.ConfChangeAddNode, nodeId: 4, context: EMPTY_BYTES, id: 0 },
  { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 4, context: EMPTY_BYTES, id: 0 },
  { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4, context: EMPTY_BYTES, id: 0 },
  {
    transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
    changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: 4 }], context: EMPTY_BYTES,
  },
  {
    transition: ConfChangeTransition.ConfChangeTransitionJointImplicit,
    changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 4 }], context: EMPTY_BYTES,
  },
  { transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context: EMPTY_BYTES },
];

function sorted(ids: readonly number[]): number[] {
  return [...ids].sort((a, b) => a - b);
}

function normalized(cs: ConfState): ConfState {
  return {
    voters: sorted(cs.voters), votersOutgoing: sorted(cs.votersOutgoing),
    learners: sorted(cs.learners), learnersNext: sorted(cs.learnersNext), autoLeave: cs.autoLeave,
  };
}

class Cluster {
  readonly nodes = new Map<number, PNode>();
  net: Message[] = [];
  private readonly appliedAt = new Map<number, string>();
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly random = new SeededRandom(1);
  private seq = 0;

  constructor() {
    for (const id of IDS) {
      const storage = new MemoryStorage();
      const cs: ConfState = {
        voters: [1, 2, 3], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false,
      };
      storage.applySnapshot({ data: EMPTY_BYTES, metadata: { index: 1, term: 1, confState: cs } });
      storage.setHardState({ term: 1, vote: 0, commit: 1 });
      const rn = this.newRawNode(id, storage);
      this.nodes.set(id, { id, rn, storage, pending: null, cs, up: true });
    }
    this.nodes.get(1)!.rn.campaign();
    this.drain();
  }

  private newRawNode(id: number, storage: MemoryStorage): RawNode {
    return new RawNode({
      id, electionTick: 6, heartbeatTick: 2, storage, maxSizePerMsg: 64, maxInflightMsgs: 4,
      applied: storage.snap.metadata.index, random: this.random, logger: silentLogger,
      preVote: true, checkQuorum: true, stepDownOnRemoval: true,
    });
  }

  /** Runs operation `op` with arguments `a`, `b`; typed errors are the node refusing. */
  run(op: number, a: number, b: number): void {
    const n = this.nodes.get(IDS[a % IDS.length]!)!;
    if (n.up || op === 10) this.guard(() => this.dispatch(op, n, b));
    this.checkLeaders();
  }

  /** Runs `f`, letting only the typed errors of a refusal through (never a conf change's). */
  private guard(f: () => void): void {
    try {
      f();
    } catch (err) {
      if (!(err instanceof FlotillaError) || err.code === 'ERR_CONF_CHANGE') throw err;
    }
  }

  private dispatch(op: number, n: PNode, b: number): void {
    switch (op) {
      case 0: for (const x of this.nodes.values()) if (x.up) x.rn.tick(); return;
      case 1: n.rn.tick(); return;
      case 2: return this.deliver(b);
      case 3: return void this.net.splice(b % Math.max(1, this.net.length), 1);
      case 4: return n.rn.propose(new TextEncoder().encode(`p${this.seq++}`));
      case 5: return n.rn.proposeConfChange(CONF_CHANGES[b % CONF_CHANGES.length]!);
      case 6: if (n.pending === null && n.rn.hasReady()) n.pending = n.rn.ready(); return;
      case 7: return this.finish(n);
      case 8: return this.compact(n);
      case 9: return n.rn.campaign();
      case 10: return n.up ? this.crash(n) : this.restart(n);
      case 11: return this.deliverAll();
      case 12: return this.round();
      default: throw new Error(`no operation ${op}`);
    }
  }

  deliver(b: number): void {
    if (this.net.length === 0) return;
    const [m] = this.net.splice(b % this.net.length, 1);
    this.stepTo(m!);
  }

  /** Delivers every message in flight (those they cause stay in flight). */
  deliverAll(): void {
    const msgs = this.net;
    this.net = [];
    for (const m of msgs) this.guard(() => this.stepTo(m));
  }

  private stepTo(m: Message): void {
    const to = this.nodes.get(m.to);
    if (to !== undefined && to.up) to.rn.step(m);
  }

  /** Every node finishes its pending Ready and takes the next one, leaving it pending. */
  round(): void {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      this.finish(n);
      if (n.rn.hasReady()) n.pending = n.rn.ready();
    }
  }

  /** Persists, sends and applies the pending Ready, then advances. */
  finish(n: PNode): void {
    const rd = n.pending;
    if (rd === null) return;
    n.pending = null;
    if (rd.snapshot !== null) {
      expect(n.storage.applySnapshot(rd.snapshot)).toBeNull();
      n.cs = rd.snapshot.metadata.confState;
    }
    n.storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) n.storage.setHardState(rd.hardState);
    this.net.push(...rd.messages);
    for (const e of rd.committedEntries) this.apply(n, e);
    n.rn.advance();
  }

  private apply(n: PNode, e: Entry): void {
    const key = `${e.term}/${e.type}/${Buffer.from(e.data).toString('hex')}`;
    const seen = this.appliedAt.get(e.index);
    if (seen !== undefined) expect(key, `entry ${e.index} on node ${n.id}`).toBe(seen);
    this.appliedAt.set(e.index, key);
    if (e.type !== EntryType.EntryNormal) {
      n.cs = n.rn.applyConfChange(unmarshalConfChange(e.type, e.data));
    }
  }

  /** Snapshots and compacts up to what the application applied. */
  private compact(n: PNode): void {
    const applied = n.rn.basicStatus().applied;
    if (n.pending !== null || applied <= n.storage.snap.metadata.index) return;
    n.storage.createSnapshot(applied, n.cs, EMPTY_BYTES);
    n.storage.compact(applied);
  }

  /** Crashes: the unfinished Ready is lost. */
  private crash(n: PNode): void {
    n.up = false;
    n.pending = null;
  }

  /** Restarts from storage: the state machine is the stored snapshot's. */
  private restart(n: PNode): void {
    n.up = true;
    n.cs = n.storage.snap.metadata.confState;
    n.rn = this.newRawNode(n.id, n.storage);
  }

  private checkLeaders(): void {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      const st = n.rn.basicStatus();
      if (st.softState.raftState !== StateType.StateLeader) continue;
      const other = this.leaderOfTerm.get(st.hardState.term);
      if (other !== undefined) expect(n.id, `leaders of term ${st.hardState.term}`).toBe(other);
      this.leaderOfTerm.set(st.hardState.term, n.id);
    }
  }

  /** Delivers and handles everything, without ticks, until nothing moves. */
  drain(): void {
    for (const n of this.nodes.values()) if (!n.up) this.restart(n);
    for (let round = 0; round < 200; round++) {
      for (const n of this.nodes.values()) this.finish(n);
      let moved = false;
      for (const n of this.nodes.values()) {
        if (!n.rn.hasReady()) continue;
        n.pending = n.rn.ready();
        this.finish(n);
        moved = true;
      }
      if (!moved && this.net.length === 0) return;
      this.deliverAll();
      this.checkLeaders();
    }
  }

  checkConfigs(): void {
    for (const n of this.nodes.values()) {
      expect(n.rn.hasReady(), `node ${n.id} drained`).toBe(false);
      const c = n.rn.status().config;
      const raftCs: ConfState = {
        voters: [...c.voters.incoming], votersOutgoing: [...c.voters.outgoing],
        learners: [...c.learners], learnersNext: [...c.learnersNext], autoLeave: c.autoLeave,
      };
      expect(normalized(raftCs), `configuration of node ${n.id}`).toEqual(normalized(n.cs));
    }
  }
}

describe('stepping between ready() and advance()', () => {
  it('keeps every invariant whatever is stepped while a Ready is outstanding', () => {
    const op = fc.tuple(fc.constantFrom(...OP_TABLE), fc.nat(), fc.nat());
    fc.assert(
      fc.property(fc.array(op, { minLength: 300, maxLength: 800, size: 'max' }), (ops) => {
        const c = new Cluster();
        for (const [o, a, b] of ops) c.run(o, a, b);
        c.drain();
        c.checkConfigs();
      }),
      { numRuns: RUNS, seed: Number(process.env.RAFT_STEP_PROPERTY_SEED ?? 20261201) },
    );
  });
});

// ---------------------------------------------------------------------------------------
// One follower against a scripted leader: the leader's log holds a random valid sequence of
// conf changes, and the follower is sent appends, heartbeats and snapshots of that log at
// random, restarts, and compacts, with its Readies finished late. Each applied conf change
// must yield exactly the configuration of its index in the leader's log.

/** An entry of the scripted log and the configuration in force once it is applied. */
interface Scripted {
  entry: Entry;
  cs: ConfState;
}

function cs(voters: number[], votersOutgoing: number[] = []): ConfState {
  return { voters, votersOutgoing, learners: [], learnersNext: [], autoLeave: false };
}

/** The leader's log from index 2: `kinds` picks normal entries or the next valid change. */
function scriptLog(kinds: number[]): Scripted[] {
  const out: Scripted[] = [];
  let cur = cs([1, 2, 3]);
  const v2 = (transition: ConfChangeTransition, type?: ConfChangeType): ConfChangeV2 => ({
    transition, changes: type === undefined ? [] : [{ type, nodeId: 4 }], context: EMPTY_BYTES,
  });
  const v1 = (type: ConfChangeType): ConfChange => ({
    type, nodeId: 4, context: EMPTY_BYTES, id: 0,
  });
  const explicit = ConfChangeTransition.ConfChangeTransitionJointExplicit;
  for (let i = 0; i < kinds.length; i++) {
    const index = i + 2;
    let cc: ConfChange | ConfChangeV2 | null = null;
    const has4 = cur.voters.includes(4);
    if (kinds[i]! % 3 === 0) {
      // A normal entry.
    } else if (cur.votersOutgoing.length > 0) {
      cc = v2(ConfChangeTransition.ConfChangeTransitionAuto);
      cur = cs(cur.voters);
    } else if (kinds[i]! % 3 === 1) {
      cc = v1(has4 ? ConfChangeType.ConfChangeRemoveNode : ConfChangeType.ConfChangeAddNode);
      cur = cs(has4 ? [1, 2, 3] : [1, 2, 3, 4]);
    } else {
      const type = has4 ? ConfChangeType.ConfChangeRemoveNode : ConfChangeType.ConfChangeAddNode;
      cc = v2(explicit, type);
      cur = cs(has4 ? [1, 2, 3] : [1, 2, 3, 4], cur.voters);
    }
    const entry: Entry = cc === null
      ? { term: 1, index, type: EntryType.EntryNormal, data: EMPTY_BYTES }
      : { term: 1, index, ...marshalConfChange(cc) };
    out.push({ entry, cs: cur });
  }
  return out;
}

class ScriptedFollower {
  readonly storage = new MemoryStorage();
  rn: RawNode;
  pending: Ready | null = null;
  appCs = cs([1, 2, 3]);
  /** The follower's last index as its acknowledgements told the leader. */
  match = 1;

  constructor(private readonly log: Scripted[]) {
    const metadata = { index: 1, term: 1, confState: this.appCs };
    this.storage.applySnapshot({ data: EMPTY_BYTES, metadata });
    this.storage.setHardState({ term: 1, vote: 0, commit: 1 });
    this.rn = this.newRawNode();
  }

  private newRawNode(): RawNode {
    return new RawNode({
      id: 3, electionTick: 10, heartbeatTick: 1, storage: this.storage, maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 16, random: new SeededRandom(3), logger: silentLogger,
      applied: this.storage.snap.metadata.index,
    });
  }

  private at(index: number): Scripted {
    return this.log[index - 2]!;
  }

  run(op: number, x: number, y: number): void {
    const last = this.log.length + 1;
    switch (op) {
      case 0: { // append up to y entries after a previous index the leader may guess wrong
        const prev = 1 + (x % last);
        const ents = this.log.slice(prev - 1, prev - 1 + (y % 4)).map((s) => s.entry);
        const commit = Math.min(last, prev + ents.length);
        return this.step(newMessage(MessageType.MsgApp, {
          from: 1, to: 3, term: 1, index: prev, logTerm: 1, entries: ents, commit,
        }));
      }
      case 1:
        return this.step(newMessage(MessageType.MsgHeartbeat, {
          from: 1, to: 3, term: 1, commit: this.match,
        }));
      case 2: { // a snapshot of the leader's state at some index
        const index = 2 + (x % this.log.length);
        return this.step(newMessage(MessageType.MsgSnap, {
          from: 1, to: 3, term: 1,
          snapshot: {
            data: EMPTY_BYTES, metadata: { index, term: 1, confState: this.at(index).cs },
          },
        }));
      }
      case 3: case 4:
        if (this.pending === null && this.rn.hasReady()) this.pending = this.rn.ready();
        return;
      case 5: case 6: return this.finish();
      case 7: // restart: the unfinished Ready is lost
        this.pending = null;
        this.appCs = this.storage.snap.metadata.confState;
        this.rn = this.newRawNode();
        return;
      case 8: { // compact behind the applied index
        const applied = this.rn.basicStatus().applied;
        if (this.pending !== null || applied <= this.storage.snap.metadata.index) return;
        this.storage.createSnapshot(applied, this.appCs, EMPTY_BYTES);
        this.storage.compact(applied);
        return;
      }
      default: throw new Error(`no operation ${op}`);
    }
  }

  private step(m: Message): void {
    this.rn.step(m);
  }

  finish(): void {
    const rd = this.pending;
    if (rd === null) return;
    this.pending = null;
    if (rd.snapshot !== null) {
      expect(this.storage.applySnapshot(rd.snapshot)).toBeNull();
      this.appCs = rd.snapshot.metadata.confState;
      expect(normalized(this.appCs)).toEqual(normalized(this.at(rd.snapshot.metadata.index).cs));
    }
    this.storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) {
      if (m.type !== MessageType.MsgAppResp || m.reject) continue;
      this.match = Math.max(this.match, m.index);
    }
    for (const e of rd.committedEntries) {
      expect(e.data, `entry ${e.index}`).toEqual(this.at(e.index).entry.data);
      if (e.type === EntryType.EntryNormal) continue;
      this.appCs = this.rn.applyConfChange(unmarshalConfChange(e.type, e.data));
      const want = normalized(this.at(e.index).cs);
      expect(normalized(this.appCs), `config after ${e.index}`).toEqual(want);
    }
    this.rn.advance();
  }
}

describe('a follower stepping a scripted leader\'s messages between ready() and advance()', () => {
  it('applies every conf change onto the configuration of the index before it', () => {
    const schedule = fc.array(fc.tuple(fc.nat(8), fc.nat(), fc.nat()), {
      minLength: 20, maxLength: 200, size: 'max',
    });
    const kinds = fc.array(fc.nat(2), { minLength: 3, maxLength: 24 });
    fc.assert(
      fc.property(kinds, schedule, (k, ops) => {
        const f = new ScriptedFollower(scriptLog(k));
        for (const [o, x, y] of ops) f.run(o, x, y);
      }),
      { numRuns: RUNS * 5, seed: Number(process.env.RAFT_STEP_PROPERTY_SEED ?? 20261201) },
    );
  });
});
