/**
 * The node's Prometheus metrics (`/metrics`), on prom-client with a registry of its own.
 *
 * Values are read at scrape time from what the store and the transport already keep (their
 * `summary()`, `stats` and `stats()` objects, and the `CountingTransport`'s per-type
 * counts): nothing is counted twice on the hot path. Counters are fed by the growth of those
 * monotonic sources since the last scrape.
 *
 * The storage histograms (`storage_batch_bytes`, `storage_batch_groups`,
 * `storage_sync_seconds`) are fed per engine commit by `observeStorageCommit`, which the node
 * installs as its store's observer (`Store.observeStorageCommits`).
 *
 * Hooks for what the lower layers do not expose yet, registered now so that dashboards and
 * alerts can be written against stable names (they stay at zero until wired):
 * `countCommits` (committed entries; the store counts applied ones only),
 * `countHeartbeatFrames` (frames that carried coalesced heartbeats; the transport counts
 * all frames and the coalesced rows).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { assert } from '../util/index.js';
import {
  newStoreSummary,
  type StorageCommitObserver,
  type Store,
  type StoreSummary,
} from '../multiraft/index.js';
import type { TransportStats } from '../transport/index.js';
import { messageTypeLabel, type MessageCounts } from './counting_transport.js';

/** What the metrics read: the node's store, its transports' counters, its peers. */
export interface MetricsSource {
  /** This node's id (the `local` label). */
  nodeId: number;
  store: Store;
  /** The per-type message counts (the `CountingTransport` in front of the transport). */
  messageCounts: MessageCounts;
  /** The counters of the real transport (TCP). */
  transportStats(): TransportStats;
  /** Node ids of the peers this node knows (configured or joined), itself excluded. */
  knownPeers(): readonly number[];
  /** The range layer's counters, when the node runs one. @default none (not exported) */
  rangeCounters?(): RangeCounters;
}

/** Monotonic counters of the node's range layer and KV service. */
export interface RangeCounters {
  splits: number;
  merges: number;
  /** Leaderships this node handed over to balance them (range_queues.ts). */
  leaseTransfers: number;
  /** Replica moves this node carried out as leader (the range layer's rebalancer). */
  replicaMoves: number;
  kvServedLocally: number;
  kvForwarded: number;
  kvForwardsFailed: number;
}

/** Options of `NodeMetrics`. */
export interface NodeMetricsOptions {
  /** Also export prom-client's default process metrics (CPU, heap, event loop). @default true */
  processMetrics?: boolean;
  /** Prefix of every Flotilla metric. @default 'flotilla_' */
  prefix?: string;
}

