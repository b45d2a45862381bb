/**
 * The in-process transport: every node of a test, simulation or benchmark in one process,
 * behind the same `Transport` interface as TCP, with faults injected by a seeded random source
 * on virtual or real time.
 *
 * A `LoopbackNetwork` connects `LoopbackTransport`s by node id. At each flush, a transport's
 * batch for a node crosses the network's link to it, which may, per envelope, drop or
 * duplicate it; per batch, delay it, reorder it (shuffle it, and delay it further so that
 * later batches overtake it) or refuse it (partitions). By default batches travel as real
 * frames (encoded and decoded by the transports' codecs), so the loopback exercises the same
 * bytes as TCP; `encodeFrames: false` skips the codec for speed.
 *
 * A duplicated envelope is delivered as a deep copy, in every mode: the receiver never gets
 * the same message object twice.
 *
 * Reports: random losses are silent, as on a real network; a batch to a node that is
 * partitioned away, closed or unknown is reported unreachable (a real transport would see its
 * connection fail). A `MsgSnap` is reported `finish` when delivered and `failure` when lost.
 *
 * Determinism: with a virtual clock and one seed, a run replays exactly.
 */
import pino, { type Logger } from 'pino';
import { assert, ConfigError, SeededRandom, floatsOf } from '../util/index.js';
import {
  EMPTY_BYTES,
  EMPTY_ENTRIES,
  EMPTY_MESSAGES,
  MessageType,
  type ConfState,
  type Message,
} from '../raft/index.js';
import type { Envelope, SnapshotChunk } from './types.js';
import { FrameKind, type Frame } from './codec.js';
import { FrameError, FrameErrorCode } from './errors.js';
import { countError } from './types.js';
import { realClock, type TransportClock } from './clock.js';
import {
  PROTOCOL_VERSION_COALESCED,
  PROTOCOL_VERSION_CURRENT,
  PROTOCOL_VERSION_OLDEST,
} from './handshake.js';
import {
  BatchingTransport,
  batchingConfig,
  checkInteger,
  type BatchingOptions,
} from './_batching.js';

/** Returns a seeded source of floats in [0, 1): the shared generator (src/util/random.ts). */
export function seededRandom(seed: number): () => number {
  return floatsOf(new SeededRandom(seed));
}

/** Faults of one directed link (or of all links). Rates are probabilities in [0, 1]. */
export interface LinkFaults {
  /** Probability that an envelope is lost. @default 0 */
  dropRate?: number;
  /** Probability that an envelope is delivered twice. @default 0 */
  duplicateRate?: number;
  /** Shortest delivery delay of a batch. @default 0 (milliseconds) */
  delayMsMin?: number;
  /** Longest delivery delay of a batch. @default 0 (milliseconds) */
  delayMsMax?: number;
  /**
   * Probability that a batch is reordered: its envelopes shuffled and its delivery delayed
   * by up to one more `delayMsMax + 1`, so that later batches overtake it. @default 0
   */
  reorderRate?: number;
}

/** Options of a `LoopbackNetwork`. */
export interface LoopbackNetworkOptions {
  /** Seed of the fault injector's random source. @default 1 */
  seed?: number;
  /** Timers for delivery and flushing; the simulation passes virtual time. @default real */
  clock?: TransportClock;
  /** Whether batches are encoded to frames and decoded again. @default true */
  encodeFrames?: boolean;
  /**
   * Batches in flight (sent, not yet delivered) in the whole network. Above it, batches are
   * dropped and reported unreachable, so a stalled receiver cannot exhaust memory.
   * @default 65536 (batches)
   */
  inFlightBatchesMax?: number;
  /** Logger of the transports that do not bring their own. @default silent */
  logger?: Logger;
  /**
   * The protocol version the frames are encoded for: 1 sends heartbeats as ordinary messages
   * (to measure what coalescing saves), 2 coalesces them.
   * @default 2 (PROTOCOL_VERSION_CURRENT)
   */
  protocolVersion?: number;
}

