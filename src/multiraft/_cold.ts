/**
 * Private: what a status read needs of a dormant replica seated at open that has no storage
 * object yet (_open.ts): its persisted vote and last index, one slot per table slot. Its
 * term and applied index (equal to its commit) are in the table like any dormant replica's.
 */
import { assert } from '../util/index.js';
import type { GroupId } from '../scheduler/index.js';

/** Per-slot facts of dormant replicas seated at open that status reads need. */
export class ColdRecords {
  vote = new Float64Array(0);
  lastIndex = new Float64Array(0);

  /** Records `gid`'s persisted vote and last index. */
  set(gid: GroupId, vote: number, lastIndex: number, capacity: number): void {
    if (this.vote.length < capacity) {
      const vote = new Float64Array(capacity);
      const last = new Float64Array(capacity);
      vote.set(this.vote);
      last.set(this.lastIndex);
      this.vote = vote;
      this.lastIndex = last;
    }
    assert(gid < this.vote.length, 'a slot within the table');
    this.vote[gid] = vote;
    this.lastIndex[gid] = lastIndex;
  }

  /** Bytes held. */
  get memoryBytes(): number {
    return this.vote.byteLength + this.lastIndex.byteLength;
  }
}
