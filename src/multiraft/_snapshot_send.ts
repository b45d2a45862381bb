/**
 * Private: the leader's side of a range snapshot. Raft's `MsgSnap` (a follower below the
 * first index, or a new learner) never reaches the transport: it starts a stream instead.
 *
 * CONSISTENT POINT. In the group's turn, synchronously: the applied state (index, ConfState,
 * descriptor), the term of that index, a copy of the range-local keys and a point-in-time
 * reader of the user span (`StateMachine.userSpan`). The state machine writes its data in the
 * same synchronous step as the applied index, so these agree; the snapshot is taken at the
 * applied index, which may be past the index Raft asked for (CockroachDB does the same): the
 * follower answers with the newer index, which the leader accepts.
 *
 * STREAM. The payload (_snapshot_codec.ts) is cut into chunks of `chunkBytes`, each with the
 * running CRC-32 of the payload through it (_snapshot_work.ts decides where it runs), sent
 * with `Transport.sendSnapshotChunk`. The receiver answers Applied or Failed; the leader then
 * calls `ReportSnapshot` (Finish or Failure). A chunk the transport drops, a stream over
 * `sendsMax`, or no answer within `sendTimeoutMs` reports Failure (Raft probes and asks
 * again). One stream per follower and range at a time.
 */
import { assert } from '../util/index.js';
import { SnapshotStatus, type Message } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import type { SpanReader, UserEntry } from '../storage/index.js';
import { SnapshotChunkKind, type SnapshotChunk, type Transport } from '../transport/index.js';
import type { TimerHandle } from '../util/index.js';
import type { StoreContext } from './_context.js';
import { SnapshotEncoder, type SnapshotHeader } from './_snapshot_codec.js';
import type { ChecksumWork } from './_snapshot_work.js';
import { reportSnapshot } from './_messages.js';

/** Range-local keys start at the smallest one-byte key. */
export const LOCAL_SCAN_START = Uint8Array.of(0);
const READ_BATCH = 256;

interface OutStream {
  readonly key: string;
  readonly id: number;
  readonly rangeId: number;
  readonly toNodeId: number;
  readonly index: number;
  timer: TimerHandle | null;
  reader: SpanReader | null;
  done: boolean;
}

/** The consistent point a stream is built from. */
interface SnapshotPoint {
  header: SnapshotHeader;
  local: UserEntry[];
  reader: SpanReader | null;
}

/** Every snapshot stream this store's leaders send. */
export class SnapshotSender {
  private readonly streams = new Map<string, OutStream>();
  private nextId = 1;

  constructor(private readonly st: StoreContext, private readonly transport: Transport,
    private readonly work: ChecksumWork) {}

  /** Raft asked to send `m` (a MsgSnap) of group `gid`: start a stream (see the header). */
  start(gid: GroupId, rangeId: number, m: Message): void {
    const st = this.st;
    const key = `${rangeId}/${m.to}`;
    if (this.streams.has(key)) return;
    if (this.streams.size >= st.config.snapshots.sendsMax) {
      st.stats.snapshots.snapshotsSendFailed++;
      st.config.clock.setTimer(0, () => {
        if (!st.closed) reportSnapshot(st, rangeId, m.to, SnapshotStatus.SnapshotFailure);
      });
      return;
    }
    const point = this.point(gid, rangeId, m);
    const stream: OutStream = { key, id: this.nextId++, rangeId, toNodeId: m.to,
      index: point.header.index, timer: null, reader: point.reader, done: false };
    this.streams.set(key, stream);
    st.stats.snapshots.snapshotsSent++;
    stream.timer = st.config.clock.setTimer(st.config.snapshots.sendTimeoutMs, () => {
      stream.timer = null;
      this.finish(stream, false);
    });
    st.log?.info({ rangeId, toNodeId: m.to, index: stream.index }, 'sending snapshot');
    if (point.reader === null) {
      this.runSync(stream, point);
      return;
    }
    this.run(stream, point).catch((error: unknown) => {
      st.log?.error({ rangeId, toNodeId: m.to, err: error }, 'snapshot stream failed');
      this.finish(stream, false);
    });
  }

  /**
   * A stream without user data: encoded at once, and sent at once while its chunks are
   * checksummed inline, so a small one runs in the turn that started it (deterministic on
   * virtual time); from the first chunk that needs a worker on, asynchronously.
   */
  private runSync(stream: OutStream, point: SnapshotPoint): void {
    const enc = new SnapshotEncoder(this.st.config.snapshots.chunkBytes);
    enc.header(point.header);
    for (const entry of point.local) enc.record(true, entry);
    enc.end();
    const chunks: Uint8Array[] = [];
    while (enc.chunkReady) chunks.push(enc.take(false));
    chunks.push(enc.take(true));
    const sent = { offset: 0, crc: 0 };
    for (let i = 0; i < chunks.length; i++) {
      const last = i === chunks.length - 1;
      if (this.work.onWorker(chunks[i]!.length)) {
        this.sendRest(stream, chunks, i, sent).catch((error: unknown) => {
          this.st.log?.error({ rangeId: stream.rangeId, err: error }, 'snapshot stream failed');
          this.finish(stream, false);
        });
        return;
      }
      if (!this.sendNow(stream, chunks[i]!, last, sent)) return;
    }
  }

  private async sendRest(stream: OutStream, chunks: Uint8Array[], from: number,
    sent: { offset: number; crc: number }): Promise<void> {
    for (let i = from; i < chunks.length; i++) {
      if (!(await this.send(stream, chunks[i]!, i === chunks.length - 1, sent))) return;
    }
  }