/** Options of one loopback transport: the batching options without the clock. */
export type LoopbackTransportOptions = Omit<BatchingOptions, 'clock' | 'logger'> & {
  /** @default the network's logger */
  logger?: Logger;
};

/** Counters of the network itself (faults applied). */
export interface LoopbackNetworkStats {
  batchesInFlight: number;
  envelopesDropped: number;
  envelopesDuplicated: number;
  batchesReordered: number;
  batchesPartitioned: number;
}

interface ResolvedFaults {
  dropRate: number;
  duplicateRate: number;
  delayMsMin: number;
  delayMsMax: number;
  reorderRate: number;
}

function resolveFaults(faults: LinkFaults): ResolvedFaults {
  const rate = (name: string, value: number | undefined): number => {
    const v = value ?? 0;
    if (!(v >= 0 && v <= 1)) throw new ConfigError(`${name} must be in [0, 1], got ${v}`);
    return v;
  };
  const delayMsMin = checkInteger('delayMsMin', faults.delayMsMin ?? 0, 0, 3_600_000);
  const delayMsMax = checkInteger('delayMsMax', faults.delayMsMax ?? delayMsMin, delayMsMin,
    3_600_000);
  return {
    dropRate: rate('dropRate', faults.dropRate),
    duplicateRate: rate('duplicateRate', faults.duplicateRate),
    delayMsMin,
    delayMsMax,
    reorderRate: rate('reorderRate', faults.reorderRate),
  };
}

const linkKey = (from: number, to: number): string => `${from}>${to}`;

/** The in-process network that connects loopback transports. */
export class LoopbackNetwork {
  readonly clock: TransportClock;
  readonly encodeFrames: boolean;
  readonly logger: Logger;
  /** Whether batches coalesce heartbeats (protocol version 2 and later). */
  readonly coalesce: boolean;
  private readonly random: () => number;
  private readonly inFlightBatchesMax: number;
  private readonly nodes = new Map<number, LoopbackTransport>();
  private defaultFaults: ResolvedFaults = resolveFaults({});
  private readonly linkFaults = new Map<string, ResolvedFaults>();
  /** Directed links that are cut. */
  private readonly cut = new Set<string>();
  private readonly counters: LoopbackNetworkStats = { batchesInFlight: 0, envelopesDropped: 0,
    envelopesDuplicated: 0, batchesReordered: 0, batchesPartitioned: 0 };

  constructor(options: LoopbackNetworkOptions = {}) {
    this.random = seededRandom(options.seed ?? 1);
    this.clock = options.clock ?? realClock;
    this.encodeFrames = options.encodeFrames ?? true;
    this.inFlightBatchesMax = checkInteger('inFlightBatchesMax',
      options.inFlightBatchesMax ?? 65_536, 1, 2 ** 24);
    this.logger = options.logger ?? pino({ level: 'silent' });
    const version = checkInteger('protocolVersion',
      options.protocolVersion ?? PROTOCOL_VERSION_CURRENT, PROTOCOL_VERSION_OLDEST,
      PROTOCOL_VERSION_CURRENT);
    this.coalesce = version >= PROTOCOL_VERSION_COALESCED;
  }

  /** Creates the transport of one node. A closed node's id may be reused (a restart). */
  createTransport(options: LoopbackTransportOptions): LoopbackTransport {
    const existing = this.nodes.get(options.nodeId);
    if (existing !== undefined && !existing.isClosed) {
      throw new ConfigError(`node ${options.nodeId} already has a loopback transport`);
    }
    const transport = new LoopbackTransport(this, options);
    this.nodes.set(options.nodeId, transport);
    return transport;
  }

  /** Sets the faults of every link without its own (`from`/`to` omitted), or of one link. */
  setFaults(faults: LinkFaults, link?: { from: number; to: number }): void {
    const resolved = resolveFaults(faults);
    if (link === undefined) this.defaultFaults = resolved;
    else this.linkFaults.set(linkKey(link.from, link.to), resolved);
  }

