/**
 * The map from peer id to Progress, kept sorted by id (etcd's `ProgressMap`).
 */
import { assert } from '../../util/index.js';
import { sortedIndexOf, type AckedIndexer } from '../quorum/index.js';
import type { Progress } from './progress.js';

/**
 * Progress by peer id, for voters and learners alike. Two parallel arrays sorted by id: for
 * the three to seven peers of a group, a scan of a small number array beats a Map lookup, and
 * iteration comes out in id order, which etcd's outputs (and determinism) require.
 *
 * It is also the {@link AckedIndexer} of committed-index computations: a peer's acknowledged
 * index is its `match`.
 */
export class ProgressMap implements AckedIndexer {
  /**
   * Ascending peer ids. Invariant: same length as `prs`, no duplicates. Both arrays are
   * rebuilt at exact size on every insertion and removal (rare: configuration changes), as
   * splice would grow their backing stores to 17 slots for the life of the group.
   */
  private idList: number[] = [];
  /** `prs[i]` is the progress of `idList[i]`. */
  private prs: Progress[] = [];
  /** Bumped by every insertion and removal, so iteration can detect concurrent changes. */
  private version = 0;
  /**
   * Where the next `ackedIndex` lookup probably is: quorum code asks for voters in ascending
   * order, so checking the slot after the previous hit first makes a whole committed-index
   * computation linear instead of quadratic in the number of peers.
   */
  private ackCursor = 0;

  /** Number of tracked peers. */
  get size(): number {
    return this.idList.length;
  }

  /** The tracked ids, ascending. Read-only view: do not mutate, do not keep. */
  get ids(): readonly number[] {
    return this.idList;
  }

  get(id: number): Progress | undefined {
    const i = sortedIndexOf(this.idList, id);
    return i >= 0 ? this.prs[i] : undefined;
  }

  has(id: number): boolean {
    return sortedIndexOf(this.idList, id) >= 0;
  }

  /** Tracks `pr` for `id`, replacing any previous progress. */
  set(id: number, pr: Progress): this {
    assert(Number.isInteger(id) && id > 0, `invalid peer id ${id}`);
    const i = sortedIndexOf(this.idList, id);
    if (i >= 0) {
      this.prs[i] = pr;
      return this;
    }
    const at = -i - 1;
    this.idList = this.idList.slice(0, at).concat([id], this.idList.slice(at));
    this.prs = this.prs.slice(0, at).concat([pr], this.prs.slice(at));
    this.version++;
    assert(this.idList.length === this.prs.length, 'progress map arrays diverged');
    return this;
  }

  /** Stops tracking `id`; returns false if it was not tracked. */
  delete(id: number): boolean {
    const i = sortedIndexOf(this.idList, id);
    if (i < 0) return false;
    this.idList = this.idList.slice(0, i).concat(this.idList.slice(i + 1));
    this.prs = this.prs.slice(0, i).concat(this.prs.slice(i + 1));
    this.version++;
    assert(this.idList.length === this.prs.length, 'progress map arrays diverged');
    return true;
  }

  /** The match index of `id`, or undefined if untracked (AckedIndexer). */
  ackedIndex(id: number): number | undefined {
    let i = this.ackCursor;
    if (i >= this.idList.length || this.idList[i] !== id) {
      i = sortedIndexOf(this.idList, id);
      if (i < 0) return undefined;
    }
    this.ackCursor = i + 1;
    return this.prs[i]!.match;
  }

  /**
   * Calls `f` for every peer in ascending id order. `f` may change a Progress but must not
   * add or remove peers (asserted).
   */
  forEach(f: (id: number, pr: Progress) => void): void {
    const version = this.version;
    const n = this.idList.length;
    for (let i = 0; i < n; i++) {
      f(this.idList[i]!, this.prs[i]!);
      assert(this.version === version, 'progress map changed during iteration');
    }
  }

  /** Iterates `[id, progress]` pairs in ascending id order. */
  *[Symbol.iterator](): IterableIterator<[number, Progress]> {
    for (let i = 0; i < this.idList.length; i++) yield [this.idList[i]!, this.prs[i]!];
  }

  /**
   * A copy whose Progress objects are shallow copies (see `Progress.shallowCopy`): what the
   * configuration changer edits without touching the live map.
   */
  shallowCopy(): ProgressMap {
    const m = new ProgressMap();
    m.idList = this.idList.slice();
    m.prs = this.prs.map((pr) => pr.shallowCopy());
    return m;
  }

  /** As etcd prints it: one `id: progress` line per peer, ascending, each ending in `\n`. */
  toString(): string {
    let s = '';
    for (let i = 0; i < this.idList.length; i++) {
      s += `${this.idList[i]}: ${this.prs[i]!.toString()}\n`;
    }
    return s;
  }
}
