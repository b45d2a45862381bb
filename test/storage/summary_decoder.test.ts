/**
 * The open scan's decoder (`SummaryDecoder`): the same fields and the same refusals as the
 * full decoders a load uses, a shared configuration never served to a replica whose own
 * configuration differs.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ConfState } from '../../src/raft/index.js';
import { ReplicaCorruptError } from '../../src/storage/index.js';
import { KeyBuilder, MetaKind } from '../../src/storage/_keys.js';
import {
  RecordCodec, SummaryDecoder, decodeApplied, decodeRaftState,
} from '../../src/storage/_records.js';

const keys = new KeyBuilder();
const codec = new RecordCodec();
const conf = (voters: number[], learners: number[] = []): ConfState =>
  ({ voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false });

function appliedRecord(rangeId: number, index: number, cs: ConfState): [Uint8Array, Uint8Array] {
  const key = keys.metaKey(rangeId, MetaKind.Applied).slice();
  return [key, codec.applied(key, { index, confState: cs, descriptor: new Uint8Array(7) })
    .slice()];
}

function raftStateRecord(rangeId: number, commit: number, last: number):
  [Uint8Array, Uint8Array] {
  const key = keys.metaKey(rangeId, MetaKind.RaftState).slice();
  const log = { truncatedIndex: 2, truncatedTerm: 1, lastIndex: last };
  return [key, codec.raftState(key, { term: 3, vote: 2, commit }, log).slice()];
}

const summary = () => ({ term: 0, vote: 0, commit: 0, lastIndex: 0, appliedIndex: 0,
  confState: conf([]) });

describe('SummaryDecoder', () => {
  it('decodes as the full decoders do, sharing only equal configurations', () => {
    const d = new SummaryDecoder();
    const configs = [conf([1, 2, 3]), conf([1, 2, 3]), conf([1, 2], [3]), conf([1, 2, 4]),
      conf([1, 2, 3])];
    const seen: ConfState[] = [];
    configs.forEach((cs, i) => {
      const rangeId = i + 1;
      const out = summary();
      const [hk, hv] = raftStateRecord(rangeId, 10 + i, 20 + i);
      d.raftState(rangeId, hk, hv, out);
      const full = decodeRaftState(rangeId, hk, hv);
      expect([out.term, out.vote, out.commit, out.lastIndex]).toEqual([full.hardState.term,
        full.hardState.vote, full.hardState.commit, full.log.lastIndex]);
      const [ak, av] = appliedRecord(rangeId, 5 + i, cs);
      d.applied(rangeId, ak, av, out);
      expect(out.appliedIndex).toBe(decodeApplied(rangeId, ak, av).index);
      expect(out.confState).toEqual(cs);
      seen.push(out.confState);
    });
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).not.toBe(seen[1]);
  });

  it('refuses what a load refuses, with a cached configuration too', () => {
    const d = new SummaryDecoder();
    const [ak, av] = appliedRecord(1, 5, conf([1]));
    d.applied(1, ak, av, summary());
    const [bk, bv] = appliedRecord(2, 5, conf([1]));
    const flipped = bv.slice();
    flipped[flipped.length - 1]! ^= 0xff;
    expect(() => d.applied(2, bk, flipped, summary())).toThrow(/checksum/);
    expect(() => d.applied(2, bk, bv.subarray(0, 20), summary())).toThrow(ReplicaCorruptError);
    // The record of another range (the checksum covers the key).
    expect(() => d.applied(3, keys.metaKey(3, MetaKind.Applied).slice(), bv, summary()))
      .toThrow(/checksum/);
    const [hk, hv] = raftStateRecord(2, 1, 4);
    expect(() => d.raftState(2, hk, hv.subarray(0, 30), summary())).toThrow(/checksum/);
    // A sealed record whose term is past 2^53.
    const big = hv.slice();
    big[4] = 0xff;
    new DataView(big.buffer).setUint32(0, crc32(big.subarray(4), crc32(hk)));
    expect(() => d.raftState(2, hk, big, summary())).toThrow(/number out of range/);
  });
});