  /** Removes every fault and partition. */
  heal(): void {
    this.defaultFaults = resolveFaults({});
    this.linkFaults.clear();
    this.cut.clear();
  }

  /** Cuts every link between the two sides, both ways. */
  partition(sideA: readonly number[], sideB: readonly number[]): void {
    this.partitionOneWay(sideA, sideB);
    this.partitionOneWay(sideB, sideA);
  }

  /** Cuts the links from every node of `from` to every node of `to` (one way only). */
  partitionOneWay(from: readonly number[], to: readonly number[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.cut.add(linkKey(a, b));
  }

  /** Cuts `nodeId` from every other node, both ways. */
  isolate(nodeId: number): void {
    const others = [...this.nodes.keys()].filter((id) => id !== nodeId);
    this.partition([nodeId], others);
  }

  stats(): LoopbackNetworkStats {
    return { ...this.counters };
  }

  /**
   * Carries a batch from `sender` to `toNodeId`, applying the link's faults. Returns false if
   * the destination is unreachable (partitioned, unknown, closed, or too much in flight): the
   * sender reports it.
   */
  transmit(sender: LoopbackTransport, toNodeId: number, envelopes: readonly Envelope[]): boolean {
    const from = sender.nodeId;
    const receiver = this.nodes.get(toNodeId);
    if (receiver === undefined || receiver.isClosed || this.cut.has(linkKey(from, toNodeId)) ||
      this.counters.batchesInFlight >= this.inFlightBatchesMax) {
      this.counters.batchesPartitioned++;
      return false;
    }
    const faults = this.linkFaults.get(linkKey(from, toNodeId)) ?? this.defaultFaults;
    const survivors = this.applyLoss(faults, envelopes, sender);
    let delayMs = faults.delayMsMin +
      Math.floor(this.random() * (faults.delayMsMax - faults.delayMsMin + 1));
    if (faults.reorderRate > 0 && this.random() < faults.reorderRate) {
      this.counters.batchesReordered++;
      shuffle(survivors, this.random);
      delayMs += Math.floor(this.random() * (faults.delayMsMax + 2));
    }
    if (survivors.length === 0) return true;
    const payload = this.encodeFrames ? sender.encodeForLoopback(toNodeId, survivors) : survivors;
    this.counters.batchesInFlight++;
    this.clock.setTimer(delayMs, () => {
      this.counters.batchesInFlight--;
      this.arrive(sender, toNodeId, payload, survivors);
    });
    return true;
  }

  /**
   * Carries one snapshot chunk with the link's faults (a drop, a duplicate, a delay, a
   * reorder: a chunk is delayed further so that later ones overtake it). False if the
   * destination is unreachable.
   */
  transmitChunk(sender: LoopbackTransport, chunk: SnapshotChunk): boolean {
    const from = sender.nodeId;
    const to = chunk.toNodeId;
    const receiver = this.nodes.get(to);
    if (receiver === undefined || receiver.isClosed || this.cut.has(linkKey(from, to)) ||
      this.counters.batchesInFlight >= this.inFlightBatchesMax) {
      this.counters.batchesPartitioned++;
      return false;
    }
    const faults = this.linkFaults.get(linkKey(from, to)) ?? this.defaultFaults;
    if (faults.dropRate > 0 && this.random() < faults.dropRate) {
      this.counters.envelopesDropped++;
      return true;
    }
    let copies = 1;
    if (faults.duplicateRate > 0 && this.random() < faults.duplicateRate) {
      this.counters.envelopesDuplicated++;
      copies = 2;
    }
    for (let k = 0; k < copies; k++) {
      let delayMs = faults.delayMsMin +
        Math.floor(this.random() * (faults.delayMsMax - faults.delayMsMin + 1));
      if (faults.reorderRate > 0 && this.random() < faults.reorderRate) {
        this.counters.batchesReordered++;
        delayMs += Math.floor(this.random() * (faults.delayMsMax + 2)) + 1;
      }
      const payload = this.encodeFrames ? sender.encodeChunkForLoopback(chunk)
        : { ...chunk, data: chunk.data.slice() };
      if (payload === null) return false;
      this.counters.batchesInFlight++;
      this.clock.setTimer(delayMs, () => {
        this.counters.batchesInFlight--;
        const arrived = this.nodes.get(to);
        if (arrived !== undefined && !arrived.isClosed && !this.cut.has(linkKey(from, to))) {
          arrived.receiveChunkPayload(from, payload);
        }
      });
    }
    return true;
  }

  private applyLoss(faults: ResolvedFaults, envelopes: readonly Envelope[],
    sender: LoopbackTransport): Envelope[] {
    const survivors: Envelope[] = [];
    if (faults.dropRate === 0 && faults.duplicateRate === 0) {
      for (let i = 0; i < envelopes.length; i++) survivors.push(envelopes[i]!);
      return survivors;
    }
    for (const envelope of envelopes) {
      if (faults.dropRate > 0 && this.random() < faults.dropRate) {
        this.counters.envelopesDropped++;
        if (envelope.message.type === MessageType.MsgSnap) {
          sender.reportLostSnapshot(envelope.rangeId, envelope.message.to);
        }
        continue;
      }
      survivors.push(envelope);
      if (faults.duplicateRate > 0 && this.random() < faults.duplicateRate) {
        this.counters.envelopesDuplicated++;
        // A copy, in every mode: with `encodeFrames: false` the same objects would reach the
        // receiver twice, and a leader stamping term and index on a forwarded proposal's
        // entries would rewrite the first delivery's entries while appending the second.
        survivors.push(copyEnvelope(envelope));
      }
    }
    return survivors;
  }

  private arrive(sender: LoopbackTransport, toNodeId: number,
    payload: Uint8Array[] | Envelope[], sent: readonly Envelope[]): void {
    const receiver = this.nodes.get(toNodeId);
    const delivered = receiver !== undefined && !receiver.isClosed &&
      !this.cut.has(linkKey(sender.nodeId, toNodeId));
    if (delivered) receiver.receive(sender.nodeId, payload);
    for (const envelope of sent) {
      if (envelope.message.type === MessageType.MsgSnap) {
        if (delivered) sender.reportDeliveredSnapshot(envelope.rangeId, toNodeId);
        else sender.reportLostSnapshot(envelope.rangeId, toNodeId);
      }
    }
  }
}

/**
 * A deep copy of an envelope, as a second trip over a wire would produce: nothing, not even
 * a payload, is shared with the original.
 */
export function copyEnvelope(envelope: Envelope): Envelope {
  const copy: Envelope = { rangeId: envelope.rangeId, message: copyMessage(envelope.message),
    quiesce: envelope.quiesce === true };
  assert(copy.message !== envelope.message, 'copy shares its message');
  return copy;
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  return bytes.length === 0 ? EMPTY_BYTES : bytes.slice();
}

function copyMessage(m: Message): Message {
  const snapshot = m.snapshot === null ? null : { data: copyBytes(m.snapshot.data),
    metadata: { ...m.snapshot.metadata, confState: copyConfState(m.snapshot.metadata.confState) } };
  return {
    ...m,
    entries: m.entries.length === 0 ? EMPTY_ENTRIES
      : m.entries.map((e) => ({ ...e, data: copyBytes(e.data) })),
    snapshot,
    context: copyBytes(m.context),
    responses: m.responses.length === 0 ? EMPTY_MESSAGES : m.responses.map(copyMessage),
  };
}

function copyConfState(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners],
    votersOutgoing: [...c.votersOutgoing], learnersNext: [...c.learnersNext],
    autoLeave: c.autoLeave };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const item = items[i]!;
    items[i] = items[j]!;
    items[j] = item;
  }
}

