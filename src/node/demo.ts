/**
 * The in-process demo of the multiraft layer (`npm start` until the runnable node lands):
 * three stores joined by the loopback transport on real time, N ranges replicated on all
 * three, a light write load, and a once-a-second sample of `RaftStatus` for the terminal
 * view (demo_view.ts). Wiring only: everything it shows comes from the store's API.
 */
import type { Logger } from 'pino';
import { FlotillaError, SeededRandom, integerIn } from '../util/index.js';
import {
  CountingStateMachine,
  LocalCluster,
  addSummary,
  newReplicaStatus,
  newStoreSummary,
  type StoreSummary,
} from '../multiraft/index.js';

/** Options of the demo. */
export interface DemoOptions {
  /** Ranges to create (each replicated on the three stores). @default 10000 (ranges) */
  ranges?: number;
  /** Writes proposed per second, spread over random ranges. @default 50 (writes/s) */
  writesPerSecond?: number;
  /** Seed of the shared random source and of the write load. @default 1 */
  seed?: number;
  /** Logger of the stores and transports. @default silent */
  logger?: Logger;
}

/** One sample of the demo, taken once a second. */
export interface DemoSample {
  uptimeS: number;
  ranges: number;
  /** Per store, in node order. */
  stores: { nodeId: number; summary: StoreSummary }[];
  total: StoreSummary;
  proposalsPerS: number;
  /** Commands committed and applied (counted once, not once per replica). */
  commitsPerS: number;
  /** Raft ticks delivered to awake groups, all stores. */
  ticksPerS: number;
  messagesPerS: number;
  proposalsRefused: number;
  heapBytes: number;
  heapBytesPerReplica: number;
}

const WRITE_PERIOD_MS = 100;
/** Mixed into the seed so the write load draws apart from the cluster's generator. */
const LOAD_SEED_SALT = 0x10ad;

/** A running demo. `start`, then `sample()` once a second, then `stop`. */
export class Demo {
  readonly ranges: number;
  private readonly writesPerSecond: number;
  private readonly cluster: LocalCluster;
  private readonly machines: CountingStateMachine[] = [];
  private writeTimer: ReturnType<typeof setInterval> | null = null;
  private startMs = 0;
  private lastMs = 0;
  private last = { proposals: 0, applied: 0, ticks: 0, messages: 0 };
  private proposals = 0;
  private refused = 0;
  /** The write load's own generator (apart from the cluster's, which times elections). */
  private readonly loadRandom: SeededRandom;
  private readonly status = newReplicaStatus();

  constructor(options: DemoOptions = {}) {
    this.ranges = options.ranges ?? 10_000;
    this.writesPerSecond = options.writesPerSecond ?? 50;
    integerIn('ranges', this.ranges, 1, 1_000_000);
    this.loadRandom = new SeededRandom((options.seed ?? 1) ^ LOAD_SEED_SALT);
    this.cluster = new LocalCluster({
      clock: 'real',
      seed: options.seed ?? 1,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      stateMachine: () => {
        const machine = new CountingStateMachine();
        this.machines.push(machine);
        return machine;
      },
    });
  }

  /** Creates the ranges (leaders spread over the stores), starts the stores and the load. */
  start(): void {
    const stores = this.cluster.stores;
    for (let r = 1; r <= this.ranges; r++) {
      this.cluster.createRange(r, { leaderNodeId: stores[r % stores.length]!.nodeId });
    }
    this.cluster.start();
    this.startMs = performance.now();
    this.lastMs = this.startMs;
    this.writeTimer = setInterval(() => this.writeSome(), WRITE_PERIOD_MS);
  }

  /** Stops the load and the stores; resolves once every store has stopped. */
  async stop(): Promise<void> {
    if (this.writeTimer !== null) clearInterval(this.writeTimer);
    this.writeTimer = null;
    await this.cluster.close();
  }

  /** Reads every replica's status (bulk, allocation-free per replica) and the rates. */
  sample(): DemoSample {
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.lastMs) / 1000);
    const stores = this.cluster.stores.map((store) => ({
      nodeId: store.nodeId,
      summary: store.summary(newStoreSummary()),
    }));
    const total = newStoreSummary();
    for (const s of stores) addSummary(total, s.summary);
    const counters = this.counters();
    const sample: DemoSample = {
      uptimeS: (now - this.startMs) / 1000,
      ranges: this.ranges,
      stores,
      total,
      proposalsPerS: (counters.proposals - this.last.proposals) / seconds,
      commitsPerS: (counters.applied - this.last.applied) / stores.length / seconds,
      ticksPerS: (counters.ticks - this.last.ticks) / seconds,
      messagesPerS: (counters.messages - this.last.messages) / seconds,
      proposalsRefused: this.refused,
      heapBytes: process.memoryUsage().heapUsed,
      heapBytesPerReplica: process.memoryUsage().heapUsed / Math.max(1, total.replicas),
    };
    this.last = counters;
    this.lastMs = now;
    return sample;
  }

  private counters(): { proposals: number; applied: number; ticks: number; messages: number } {
    let applied = 0;
    let ticks = 0;
    let messages = 0;
    for (const m of this.machines) applied += m.entriesApplied;
    for (const s of this.cluster.stores) {
      ticks += s.stats.ticks;
      messages += s.stats.messagesSent;
    }
    return { proposals: this.proposals, applied, ticks, messages };
  }

  /** Proposes this period's share of the load, each on the store its range's leader is on. */
  private writeSome(): void {
    const count = Math.round((this.writesPerSecond * WRITE_PERIOD_MS) / 1000);
    const payload = new Uint8Array(16);
    for (let i = 0; i < count; i++) {
      const rangeId = 1 + this.loadRandom.intn(this.ranges);
      const first = this.cluster.stores[0]!;
      first.readStatus(rangeId, this.status);
      const lead = this.status.lead;
      const store = lead === 0 ? first : this.cluster.store(lead);
      try {
        store.propose(rangeId, payload);
        this.proposals++;
      } catch (error) {
        if (!(error instanceof FlotillaError)) throw error;
        this.refused++;
      }
    }
  }
}
