/**
 * Majority configurations: a set of voter ids where a decision needs more than half of them.
 */
import { assert } from '../../util/index.js';
import { sortedIndexOf, sortedUnique, sortedWith, sortedWithout } from './_sorted_ids.js';
import {
  INDEX_NO_LIMIT,
  VoteResult,
  type AckedIndexer,
  type Index,
  type VoteLookup,
} from './index_type.js';

/**
 * Scratch space for committedIndex, shared by every config in the process. JavaScript runs
 * one turn at a time, so one buffer suffices; it grows for configs larger than any seen so
 * far and never shrinks, so steady-state calls allocate nothing.
 *
 * V8: a plain array of small integers, not a Float64Array. Optimized code reads a typed
 * array's integers back as doubles and boxes the result as a HeapNumber; a committed index
 * that is a HeapNumber turns the number fields it is stored in (HardState.commit, Message
 * fields) into boxed double fields, which cost an allocation per object created.
 */
const scratch: number[] = [];
/** Set while committedIndex fills `scratch`, to catch an AckedIndexer that re-enters. */
let scratchBusy = false;

function scratchFor(n: number): number[] {
  while (scratch.length < n) scratch.push(0);
  return scratch;
}

/** Sorts `a[0..n)` ascending in place. Insertion sort: fastest for the 3-7 voters we see. */
function insertionSort(a: number[], n: number): void {
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
}

/** The median of three acknowledged indexes: the common replication factor, without a sort. */
function committedIndexOfThree(ids: readonly number[], l: AckedIndexer): Index {
  const a = l.ackedIndex(ids[0]!) ?? 0;
  const b = l.ackedIndex(ids[1]!) ?? 0;
  const c = l.ackedIndex(ids[2]!) ?? 0;
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  // median = max(min(a, b), min(max(a, b), c))
  const m = hi < c ? hi : c;
  return lo > m ? lo : m;
}

/** The id list of every empty config. Frozen: lists are replaced, never mutated. */
const NO_IDS: readonly number[] = Object.freeze([]);

/** Above this many voters, the native sort beats insertion sort. */
const INSERTION_SORT_LENGTH_MAX = 32;

/** Sorts `a[0..n)` ascending with the native sort (allocates; only for huge configs). */
function sortPrefix(a: number[], n: number): void {
  const sorted = a.slice(0, n).sort((x, y) => x - y);
  for (let i = 0; i < n; i++) a[i] = sorted[i]!;
}

/**
 * A set of voter ids that makes decisions by majority, kept as a small ascending array (a
 * three-voter config is one array of three numbers; ids iterate in the order output needs).
 */
export class MajorityConfig {
  /**
   * Ascending, without duplicates (kept so by sortedWith / sortedUnique). Never mutated:
   * changes replace it, so empty configs (most outgoing halves and learner sets) share one.
   */
  private idList: readonly number[];

  /** Builds a config from ids in any order; duplicates collapse. */
  constructor(ids?: Iterable<number>) {
    this.idList = ids === undefined ? NO_IDS : sortedUnique(ids);
  }

  /** Builds a config from the given ids. */
  static of(...ids: number[]): MajorityConfig {
    return new MajorityConfig(ids);
  }

  /** Number of voters. */
  get size(): number {
    return this.idList.length;
  }

  /** The voter ids in ascending order. Read-only view: do not mutate, do not keep. */
  get ids(): readonly number[] {
    return this.idList;
  }

  has(id: number): boolean {
    return sortedIndexOf(this.idList, id) >= 0;
  }

  /** Adds `id`; returns false if it was already a member. */
  add(id: number): boolean {
    const next = sortedWith(this.idList, id);
    if (next === null) return false;
    this.idList = next;
    return true;
  }

  /** Removes `id`; returns false if it was not a member. */
  delete(id: number): boolean {
    const next = sortedWithout(this.idList, id);
    if (next === null) return false;
    this.idList = next.length === 0 ? NO_IDS : next;
    return true;
  }

  /** Removes every voter. */
  clear(): void {
    this.idList = NO_IDS;
  }

  /** A copy that shares no memory with this config (its id list is never mutated). */
  clone(): MajorityConfig {
    const c = new MajorityConfig();
    c.idList = this.idList;
    return c;
  }

