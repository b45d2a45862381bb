/**
 * The node layer: one running Flotilla node, and the pieces an embedding application reuses.
 *
 * CONTRACT
 *
 * 1. Commands. Every command line (the `flotilla` CLI, `npm start`, the simulations and the
 *    benchmarks) is parsed by `parseCommand`/`parseOrExit` over a declared flag table: `--help`
 *    prints the flags and exits 0; an unknown flag, a missing or bad value is one line on
 *    stderr and exit code 2 (`UsageError`), never a stack trace.
 * 2. Logs. `createLogger` is pino on stderr, at `info` unless `--log-level` or `LOG_LEVEL`
 *    says otherwise; every line of a node carries its `nodeId`.
 * 3. Refusals. A configuration a node cannot run with (another cluster's data directory, a
 *    node id that differs from its data, an address that cannot be bound) is a
 *    `StartupError` with a stable `code`, raised before the node serves anything.
 * 4. A node. `FlotillaNode.start` wires the data directory's identity, the TCP transport
 *    (behind `CountingTransport`, which counts messages by type), the store whose state
 *    machine is a `RangeNode` with the bootstrap ranges of node_ranges.ts, the KV service
 *    `RangeKv`, the `PeerDirectory`, `NodeMetrics` and `NodeHttpServer`; `stop` drains
 *    HTTP, then closes the store and the transport.
 * 5. HTTP. `/` (status page), `/status` (`NodeStatusJson`, a contract: fields are added,
 *    never renamed), `/metrics` (Prometheus text), `/v1/node` (who the node is; its peers
 *    poll it), and the KV API over `KvService`; errors are JSON with stable codes and, for
 *    routing answers, the leader or the range beside them.
 * 6. KV routing (range_kv.ts). A call goes to its range's leader: served here if this node
 *    leads (or no leader is known), else forwarded once over HTTP to the leader's address
 *    (`--peer-http`), falling back to this replica if the leader cannot be reached. Writes
 *    carry command ids, so a retry applies once.
 * 7. Client (client.ts). `FlotillaClient` caches ranges and leaders from the answers,
 *    goes straight to a cached leader, and retries on not-leader, key-mismatch and
 *    unknown-outcome answers with the same command id.
 * 8. Merges and rebalancing across processes. A merge's wait for application is the range
 *    layer's `MergeWaiter`, here `HttpMergeWaiter`: each peer answers
 *    `/v1/internal/applied` from its own replica (`AppliedResponder`, arguments checked,
 *    long polls bounded); nothing a peer answers is trusted unchecked. `RangeQueues` runs
 *    the merge queue and leadership balancing, each a pure decision (`shouldMerge`,
 *    `planLeaseTransfer`) over what the node's replicas report.
 */
export {
  EXIT_USAGE,
  UsageError,
  helpText,
  parseAddress,
  parseCommand,
  parseOrExit,
  runMain,
  type CommandSpec,
  type Flag,
  type FlagValues,
  type Flags,
  type HostPort,
  type Parsed,
} from './cli_args.js';
export {
  LOG_LEVELS,
  LOG_LEVEL_DEFAULT,
  createLogger,
  resolveLogLevel,
  type LogLevelName,
  type LoggerOptions,
} from './log.js';
export { NodeErrorCode, StartupError } from './errors.js';
export { packageVersion } from './version.js';
export { FlotillaNode, type NodeConfig } from './node.js';
export { NodeHttpServer, type NodeHttpServerOptions } from './http_server.js';
export { KV_LIMITS_DEFAULT, type KvLimits } from './http_kv.js';
export { HttpError, HttpErrorCode, statusOfCode } from './http_util.js';
export { FlotillaClient, type FlotillaClientOptions, type FlotillaClientStats } from './client.js';
export {
  KvWireErrorCode,
  NodeUnreachableError,
  RemoteKvError,
  kvCall,
  type KvAnswer,
  type KvCall,
  type KvCallHeaders,
} from './kv_wire.js';
export { RangeKv, type RangeKvOptions, type RangeKvStats } from './range_kv.js';
export { PeerDirectory, type NodeInfo, type PeerEntry } from './peers.js';
export {
  APPLIED_PATH,
  AppliedResponder,
  HttpMergeWaiter,
  type AppliedAnswer,
  type HttpMergeWaiterOptions,
} from './applied_wait.js';
export {
  LoadMeter,
  RangeQueues,
  planLeaseTransfer,
  type LeaseTransfer,
  type LeaseView,
  type RangeQueuesOptions,
  type RangeQueuesStats,
} from './range_queues.js';
export { RANGE_ID_STRIDE, bootstrapDescriptors, NodeRangeIdAllocator } from './node_ranges.js';
export {
  BatchSpansRangesError,
  KvErrorCode,
  KvUnavailableError,
  type KvCallContext,
  type ServedRange,
  MemoryKv,
  compareBytes,
  type KvOp,
  type KvOpResult,
  type KvPair,
  type KvService,
} from './kv.js';
export {
  NodeMetrics,
  type MetricsSource,
  type NodeMetricsOptions,
  type RangeCounters,
} from './metrics.js';
export { CountingTransport, type MessageCounts } from './counting_transport.js';
export {
  STATUS_RANGES_DEFAULT,
  STATUS_RANGES_MAX,
  buildStatus,
  type NodeIdentity,
  type NodeStatusJson,
  type PeerInfo,
  type RangeStatusJson,
  type StatusSource,
} from './status.js';
export {
  IDENTITY_FILE,
  deriveClusterId,
  openDataDir,
  type DataIdentity,
  type Member,
} from './data_dir.js';
