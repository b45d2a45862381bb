/**
 * "Acknowledged means durable", checked on what a crashed store's disk holds.
 *
 * The store layer runs every store on the crash-model engine: a crash keeps only the writes
 * whose sync completed. At every crash the simulation reopens the engine image the crash
 * left (`CrashModelEngine.crash()`, then `open`) and hands this checker a plain view of it
 * (`DurableImage`, built by the world: no storage code here). Per replica of the crashed
 * store it checks:
 *
 * - acknowledged-durable: every entry the store handed its state machine before the crash
 *   (an operation is acknowledged when it is applied on the store its client proposed to)
 *   is still there: at or below the image's applied index, its apply record holds that very
 *   command, once; above it, the image's log holds the entry (same term, same data), so the
 *   restarted replica applies it again from the log. Not necessarily at or below the durable
 *   commit: the store applies entries that earlier batches made durable in the batch of the
 *   Ready that learned their commit, before that batch's HardState is synced (_ready.ts). Such
 *   an entry was committed by a quorum, so by Log Matching the one in this log is the
 *   committed one, and the leader brings the replica's commit back over it;
 * - exactly once: apply records are written in the batch of the applied index (atomic), so
 *   none lies above the image's applied index, and no command takes effect in two records
 *   of one replica;
 * - hardstate-monotonic: the durable HardState never moves back from one crash to the next
 *   (term, vote within a term, commit); its term covers every message the store sent (a
 *   message leaves only after the sync of the Ready that staged its term), and within that
 *   term its vote is the vote it granted on the wire;
 * - applied-within-commit: applied <= commit <= last index on the image.
 */
import { MessageType, type Message } from '../../src/raft/index.js';
import { StoreInvariantViolation } from './store_invariants.js';

/** What the state machine of a store applied at one index (recorded as it applies). */
export interface AppliedRecord {
  term: number;
  /** Hash of the entry's data. */
  hash: number;
  /** Whether the command took effect (false: a duplicate of an earlier operation id). */
  effective: boolean;
  /** The command's operation id (0 if the payload is no command). */
  opId: number;
}

/** One replica as the crashed disk holds it. */
export interface DurableReplicaImage {
  rangeId: number;
  hardState: { term: number; vote: number; commit: number };
  applied: number;
  firstIndex: number;
  lastIndex: number;
  /** The log entry at `index` (term and data hash), or null if the log lacks it. */
  entry(index: number): { term: number; hash: number } | null;
  /** The apply records on the disk, by index. */
  records: Map<number, AppliedRecord>;
}

/** Everything one store's crashed disk holds, per range. */
export interface DurableImage {
  nodeId: number;
  replicas: DurableReplicaImage[];
}

interface WireFacts {
  /** Highest term of any message the replica sent that promises a durable term. */
  termSent: number;
  /** Votes granted on the wire, by term. */
  votes: Map<number, number>;
}

/** Tracks what each store acknowledged and checks crashed disks against it. */
export class DurabilityChecker {
  /** `node/range` -> index -> what was applied there. */
  private readonly applied = new Map<string, Map<number, AppliedRecord>>();
  private readonly wire = new Map<string, WireFacts>();
  private readonly lastImage = new Map<string, { term: number; vote: number; commit: number }>();
  /** Crash images checked, replicas in them, acknowledged entries found durable. */
  images = 0;
  replicasChecked = 0;
  entriesChecked = 0;

  /** The state machine of `nodeId` applied `record` at `index` of `rangeId`. */
  onApply(nodeId: number, rangeId: number, index: number, record: AppliedRecord): void {
    const key = `${nodeId}/${rangeId}`;
    let m = this.applied.get(key);
    if (m === undefined) this.applied.set(key, (m = new Map()));
    const before = m.get(index);
    if (before !== undefined && before.hash !== record.hash) {
      this.fail('acknowledged-durable', nodeId, rangeId,
        `index ${index} applied again with other data after a restart`);
    }
    m.set(index, record);
  }

  /** A store handed `m` to its transport. */
  onSend(rangeId: number, m: Message): void {
    // A pre-vote carries the term the candidate would take, not one it persisted.
    if (m.type === MessageType.MsgPreVote || m.type === MessageType.MsgPreVoteResp) return;
    const key = `${m.from}/${rangeId}`;
    let w = this.wire.get(key);
    if (w === undefined) this.wire.set(key, (w = { termSent: 0, votes: new Map() }));
    if (m.term > w.termSent) w.termSent = m.term;
    if (m.type === MessageType.MsgVoteResp && !m.reject) w.votes.set(m.term, m.to);
  }

  /**
   * A restarted replica may apply again what the image lost above its applied index: the
   * records above `applied` are forgotten (they are re-recorded as the log replays).
   */
  onRestart(nodeId: number, rangeId: number, applied: number): void {
    const m = this.applied.get(`${nodeId}/${rangeId}`);
    if (m === undefined) return;
    for (const index of [...m.keys()]) if (index > applied) m.delete(index);
  }

