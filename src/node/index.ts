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
 *    (behind `CountingTransport`, which counts messages by type), the store and its
 *    bootstrap ranges, `NodeMetrics` and `NodeHttpServer`; `stop` drains HTTP, then closes
 *    the store and the transport.
 * 5. HTTP. `/` (status page), `/status` (`NodeStatusJson`, a contract: fields are added,
 *    never renamed), `/metrics` (Prometheus text), and the KV API over `KvService`, which
 *    the ranges layer implements; errors are JSON with stable codes.
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
export {
  KvErrorCode,
  KvUnavailableError,
  MemoryKv,
  compareBytes,
  type KvOp,
  type KvOpResult,
  type KvPair,
  type KvService,
} from './kv.js';
export { NodeMetrics, type MetricsSource, type NodeMetricsOptions } from './metrics.js';
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
