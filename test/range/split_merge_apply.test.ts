/** Split and merge commands as they apply to a range's state: outcomes and refusals. */
import { describe, expect, it } from 'vitest';
import {
  CommandKind,
  decodeCommand,
  defaultKvLimits,
  encodeCommand,
  encodeDescriptor,
  KEY_MAX,
  MemoryKv,
  OpType,
  RangeErrorCode,
  RangeState,
  ReplicaType,
  USER_KEY_MIN,
  type RangeDescriptor,
} from '../../src/range/index.js';
import { applySplit } from '../../src/range/split_apply.js';
import { applyMerge, applySubsume } from '../../src/range/merge_apply.js';

const k = (s: string) => new TextEncoder().encode(s);
const id = (n: number) => Uint8Array.of(7, n);
const whole: RangeDescriptor = { rangeId: 2, startKey: USER_KEY_MIN, endKey: KEY_MAX,
  generation: 3, replicas: [1, 2, 3].map((n) => ({ nodeId: n, replicaId: n,
    type: ReplicaType.Voter })) };

function filled(): { kv: MemoryKv; state: RangeState } {
  const kv = new MemoryKv();
  const state = new RangeState(whole, defaultKvLimits);
  const ops = ['a', 'c', 'n', 'q', 'z'].map((s) => ({ type: OpType.Put, key: k(s),
    value: k('vv') }));
  state.apply(1, encodeCommand({ kind: CommandKind.Kv, id: id(1), ops }), kv);
  return { kv, state };
}

describe('applySplit', () => {
  it('divides the statistics by counting the right side, moving no data', () => {
    const { kv, state } = filled();
    const before = kv.entries().length;
    const out = applySplit(state, { kind: CommandKind.Split, id: id(2), splitKey: k('m'),
      rightRangeId: 5, generation: 3 }, 2, kv);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(state.stats).toEqual({ keyCount: 2, byteCount: 6 });
    expect(out.rightState.stats).toEqual({ keyCount: 3, byteCount: 9 });
    expect(state.descriptor.generation).toBe(4);
    // Only range-local rows were added (the right's statistics, the split's dedupe row, the
    // right's copy of the left's one record and both sides' descriptor rows).
    expect(kv.get(k('n'))).toEqual(k('vv'));
    expect(kv.entries().length).toBe(before + 5);
    expect(RangeState.storedDescriptor(kv, 5)).toEqual(out.right);
    expect(RangeState.storedDescriptor(kv, state.rangeId)).toEqual(out.left);
  });

  // Sim seed 12673: a put applied on the left, its answer lost; the split moved its key to
  // the right side, where the client's retry (same id) applied it a second time, over a
  // later write.
  it('gives the right side the left\'s applied ids: a retry there applies once', () => {
    const { kv, state } = filled();
    const out = applySplit(state, { kind: CommandKind.Split, id: id(2), splitKey: k('m'),
      rightRangeId: 5, generation: 3 }, 2, kv);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const retry = encodeCommand({ kind: CommandKind.Kv, id: id(1), ops: [{ type: OpType.Put,
      key: k('n'), value: k('old') }] });
    expect(out.rightState.apply(6, retry, kv).kind).toBe('duplicate');
    expect(kv.get(k('n'))).toEqual(k('vv'));
    // A restart rebuilds the same table from the rows; the right side's own commands follow.
    const reloaded = new RangeState(out.right, defaultKvLimits);
    reloaded.load(kv);
    expect(reloaded.apply(7, retry, kv).kind).toBe('duplicate');
    const fresh = encodeCommand({ kind: CommandKind.Kv, id: id(9), ops: [{ type: OpType.Put,
      key: k('q'), value: k('new') }] });
    expect(reloaded.apply(8, fresh, kv).kind).toBe('kv');
  });

  it('reads only the smaller side where the data can count keys, with the same figures', () => {
    for (const at of ['b', 'd', 'o', 'r']) {
      const counted = filled();
      const scanned = filled();
      // Without `countKeys` the right side is read; with it, the smaller one.
      const reads: string[] = [];
      const spy = (kv: MemoryKv) => ({ ...kv, get: kv.get.bind(kv), put: kv.put.bind(kv),
        delete: kv.delete.bind(kv), scan: (s: Uint8Array, e: Uint8Array, n: number) => {
          reads.push(new TextDecoder().decode(s));
          return kv.scan(s, e, n);
        } });
      const cmd = { kind: CommandKind.Split, id: id(2), splitKey: k(at), rightRangeId: 5,
        generation: 3 } as const;
      const a = applySplit(counted.state, cmd, 2, { ...spy(counted.kv),
        countKeys: counted.kv.countKeys.bind(counted.kv) });
      const b = applySplit(scanned.state, cmd, 2, spy(scanned.kv));
      expect(a.ok && b.ok).toBe(true);
      if (!a.ok || !b.ok) return;
      expect(counted.state.stats).toEqual(scanned.state.stats);
      expect(a.rightState.stats).toEqual(b.rightState.stats);
      expect(a.rightState.stats.keyCount + counted.state.stats.keyCount).toBe(5);
      // The counted split read the left side when the split key is in the first half.
      expect(reads).toEqual([at < 'n' ? '\u0001' : at, at]);
    }
  });

  // Sim seed 31: a split whose split-delay wait let a membership change in was proposed at
  // the joint descriptor's generation; its right side cannot start in a joint configuration.
  it('refuses a split of a joint configuration on every replica, changing nothing', () => {
    const kv = new MemoryKv();
    const joint: RangeDescriptor = { ...whole, replicas: [
      { nodeId: 1, replicaId: 1, type: ReplicaType.Voter },
      { nodeId: 2, replicaId: 2, type: ReplicaType.VoterOutgoing },
      { nodeId: 4, replicaId: 4, type: ReplicaType.VoterIncoming }] };
    const state = new RangeState(joint, defaultKvLimits);
    const before = kv.entries().length;
    const out = applySplit(state, { kind: CommandKind.Split, id: id(2), splitKey: k('m'),
      rightRangeId: 5, generation: 3 }, 2, kv);
    expect(!out.ok && out.error.code).toBe(RangeErrorCode.InvalidSplitKey);
    expect(state.descriptor).toBe(joint);
    expect(kv.entries().length).toBe(before);
  });

  it('refuses a split computed from an older descriptor, changing nothing', () => {
    const { kv, state } = filled();
    const out = applySplit(state, { kind: CommandKind.Split, id: id(2), splitKey: k('m'),
      rightRangeId: 5, generation: 2 }, 2, kv);
    expect(!out.ok && out.error.code).toBe(RangeErrorCode.RangeKeyMismatch);
    expect(state.descriptor).toBe(whole);
    expect(state.dedupe.lookup(id(2))).toBeUndefined();
  });
});

