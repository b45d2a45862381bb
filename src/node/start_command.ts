/**
 * `flotilla start`: runs one node until SIGINT or SIGTERM.
 *
 *     flotilla start --node-id 1 --listen 127.0.0.1:7001 --http 127.0.0.1:8001 \
 *       --join 127.0.0.1:7002,127.0.0.1:7003 --data ./data/n1
 *
 * Every check that can refuse the configuration runs before anything is served and ends the
 * process with one line and exit code 2 (a bad or duplicate address, a port in use, a data
 * directory of another cluster or another node id). On SIGINT/SIGTERM the node stops
 * accepting, lets in-flight requests finish, closes and exits 0.
 */
import { resolve } from 'node:path';
import { UsageError, parseAddress, parseOrExit, type HostPort } from './cli_args.js';
import { deriveClusterId, membersOf } from './data_dir.js';
import { LOG_LEVEL_FLAG, createLogger } from './log.js';
import { FlotillaNode, type NodeConfig } from './node.js';
import {
  PROTOCOL_VERSION_CURRENT,
  PROTOCOL_VERSION_OLDEST,
  versionAdmitted,
  versionWindow,
} from '../transport/index.js';
import { ConfigError } from '../util/index.js';
import type { MergeOptions, SizeSplitOptions } from '../range/index.js';

/** The flags of `flotilla start`. */
export const START_COMMAND = {
  name: 'flotilla start',
  summary: 'Runs one Flotilla node: the Raft transport on --listen, HTTP (status page, ' +
    '/status, /metrics, the KV API) on --http, its identity in --data.',
  flags: {
    'node-id': { kind: 'integer', min: 1, max: 2 ** 32 - 1, valueName: 'N',
      description: 'this node\'s id (required)' },
    listen: { kind: 'address', default: '127.0.0.1:7001',
      description: 'where peers reach this node (Raft over TCP)' },
    http: { kind: 'address', default: '127.0.0.1:8001', description: 'the HTTP server' },
    join: { kind: 'string', valueName: '[ID@]HOST:PORT,...',
      description: 'the other initial members\' --listen addresses (without ids: members ' +
        'are numbered in address order)' },
    data: { kind: 'string', valueName: 'DIR', description: 'the data directory (required)' },
    ranges: { kind: 'integer', min: 0, max: 1_000_000, default: 16,
      description: 'ranges created when the cluster bootstraps' },
    'peer-http': { kind: 'string', valueName: 'ID@HOST:PORT,...',
      description: 'the other members\' HTTP addresses: a KV request is forwarded to its ' +
        'range\'s leader there (without: served by this node\'s replica)' },
    'split-range-keys': { kind: 'integer', min: 1, max: 1_000_000_000, valueName: 'N',
      description: 'a range holding more than N keys splits (default: no size splits)' },
    'split-range-bytes': { kind: 'integer', min: 1, max: 2 ** 40, valueName: 'BYTES',
      description: 'a range holding more than BYTES of keys and values splits' },
    replicas: { kind: 'integer', min: 1, max: 7, valueName: 'N',
      description: 'voters of each bootstrap range, on the N members of lowest ids (default: ' +
        'every member; the same on every member)' },
    'merge-range-bytes': { kind: 'integer', min: 1, max: 2 ** 40, valueName: 'BYTES',
      description: 'merge queue: a range and its right neighbour, both under BYTES, cold ' +
        '(--merge-qps-max) and not too big together (split thresholds), merge (default: no ' +
        'merges)' },
    'merge-qps-max': { kind: 'number', positive: true, default: 10, valueName: 'Q',
      description: 'merge queue: the two ranges\' load summed, in Raft entries applied per ' +
        'second, must stay under Q' },
    rebalance: { kind: 'boolean', description: 'balance leaderships across the members ' +
      '(leadership transfers) and, with more members than --replicas, replica counts ' +
      '(replica moves)' },
    'cluster-id': { kind: 'string', valueName: 'ID',
      description: 'the cluster id (default: derived from --cluster-token and the members)' },
    'cluster-token': { kind: 'string', default: 'flotilla', valueName: 'TOKEN',
      description: 'tells clusters with the same members apart, as etcd\'s ' +
        'initial-cluster-token' },
    version: { kind: 'integer', min: PROTOCOL_VERSION_OLDEST, max: PROTOCOL_VERSION_CURRENT,
      valueName: 'N', description: 'the protocol version this node advertises (default: ' +
        'the newest it speaks)' },
    'cluster-version': { kind: 'integer', min: 1, max: 65_535, valueName: 'N',
      description: 'the cluster version: peers outside [N, N+1] are refused (default: ' +
        'every peer with a common protocol version is admitted)' },
    'downgrade-target': { kind: 'integer', min: 1, max: 65_535, valueName: 'N',
      description: 'a downgrade to N is in progress: members at any version from N to ' +
        '--cluster-version may rejoin' },
    'log-level': LOG_LEVEL_FLAG,
  },
} as const;