  /** Checks the disk a crash of `image.nodeId` left. */
  checkImage(image: DurableImage, rangeIds: readonly number[]): void {
    this.images++;
    const byRange = new Map(image.replicas.map((r) => [r.rangeId, r]));
    for (const rangeId of rangeIds) {
      const r = byRange.get(rangeId);
      const acked = this.applied.get(`${image.nodeId}/${rangeId}`);
      if (r === undefined) {
        if (acked !== undefined && acked.size > 0) {
          this.fail('acknowledged-durable', image.nodeId, rangeId,
            `the replica applied ${acked.size} entries, its disk holds no replica`);
        }
        continue;
      }
      this.replicasChecked++;
      this.checkHardState(image.nodeId, r);
      this.checkRecords(image.nodeId, r);
      if (acked !== undefined) this.checkAcked(image.nodeId, r, acked);
    }
  }

  private checkHardState(nodeId: number, r: DurableReplicaImage): void {
    const hs = r.hardState;
    const key = `${nodeId}/${r.rangeId}`;
    const before = this.lastImage.get(key);
    const what = before === undefined ? '' :
      `(${before.term},${before.vote},${before.commit}) -> (${hs.term},${hs.vote},${hs.commit})`;
    if (before !== undefined && (hs.term < before.term || hs.commit < before.commit ||
      (hs.term === before.term && before.vote !== 0 && hs.vote !== before.vote))) {
      this.fail('hardstate-monotonic', nodeId, r.rangeId, `durable HardState ${what}`);
    }
    this.lastImage.set(key, { ...hs });
    const w = this.wire.get(key);
    if (w !== undefined && w.termSent > hs.term) {
      this.fail('hardstate-monotonic', nodeId, r.rangeId, `sent a message of term ` +
        `${w.termSent}, the disk holds term ${hs.term}`);
    }
    const granted = w?.votes.get(hs.term);
    if (granted !== undefined && hs.vote !== granted) {
      this.fail('hardstate-monotonic', nodeId, r.rangeId, `granted its vote of term ` +
        `${hs.term} to ${granted}, the disk holds vote ${hs.vote}`);
    }
    if (r.applied > hs.commit || hs.commit > r.lastIndex) {
      this.fail('applied-within-commit', nodeId, r.rangeId, `on disk: applied ${r.applied}, ` +
        `commit ${hs.commit}, last index ${r.lastIndex}`);
    }
  }

  private checkRecords(nodeId: number, r: DurableReplicaImage): void {
    const effective = new Map<number, number>();
    for (const [index, rec] of r.records) {
      if (index > r.applied) {
        this.fail('acknowledged-durable', nodeId, r.rangeId, `apply record at ${index} above ` +
          `the durable applied index ${r.applied}: not atomic with it`);
      }
      if (!rec.effective || rec.opId === 0) continue;
      const other = effective.get(rec.opId);
      if (other !== undefined) {
        this.fail('acknowledged-durable', nodeId, r.rangeId, `operation ${rec.opId} took ` +
          `effect twice (indices ${other} and ${index})`);
      }
      effective.set(rec.opId, index);
    }
  }

  private checkAcked(nodeId: number, r: DurableReplicaImage,
    acked: Map<number, AppliedRecord>): void {
    for (const [index, rec] of acked) {
      this.entriesChecked++;
      if (index <= r.applied) {
        const onDisk = r.records.get(index);
        if (onDisk === undefined || onDisk.hash !== rec.hash || onDisk.opId !== rec.opId ||
          onDisk.effective !== rec.effective) {
          this.fail('acknowledged-durable', nodeId, r.rangeId, `entry ${index} (operation ` +
            `${rec.opId}) was applied; the disk's applied index ${r.applied} covers it but ` +
            `its apply record is ${onDisk === undefined ? 'missing' : 'different'}`);
        }
        continue;
      }
      const e = index >= r.firstIndex && index <= r.lastIndex ? r.entry(index) : null;
      if (e === null || e.term !== rec.term || e.hash !== rec.hash) {
        this.fail('acknowledged-durable', nodeId, r.rangeId, `entry ${index} (operation ` +
          `${rec.opId}) was applied before the crash and is lost: the disk holds applied ` +
          `${r.applied}, commit ${r.hardState.commit}, log ${r.firstIndex}..${r.lastIndex}` +
          `${e === null ? '' : `, term ${e.term} there`}`);
      }
    }
  }

  private fail(invariant: 'acknowledged-durable' | 'hardstate-monotonic' |
    'applied-within-commit', nodeId: number, rangeId: number, detail: string): never {
    throw new StoreInvariantViolation(invariant, nodeId, rangeId, detail);
  }
}
