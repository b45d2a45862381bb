/**
 * Stepping a snapshot between `ready()` and `advance()` (which etcd's node.go allows) while
 * the Ready's conf changes are still to be applied. Restoring it at once, as etcd v3.7.0
 * does, replaces the configuration those conf changes are then applied to: leaving a joint
 * configuration the snapshot already left fails ("can't leave a non-joint config", found by
 * the simulation), and a conf change the snapshot already reverted is silently redone
 * (etcd-io/etcd#11510). The node ignores such a snapshot until the conf changes are applied.
 */
import { describe, expect, it } from 'vitest';
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
} from '../../src/raft/raftpb.js';
import { marshalConfChange, unmarshalConfChange } from '../../src/raft/confchange_codec.js';
import { SeededRandom } from '../../src/raft/rand.js';
import { RawNode, type Ready } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { captureLogger } from './_log_fixtures.js';

const V2_EMPTY: ConfChangeV2 = {
  transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context: EMPTY_BYTES,
};

function confState(voters: number[], votersOutgoing: number[] = []): ConfState {
  return { voters, learners: [], votersOutgoing, learnersNext: [], autoLeave: false };
}

function entry(index: number, cc: ConfChange | ConfChangeV2): Entry {
  const { type, data } = marshalConfChange(cc);
  return { term: 1, index, type, data };
}

/** Follower 3 of voters 1, 2, 3 (snapshot at index 1), with `ents` in its log at term 1. */
function follower(ents: Entry[]): { rn: RawNode; storage: MemoryStorage; lines: string[] } {
  const storage = new MemoryStorage();
  storage.applySnapshot({
    data: EMPTY_BYTES, metadata: { index: 1, term: 1, confState: confState([1, 2, 3]) },
  });
  storage.append(ents);
  storage.setHardState({ term: 1, vote: 0, commit: 1 });
  const logger = captureLogger();
  const rn = new RawNode({
    id: 3, electionTick: 10, heartbeatTick: 1, storage, maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 16, random: new SeededRandom(7), logger,
  });
  return { rn, storage, lines: logger.lines };
}

function commitTo(rn: RawNode, index: number): void {
  rn.step(newMessage(MessageType.MsgHeartbeat, { from: 1, to: 3, term: 1, commit: index }));
}

function snapMsg(index: number, cs: ConfState): Message {
  return newMessage(MessageType.MsgSnap, {
    from: 1, to: 3, term: 1,
    snapshot: { data: EMPTY_BYTES, metadata: { index, term: 1, confState: cs } },
  });
}

/** Persists `rd` and applies its committed entries (conf changes through the node). */
function handle(rn: RawNode, storage: MemoryStorage, rd: Ready): ConfState | null {
  if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
  let cs: ConfState | null = rd.snapshot?.metadata.confState ?? null;
  for (const e of rd.committedEntries) {
    if (e.type === EntryType.EntryNormal) continue;
    cs = rn.applyConfChange(unmarshalConfChange(e.type, e.data));
  }
  return cs;
}

function appRespIndex(rd: Ready): number[] {
  return rd.messages.filter((m) => m.type === MessageType.MsgAppResp).map((m) => m.index);
}

describe('a snapshot stepped between ready() and advance()', () => {
  it('waits while the Ready leaves a joint configuration the snapshot already left', () => {
    const enter: ConfChangeV2 = {
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: 4 }], context: EMPTY_BYTES,
    };
    const { rn, storage, lines } = follower([entry(2, enter), entry(3, V2_EMPTY)]);
    commitTo(rn, 2);
    expect(handle(rn, storage, rn.ready())).toEqual(confState([1, 2, 3, 4], [1, 2, 3]));
    rn.advance();

    commitTo(rn, 3);
    const rd = rn.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3]);
    // The leader's snapshot at 10 is past the LeaveJoint at 3: not joint any more.
    rn.step(snapMsg(10, confState([1, 2, 3, 4])));
    // Without the deferral this throws ConfChangeError: can't leave a non-joint config.
    expect(handle(rn, storage, rd)).toEqual(confState([1, 2, 3, 4]));
    expect(lines.some((l) => l.includes('deferred snapshot [index: 10, term: 1]'))).toBe(true);
    expect(lines.some((l) => l.includes('ignored snapshot [index: 10, term: 1]'))).toBe(true);
    rn.advance();
    const ignored = rn.ready();
    expect(appRespIndex(ignored)).toEqual([3]);
    expect(ignored.snapshot).toBeNull();
    rn.advance();

    // Resent once the conf change is applied, the snapshot is restored.
    rn.step(snapMsg(10, confState([1, 2, 3, 4])));
    const restored = rn.ready();
    expect(restored.snapshot?.metadata.index).toBe(10);
    expect(appRespIndex(restored)).toEqual([10]);
    expect(rn.status().config.voters.toString()).toBe('(1 2 3 4)');
  });

  it('does not redo a conf change that the snapshot reverted (etcd-io/etcd#11510)', () => {
    const add4: ConfChange = {
      type: ConfChangeType.ConfChangeAddNode, nodeId: 4, context: EMPTY_BYTES, id: 0,
    };
    const { rn, storage } = follower([entry(2, add4)]);
    commitTo(rn, 2);
    const rd = rn.ready();
    // The snapshot at 10 is from after 4 was removed again.
    rn.step(snapMsg(10, confState([1, 2, 3])));
    expect(handle(rn, storage, rd)).toEqual(confState([1, 2, 3, 4]));
    rn.advance();
    rn.ready();
    rn.advance();
    rn.step(snapMsg(10, confState([1, 2, 3])));
    const restored = rn.ready();
    expect(restored.snapshot?.metadata.confState).toEqual(confState([1, 2, 3]));
    // Restored after the add was applied, so 4 is gone as in the snapshot (etcd keeps it).
    expect(rn.status().config.voters.toString()).toBe('(1 2 3)');
  });

  it('is restored at once when the Ready applies only normal entries', () => {
    const normal: Entry = { term: 1, index: 2, type: EntryType.EntryNormal, data: EMPTY_BYTES };
    const { rn, storage } = follower([normal]);
    commitTo(rn, 2);
    const rd = rn.ready();
    rn.step(snapMsg(10, confState([1, 2, 3, 4])));
    handle(rn, storage, rd);
    rn.advance();
    const restored = rn.ready();
    expect(restored.snapshot?.metadata.index).toBe(10);
    expect(appRespIndex(restored)).toEqual([10]);
    expect(rn.basicStatus().applied).toBe(2);
  });
});
