/**
 * `FlotillaNode`: one running node, wired from its parts: the data directory's identity, the
 * TCP transport (behind the `CountingTransport`), the store whose state machine is the
 * node's `RangeNode` (the ranges of node_ranges.ts created at bootstrap), the KV service over
 * it (`RangeKv`, forwarding to leaders through the `PeerDirectory`), the metrics and the
 * HTTP server.
 *
 * Storage: LevelDB in `<data>/engine` (`LevelEngine`): every replica's Raft state and the
 * ranges' KV data (`EngineKv`), written in one batch per scheduler batch. A restart opens it
 * with `Store.open` (replicas seated dormant, loaded on first use), reloads the KV index and
 * the range states (`RangeNode.restore`), and serves once its groups have leaders again; a
 * directory whose engine holds no replica (a new cluster, or a crash before the bootstrap
 * committed) gets the bootstrap ranges.
 *
 * ORDER at start: every check that can refuse (data directory, addresses) runs before
 * anything is served; the Raft listener is bound before the HTTP one, so that a node whose
 * page answers also accepts peers. At stop: HTTP first (stop accepting, drain in-flight
 * requests), then the store (its current batch completes), then the transport.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { SeededRandom } from '../raft/index.js';
import { Store, type StoreOptions } from '../multiraft/index.js';
import {
  EngineKv,
  RangeNode,
  type MergeOptions,
  type SizeSplitOptions,
} from '../range/index.js';
import { LevelEngine } from '../storage/index.js';
import {
  PROTOCOL_VERSION_CURRENT,
  TcpTransport,
  type TcpTransportOptions,
} from '../transport/index.js';
import type { HostPort } from './cli_args.js';
import { CountingTransport } from './counting_transport.js';
import { openDataDir, type DataIdentity, type Member } from './data_dir.js';
import { NodeErrorCode, StartupError } from './errors.js';
import { NodeHttpServer } from './http_server.js';
import type { KvService } from './kv.js';
import { NodeMetrics, type RangeCounters } from './metrics.js';
import { NodeRangeIdAllocator, bootstrapDescriptors } from './node_ranges.js';
import { PeerDirectory, type NodeInfo } from './peers.js';
import { AppliedResponder, HttpMergeWaiter } from './applied_wait.js';
import { RangeQueues } from './range_queues.js';
import { RangeKv, kvErrorDetails } from './range_kv.js';
import { DeferredKv } from './deferred_kv.js';
import type { PeerInfo, StatusSource } from './status.js';
import { packageVersion } from './version.js';

/** How to start a node. */
export interface NodeConfig {
  nodeId: number;
  clusterId: string;
  /** Where the Raft transport listens. */
  listen: HostPort;
  /** Where the HTTP server listens. */
  http: HostPort;
  /** The initial members, this node included. */
  members: Member[];
  /** The data directory (created if missing). */
  dataDir: string;
  /** Ranges to create at bootstrap (ids 1..ranges, on every member). */
  ranges: number;
  /** Seed of the node's random source (election timeouts). @default the node id */
  seed?: number;
  /** Store options beyond the wiring. @default store defaults */
  store?: Partial<Omit<StoreOptions, 'nodeId' | 'transport' | 'stateMachine' | 'random'>>;
  /** What serves the KV API. @default the node's `RangeKv` over its ranges */
  kv?: KvService | null;
  /** HTTP addresses of the other members, by node id (forwarding). @default none known */
  peerHttp?: ReadonlyMap<number, string>;
  /** Size thresholds that split a range; null: none. @default null */
  sizeSplit?: SizeSplitOptions | null;
  /** Voters per bootstrap range (the members of lowest ids). @default every member */
  replicas?: number;
  /** Merge thresholds of the merge queue (range_queues.ts); null: no merges. @default null */
  merge?: MergeOptions | null;
  /**
   * Balance leaderships across the members and, with more members than replicas per range,
   * replica counts (the range layer's rebalancer). @default false
   */
  rebalance?: boolean;
  /**
   * The advertised protocol version and the cluster's version window, for the transport.
   * @default the newest version, no window
   */
  versions?: Pick<TcpTransportOptions, 'protocolVersionMax' | 'versionWindow'>;
  /** pino logger of the node (which adds `nodeId`), its store and its transport. */
  logger: Logger;
}

/** One running node. */
export class FlotillaNode {
  private stopped: Promise<void> | null = null;

  private constructor(
    readonly identity: DataIdentity,
    readonly store: Store,
    readonly transport: TcpTransport,
    readonly ranges: RangeNode,
    readonly kv: RangeKv,
    readonly peers: PeerDirectory,
    readonly metrics: NodeMetrics,
    readonly http: NodeHttpServer,
    readonly httpAddress: HostPort,
    readonly queues: RangeQueues,
    private readonly rangeTicker: NodeJS.Timeout,
    private readonly engine: LevelEngine,
    private readonly log: Logger,
  ) {}

