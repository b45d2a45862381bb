/**
 * `FlotillaNode`: one running node, wired from its parts: the data directory's identity, the
 * TCP transport (behind the `CountingTransport`), the store with the ranges created at
 * bootstrap, the metrics and the HTTP server.
 *
 * Storage: the memory engine's semantics for now (the store keeps each replica's log in
 * memory; the data directory holds the identity only). When the LevelDB engine lands, the
 * store opens it from `<data>/engine` and a restart recovers its replicas from there; until
 * then a restarted node recreates its ranges empty and its peers catch it up by snapshot.
 *
 * ORDER at start: every check that can refuse (data directory, addresses) runs before
 * anything is served; the Raft listener is bound before the HTTP one, so that a node whose
 * page answers also accepts peers. At stop: HTTP first (stop accepting, drain in-flight
 * requests), then the store (its current batch completes), then the transport.
 */
import { createServer } from 'node:net';
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { SeededRandom, type Entry } from '../raft/index.js';
import { Store, type StateMachine, type StoreOptions } from '../multiraft/index.js';
import { TcpTransport, type TcpTransportOptions } from '../transport/index.js';
import type { HostPort } from './cli_args.js';
import { CountingTransport } from './counting_transport.js';
import { openDataDir, type DataIdentity, type Member } from './data_dir.js';
import { NodeErrorCode, StartupError } from './errors.js';
import { NodeHttpServer } from './http_server.js';
import type { KvService } from './kv.js';
import { NodeMetrics } from './metrics.js';
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
  /** What serves the KV API. @default none (503 ERR_KV_UNAVAILABLE) */
  kv?: KvService | null;
  /**
   * The advertised protocol version and the cluster's version window, for the transport.
   * @default the newest version, no window
   */
  versions?: Pick<TcpTransportOptions, 'protocolVersionMax' | 'versionWindow'>;
  /** pino logger of the node (which adds `nodeId`), its store and its transport. */
  logger: Logger;
}

/** A state machine that counts what it applies (the ranges layer's KV machine replaces it). */
class AppliedCounter implements StateMachine {
  entriesApplied = 0;
  snapshotsApplied = 0;
  apply(_rangeId: number, _entry: Entry): void {
    this.entriesApplied++;
  }
  applySnapshot(): void {
    this.snapshotsApplied++;
  }
}

/** One running node. */
export class FlotillaNode {
  private stopped: Promise<void> | null = null;

  private constructor(
    readonly identity: DataIdentity,
    readonly store: Store,
    readonly transport: TcpTransport,
    readonly metrics: NodeMetrics,
    readonly http: NodeHttpServer,
    readonly httpAddress: HostPort,
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
    });
    log.info({ clusterId: identity.clusterId, bootstrapped, dataDir: config.dataDir },
      bootstrapped ? 'bootstrapped a new data directory' : 'opened the data directory');
    const tcp = new TcpTransport({
      nodeId: config.nodeId, clusterId: identity.clusterId, logger: config.logger,
      listenHost: config.listen.host, listenPort: config.listen.port, ...config.versions,
    });
    const transport = new CountingTransport(tcp);
    const store = new Store({
      ...config.store, nodeId: config.nodeId, transport, logger: config.logger,
      stateMachine: new AppliedCounter(), random: new SeededRandom(config.seed ?? config.nodeId),
    });
    const peers = identity.members.filter((m) => m.nodeId !== config.nodeId);
    for (const m of peers) tcp.setPeer(m.nodeId, { host: m.host, port: m.port });
    await listenOrRefuse(tcp, config.listen, store);
    const metrics = new NodeMetrics({
      nodeId: config.nodeId, store, messageCounts: transport.counts,
      transportStats: () => tcp.stats(), knownPeers: () => peers.map((m) => m.nodeId),
    });
    const startedAtMs = Date.now();
    const status: StatusSource = {
      identity: { nodeId: config.nodeId, clusterId: identity.clusterId,
        version: packageVersion(), listen: `${config.listen.host}:${tcp.address()!.port}`,
        http: '', startedAtMs },
      store, nowMs: () => Date.now(),
      peers: (): PeerInfo[] => peers.map((m) => ({ nodeId: m.nodeId,
        address: `${m.host}:${m.port}`, version: null, live: store.isNodeLive(m.nodeId) })),
    };
    const http = new NodeHttpServer({ host: config.http.host, port: config.http.port,
      status, metrics, kv: config.kv ?? null, logger: log });
    const httpAddress = await listenHttpOrRefuse(http, tcp, store);
    status.identity.http = `${httpAddress.host}:${httpAddress.port}`;
    createRanges(store, identity);
    store.start();
    log.info({ listen: status.identity.listen, http: status.identity.http,
      ranges: identity.ranges, members: identity.members.length }, 'node started');
    return new FlotillaNode(identity, store, tcp, metrics, http, httpAddress, log);
  }

  /** Stops serving HTTP (in-flight requests finish), then the store, then the transport. */
  stop(why: string): Promise<void> {
    if (this.stopped !== null) return this.stopped;
    this.stopped = (async () => {
      this.log.info({ why }, 'node stopping');
      await this.http.close();
      await this.store.close();
      await this.transport.close();
      this.log.info({ why }, 'node stopped');
    })();
    return this.stopped;
  }
}

/** Every member holds every bootstrap range; the leaders are spread over the members. */
function createRanges(store: Store, identity: DataIdentity): void {
  const voters = identity.members.map((m) => m.nodeId).sort((a, b) => a - b);
  assert(voters.includes(store.nodeId), 'a member hosts the bootstrap ranges');
  for (let rangeId = 1; rangeId <= identity.ranges; rangeId++) {
    store.createRange(rangeId, { voters });
    if (voters[rangeId % voters.length] === store.nodeId) store.campaign(rangeId);
  }
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

async function listenOrRefuse(tcp: TcpTransport, at: HostPort, store: Store): Promise<void> {
  try {
    await tcp.listen();
  } catch (error) {
    await store.close();
    await tcp.close();
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new StartupError(NodeErrorCode.ListenFailed,
      `cannot listen for peers on ${at.host}:${at.port}: ${code}`, { cause: error });
  }
}

async function listenHttpOrRefuse(http: NodeHttpServer, tcp: TcpTransport, store: Store):
  Promise<HostPort> {
  try {
    return await http.listen();
  } catch (error) {
    await store.close();
    await tcp.close();
    throw error;
  }
}