  /** The voter ids as a new ascending array (etcd's `Slice`). */
  slice(): number[] {
    return this.idList.slice();
  }

  [Symbol.iterator](): Iterator<number> {
    return this.idList[Symbol.iterator]();
  }

  /** As etcd prints it: `(1 2 3)`, ids ascending in decimal; `()` when empty. */
  toString(): string {
    return `(${this.idList.join(' ')})`;
  }

  /**
   * The highest index acknowledged by a majority of the voters. Voters unknown to `l` count
   * as having acknowledged 0. An empty config returns {@link INDEX_NO_LIMIT} so that it is
   * neutral in a joint config. Allocation-free (shared scratch buffer, insertion sort).
   */
  committedIndex(l: AckedIndexer): Index {
    const ids = this.idList;
    const n = ids.length;
    if (n === 0) return INDEX_NO_LIMIT;
    if (n === 1) return l.ackedIndex(ids[0]!) ?? 0;
    if (n === 3) return committedIndexOfThree(ids, l);
    assert(!scratchBusy, 'committedIndex re-entered from an AckedIndexer');
    scratchBusy = true;
    const a = scratchFor(n);
    for (let i = 0; i < n; i++) {
      const idx = l.ackedIndex(ids[i]!);
      a[i] = idx === undefined ? 0 : idx;
    }
    scratchBusy = false;
    if (n <= INSERTION_SORT_LENGTH_MAX) insertionSort(a, n);
    else sortPrefix(a, n);
    // The quorum is n/2+1 voters; counted from the top, the quorum-th largest index is the
    // highest that that many voters have reached.
    const committed = a[n - ((n >> 1) + 1)]!;
    assert(committed >= 0, 'negative committed index');
    return committed;
  }

  /**
   * The outcome of a vote: won once a majority granted, lost once a majority can no longer
   * grant, pending otherwise. An empty config wins by convention, so that a joint config
   * with an empty half behaves like its other half.
   */
  voteResult(votes: VoteLookup): VoteResult {
    const ids = this.idList;
    const n = ids.length;
    if (n === 0) return VoteResult.VoteWon;
    let granted = 0;
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const v = votes.get(ids[i]!);
      if (v === undefined) missing++;
      else if (v) granted++;
    }
    assert(granted + missing <= n, 'more votes than voters');
    const quorum = (n >> 1) + 1;
    if (granted >= quorum) return VoteResult.VoteWon;
    if (granted + missing >= quorum) return VoteResult.VotePending;
    return VoteResult.VoteLost;
  }

  /**
   * A multi-line bar chart of the acknowledged indexes, exactly as etcd's `Describe` prints
   * it: one line per voter in id order; the i-th smallest distinct index gets a bar of i
   * `x`s, voters unknown to `l` print `?` and index 0. `<empty majority quorum>` when empty.
   */
  describe(l: AckedIndexer): string {
    return describeIds(this.idList, l);
  }
}

interface DescribeRow {
  id: number;
  index: Index;
  known: boolean;
  bar: number;
}

/** The body of `describe`, shared with JointConfig (which charts the union of its halves). */
export function describeIds(ids: readonly number[], l: AckedIndexer): string {
  const n = ids.length;
  if (n === 0) return '<empty majority quorum>';
  const rows: DescribeRow[] = ids.map((id) => {
    const index = l.ackedIndex(id);
    return { id, index: index ?? 0, known: index !== undefined, bar: 0 };
  });
  const byIndex = rows.slice().sort((a, b) => a.index - b.index || a.id - b.id);
  // Equal indexes share the bar of the first of them, so a bar only grows on a new index.
  for (let i = 1; i < n; i++) {
    const row = byIndex[i]!;
    const prev = byIndex[i - 1]!;
    row.bar = prev.index < row.index ? i : prev.bar;
  }
  let out = ' '.repeat(n) + '    idx\n';
  for (const row of rows) {
    assert(row.bar >= 0 && row.bar < n, 'bar out of range');
    out += row.known ? 'x'.repeat(row.bar) + '>' + ' '.repeat(n - row.bar) : '?' + ' '.repeat(n);
    out += ` ${String(row.index).padStart(5)}    (id=${row.id})\n`;
  }
  return out;
}