  /**
   * Opens the data directory, binds both listeners, creates the ranges and starts the store.
   * @throws StartupError when the data directory or an address refuses the configuration
   */
  static async start(config: NodeConfig): Promise<FlotillaNode> {
    // The node's own lines carry its id; the transport and the store add theirs themselves.
    const log = config.logger.child({ nodeId: config.nodeId });
    if (config.listen.host === config.http.host && config.listen.port === config.http.port &&
      config.listen.port !== 0) {
      throw new StartupError(NodeErrorCode.ListenFailed,
        `--listen and --http are the same address ${config.listen.host}:${config.listen.port}`);
    }
    // Both addresses are tried before the data directory is touched: a refused start must
    // not bootstrap a directory it will never serve.
    await probeListen('peers', config.listen);
    await probeListen('HTTP', config.http);
    const { identity, bootstrapped } = openDataDir({
      dir: config.dataDir, nodeId: config.nodeId, clusterId: config.clusterId,
      members: config.members, ranges: config.ranges, nowMs: Date.now(),
      ...(config.replicas === undefined ? {} : { replicas: config.replicas }),
    });
    log.info({ clusterId: identity.clusterId, bootstrapped, dataDir: config.dataDir },
      bootstrapped ? 'bootstrapped a new data directory' : 'opened the data directory');
    const tcp = new TcpTransport({
      nodeId: config.nodeId, clusterId: identity.clusterId, logger: config.logger,
      listenHost: config.listen.host, listenPort: config.listen.port, ...config.versions,
    });
    const transport = new CountingTransport(tcp);
    const random = new SeededRandom(config.seed ?? config.nodeId);
    // The allocator reads the store, which needs the range node first: a late binding.
    const rangeIds = { next: (): number => ids.next() };
    const data = new DeferredKv();
    const members = identity.members.filter((m) => m.nodeId !== config.nodeId);
    const peers = new PeerDirectory({ nodeId: config.nodeId, clusterId: identity.clusterId,
      logger: log, peers: members.map((m) => ({ nodeId: m.nodeId, raft: `${m.host}:${m.port}`,
        http: config.peerHttp?.get(m.nodeId) ?? null })) });
    const moves = config.rebalance === true &&
      bootstrapVoters(identity).length < identity.members.length;
    const ranges = new RangeNode({ nodeId: config.nodeId, random, logger: config.logger,
      rangeIds, sizeSplit: config.sizeSplit ?? null, kv: data,
      mergeWaiter: new HttpMergeWaiter({ peers, logger: log }),
      rebalance: moves ? { nodeIds: identity.members.map((m) => m.nodeId) } : null });
    const engine = new LevelEngine({ location: join(config.dataDir, 'engine'),
      storeId: config.nodeId, clusterId: identity.clusterId });
    const store = await Store.open({
      ...config.store, nodeId: config.nodeId, transport, logger: config.logger,
      stateMachine: ranges, random, storageEngine: engine,
    });
    data.set(await EngineKv.open(engine));
    const ids = new NodeRangeIdAllocator(store);
    ranges.attach(store);
    const restored = ranges.restore();
    const closeAll = async (): Promise<void> => {
      await store.close();
      await tcp.close();
      await engine.close();
    };
    for (const m of members) tcp.setPeer(m.nodeId, { host: m.host, port: m.port });
    await listenOrRefuse(tcp, config.listen, closeAll);
    const queues = new RangeQueues({ ranges, store, merge: config.merge ?? null,
      balanceLeases: config.rebalance === true, logger: log });
    const wiring = { nodeId: config.nodeId, identity, store, tcp, ranges, peers, queues,
      config };
    const { http, httpAddress, kv, metrics } = await serveHttp(wiring, transport, log, closeAll);
    let replicas = 0;
    store.forEachRange(() => replicas++);
    if (replicas === 0) createRanges(store, ranges, identity);
    store.start();
    peers.start();
    queues.start();
    const rangeTicker = setInterval(() => ranges.tick(), store.ticker.config.tickIntervalMs);
    log.info({ listen: `${config.listen.host}:${tcp.address()!.port}`,
      http: `${httpAddress.host}:${httpAddress.port}`, ranges: identity.ranges, replicas,
      restored, bootstrapped, members: identity.members.length }, 'node started');
    return new FlotillaNode(identity, store, tcp, ranges, kv, peers, metrics, http, httpAddress,
      queues, rangeTicker, engine, log);
  }

  /** Stops serving HTTP (in-flight requests finish), then the store, then the transport. */
  stop(why: string): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.stopped = (async () => {
      this.log.info({ why }, 'node stopping');
      this.peers.stop();
      this.queues.stop();
      await this.http.close();
      clearInterval(this.rangeTicker);
      await this.store.close();
      await this.transport.close();
      await this.engine.close();
      this.log.info({ why }, 'node stopped');
    })();
    return this.stopped;
  }
}

/** The voters of every bootstrap range: the `replicas` members of lowest node ids. */
function bootstrapVoters(identity: DataIdentity): number[] {
  const all = identity.members.map((m) => m.nodeId).sort((a, b) => a - b);
  const n = identity.replicas ?? all.length;
  assert(Number.isSafeInteger(n) && n > 0, 'replicas per range');
  return all.slice(0, n);
}