/** One node's end of a `LoopbackNetwork`. Create it with `network.createTransport`. */
export class LoopbackTransport extends BatchingTransport {
  private readonly network: LoopbackNetwork;

  /** @internal use `LoopbackNetwork.createTransport`. */
  constructor(network: LoopbackNetwork, options: LoopbackTransportOptions) {
    super(batchingConfig({ ...options, logger: options.logger ?? network.logger,
      clock: network.clock }));
    this.network = network;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  protected queuedBytes(): number {
    return 0;
  }

  protected writeBatch(toNodeId: number, envelopes: readonly Envelope[]): void {
    if (!this.network.transmit(this, toNodeId, envelopes)) {
      this.drop(toNodeId, envelopes, 'unreachable');
    } else if (!this.network.encodeFrames) {
      this.counters.framesSent++;
    }
  }

  /** @internal Encodes a batch as the frames TCP would send. */
  encodeForLoopback(toNodeId: number, envelopes: readonly Envelope[]): Uint8Array[] {
    const frames = this.encodeFrames(toNodeId, envelopes, this.network.coalesce);
    const out: Uint8Array[] = [];
    for (const frame of frames) {
      this.counters.framesSent++;
      this.counters.bytesSent += frame.bytes.length;
      out.push(frame.bytes);
    }
    return out;
  }

  /** @internal Delivers a batch that crossed the network. */
  receive(fromNodeId: number, payload: Uint8Array[] | Envelope[]): void {
    if (this.closed) return;
    if (!this.network.encodeFrames) {
      this.counters.framesReceived++;
      this.deliver(fromNodeId, (payload as Envelope[]).slice());
      return;
    }
    for (const bytes of payload as Uint8Array[]) {
      this.counters.framesReceived++;
      this.counters.bytesReceived += bytes.length;
      let frame: Frame;
      try {
        frame = this.codec.decode(bytes);
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.counters.framesRejected++;
        countError(this.counters, error.code);
        this.log.error({ err: error, peerNodeId: fromNodeId }, 'rejected loopback frame');
        continue;
      }
      assert(frame.kind === FrameKind.Batch, 'loopback carries batches only');
      this.deliverFrame(fromNodeId, frame);
    }
  }

  protected writeChunk(chunk: SnapshotChunk): boolean {
    return this.network.transmitChunk(this, chunk);
  }

  /** @internal Encodes a chunk as the frame TCP would send (null: over `frameBytesMax`). */
  encodeChunkForLoopback(chunk: SnapshotChunk): Uint8Array | null {
    const frame = this.codec.encodeChunk(chunk);
    if (frame === null) {
      countError(this.counters, FrameErrorCode.Oversized);
      return null;
    }
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    return frame;
  }

  /** @internal Delivers a chunk that crossed the network (a frame, or a copy of the chunk). */
  receiveChunkPayload(fromNodeId: number, payload: Uint8Array | SnapshotChunk): void {
    if (this.closed) return;
    this.counters.framesReceived++;
    if (!(payload instanceof Uint8Array)) {
      this.receiveChunk(fromNodeId, payload);
      return;
    }
    this.counters.bytesReceived += payload.length;
    let frame: Frame;
    try {
      frame = this.codec.decode(payload);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.counters.framesRejected++;
      countError(this.counters, error.code);
      return;
    }
    assert(frame.kind === FrameKind.RangeSnapshotChunk, 'a chunk frame');
    this.receiveChunk(fromNodeId, frame.chunk);
  }

  /** @internal */
  reportDeliveredSnapshot(rangeId: number, toNodeId: number): void {
    if (!this.closed) this.queueSnapshotReport(rangeId, toNodeId, true);
  }

  /** @internal */
  reportLostSnapshot(rangeId: number, toNodeId: number): void {
    if (!this.closed) this.queueSnapshotReport(rangeId, toNodeId, false);
  }

  async close(): Promise<void> {
    this.closeBatching();
  }
}
