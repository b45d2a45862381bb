/**
 * Node ids stay small integers: [1, NODE_ID_MAX] for nodes, the two ids just above for the
 * local storage threads, all below 2^31. Config and proposeConfChange refuse other ids.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/util/index.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  LOCAL_APPEND_THREAD,
  LOCAL_APPLY_THREAD,
  MemoryStorage,
  NODE_ID_MAX,
  NodeIdError,
  RawNode,
  SeededRandom,
  isNodeId,
  type ConfigOptions,
} from '../../src/raft/index.js';
import { hex } from '../../src/raft/raft_state.js';

function options(id: number, extra: Partial<ConfigOptions> = {}): ConfigOptions {
  const storage = new MemoryStorage();
  storage.snap.metadata.confState.voters = [id];
  return { id, storage, random: new SeededRandom(1), ...extra };
}

/** Persists and advances Readies until there is none. */
function settle(rn: RawNode, storage: MemoryStorage): void {
  for (let i = 0; i < 10 && rn.hasReady(); i++) {
    const rd = rn.ready();
    storage.append(rd.entries);
    if (rd.hardState.term !== 0) storage.setHardState(rd.hardState);
    rn.advance();
  }
  expect(rn.hasReady()).toBe(false);
}

describe('node ids', () => {
  it('reserves the two ids below 2^31 for the local threads', () => {
    expect(NODE_ID_MAX).toBe(2 ** 31 - 3);
    expect([LOCAL_APPLY_THREAD, LOCAL_APPEND_THREAD]).toEqual([2 ** 31 - 2, 2 ** 31 - 1]);
    for (const id of [NODE_ID_MAX, LOCAL_APPLY_THREAD, LOCAL_APPEND_THREAD]) {
      expect(id | 0, 'an int32').toBe(id);
    }
    expect([isNodeId(1), isNodeId(NODE_ID_MAX)]).toEqual([true, true]);
    expect([isNodeId(0), isNodeId(LOCAL_APPLY_THREAD), isNodeId(LOCAL_APPEND_THREAD)])
      .toEqual([false, false, false]);
  });

  it('prints the local threads as etcd prints its uint64 ids', () => {
    expect(hex(LOCAL_APPEND_THREAD)).toBe('ffffffffffffffff');
    expect(hex(LOCAL_APPLY_THREAD)).toBe('fffffffffffffffe');
    expect(hex(NODE_ID_MAX)).toBe('7ffffffd');
  });

  it('accepts the whole range in Config', () => {
    expect(() => new RawNode(options(1))).not.toThrow();
    expect(() => new RawNode(options(NODE_ID_MAX))).not.toThrow();
  });

  it("keeps etcd's texts for none and the local targets", () => {
    expect(() => new RawNode(options(0))).toThrow('cannot use none as id');
    for (const id of [LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD]) {
      expect(() => new RawNode(options(id))).toThrow('cannot use local target as id');
    }
  });

  it('refuses ids outside [1, NODE_ID_MAX] with a typed error', () => {
    for (const id of [2 ** 31, Number.MAX_SAFE_INTEGER, -1, 1.5, Number.NaN]) {
      let err: unknown = null;
      try {
        new RawNode(options(id));
      } catch (e) {
        err = e;
      }
      expect(err, String(id)).toBeInstanceOf(NodeIdError);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as NodeIdError).code).toBe('ERR_CONFIG');
      expect((err as NodeIdError).value).toBe(id);
      expect((err as NodeIdError).field).toBe('id');
    }
  });

  it('refuses a conf change naming an id outside the range, before proposing it', () => {
    const o = options(1);
    const rn = new RawNode(o);
    rn.campaign();
    settle(rn, o.storage as MemoryStorage);
    const v1 = (nodeId: number) => ({
      type: ConfChangeType.ConfChangeAddNode, nodeId, context: EMPTY_BYTES, id: 0,
    });
    expect(() => rn.proposeConfChange(v1(LOCAL_APPEND_THREAD))).toThrow(NodeIdError);
    expect(() => rn.proposeConfChange({
      transition: ConfChangeTransition.ConfChangeTransitionAuto, context: EMPTY_BYTES,
      changes: [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 2 },
        { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 ** 40 },
      ],
    })).toThrow('nodeId must be a node id in [1, 2147483645], got 1099511627776');
    expect(rn.hasReady()).toBe(false);
    rn.proposeConfChange(v1(NODE_ID_MAX));
    expect(rn.ready().entries).toHaveLength(1);
  });

  it('addresses the local threads with small integers under asyncStorageWrites', () => {
    const o = options(1, { asyncStorageWrites: true });
    const storage = o.storage as MemoryStorage;
    const rn = new RawNode(o);
    rn.campaign();
    const seen = new Set<number>();
    for (let i = 0; i < 6 && rn.hasReady(); i++) {
      for (const m of rn.ready().messages) {
        for (const x of [m, ...m.responses]) {
          expect(x.from | 0, 'from is an int32').toBe(x.from);
          expect(x.to | 0, 'to is an int32').toBe(x.to);
          seen.add(x.from).add(x.to);
        }
        // The local threads' work is done at once: their responses go back in.
        if (m.to === LOCAL_APPEND_THREAD) storage.append(m.entries);
        for (const r of m.responses) if (r.to === 1) rn.step(r);
      }
    }
    expect(seen.has(LOCAL_APPEND_THREAD) && seen.has(LOCAL_APPLY_THREAD)).toBe(true);
  });
});
