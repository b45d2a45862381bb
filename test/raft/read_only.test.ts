import { describe, expect, it } from 'vitest';
import { ReadOnlyOption } from '../../src/raft/config.js';
import { JointConfig } from '../../src/raft/quorum/index.js';
import { EMPTY_BYTES, MessageType, newMessage } from '../../src/raft/raftpb.js';
import { ReadOnly } from '../../src/raft/read_only.js';

function req(ctx: string) {
  return newMessage(MessageType.MsgReadIndex, {
    entries: [{ term: 0, index: 0, type: 0, data: new TextEncoder().encode(ctx) }],
  });
}

/** A (non-joint) voter configuration, through the quorum package. */
function voters(...ids: number[]): JointConfig {
  return JointConfig.of(ids);
}

describe('ReadOnly (safe mode)', () => {
  it('sends no context with nothing queued', () => {
    expect(new ReadOnly(ReadOnlyOption.ReadOnlySafe).heartbeatCtx()).toBe(EMPTY_BYTES);
  });

  it('confirms queued reads once a quorum acknowledged their position', () => {
    const ro = new ReadOnly(ReadOnlyOption.ReadOnlySafe);
    const cfg = voters(1, 2, 3);
    ro.addRequest(10, req('a'));
    const ctx1 = ro.heartbeatCtx();
    expect(Array.from(ctx1)).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    ro.recvAck(1, ctx1);
    ro.addRequest(11, req('b'));
    const ctx2 = ro.heartbeatCtx();
    expect(Array.from(ctx2)).toEqual([2, 0, 0, 0, 0, 0, 0, 0]);
    expect(ro.heartbeatCtx()).toBe(ctx2);
    ro.recvAck(1, ctx2);
    expect(ro.maybeAdvance(cfg)).toEqual([]);
    // A delayed acknowledgement of the first round confirms only the first read.
    ro.recvAck(2, ctx1);
    const first = ro.maybeAdvance(cfg);
    expect(first.map((r) => r.index)).toEqual([10]);
    expect(ro.confirmedReads).toBe(1);
    expect(ro.unconfirmedReads.length).toBe(1);
    // Acks never move backwards; the second round confirms the rest.
    ro.recvAck(2, ctx1);
    expect(ro.ackedIndex(2)).toBe(1);
    ro.recvAck(3, ctx2);
    expect(ro.maybeAdvance(cfg).map((r) => r.index)).toEqual([11]);
    expect(ro.heartbeatCtx()).toBe(EMPTY_BYTES);
    expect(ro.ackedIndex(4)).toBeUndefined();
  });

  it('ignores an empty context and decodes large positions', () => {
    const ro = new ReadOnly(ReadOnlyOption.ReadOnlySafe);
    ro.recvAck(1, EMPTY_BYTES);
    expect(ro.acks.size).toBe(0);
    ro.confirmedReads = 2 ** 32 + 1;
    ro.recvAck(1, Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 0]));
    expect(ro.ackedIndex(1)).toBe(2 ** 32 + 1);
  });

  it('ignores a position it never issued (an ack meant for an earlier ReadOnly)', () => {
    const ro = new ReadOnly(ReadOnlyOption.ReadOnlySafe);
    ro.recvAck(2, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]));
    expect(ro.ackedIndex(2)).toBeUndefined();
    expect(ro.maybeAdvance(voters(1, 2, 3))).toHaveLength(0);
  });
});
