/**
 * Private: the follower's side of a range snapshot.
 *
 * REASSEMBLY. One stream per sender and range, keyed by its snapshot id; a chunk at offset 0
 * of a new id replaces the sender's older stream of the range. A chunk whose offset is below
 * what was received is a duplicate (dropped); above it, a chunk was lost or overtaken
 * (dropped, and the stream fails: its leader is told at once). Each chunk's running CRC-32
 * is checked against the checksum the previous chunk claimed (so chunks verify in parallel,
 * big ones on workers); any mismatch fails the stream as corrupt. Streams are bounded in
 * number (`receivesMax`, evicting ones idle past `sendTimeoutMs`) and in bytes together
 * (`receiveBytesMax`); every drop is counted by reason (`stats.snapshots.chunksRefused`).
 *
 * APPLICATION. The whole payload is decoded and checked (range id, index, every user key in
 * the span it names). The keys the span holds here now are read (`readSpan`), at a moment the
 * group has no Ready in flight, and read again if it applied anything meanwhile, so that
 * nothing can write the span between that read and the snapshot's batch. Then a `MsgSnap`
 * (the snapshot's metadata, its descriptor as data) goes through the normal inbound path:
 * checked, creating the replica if needed, stepped in the group's turn. If Raft restores it,
 * the Ready that carries it is persisted with, in the same engine batch, the deletion of those
 * keys and of the range-local keys, the snapshot's records, and the new applied state
 * (`stageInto`). Nothing is written before that batch, so a crash mid-transfer leaves the old
 * state. Once that batch is durable the leader gets Applied; if Raft did not restore the
 * snapshot, Failed.
 */
import { assert } from '../util/index.js';
import { MessageType, newMessage, type Snapshot } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import {
  LOCAL_VALUE_BYTES_MAX, USER_KEY_BYTES_MAX, USER_VALUE_BYTES_MAX, type EngineBatch,
} from '../storage/index.js';
import { SnapshotChunkKind, type SnapshotChunk, type Transport } from '../transport/index.js';
import type { StoreContext } from './_context.js';
import { BadSnapshotPayload, decodeSnapshot, type DecodedSnapshot } from './_snapshot_codec.js';
import type { ChecksumWork } from './_snapshot_work.js';
import { LOCAL_SCAN_START } from './_snapshot_send.js';
import { ChunkRefusal } from './snapshot_stats.js';
import { handleBatch } from './_messages.js';

interface Assembly {
  readonly key: string;
  readonly fromNodeId: number;
  readonly rangeId: number;
  readonly snapshotId: number;
  readonly index: number;
  readonly startedAtMs: number;
  readonly chunks: Uint8Array[];
  /** Per chunk: whether its checksum matched, or the pending answer of a worker. */
  readonly checks: (boolean | Promise<boolean>)[];
  bytes: number;
  /** The checksum the last accepted chunk claims (the next one continues from it). */
  claimed: number;
  done: boolean;
}

/** A verified snapshot waiting for its group to step and persist it. */
interface Pending {
  readonly fromNodeId: number;
  readonly snapshotId: number;
  readonly decoded: DecodedSnapshot;
  /** The user keys the span held here, deleted in the snapshot's batch. */
  readonly stale: Uint8Array[];
}

/** Refreshes of the span's keys before giving up (the group kept applying). */
const QUIET_ATTEMPTS_MAX = 20;
const READ_BATCH = 1024;

/** Every snapshot this store receives. */
export class SnapshotReceiver {
  private readonly assemblies = new Map<string, Assembly>();
  private readonly pending = new Map<number, Pending>();
  /** Answers to send once the batch that persisted their snapshot is durable. */
  private awaitingCommit: Pending[] = [];
  private readonly byFlight = new Map<object, Pending[]>();
  private bytes = 0;

  constructor(private readonly st: StoreContext, private readonly transport: Transport,
    private readonly work: ChecksumWork) {}