/** The metrics of one node. */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly summaryNow: StoreSummary = newStoreSummary();
  private readonly storageBatchBytes: Histogram;
  private readonly storageBatchGroups: Histogram;
  private readonly syncLatency: Histogram;
  private readonly commits: Counter;
  private readonly heartbeatFrames: Counter;

  constructor(private readonly source: MetricsSource, options: NodeMetricsOptions = {}) {
    const p = options.prefix ?? 'flotilla_';
    assert(/^[a-z_][a-z0-9_]*$/.test(p), 'a Prometheus name prefix');
    const r = this.registry;
    this.knownPeers(p);
    this.groups(p);
    this.storeCounters(p);
    this.messages(p);
    this.transport(p);
    this.ranges(p);
    this.commits = new Counter({ name: `${p}raft_commits_total`, registers: [r],
      help: 'Entries committed by this node\'s replicas (hook: countCommits; not yet fed)' });
    this.heartbeatFrames = new Counter({ name: `${p}heartbeat_frames_total`, registers: [r],
      help: 'Frames that carried coalesced heartbeats (hook: countHeartbeatFrames)' });
    this.storageBatchBytes = new Histogram({ name: `${p}storage_batch_bytes`, registers: [r],
      help: 'Bytes (keys and values) per storage engine commit',
      buckets: [1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216] });
    this.storageBatchGroups = new Histogram({ name: `${p}storage_batch_groups`, registers: [r],
      help: 'Groups (replicas) that wrote into one storage engine commit',
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16_384] });
    this.syncLatency = new Histogram({ name: `${p}storage_sync_seconds`, registers: [r],
      help: 'Seconds from a storage engine commit to its completion (write and sync)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1] });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: r, prefix: p });
  }

  /** Prometheus text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The store's storage commit observer (pass it to `Store.observeStorageCommits`; bound, so
   * it can be handed over as is): one commit of `groups` groups and `bytes` bytes that took
   * `seconds` from `commit` to durable.
   */
  readonly observeStorageCommit: StorageCommitObserver = (groups, bytes, seconds) => {
    assert(bytes >= 0 && groups >= 0, 'batch sizes are not negative');
    assert(seconds >= 0 && Number.isFinite(seconds), 'a latency is a finite duration');
    this.storageBatchBytes.observe(bytes);
    this.storageBatchGroups.observe(groups);
    this.syncLatency.observe(seconds);
  };

  /** Hook: `entries` entries were committed. */
  countCommits(entries: number): void {
    this.commits.inc(entries);
  }

  /** Hook: `frames` frames carried coalesced heartbeats. */
  countHeartbeatFrames(frames: number): void {
    this.heartbeatFrames.inc(frames);
  }

  private knownPeers(p: string): void {
    const source = this.source;
    const local = String(source.nodeId);
    new Gauge({
      name: `${p}network_known_peers`, registers: [this.registry],
      help: 'One series per peer node this node knows, as etcd_network_known_peers',
      labelNames: ['local', 'remote'],
      collect() {
        this.reset();
        for (const peer of source.knownPeers()) this.set({ local, remote: String(peer) }, 1);
      },
    });
  }

  private groups(p: string): void {
    const read = (): StoreSummary => this.source.store.summary(this.summaryNow);
    const gauges: [string, string, (s: StoreSummary) => number][] = [
      ['groups', 'Replicas (Raft groups) on this node', (s) => s.replicas],
      ['groups_awake', 'Replicas in the tick set', (s) => s.awake],
      ['groups_quiesced', 'Replicas out of the tick set (quiesced)', (s) => s.quiesced],
      ['groups_dormant', 'Quiesced replicas that released their Raft node', (s) => s.dormant],
      ['groups_uninitialized', 'Replicas waiting for their first snapshot',
        (s) => s.uninitialized],
      ['groups_leaderless', 'Initialized replicas that know no leader', (s) => s.leaderless],
      ['ranges_led', 'Ranges whose leader is this node', (s) => s.leaders],
      ['raft_term_max', 'Highest Raft term of any replica', (s) => s.termMax],
    ];
    // Each gauge folds the store again: O(replicas) without allocation, a few milliseconds
    // at a million replicas, once per scrape; simpler than sharing one fold between them.
    for (const [name, help, pick] of gauges) {
      new Gauge({
        name: `${p}${name}`, help, registers: [this.registry],
        collect() {
          this.set(pick(read()));
        },
      });
    }
  }

  private storeCounters(p: string): void {
    const stats = this.source.store.stats;
    const counters: [string, string, () => number][] = [
      ['proposals_total', 'Proposals accepted by the store', () => stats.proposals],
      ['applies_total', 'Entries applied to the state machine', () => stats.entriesApplied],
      ['ticks_total', 'Raft ticks delivered to awake groups', () => stats.ticks],
      ['batches_total', 'Scheduler batches completed', () => stats.batches],
      ['quiesces_total', 'Groups quiesced', () => stats.quiesces],
      ['wakes_total', 'Groups woken', () => stats.wakes],
      ['leaderships_acquired_total', 'Times a replica here became leader',
        () => stats.leadershipsAcquired],
      ['snapshots_sent_total', 'Snapshots the transport delivered',
        () => this.source.messageCounts.snapshotsSent],
      ['snapshots_failed_total', 'Snapshots the transport failed to deliver',
        () => this.source.messageCounts.snapshotsFailed],
    ];
    for (const [name, help, read] of counters) this.monotonic(`${p}${name}`, help, read);
  }

  private messages(p: string): void {
    const counts = this.source.messageCounts;
    this.byType(`${p}messages_sent_total`, 'Raft messages sent, by type', counts.sentByType);
    this.byType(`${p}messages_received_total`, 'Raft messages received, by type',
      counts.receivedByType);
    const stats = this.source.store.stats;
    const transport = (): TransportStats => this.source.transportStats();
    const last = { store: 0, transport: 0 };
    new Counter({
      name: `${p}messages_dropped_total`, registers: [this.registry], labelNames: ['where'],
      help: 'Raft messages dropped: by the store (full inbox, unknown group, refused) or ' +
        'by the transport (queue full, peer unreachable). Per type: not exposed yet',
      collect() {
        const now = { store: stats.messagesDropped, transport: transport().messagesDropped };
        for (const where of ['store', 'transport'] as const) {
          if (now[where] > last[where]) this.inc({ where }, now[where] - last[where]);
          last[where] = now[where];
        }
      },
    });
  }

  private transport(p: string): void {
    const t = (): TransportStats => this.source.transportStats();
    const counters: [string, string, () => number][] = [
      ['transport_frames_sent_total', 'Frames written', () => t().framesSent],
      ['transport_frames_received_total', 'Frames received', () => t().framesReceived],
      ['transport_bytes_sent_total', 'Frame bytes written', () => t().bytesSent],
      ['transport_bytes_received_total', 'Frame bytes received', () => t().bytesReceived],
      ['heartbeat_rows_coalesced_total', 'Heartbeats and responses sent as coalesced rows',
        () => t().heartbeatsCoalesced],
      ['transport_frames_rejected_total', 'Received frames rejected as malformed',
        () => t().framesRejected],
      ['transport_handshakes_refused_total', 'Handshakes refused', () => t().handshakesRefused],
      ['transport_connections_opened_total', 'Connections established',
        () => t().connectionsOpened],
    ];
    for (const [name, help, read] of counters) this.monotonic(`${p}${name}`, help, read);
    new Gauge({ name: `${p}transport_queued_bytes`, registers: [this.registry],
      help: 'Bytes waiting in send queues', collect() { this.set(t().queuedBytesNow); } });
  }

  private ranges(p: string): void {
    const read = this.source.rangeCounters?.bind(this.source);
    if (read === undefined) return;
    const counters: [string, string, () => number][] = [
      ['range_splits_total', 'Splits applied by this node\'s replicas', () => read().splits],
      ['range_merges_total', 'Merges applied by this node\'s replicas', () => read().merges],
      ['range_lease_transfers_total', 'Leaderships this node handed over to balance them',
        () => read().leaseTransfers],
      ['range_replica_moves_total', 'Replica moves this node carried out as leader',
        () => read().replicaMoves],
      ['kv_served_locally_total', 'KV calls served by this node\'s replicas',
        () => read().kvServedLocally],
      ['kv_forwarded_total', 'KV calls forwarded to a range\'s leader',
        () => read().kvForwarded],
      ['kv_forwards_failed_total', 'Forwards whose leader could not be reached',
        () => read().kvForwardsFailed],
    ];
    for (const [name, help, pick] of counters) this.monotonic(`${p}${name}`, help, pick);
  }

  /** A counter that follows a monotonic source (a reset of the source restarts it). */
  private monotonic(name: string, help: string, read: () => number): void {
    let last = 0;
    new Counter({
      name, help, registers: [this.registry],
      collect() {
        const now = read();
        if (now < last) {
          this.reset();
          last = 0;
        }
        if (now > last) this.inc(now - last);
        last = now;
      },
    });
  }

  /** A counter labelled by message type, following one slot array. */
  private byType(name: string, help: string, slots: Float64Array): void {
    const last = new Float64Array(slots.length);
    new Counter({
      name, help, registers: [this.registry], labelNames: ['type'],
      collect() {
        for (let i = 0; i < slots.length; i++) {
          if (slots[i]! > last[i]!) this.inc({ type: messageTypeLabel(i) }, slots[i]! - last[i]!);
          last[i] = slots[i]!;
        }
      },
    });
  }
}