/** Parses `--join` (`[ID@]HOST:PORT,...`). @throws UsageError */
export function parseJoin(text: string | undefined): (HostPort & { nodeId?: number })[] {
  if (text === undefined) return [];
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`--join has an empty entry: '${text}'`);
  return parts.map((part) => {
    const at = part.indexOf('@');
    if (at < 0) return parseAddress('--join', part);
    const id = Number(part.slice(0, at));
    if (!Number.isSafeInteger(id) || id < 1 || id > 2 ** 32 - 1) {
      throw new UsageError(`--join: a node id is an integer in [1, ${2 ** 32 - 1}], got ` +
        `'${part.slice(0, at)}'`);
    }
    return { ...parseAddress('--join', part.slice(at + 1)), nodeId: id };
  });
}

/** Parses `--peer-http` (`ID@HOST:PORT,...`). @throws UsageError */
export function parsePeerHttp(text: string | undefined): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of parseJoin(text)) {
    if (p.nodeId === undefined) throw new UsageError('--peer-http entries are ID@HOST:PORT');
    if (out.has(p.nodeId)) throw new UsageError(`--peer-http names node ${p.nodeId} twice`);
    out.set(p.nodeId, `${p.host}:${p.port}`);
  }
  return out;
}

/**
 * The transport's versions from `--version`, `--cluster-version` and `--downgrade-target`.
 * @throws UsageError
 */
export function versionFlags(version: number | undefined, clusterVersion: number | undefined,
  downgradeTarget: number | undefined): NodeConfig['versions'] {
  if (clusterVersion === undefined) {
    if (downgradeTarget !== undefined) {
      throw new UsageError('--downgrade-target needs --cluster-version');
    }
    return { protocolVersionMax: version };
  }
  try {
    const window = versionWindow({ clusterVersion, downgradeTarget });
    const own = version ?? PROTOCOL_VERSION_CURRENT;
    if (!versionAdmitted(window, own)) {
      throw new UsageError(`this node's version ${own} is outside the version window ` +
        `[${window.low}, ${window.high}] (set --version, or --downgrade-target)`);
    }
    return { protocolVersionMax: version, versionWindow: { clusterVersion, downgradeTarget } };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * The merge queue's thresholds from `--merge-range-bytes` and `--merge-qps-max` (null: no
 * merges); a merged range must not split again at once, so the split thresholds bound it.
 * @throws UsageError
 */
export function mergeFlags(rangeBytesMin: number | undefined, qpsMax: number,
  sizeSplit: SizeSplitOptions | null): MergeOptions | null {
  if (rangeBytesMin === undefined) return null;
  const rangeBytesMax = sizeSplit?.rangeBytesMax ?? Number.MAX_SAFE_INTEGER;
  if (rangeBytesMin > rangeBytesMax) {
    throw new UsageError(`--merge-range-bytes ${rangeBytesMin} is over --split-range-bytes ` +
      `${rangeBytesMax}: merged ranges would split again`);
  }
  return { rangeBytesMin, rangeBytesMax, qpsSplitThreshold: 2 * qpsMax,
    rangeKeysMax: sizeSplit?.rangeKeysMax ?? Number.MAX_SAFE_INTEGER };
}

/** Runs `flotilla start` until a signal; resolves once the node has stopped. */
export async function startCommand(argv: readonly string[]): Promise<void> {
  const { values: v } = parseOrExit(START_COMMAND, argv);
  const nodeId = v['node-id'];
  if (nodeId === undefined) throw new UsageError('--node-id is required');
  if (v.data === undefined) throw new UsageError('--data is required');
  if (v.listen.port === 0) throw new UsageError('--listen needs a fixed port (peers dial it)');
  const members = membersOf(nodeId, v.listen, parseJoin(v.join));
  if (typeof members === 'string') throw new UsageError(members);
  const versions = versionFlags(v.version, v['cluster-version'], v['downgrade-target']);
  const peerHttp = parsePeerHttp(v['peer-http']);
  for (const id of peerHttp.keys()) {
    if (id === nodeId || !members.some((m) => m.nodeId === id)) {
      throw new UsageError(`--peer-http: node ${id} is not another member`);
    }
  }
  const keysMax = v['split-range-keys'];
  const bytesMax = v['split-range-bytes'];
  const sizeSplit = keysMax === undefined && bytesMax === undefined ? null
    : { rangeKeysMax: keysMax ?? Number.MAX_SAFE_INTEGER,
      rangeBytesMax: bytesMax ?? Number.MAX_SAFE_INTEGER };
  const replicas = v.replicas;
  if (replicas !== undefined && replicas > members.length) {
    throw new UsageError(`--replicas ${replicas} is more than the ${members.length} members`);
  }
  const merge = mergeFlags(v['merge-range-bytes'], v['merge-qps-max'], sizeSplit);
  const logger = createLogger({ level: v['log-level'] });
  const node = await FlotillaNode.start({
    nodeId, listen: v.listen, http: v.http, members, dataDir: resolve(v.data), peerHttp,
    sizeSplit, merge, rebalance: v.rebalance === true,
    ...(replicas === undefined ? {} : { replicas }),
    ranges: v.ranges, clusterId: v['cluster-id'] ?? deriveClusterId(
      replicas === undefined ? v['cluster-token'] : `${v['cluster-token']}/replicas=${replicas}`,
      members),
    logger, versions,
  });
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      void node.stop(signal).then(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