describe('applySubsume and applyMerge', () => {
  function splitPair() {
    const { kv, state: left } = filled();
    const out = applySplit(left, { kind: CommandKind.Split, id: id(2), splitKey: k('m'),
      rightRangeId: 5, generation: 3 }, 2, kv);
    if (!out.ok) throw new Error('split');
    return { kv, left, right: out.rightState };
  }

  it('freezes the right, then the left subsumes it in one batch', () => {
    const { kv, left, right } = splitPair();
    expect(applySubsume(right, { kind: CommandKind.Subsume, id: id(3), generation: 4 }, 7, kv))
      .toBeNull();
    expect(right.frozenAt).toBe(7);
    // A frozen range refuses every command.
    const late = right.apply(8, encodeCommand({ kind: CommandKind.Kv, id: id(4),
      ops: [{ type: OpType.Put, key: k('p'), value: k('x') }] }), kv);
    expect(late.kind).toBe('frozen');
    const merge = { kind: CommandKind.Merge, id: id(5), right: encodeDescriptor(right.descriptor),
      freezeIndex: 7, generation: left.descriptor.generation } as const;
    expect(decodeCommand(encodeCommand(merge), defaultKvLimits)).toEqual(merge);
    const out = applyMerge(left, (rid) => (rid === 5 ? right : undefined), merge, 3, kv);
    expect(out.ok).toBe(true);
    expect(left.descriptor.endKey).toEqual(KEY_MAX);
    expect(left.descriptor.generation).toBe(5);
    expect(left.stats).toEqual({ keyCount: 5, byteCount: 15 });
    // The right's records moved over: its subsume id is known to the merged range (its index,
    // of the right's log, capped below the merge entry: the left's table stays in order).
    expect(left.dedupe.lookup(id(3))).toEqual({ index: 2, code: '' });
    expect(left.dedupe.lookup(id(5))).toEqual({ index: 3, code: '' });
  });

  it('refuses a merge that is stale, names an unfrozen right, or a bad descriptor', () => {
    const { kv, left, right } = splitPair();
    const merge = (over: object) => ({ kind: CommandKind.Merge, id: id(5),
      right: encodeDescriptor(right.descriptor), freezeIndex: 7,
      generation: left.descriptor.generation, ...over }) as const;
    const rightOf = (rid: number) => (rid === 5 ? right : undefined);
    const codes = [
      applyMerge(left, rightOf, merge({}), 3, kv),
      applyMerge(left, rightOf, merge({ generation: 1 }), 3, kv),
      applyMerge(left, rightOf, merge({ right: Uint8Array.of(1, 2) }), 3, kv),
      applyMerge(left, () => undefined, merge({}), 3, kv),
    ].map((o) => (o.ok ? 'ok' : o.error.code));
    expect(codes).toEqual([RangeErrorCode.RangeUnavailable, RangeErrorCode.RangeKeyMismatch,
      RangeErrorCode.BadDescriptor, RangeErrorCode.RangeUnavailable]);
    expect(left.descriptor.endKey).toEqual(k('m'));
    expect(applySubsume(right, { kind: CommandKind.Subsume, id: id(3), generation: 9 }, 7, kv)
      ?.code).toBe(RangeErrorCode.RangeKeyMismatch);
    expect(right.frozenAt).toBe(0);
  });
});
