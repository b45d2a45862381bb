/**
 * `flotilla`: the package's main entry, its public API for embedding.
 *
 * CONTRACT
 *
 * 1. What is here is what an application needs to host ranges in its own process: the
 *    `Store` with its options and state-machine interface, the TCP transport, the storage
 *    engine seam, the status types, the typed errors (each a `FlotillaError` with a stable
 *    `code`) and the node layer's pieces (`FlotillaNode`, the HTTP server, the metrics, the
 *    KV API seam `KvService`, the logger).
 * 2. The pure Raft core is its own entry, `flotilla/raft`; the test harnesses (`LocalCluster`,
 *    `VirtualClock`, `CountingStateMachine`, the loopback network) are `flotilla/testing`.
 *    Neither is re-exported here, so an application does not pull them in by accident.
 * 3. Everything exported is also exported, under the same name, by the folder that owns it;
 *    this file only chooses.
 */
export { FlotillaError, ConfigError } from './util/index.js';
export {
  SeededRandom,
  SnapshotStatus,
  type Entry,
  type RandomSource,
  type Snapshot,
  StateType,
  stateTypeNames,
} from './raft/index.js';
export {
  Store,
  RANGE_INITIAL_INDEX,
  RANGE_INITIAL_TERM,
  resolveStoreOptions,
  NotLeaderError,
  RangeExistsError,
  RangeNotFoundError,
  RangeNotInitializedError,
  StoreClosedError,
  StoreErrorCode,
  StoreFullError,
  addSummary,
  newReplicaStatus,
  newStoreSummary,
  type FollowerProgress,
  type RaftStatus,
  type RangeConfig,
  type ReplicaStatus,
  type StateMachine,
  type StoreConfig,
  type StoreOptions,
  type StoreStats,
  type StoreSummary,
} from './multiraft/index.js';
export {
  FrameError,
  FrameErrorCode,
  HandshakeError,
  HandshakeErrorCode,
  PROTOCOL_VERSION_CURRENT,
  PROTOCOL_VERSION_OLDEST,
  TcpTransport,
  realClock,
  type Envelope,
  type PeerAddress,
  type TcpTransportOptions,
  type Transport,
  type TransportClock,
  type TransportHandler,
  type TransportStats,
} from './transport/index.js';
export {
  MemoryEngine,
  type AppliedState,
  type EngineBatch,
  type ReplicaStorage,
  type StorageEngine,
} from './storage/index.js';
export {
  CountingTransport,
  FlotillaNode,
  HttpErrorCode,
  FlotillaClient,
  KvErrorCode,
  KvUnavailableError,
  NodeErrorCode,
  NodeUnreachableError,
  RemoteKvError,
  NodeHttpServer,
  NodeMetrics,
  StartupError,
  UsageError,
  buildStatus,
  createLogger,
  packageVersion,
  type KvOp,
  type KvOpResult,
  type KvPair,
  type KvService,
  type FlotillaClientOptions,
  type LoggerOptions,
  type MetricsSource,
  type NodeConfig,
  type NodeHttpServerOptions,
  type NodeStatusJson,
  type StatusSource,
} from './node/index.js';