  /** The consistent point (see the file header), taken synchronously. */
  private point(gid: GroupId, rangeId: number, m: Message): SnapshotPoint {
    const st = this.st;
    const asked = m.snapshot;
    assert(asked !== null, 'a MsgSnap carries a snapshot');
    if (st.config.stateMachine.userSpan === undefined) {
      // The application keeps its state elsewhere: Raft's snapshot, as it asked for it.
      const md = asked.metadata;
      return { local: [], reader: null, header: { rangeId, index: md.index, term: md.term,
        msgTerm: m.term, confState: md.confState, descriptor: asked.data, engineState: false,
        span: null } };
    }
    const storage = st.table.storages[gid]!;
    const applied = storage.appliedState();
    const term = storage.term(applied.index);
    assert(typeof term === 'number', 'the applied index keeps its term');
    const span = st.config.stateMachine.userSpan?.(rangeId) ?? null;
    const header: SnapshotHeader = { rangeId, index: applied.index, term, msgTerm: m.term,
      confState: applied.confState, descriptor: applied.descriptor, engineState: true, span };
    const local = st.engine.scanLocal(rangeId, LOCAL_SCAN_START, null, Number.MAX_SAFE_INTEGER);
    const reader = span === null ? null : st.engine.readSpan(span.start, span.end);
    assert(header.index >= asked.metadata.index,
      'a snapshot is never older than the one Raft asked for');
    return { header, local, reader };
  }

  private async run(stream: OutStream, point: SnapshotPoint): Promise<void> {
    const enc = new SnapshotEncoder(this.st.config.snapshots.chunkBytes);
    const sent = { offset: 0, crc: 0 };
    enc.header(point.header);
    for (const entry of point.local) {
      enc.record(true, entry);
      if (enc.chunkReady && !(await this.send(stream, enc.take(false), false, sent))) return;
    }
    for (let rows = await this.read(stream); rows.length > 0; rows = await this.read(stream)) {
      for (const entry of rows) {
        enc.record(false, entry);
        if (enc.chunkReady && !(await this.send(stream, enc.take(false), false, sent))) return;
      }
    }
    enc.end();
    while (enc.chunkReady) {
      if (!(await this.send(stream, enc.take(false), false, sent))) return;
    }
    await this.send(stream, enc.take(true), true, sent);
    stream.reader?.close();
    stream.reader = null;
  }

  private read(stream: OutStream): Promise<UserEntry[]> {
    if (stream.done || stream.reader === null) return Promise.resolve([]);
    return stream.reader.next(READ_BATCH);
  }

  /** Checksums and sends one chunk; false if the stream ended (failed or answered). */
  private async send(stream: OutStream, data: Uint8Array, last: boolean,
    sent: { offset: number; crc: number }): Promise<boolean> {
    if (stream.done) return false;
    const crc = await this.work.checksum(data, sent.crc);
    // Flow control: the transport's send queues are bounded (a chunk over them is dropped and
    // fails the stream), so a big snapshot waits while they hold a few chunks already.
    const c = this.st.config;
    while (!stream.done && this.transport.stats().queuedBytesNow > 4 * c.snapshots.chunkBytes) {
      await new Promise<void>((resolve) => c.clock.setTimer(1, resolve));
    }
    return this.sendNow(stream, data, last, sent, crc);
  }

  /** Sends one chunk whose checksum is computed inline or was just computed. */
  private sendNow(stream: OutStream, data: Uint8Array, last: boolean,
    sent: { offset: number; crc: number }, known?: number): boolean {
    if (stream.done) return false;
    const computed = known ?? this.work.checksum(data, sent.crc);
    assert(typeof computed === 'number', 'an inline checksum');
    const crc = computed;
    const chunk: SnapshotChunk = { rangeId: stream.rangeId, fromNodeId: this.st.nodeId,
      toNodeId: stream.toNodeId, snapshotId: stream.id, index: stream.index,
      kind: SnapshotChunkKind.Data, offset: sent.offset, last, checksum: crc, data };
    if (!this.transport.sendSnapshotChunk!(chunk)) {
      this.finish(stream, false);
      return false;
    }
    sent.offset += data.length;
    sent.crc = crc;
    const stats = this.st.stats.snapshots;
    stats.chunksSent++;
    stats.bytesSent += data.length;
    return true;
  }

  /** The receiver's answer to one of our streams. */
  answer(fromNodeId: number, chunk: SnapshotChunk): void {
    const stream = this.streams.get(`${chunk.rangeId}/${fromNodeId}`);
    if (stream === undefined || stream.id !== chunk.snapshotId) return;
    this.finish(stream, chunk.kind === SnapshotChunkKind.Applied);
  }

  /** Ends a stream and reports it to Raft. */
  private finish(stream: OutStream, ok: boolean): void {
    if (stream.done) return;
    stream.done = true;
    const st = this.st;
    if (stream.timer !== null) st.config.clock.clearTimer(stream.timer);
    stream.timer = null;
    stream.reader?.close();
    stream.reader = null;
    this.streams.delete(stream.key);
    if (!ok) st.stats.snapshots.snapshotsSendFailed++;
    // Deferred: a stream may end inside the group's turn that started it (a dropped chunk),
    // where its node must not be stepped.
    st.config.clock.setTimer(0, () => {
      if (!st.closed) reportSnapshot(st, stream.rangeId, stream.toNodeId,
        ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure);
    });
  }

  /** Ends every stream (the store closes); nothing is reported. */
  close(): void {
    for (const stream of [...this.streams.values()]) this.finish(stream, false);
  }
}
