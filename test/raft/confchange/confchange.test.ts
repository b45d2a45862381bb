import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Changer,
  ConfChangeError,
  checkInvariants,
  describeConfChanges,
  restore,
} from '../../../src/raft/confchange/index.js';
import { ConfChangeType, type ConfChangeSingle, type ConfState } from '../../../src/raft/raftpb.js';
import { ProgressTracker } from '../../../src/raft/tracker/index.js';

const v = (nodeId: number): ConfChangeSingle => ({
  type: ConfChangeType.ConfChangeAddNode,
  nodeId,
});
const l = (nodeId: number): ConfChangeSingle => ({
  type: ConfChangeType.ConfChangeAddLearnerNode,
  nodeId,
});
const r = (nodeId: number): ConfChangeSingle => ({
  type: ConfChangeType.ConfChangeRemoveNode,
  nodeId,
});

function install(t: ProgressTracker, res: ReturnType<Changer['simple']>): string {
  t.config = res.config;
  t.progress = res.progress;
  return `${t.config.toString()}\n${t.progress.toString()}`;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfChangeError);
    expect((e as ConfChangeError).code).toBe('ERR_CONF_CHANGE');
    return (e as Error).message;
  }
  throw new Error('expected a ConfChangeError');
}

describe('Changer', () => {
  it('adds voters and learners, probing new peers from the last index', () => {
    const t = new ProgressTracker(10, 0);
    expect(install(t, new Changer(t, 0).simple(v(1)))).toBe(
      'voters=(1)\n1: StateProbe match=0 next=1\n',
    );
    expect(install(t, new Changer(t, 7).simple(v(2), l(3)))).toBe(
      'voters=(1 2) learners=(3)\n1: StateProbe match=0 next=1\n' +
        '2: StateProbe match=0 next=7\n3: StateProbe match=0 next=7 learner\n',
    );
  });

  it('never mutates the tracker it starts from', () => {
    const t = new ProgressTracker(10, 0);
    install(t, new Changer(t, 0).simple(v(1)));
    const before = `${t.config.toString()}\n${t.progress.toString()}`;
    new Changer(t, 1).enterJoint(false, l(1), v(2), v(3));
    new Changer(t, 1).simple(l(5));
    expect(`${t.config.toString()}\n${t.progress.toString()}`).toBe(before);
  });

  it('refuses with etcd wording', () => {
    const t = new ProgressTracker(10, 0);
    expect(errorOf(() => new Changer(t, 0).leaveJoint())).toBe("can't leave a non-joint config");
    expect(errorOf(() => new Changer(t, 0).enterJoint(false))).toBe(
      "can't make a zero-voter config joint",
    );
    expect(errorOf(() => new Changer(t, 0).simple(l(1)))).toBe('removed all voters');
    install(t, new Changer(t, 0).simple(v(1)));
    expect(errorOf(() => new Changer(t, 0).simple(v(2), v(3)))).toBe(
      'more than one voter changed without entering joint config',
    );
    install(t, new Changer(t, 0).enterJoint(false, v(2)));
    expect(errorOf(() => new Changer(t, 0).enterJoint(false))).toBe('config is already joint');
    expect(errorOf(() => new Changer(t, 0).simple(l(9)))).toBe(
      "can't apply simple config change in joint config",
    );
    const bogus = { type: 9 as ConfChangeType, nodeId: 4 };
    install(t, new Changer(t, 0).leaveJoint());
    expect(errorOf(() => new Changer(t, 0).simple(bogus))).toBe('unexpected conf type 9');
  });

  it('demotes an outgoing voter through learnersNext', () => {
    const t = new ProgressTracker(10, 0);
    install(t, new Changer(t, 1).simple(v(1)));
    install(t, new Changer(t, 1).simple(v(2)));
    install(t, new Changer(t, 1).simple(v(3)));
    expect(install(t, new Changer(t, 5).enterJoint(true, l(3), v(4)))).toBe(
      'voters=(1 2 4)&&(1 2 3) learners_next=(3) autoleave\n' +
        '1: StateProbe match=0 next=1\n2: StateProbe match=0 next=1\n' +
        '3: StateProbe match=0 next=1\n4: StateProbe match=0 next=5\n',
    );
    expect(install(t, new Changer(t, 5).leaveJoint())).toBe(
      'voters=(1 2 4) learners=(3)\n1: StateProbe match=0 next=1\n' +
        '2: StateProbe match=0 next=1\n3: StateProbe match=0 next=1 learner\n' +
        '4: StateProbe match=0 next=5\n',
    );
  });

  it('checkInvariants reports a learner missing its progress', () => {
    const t = new ProgressTracker(10, 0);
    install(t, new Changer(t, 0).simple(v(1)));
    t.config.learners.add(7);
    expect(errorOf(() => checkInvariants(t.config, t.progress))).toBe('no progress for 7');
    expect(errorOf(() => new Changer(t, 0).simple(v(2)))).toBe('no progress for 7');
  });

  it('describes changes like etcd', () => {
    expect(describeConfChanges([v(1), r(2), l(3)])).toBe(
      'ConfChangeAddNode(1) ConfChangeRemoveNode(2) ConfChangeAddLearnerNode(3)',
    );
  });
});

describe('restore', () => {
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);

  it('restores a joint config', () => {
    const cs: ConfState = {
      voters: [1, 2, 3],
      learners: [5],
      votersOutgoing: [1, 2, 4, 6],
      learnersNext: [4],
      autoLeave: true,
    };
    const res = restore(new Changer(new ProgressTracker(10, 0), 10), cs);
    expect(res.config.toString()).toBe(
      'voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4) autoleave',
    );
  });

  it('round-trips random valid ConfStates (property, like etcd restore_test)', () => {
    // Draw disjoint groups of ids, then build a ConfState that satisfies the invariants.
    const arb = fc
      .record({
        voters: fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 7 }),
        learners: fc.uniqueArray(fc.integer({ min: 31, max: 45 }), { maxLength: 4 }),
        outgoingOnly: fc.uniqueArray(fc.integer({ min: 46, max: 60 }), { maxLength: 4 }),
        keepSome: fc.boolean(),
        demote: fc.boolean(),
        autoLeave: fc.boolean(),
      })
      .map((x) => {
        const joint = x.outgoingOnly.length > 0;
        const votersOutgoing = joint
          ? [...x.outgoingOnly, ...(x.keepSome ? x.voters.slice(0, 1) : [])]
          : [];
        const learnersNext = joint && x.demote ? x.outgoingOnly.slice(0, 1) : [];
        const cs: ConfState = {
          voters: x.voters,
          learners: x.learners,
          votersOutgoing,
          learnersNext,
          autoLeave: joint && x.autoLeave,
        };
        return cs;
      });
    fc.assert(
      fc.property(arb, (cs) => {
        const t = new ProgressTracker(20, 0);
        const res = restore(new Changer(t, 10), cs);
        t.config = res.config;
        t.progress = res.progress;
        expect(t.confState()).toEqual({
          voters: sorted(cs.voters),
          learners: sorted(cs.learners),
          votersOutgoing: sorted(cs.votersOutgoing),
          learnersNext: sorted(cs.learnersNext),
          autoLeave: cs.autoLeave,
        });
      }),
      { numRuns: 500 },
    );
  });
});
