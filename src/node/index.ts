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
