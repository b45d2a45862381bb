/**
 * The handler of quorum/testdata: `committed` and `vote` over a majority config (`cfg`) or a
 * joint config (`cfg` and `cfgj`, where `cfgj=zero` means an empty outgoing half), as etcd's
 * quorum/datadriven_test.go runs them. `idx=(...)` and `votes=(...)` give one value per voter
 * in the order of `cfg` then `cfgj` without repeats; `_` means "nothing known".
 *
 * Like etcd's harness, it cross-checks every result by other computations (a naive committed
 * index, a zero-joint and a self-joint config, lowered indexes, swapped joint halves) and
 * prints any disagreement into the output, where the corpus comparison catches it.
 */
import {
  INDEX_NO_LIMIT,
  JointConfig,
  MajorityConfig,
  MapAckIndexer,
  formatIndex,
  voteResultName,
  type AckedIndexer,
  type Index,
} from '../../src/raft/quorum/index.js';
import { DirectiveError, parseUint, type CmdArg, type Directive } from './datadriven.js';
import type { DirectiveHandler } from './runner.js';

/** The parsed arguments of one directive. */
interface QuorumInput {
  joint: boolean;
  ids: number[];
  idsJoint: number[];
  /** Acknowledged indexes; 0 stands for `_`. */
  idxs: Index[];
  /** Votes: 0 for `_`, 1 for no, 2 for yes (etcd's encoding, so both share one lookup). */
  votes: number[];
}

function parseInput(args: readonly CmdArg[]): QuorumInput {
  const input: QuorumInput = { joint: false, ids: [], idsJoint: [], idxs: [], votes: [] };
  for (const arg of args) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'cfg':
          input.ids.push(parseUint(val, 'cfg'));
          break;
        case 'cfgj':
          input.joint = true;
          if (val === 'zero') {
            if (arg.vals.length !== 1) {
              throw new DirectiveError("cannot mix 'zero' into configuration");
            }
          } else input.idsJoint.push(parseUint(val, 'cfgj'));
          break;
        case 'idx': {
          const n = val === '_' ? 0 : parseUint(val, 'idx');
          if (val !== '_' && n === 0) throw new DirectiveError('cannot use 0 as idx');
          input.idxs.push(n);
          break;
        }
        case 'votes':
          input.votes.push(parseVote(val));
          break;
        default:
          throw new DirectiveError(`unknown arg ${arg.key}`);
      }
    }
  }
  return input;
}

function parseVote(s: string): number {
  switch (s) {
    case 'y':
      return 2;
    case 'n':
      return 1;
    case '_':
      return 0;
    default:
      throw new DirectiveError(`unknown vote: ${s}`);
  }
}

/**
 * Maps the values onto the voters (cfg first, then cfgj, each voter once) and drops the `_`
 * placeholders, so that "no entry" stays different from "zero".
 */
function makeLookup(
  values: readonly number[],
  ids: readonly number[],
  idsJoint: readonly number[],
): Map<number, number> {
  const m = new Map<number, number>();
  let p = 0;
  for (const id of [...ids, ...idsJoint]) {
    if (m.has(id)) continue;
    if (p < values.length) m.set(id, values[p++]!);
  }
  for (const [id, v] of m) if (v === 0) m.delete(id);
  return m;
}

/** Go's `%v` of a slice of ids or indexes. */
function goSlice(values: readonly number[], format: (n: number) => string = String): string {
  return `[${values.map(format).join(' ')}]`;
}

/** etcd's alternative (naive) computation of a majority's committed index. */
function alternativeMajorityCommittedIndex(c: MajorityConfig, l: AckedIndexer): Index {
  if (c.size === 0) return INDEX_NO_LIMIT;
  const acked: Index[] = [];
  for (const id of c) {
    const idx = l.ackedIndex(id);
    if (idx !== undefined) acked.push(idx);
  }
  // For each acknowledged index, the number of voters that reached it or beyond.
  const votesByIndex = new Map<Index, number>();
  for (const idx of acked) votesByIndex.set(idx, 0);
  for (const idx of acked) {
    for (const [idy, n] of votesByIndex) if (idy <= idx) votesByIndex.set(idy, n + 1);
  }
  const q = Math.floor(c.size / 2) + 1;
  let maxQuorumIdx = 0;
  for (const [idx, n] of votesByIndex) if (n >= q && idx > maxQuorumIdx) maxQuorumIdx = idx;
  return maxQuorumIdx;
}