/**
 * The bootstrap voters hold every bootstrap range, the leaders spread over them; another
 * member starts empty (the rebalancer moves replicas to it).
 */
function createRanges(store: Store, ranges: RangeNode, identity: DataIdentity): void {
  const voters = bootstrapVoters(identity);
  if (!voters.includes(store.nodeId)) return;
  assert(voters.length <= identity.members.length, 'voters are members');
  const descs = bootstrapDescriptors(identity.ranges, voters);
  ranges.bootstrap(descs);
  for (const d of descs) {
    if (voters[d.rangeId % voters.length] === store.nodeId) store.campaign(d.rangeId);
  }
  assert(descs.length === identity.ranges, 'every bootstrap range created');
}

interface Wiring {
  nodeId: number;
  identity: DataIdentity;
  store: Store;
  tcp: TcpTransport;
  ranges: RangeNode;
  peers: PeerDirectory;
  queues: RangeQueues;
  config: NodeConfig;
}

/** The KV service, the metrics, `/status`, `/v1/node` and the HTTP server, listening. */
async function serveHttp(w: Wiring, transport: CountingTransport, log: Logger,
  closeAll: () => Promise<void>): Promise<{
  http: NodeHttpServer; httpAddress: HostPort; kv: RangeKv; metrics: NodeMetrics;
}> {
  const { nodeId, store, tcp, peers, config } = w;
  const self = { http: '' };
  const kv = new RangeKv({ rangeNode: w.ranges, store, peers, logger: log,
    selfHttp: () => self.http });
  const rangeCounters = (): RangeCounters => ({ splits: w.ranges.stats.splitsApplied,
    merges: w.ranges.stats.mergesApplied, leaseTransfers: w.queues.stats.leaseTransfersDone,
    replicaMoves: w.ranges.rebalancer?.stats.movesDone ?? 0,
    kvServedLocally: kv.stats.servedLocally,
    kvForwarded: kv.stats.forwarded, kvForwardsFailed: kv.stats.forwardsFailed });
  const metrics = new NodeMetrics({
    nodeId, store, messageCounts: transport.counts, transportStats: () => tcp.stats(),
    knownPeers: () => peers.list().map((p) => p.nodeId),
    rangeCounters,
  });
  store.observeStorageCommits(metrics.observeStorageCommit);
  const status: StatusSource = {
    identity: { nodeId, clusterId: w.identity.clusterId, version: packageVersion(),
      listen: `${config.listen.host}:${tcp.address()!.port}`, http: '',
      startedAtMs: Date.now() },
    store, nowMs: () => Date.now(), rangeCounters,
    peers: (): PeerInfo[] => peers.list().map((p) => ({ nodeId: p.nodeId, address: p.raft,
      http: p.http, version: p.info?.version ?? null,
      protocolVersion: p.info?.protocolVersion ?? null, live: store.isNodeLive(p.nodeId) })),
  };
  const nodeInfo = (): NodeInfo => ({ nodeId, clusterId: w.identity.clusterId,
    version: packageVersion(), listen: status.identity.listen, http: self.http,
    protocolVersion: config.versions?.protocolVersionMax ?? PROTOCOL_VERSION_CURRENT });
  const http = new NodeHttpServer({ host: config.http.host, port: config.http.port, status,
    metrics, kv: config.kv === undefined ? kv : config.kv, logger: log, nodeInfo,
    applied: new AppliedResponder(store),
    errorDetails: kvErrorDetails(peers, () => self.http, nodeId) });
  const httpAddress = await listenHttpOrRefuse(http, closeAll);
  self.http = `${httpAddress.host}:${httpAddress.port}`;
  status.identity.http = self.http;
  return { http, httpAddress, kv, metrics };
}

/**
 * Binds `at` and releases it at once, so that a taken port or an address of another host is
 * one clear `StartupError` before anything starts (the real listeners bind right after; a
 * port taken in between still fails them, with the same error).
 */
async function probeListen(what: string, at: HostPort): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => resolve());
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new StartupError(NodeErrorCode.ListenFailed,
      `cannot listen for ${what} on ${at.host}:${at.port}: ${code}`, { cause: error });
  }
  await new Promise((resolve) => server.close(resolve));
}

async function listenOrRefuse(tcp: TcpTransport, at: HostPort,
  closeAll: () => Promise<void>): Promise<void> {
  try {
    await tcp.listen();
  } catch (error) {
    await closeAll();
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new StartupError(NodeErrorCode.ListenFailed,
      `cannot listen for peers on ${at.host}:${at.port}: ${code}`, { cause: error });
  }
}

async function listenHttpOrRefuse(http: NodeHttpServer, closeAll: () => Promise<void>):
  Promise<HostPort> {
  try {
    return await http.listen();
  } catch (error) {
    await closeAll();
    throw error;
  }
}
