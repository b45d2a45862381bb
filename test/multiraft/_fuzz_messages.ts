/**
 * Random Raft messages for the store fuzz test and the hostile-peer test: every type (local
 * ones included), terms and indices small, near the limits and past them, commits past the
 * log, entries contiguous or not, snapshots with sane and insane configurations, contexts,
 * for known and unknown groups. Everything is drawn from one seeded source, so a failing
 * run replays from its seed. The messages are structurally valid (the transport's codec
 * encodes them): what they say is the hostile part.
 */
import {
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  MessageType,
  marshalConfChange,
  newMessage,
  type ConfState,
  type Entry,
  type Message,
} from '../../src/raft/index.js';
import type { Envelope } from '../../src/transport/index.js';

/** What the generator knows of the cluster it attacks. */
export interface FuzzTarget {
  /** Node ids of the stores (members of the legitimate ranges). */
  memberIds: readonly number[];
  /** The node id the fuzzer's frames come from. */
  senderId: number;
  /** Ranges that exist on the stores. */
  rangeIds: readonly number[];
  /** A rough current term and last index of those ranges (to land near real values). */
  term: number;
  lastIndex: number;
}

const INTERESTING = [0, 1, 2, 4, 5, 6, 7, 2 ** 31, 2 ** 32, 2 ** 48, 2 ** 48 + 1, 2 ** 51,
  2 ** 52, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER];

/** A seeded source of hostile messages. */
export class MessageFuzzer {
  constructor(
    private readonly random: () => number,
    private readonly target: FuzzTarget,
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)]!;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  /** A number near a reference value, a small one, or an interesting one. */
  near(reference: number): number {
    const r = this.int(10);
    if (r < 4) return Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, reference + this.int(7) - 3));
    if (r < 7) return this.int(12);
    if (r < 9) return this.pick(INTERESTING);
    return this.int(2 ** 20);
  }

  nodeId(): number {
    const r = this.int(10);
    if (r < 5) return this.target.senderId;
    if (r < 9) return this.pick(this.target.memberIds);
    return this.pick([0, 4, 1000, 2 ** 40, Number.MAX_SAFE_INTEGER]);
  }

  rangeId(): number {
    const r = this.int(10);
    if (r < 6) return this.pick(this.target.rangeIds);
    if (r < 7) return 0;
    if (r < 9) return 1000 + this.int(64);
    return this.int(2 ** 32);
  }

  entries(first: number, term: number): Entry[] {
    const n = this.chance(0.5) ? 0 : 1 + this.int(4);
    const out: Entry[] = [];
    let index = first;
    let entryTerm = term;
    for (let i = 0; i < n; i++) {
      if (this.chance(0.1)) index = this.near(index);
      if (this.chance(0.1)) entryTerm = this.near(entryTerm);
      out.push(this.entry(index, entryTerm));
      index = Math.min(index + 1, Number.MAX_SAFE_INTEGER);
    }
    return out;
  }

  entry(index: number, term: number): Entry {
    const r = this.int(20);
    if (r === 0) {
      const cc = marshalConfChange({ type: this.pick([ConfChangeType.ConfChangeAddNode,
        ConfChangeType.ConfChangeRemoveNode, ConfChangeType.ConfChangeAddLearnerNode]),
      nodeId: this.nodeId(), context: EMPTY_BYTES, id: 0 });
      return { index, term, type: cc.type, data: cc.data };
    }
    if (r === 1) {
      return { index, term, type: this.pick([EntryType.EntryConfChange,
        EntryType.EntryConfChangeV2]), data: this.bytes(6) };
    }
    return { index, term, type: EntryType.EntryNormal, data: this.bytes(24) };
  }

  bytes(max: number): Uint8Array {
    const n = this.int(max + 1);
    if (n === 0) return EMPTY_BYTES;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  ids(): number[] {
    const n = this.int(5);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.chance(0.8) ? this.nodeId() || 9 : 1 + this.int(9));
    return out;
  }

  confState(): ConfState {
    if (this.chance(0.5)) {
      const voters = [...new Set([...this.target.memberIds.filter(() => this.chance(0.7)),
        ...(this.chance(0.5) ? [this.target.senderId] : [])])];
      return { voters: voters.length === 0 ? [this.target.senderId] : voters, learners: [],
        votersOutgoing: [], learnersNext: [], autoLeave: false };
    }
    return { voters: this.ids(), learners: this.ids(), votersOutgoing: this.ids(),
      learnersNext: this.chance(0.8) ? [] : this.ids(), autoLeave: this.chance(0.2) };
  }

  /** One message of any type, remote or not, with hostile field values. */
  message(): Message {
    const t = this.target;
    const type = this.int(MessageType.MsgForgetLeader + 1) as MessageType;
    const term = this.near(t.term);
    const index = this.near(t.lastIndex);
    const m = newMessage(type, {
      from: this.chance(0.85) ? t.senderId : this.nodeId(),
      to: this.chance(0.9) ? this.pick(t.memberIds) : this.nodeId(),
      term,
      logTerm: this.chance(0.5) ? Math.min(term, this.near(t.term)) : this.near(t.term),
      index,
      commit: this.near(t.lastIndex),
      reject: this.chance(0.3),
      rejectHint: this.near(index),
      vote: this.chance(0.8) ? 0 : this.nodeId(),
      context: this.chance(0.9) ? EMPTY_BYTES : this.bytes(16),
    });
    m.entries = this.entries(Math.min(index + 1, Number.MAX_SAFE_INTEGER), term);
    if (type === MessageType.MsgSnap || this.chance(0.02)) {
      m.snapshot = { data: this.bytes(8), metadata: { index: this.near(t.lastIndex + 3),
        term: this.chance(0.8) ? Math.min(term, this.near(t.term)) : this.near(t.term),
        confState: this.confState() } };
    }
    return m;
  }

  /** A batch of envelopes for the store of `toNodeId` (the codec routes by `to`). */
  batch(toNodeId: number, size: number): Envelope[] {
    const out: Envelope[] = [];
    for (let i = 0; i < size; i++) {
      const message = this.message();
      message.to = toNodeId;
      out.push({ rangeId: this.rangeId(), message, quiesce: this.chance(0.1) });
    }
    return out;
  }
}