/** `l` with voter `id` overridden to `idx` (restricted to the voters of `c`). */
function overlay(c: MajorityConfig, l: AckedIndexer, id: number, idx: Index): AckedIndexer {
  const ll = new MapAckIndexer();
  for (const iid of c) {
    if (iid === id) ll.set(iid, idx);
    else {
      const v = l.ackedIndex(iid);
      if (v !== undefined) ll.set(iid, v);
    }
  }
  return ll;
}

function committedMajority(c: MajorityConfig, l: AckedIndexer): string {
  let buf = c.describe(l);
  const idx = c.committedIndex(l);
  const check = (a: Index, how: string) => {
    if (a !== idx) buf += `${formatIndex(a)} <-- ${how}\n`;
  };
  check(alternativeMajorityCommittedIndex(c, l), 'via alternative computation');
  check(new JointConfig(c, new MajorityConfig()).committedIndex(l), 'via zero-joint quorum');
  check(new JointConfig(c, c).committedIndex(l), 'via self-joint quorum');
  for (const id of c) {
    const iidx = l.ackedIndex(id) ?? 0;
    if (idx > iidx && iidx > 0) {
      // Lowering a voter already below the committed index must not change the result.
      // (etcd's harness prints these two without a newline; so do we.)
      const a1 = c.committedIndex(overlay(c, l, id, iidx - 1));
      if (a1 !== idx) buf += `${formatIndex(a1)} <-- overlaying ${id}->${iidx}`;
      const a0 = c.committedIndex(overlay(c, l, id, 0));
      if (a0 !== idx) buf += `${formatIndex(a0)} <-- overlaying ${id}->0`;
    }
  }
  return buf + `${formatIndex(idx)}\n`;
}

function committedJoint(c: MajorityConfig, cj: MajorityConfig, l: AckedIndexer): string {
  const cc = new JointConfig(c, cj);
  let buf = cc.describe(l);
  const idx = cc.committedIndex(l);
  const a = new JointConfig(cj, c).committedIndex(l);
  if (a !== idx) buf += `${formatIndex(a)} <-- via symmetry\n`;
  return buf + `${formatIndex(idx)}\n`;
}

function vote(input: QuorumInput, c: MajorityConfig, cj: MajorityConfig): string {
  const l = new Map<number, boolean>();
  for (const [id, v] of makeLookup(input.votes, input.ids, input.idsJoint)) l.set(id, v !== 1);
  if (!input.joint) return `${voteResultName(c.voteResult(l))}\n`;
  const r = new JointConfig(c, cj).voteResult(l);
  const ar = new JointConfig(cj, c).voteResult(l);
  let buf = '';
  if (ar !== r) buf += `${voteResultName(ar)} <-- via symmetry\n`;
  return buf + `${voteResultName(r)}\n`;
}

function handle(d: Directive): string {
  if (d.cmd !== 'committed' && d.cmd !== 'vote') {
    throw new DirectiveError(`unknown command: ${d.cmd}`);
  }
  const input = parseInput(d.args);
  const c = new MajorityConfig(input.ids);
  const cj = new MajorityConfig(input.idsJoint);
  const values = d.cmd === 'vote' ? input.votes : input.idxs;
  const voters = new JointConfig(c, cj).ids();
  if (voters.length !== values.length) {
    return (
      `error: mismatched input (explicit or _) for voters ${goSlice(voters)}: ` +
      goSlice(values, formatIndex)
    );
  }
  if (d.cmd === 'vote') return vote(input, c, cj);
  const l = new MapAckIndexer(makeLookup(input.idxs, input.ids, input.idsJoint));
  return input.joint ? committedJoint(c, cj, l) : committedMajority(c, l);
}

/** A fresh quorum handler (it keeps no state between directives). */
export function createQuorumHandler(): DirectiveHandler {
  return { handle };
}
