/**
 * The node's logger: pino, structured, to stderr, at `info` unless `--log-level` or the
 * `LOG_LEVEL` environment variable says otherwise (the flag wins). Every line of a node
 * carries its `nodeId`; the store adds `rangeId` to the lines about one range.
 */
import pino, { type Logger } from 'pino';
import { UsageError, type StringFlag } from './cli_args.js';

/** pino's levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of `LOG_LEVELS`. */
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** The level when neither the flag nor `LOG_LEVEL` sets one. */
export const LOG_LEVEL_DEFAULT: LogLevelName = 'info';

/** The `--log-level` flag every long-running command shares. */
export const LOG_LEVEL_FLAG: StringFlag = {
  kind: 'string',
  choices: LOG_LEVELS,
  valueName: 'LEVEL',
  description: `log level on stderr: ${LOG_LEVELS.join('|')} (default: $LOG_LEVEL, else ` +
    `${LOG_LEVEL_DEFAULT})`,
};

/**
 * The level to log at: `flag` if given, else `LOG_LEVEL` from `env`, else `info`.
 * @throws UsageError when `LOG_LEVEL` holds something else than a level
 */
export function resolveLogLevel(flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env): LogLevelName {
  const chosen = flag ?? env['LOG_LEVEL'] ?? LOG_LEVEL_DEFAULT;
  if (!(LOG_LEVELS as readonly string[]).includes(chosen)) {
    throw new UsageError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${chosen}'`);
  }
  return chosen as LogLevelName;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** The `--log-level` flag's value, if given. @default `LOG_LEVEL`, else `info` */
  level?: string | undefined;
  /** pino's `name` field. @default 'flotilla' */
  name?: string;
  /** The node this process runs, added to every line. @default none */
  nodeId?: number;
  /** File descriptor to write to. @default 2 (stderr) */
  fd?: number;
}

/** A pino logger writing to stderr (synchronously, so that nothing is lost on exit). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = resolveLogLevel(options.level);
  const base: Record<string, unknown> = { pid: process.pid };
  if (options.nodeId !== undefined) base['nodeId'] = options.nodeId;
  return pino({ name: options.name ?? 'flotilla', level, base },
    pino.destination({ fd: options.fd ?? 2, sync: true }));
}