  /** A data chunk from `fromNodeId` (the transport checked its limits). */
  onChunk(fromNodeId: number, chunk: SnapshotChunk): void {
    const key = `${fromNodeId}/${chunk.rangeId}`;
    let a = this.assemblies.get(key);
    if (a === undefined || a.snapshotId !== chunk.snapshotId) {
      if (chunk.offset !== 0) return this.refuse(ChunkRefusal.UnknownStream);
      if (a !== undefined) this.drop(a);
      if (!this.makeRoom()) {
        this.refuse(ChunkRefusal.Busy);
        return this.answer(fromNodeId, chunk.rangeId, chunk.snapshotId, chunk.index, false);
      }
      a = { key, fromNodeId, rangeId: chunk.rangeId, snapshotId: chunk.snapshotId,
        index: chunk.index, startedAtMs: this.st.config.clock.nowMs(), chunks: [], checks: [],
        bytes: 0, claimed: 0, done: false };
      this.assemblies.set(key, a);
    }
    if (chunk.offset < a.bytes) return this.refuse(ChunkRefusal.Duplicate);
    if (chunk.offset > a.bytes) return this.fail(a, ChunkRefusal.OutOfOrder);
    if (chunk.index !== a.index) return this.fail(a, ChunkRefusal.Corrupt);
    if (this.bytes + chunk.data.length > this.st.config.snapshots.receiveBytesMax) {
      return this.fail(a, ChunkRefusal.Oversized);
    }
    const expected = chunk.checksum;
    const crc = this.work.checksum(chunk.data, a.claimed);
    a.checks.push(typeof crc === 'number' ? crc === expected
      : crc.then((actual) => actual === expected));
    a.claimed = expected;
    a.chunks.push(chunk.data);
    a.bytes += chunk.data.length;
    this.bytes += chunk.data.length;
    if (!chunk.last) return;
    const failed = (error: unknown): void => {
      this.st.log?.error({ rangeId: a.rangeId, err: error }, 'snapshot install failed');
      this.answer(a.fromNodeId, a.rangeId, a.snapshotId, a.index, false);
    };
    // Synchronous when every check was inline (small chunks): no turn passes.
    if (a.checks.every((c) => typeof c === 'boolean')) {
      this.verified(a, a.checks.every((c) => c === true))?.catch(failed);
    } else {
      Promise.all(a.checks).then((all) => this.verified(a, all.every((c) => c)))
        .catch(failed);
    }
  }

  /** Whether a new stream may start, evicting streams idle past the send timeout. */
  private makeRoom(): boolean {
    const c = this.st.config;
    if (this.assemblies.size < c.snapshots.receivesMax) return true;
    const now = c.clock.nowMs();
    for (const a of this.assemblies.values()) {
      if (now - a.startedAtMs > c.snapshots.sendTimeoutMs) this.drop(a);
    }
    return this.assemblies.size < c.snapshots.receivesMax;
  }

  /** Decodes and installs a stream whose chunks all arrived (`ok`: every checksum matched). */
  private verified(a: Assembly, ok: boolean): Promise<void> | undefined {
    if (a.done) return;
    if (!ok) {
      this.fail(a, ChunkRefusal.Corrupt);
      return;
    }
    const payload = a.chunks.length === 1 ? a.chunks[0]! : Buffer.concat(a.chunks);
    this.drop(a);
    let decoded: DecodedSnapshot;
    try {
      decoded = decodeSnapshot(payload);
      checkDecoded(decoded, a);
    } catch (error) {
      if (!(error instanceof BadSnapshotPayload)) throw error;
      this.st.log?.warn({ rangeId: a.rangeId, fromNodeId: a.fromNodeId, err: error },
        'snapshot payload refused');
      this.refuse(ChunkRefusal.Corrupt);
      this.answer(a.fromNodeId, a.rangeId, a.snapshotId, a.index, false);
      return;
    }
    this.st.stats.snapshots.snapshotsReceived++;
    if (decoded.header.span === null && this.quietPoint(a.rangeId) !== null) {
      // No user data to clear: the snapshot goes to its group at once.
      this.handOver(a, decoded, []);
      return;
    }
    return this.install(a, decoded);
  }

