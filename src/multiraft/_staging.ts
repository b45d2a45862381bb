/**
 * Private: what one scheduler batch has staged for its batch end: the envelopes to send, the
 * Readies taken (with their groups), and the storage engine batch their writes go into.
 *
 * ORDER. Envelopes wait here until the batch's writes are durable (a message may promise
 * that its sender persisted something); the engine batch is opened by the first write of a
 * batch and handed to `commit` once, at the batch end.
 */
import { assert } from '../util/index.js';
import type { Message, Ready } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import type { EngineBatch, StorageEngine } from '../storage/index.js';
import type { Envelope } from '../transport/index.js';
import { AppendMerger } from './_append_merge.js';

/** The staging area of the batch being run (reused from batch to batch). */
export class BatchStaging {
  /** Envelopes to send at the batch end, after the batch's writes. */
  readonly outbox: Envelope[] = [];
  /** Groups whose Ready was taken in this batch, and those Readies (parallel). */
  readonly groups: GroupId[] = [];
  readonly readies: Ready[] = [];
  /** Per Ready: its committed entries were applied at the batch end (_pipeline.ts, ORDER). */
  private engineBatch: EngineBatch | null = null;
  private readonly merger: AppendMerger;

  /** @param appendBytesMax the entry bytes of one merged MsgApp (maxSizePerMsgBytes). */
  constructor(private readonly engine: StorageEngine, appendBytesMax: number) {
    this.merger = new AppendMerger(appendBytesMax);
  }

  /** Queues an envelope for the batch end's one `send`. */
  send(envelope: Envelope): void {
    this.outbox.push(envelope);
  }

  /**
   * Queues a Ready's messages, each follower's consecutive appends merged into one
   * (_append_merge.ts). @returns the messages saved by merging.
   */
  sendReady(rangeId: number, messages: readonly Message[]): number {
    const before = this.outbox.length;
    const saved = messages.length > 1 ? this.merger.merge(messages) : 0;
    const out = saved > 0 ? this.merger.out : messages;
    for (let i = 0; i < out.length; i++) this.outbox.push({ rangeId, message: out[i]! });
    this.merger.out.length = 0;
    assert(this.outbox.length - before + saved === messages.length, 'every message queued');
    return saved;
  }

  /** Stages a taken Ready of `gid` for the batch end. */
  stageReady(gid: GroupId, rd: Ready): void {
    this.groups.push(gid);
    this.readies.push(rd);
    assert(this.groups.length === this.readies.length, 'staged in step');
  }

  /** The engine batch of this scheduler batch, opened on first use. */
  writes(): EngineBatch {
    if (this.engineBatch === null) this.engineBatch = this.engine.batch();
    return this.engineBatch;
  }

  /** Closes this batch's writes: the engine batch to commit, or null when nothing was staged. */
  takeWrites(): EngineBatch | null {
    const batch = this.engineBatch;
    this.engineBatch = null;
    return batch;
  }

  /** Forgets the staged Readies (all advanced). */
  clearReadies(): void {
    assert(this.groups.length === this.readies.length, 'staged in step');
    this.groups.length = 0;
    this.readies.length = 0;
  }
}
