/**
 * Log lines that print a protobuf message, which the etcd corpus does not cover: etcd v3.7
 * prints `%v` of its protoc-gen-go messages with their generated String() (the single-line
 * text format; see src/raft/prototext.ts). Each expected line is the format string of etcd
 * v3.7.0's raft.go with that rendering.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  MemoryStorage,
  MessageType,
  RawNode,
  SeededRandom,
  newMessage,
  type ConfChange,
  type ConfChangeV2,
  type ConfigOptions,
} from '../../src/raft/index.js';
import { bytesText, confStateText } from '../../src/raft/prototext.js';
import { captureLogger } from '../raft/_log_fixtures.js';

function node(id: number, voters: number[], extra: Partial<ConfigOptions> = {}) {
  const storage = new MemoryStorage();
  storage.snap.metadata.confState.voters = voters;
  const logger = captureLogger();
  const rn = new RawNode({ id, storage, random: new SeededRandom(1), logger, ...extra });
  return { rn, storage, lines: logger.lines };
}

/** A single-voter leader at term 1 with its empty entry (index 1) applied. */
function leader() {
  const n = node(1, [1]);
  n.rn.campaign();
  for (let i = 0; i < 10 && n.rn.hasReady(); i++) {
    const rd = n.rn.ready();
    n.storage.append(rd.entries);
    if (rd.hardState.term !== 0) n.storage.setHardState(rd.hardState);
    n.rn.advance();
  }
  n.lines.length = 0;
  return n;
}

const addNode2: ConfChange = {
  type: ConfChangeType.ConfChangeAddNode, nodeId: 2, context: EMPTY_BYTES, id: 0,
};

function ignored(lines: string[]): string[] {
  return lines.filter((l) => l.includes('ignoring conf change'));
}

describe('log lines printing protobuf messages', () => {
  it('prints a refused ConfChange with its generated String()', () => {
    const { rn, lines } = leader();
    rn.proposeConfChange(addNode2);
    rn.proposeConfChange({ ...addNode2, id: 7, context: new TextEncoder().encode('ctx') });
    expect(ignored(lines)).toEqual([
      'INFO 1 ignoring conf change type:ConfChangeAddNode node_id:2 context:"ctx" id:7 at ' +
        'config voters=(1): possible unapplied conf change at index 2 (applied to 1)',
    ]);
  });

  it('prints a refused ConfChangeV2 with enum names, nested changes and escaped context', () => {
    const { rn, lines } = leader();
    const joint: ConfChangeV2 = {
      transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      changes: [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 2 },
        { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 },
      ],
      context: EMPTY_BYTES,
    };
    const leave = (context: Uint8Array): ConfChangeV2 => ({
      transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context,
    });
    rn.proposeConfChange(leave(EMPTY_BYTES));
    rn.proposeConfChange(leave(new Uint8Array([0x71, 0x22, 0x0a, 0x01, 0x5c])));
    rn.proposeConfChange(addNode2);
    rn.proposeConfChange(joint);
    const refusedLeave = 'at config voters=(1): not in joint state; refusing empty conf change';
    expect(ignored(lines)).toEqual([
      // An empty message prints as nothing, so Go's line has two spaces here.
      `INFO 1 ignoring conf change  ${refusedLeave}`,
      `INFO 1 ignoring conf change context:"q\\"\\n\\x01\\\\" ${refusedLeave}`,
      'INFO 1 ignoring conf change transition:ConfChangeTransitionJointExplicit ' +
        'changes:{type:ConfChangeAddNode node_id:2} ' +
        'changes:{type:ConfChangeAddLearnerNode node_id:3} at config voters=(1): ' +
        'possible unapplied conf change at index 4 (applied to 1)',
    ]);
  });

  it('prints the ConfState of a snapshot that does not contain the node', () => {
    const { rn, lines } = node(2, [1, 2]);
    const confState = {
      voters: [1, 3], learners: [4], votersOutgoing: [1, 3], learnersNext: [5], autoLeave: true,
    };
    rn.step(newMessage(MessageType.MsgSnap, {
      from: 1, to: 2, term: 1,
      snapshot: { data: EMPTY_BYTES, metadata: { index: 6, term: 1, confState } },
    }));
    expect(lines.filter((l) => l.startsWith('WARN'))).toEqual([
      'WARN 2 attempted to restore snapshot but it is not in the ConfState voters:1 voters:3 ' +
        'learners:4 voters_outgoing:1 voters_outgoing:3 learners_next:5 auto_leave:true; ' +
        'should never happen',
    ]);
    expect(lines).toContain('INFO 2 [commit: 0] ignored snapshot [index: 6, term: 1]');
    expect(confStateText({ ...confState, autoLeave: false, learnersNext: [] }))
      .toBe('voters:1 voters:3 learners:4 voters_outgoing:1 voters_outgoing:3');
  });

  it('quotes bytes as the text format does', () => {
    const bytes = (...b: number[]) => new Uint8Array(b);
    expect(bytesText(bytes())).toBe('""');
    expect(bytesText(bytes(0x61, 0x09, 0x0d, 0x00, 0x1f, 0x7f))).toBe('"a\\t\\r\\x00\\x1f\\x7f"');
    // é (valid UTF-8) stays, a lone 0x80 is invalid, U+0085 is a C1 control.
    expect(bytesText(bytes(0xc3, 0xa9, 0x80, 0xc2, 0x85))).toBe('"é\\x80\\u0085"');
    // An overlong encoding and a truncated sequence are invalid byte by byte.
    expect(bytesText(bytes(0xc0, 0xaf, 0xe2, 0x82))).toBe('"\\xc0\\xaf\\xe2\\x82"');
    expect(bytesText(bytes(0xf0, 0x9f, 0x98, 0x80))).toBe('"😀"');
  });
});