  /** Reads the span's keys while the group is quiet, then hands the MsgSnap to the group. */
  private async install(a: Assembly, decoded: DecodedSnapshot): Promise<void> {
    const st = this.st;
    for (let attempt = 0; attempt < QUIET_ATTEMPTS_MAX && !st.closed; attempt++) {
      const before = this.quietPoint(a.rangeId);
      if (before === null) {
        await new Promise<void>((resolve) => st.config.clock.setTimer(1, resolve));
        continue;
      }
      const stale = await this.spanKeys(decoded);
      if (st.closed || this.quietPoint(a.rangeId) !== before) continue;
      this.handOver(a, decoded, stale);
      return;
    }
    this.answer(a.fromNodeId, a.rangeId, a.snapshotId, a.index, false);
  }

  /** Queues the snapshot's MsgSnap for its group, its data pending until Raft restores it. */
  private handOver(a: Assembly, decoded: DecodedSnapshot, stale: Uint8Array[]): void {
    const h = decoded.header;
    const snapshot: Snapshot = { data: h.descriptor,
      metadata: { index: h.index, term: h.term, confState: h.confState } };
    const message = newMessage(MessageType.MsgSnap, { from: a.fromNodeId, to: this.st.nodeId,
      term: h.msgTerm, snapshot });
    this.pending.set(a.rangeId, { fromNodeId: a.fromNodeId, snapshotId: a.snapshotId,
      decoded, stale });
    handleBatch(this.st, a.fromNodeId, [{ rangeId: a.rangeId, message, quiesce: false }]);
  }

  /**
   * The group's applied index while no Ready of it is in flight (-1: no replica yet), or
   * null while one is.
   */
  private quietPoint(rangeId: number): number | null {
    const t = this.st.table;
    const gid = t.slotOfRange.get(rangeId);
    if (gid === undefined) return -1;
    if (t.isReadyPending(gid)) return null;
    return t.storages[gid]!.appliedState().index;
  }

  private async spanKeys(decoded: DecodedSnapshot): Promise<Uint8Array[]> {
    const span = decoded.header.span;
    if (span === null) return [];
    const reader = this.st.engine.readSpan(span.start, span.end);
    const keys: Uint8Array[] = [];
    try {
      for (let rows = await reader.next(READ_BATCH); rows.length > 0;
        rows = await reader.next(READ_BATCH)) {
        for (const row of rows) keys.push(row.key);
      }
    } finally {
      reader.close();
    }
    return keys;
  }

  /** The pending snapshot of `rangeId`, if any, was refused before Raft saw it: it failed. */
  refused(rangeId: number): void {
    const p = this.pending.get(rangeId);
    if (p === undefined) return;
    this.pending.delete(rangeId);
    this.answer(p.fromNodeId, rangeId, p.snapshotId, p.decoded.header.index, false);
  }

  /**
   * The group's Ready was taken: if a pending snapshot was stepped and Raft did not restore
   * it (no snapshot in the Ready, or another one), it failed.
   */
  readyTaken(rangeId: number, snapshot: Snapshot | null): void {
    const p = this.pending.get(rangeId);
    if (p === undefined) return;
    if (snapshot !== null && snapshot.metadata.index === p.decoded.header.index) return;
    this.pending.delete(rangeId);
    this.answer(p.fromNodeId, rangeId, p.snapshotId, p.decoded.header.index, false);
  }

  /**
   * Stages a restored snapshot's data into the Ready's engine batch (see the file header);
   * returns its descriptor, or null if the snapshot is not one of ours (no chunked data).
   */
  stageInto(gid: GroupId, rangeId: number, snapshot: Snapshot, batch: EngineBatch):
    Uint8Array | null {
    const p = this.pending.get(rangeId);
    if (p === undefined || p.decoded.header.index !== snapshot.metadata.index) return null;
    this.pending.delete(rangeId);
    const engine = this.st.engine;
    const storage = this.st.table.storages[gid]!;
    assert(storage.appliedState().index < snapshot.metadata.index, 'a newer snapshot');
    if (!p.decoded.header.engineState) {
      this.awaitingCommit.push(p);
      return p.decoded.header.descriptor;
    }
    for (const key of p.stale) engine.deleteUser(key, batch);
    engine.clearLocal(rangeId, batch);
    // Copies: the engine keeps what it is handed, and these are views into the payload.
    for (const e of p.decoded.local) {
      engine.putLocal(rangeId, e.key.slice(), e.value.slice(), batch);
    }
    for (const e of p.decoded.user) engine.putUser(e.key.slice(), e.value.slice(), batch);
    assert(engine.scanLocal(rangeId, LOCAL_SCAN_START, null, 1).length ===
      Math.min(1, p.decoded.local.length), 'the range-local keys are the snapshot\'s');
    this.st.stats.snapshots.snapshotsApplied++;
    this.awaitingCommit.push(p);
    return p.decoded.header.descriptor;
  }

  /** The batch end began a flight: the answers staged so far go with it. */
  bindFlight(flight: object): void {
    if (this.awaitingCommit.length === 0) return;
    this.byFlight.set(flight, this.awaitingCommit);
    this.awaitingCommit = [];
  }

  /** A flight's writes are durable: its snapshots are applied, tell their leaders. */
  flightDurable(flight: object): void {
    const list = this.byFlight.get(flight);
    if (list === undefined) return;
    this.byFlight.delete(flight);
    for (const p of list) {
      this.answer(p.fromNodeId, p.decoded.header.rangeId, p.snapshotId, p.decoded.header.index,
        true);
    }
  }

  private fail(a: Assembly, why: ChunkRefusal): void {
    this.refuse(why);
    this.drop(a);
    this.answer(a.fromNodeId, a.rangeId, a.snapshotId, a.index, false);
  }

  private drop(a: Assembly): void {
    if (a.done) return;
    a.done = true;
    this.bytes -= a.bytes;
    assert(this.bytes >= 0, 'received bytes stay non-negative');
    if (this.assemblies.get(a.key) === a) this.assemblies.delete(a.key);
  }

  private refuse(why: ChunkRefusal): void {
    this.st.stats.snapshots.chunksRefused[why]++;
  }

  private answer(toNodeId: number, rangeId: number, snapshotId: number, index: number,
    applied: boolean): void {
    if (this.st.closed) return;
    this.transport.sendSnapshotChunk!({ rangeId, fromNodeId: this.st.nodeId, toNodeId,
      snapshotId, index, kind: applied ? SnapshotChunkKind.Applied : SnapshotChunkKind.Failed,
      offset: 0, last: true, checksum: 0, data: new Uint8Array(0) });
  }

  /** Drops every stream and pending snapshot (the store closes). */
  close(): void {
    for (const a of [...this.assemblies.values()]) this.drop(a);
    this.pending.clear();
    this.byFlight.clear();
    this.awaitingCommit = [];
  }
}

/** Checks a decoded payload against its stream; throws `BadSnapshotPayload`. */
function checkDecoded(d: DecodedSnapshot, a: Assembly): void {
  const h = d.header;
  if (h.rangeId !== a.rangeId || h.index !== a.index) {
    throw new BadSnapshotPayload('the payload names another range or index than its chunks');
  }
  if (h.index === 0 || h.term === 0 || h.term > h.msgTerm) {
    throw new BadSnapshotPayload('bad snapshot index or term');
  }
  const span = h.span;
  if (!h.engineState && (span !== null || d.local.length > 0)) {
    throw new BadSnapshotPayload('records in a snapshot without engine state');
  }
  for (const e of d.local) {
    if (!validKey(e.key) || e.value.length > LOCAL_VALUE_BYTES_MAX) {
      throw new BadSnapshotPayload('a range-local record outside the engine\'s limits');
    }
  }
  if (span !== null && (!validKey(span.start) || (span.end !== null && !validKey(span.end)))) {
    throw new BadSnapshotPayload('a span bound outside the engine\'s key limits');
  }
  if (span === null) {
    if (d.user.length > 0) throw new BadSnapshotPayload('user records without a span');
    return;
  }
  for (const e of d.user) {
    if (!validKey(e.key) || e.value.length > USER_VALUE_BYTES_MAX) {
      throw new BadSnapshotPayload('a user record outside the engine\'s limits');
    }
    if (Buffer.compare(e.key, span.start) < 0 ||
      (span.end !== null && Buffer.compare(e.key, span.end) >= 0)) {
      throw new BadSnapshotPayload('a user record outside the snapshot\'s span');
    }
  }
}

function validKey(key: Uint8Array): boolean {
  return key.length > 0 && key.length <= USER_KEY_BYTES_MAX;
}
