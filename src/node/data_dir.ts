/**
 * A node's data directory and its identity file, `flotilla-identity.json`: the cluster id,
 * this node's id, the initial members and ranges, written once when the node bootstraps.
 *
 * The cluster id is what keeps data of different clusters apart (as etcd derives its cluster
 * ID from the initial cluster and its token): unless `--cluster-id` names it, it is a hash of
 * the cluster token and the initial members' addresses, so that every node started with the
 * same member list computes the same id, and a node pointed at another cluster's directory
 * (other members, other token) finds a different one there and is refused. A directory
 * written by another node id is refused too. Both refusals happen before anything listens.
 *
 * The identity file is written to a temporary name and renamed into place, so that a crash
 * during bootstrap leaves either no identity or a whole one.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../util/index.js';
import type { HostPort } from './cli_args.js';
import { NodeErrorCode, StartupError } from './errors.js';

/** Name of the identity file inside the data directory. */
export const IDENTITY_FILE = 'flotilla-identity.json';
const FORMAT_VERSION = 1;

/** One initial member: its node id and Raft address. */
export interface Member {
  nodeId: number;
  host: string;
  port: number;
}

/** What the identity file holds. */
export interface DataIdentity {
  formatVersion: number;
  clusterId: string;
  nodeId: number;
  members: Member[];
  /** Ranges created at bootstrap (ids 1..ranges), each on every initial member. */
  ranges: number;
  /**
   * Voters of each bootstrap range: the members with the lowest node ids. Absent: every
   * member (identity files written before the flag).
   */
  replicas?: number;
  createdAtMs: number;
}

/** The cluster id of a cluster whose initial members are `members` (etcd's way). */
export function deriveClusterId(token: string, members: readonly Member[]): string {
  const sorted = [...members].sort((a, b) => a.nodeId - b.nodeId)
    .map((m) => `${m.nodeId}@${m.host}:${m.port}`).join(',');
  const digest = createHash('sha256').update(`${token}\n${sorted}`).digest('hex');
  return `c-${digest.slice(0, 16)}`;
}

/** What a starting node expects of its data directory. */
export interface IdentityExpectation {
  dir: string;
  nodeId: number;
  clusterId: string;
  members: Member[];
  ranges: number;
  /** Voters per bootstrap range. @default every member */
  replicas?: number;
  nowMs: number;
}

/**
 * Opens the data directory: reads its identity and checks it against `expected`, or, in a
 * new directory, bootstraps by writing `expected`'s.
 * @returns the identity and whether it was just written
 * @throws StartupError on another cluster's directory, another node id, or a bad file
 */
export function openDataDir(expected: IdentityExpectation):
  { identity: DataIdentity; bootstrapped: boolean } {
  mkdirSync(expected.dir, { recursive: true });
  const path = join(expected.dir, IDENTITY_FILE);
  if (!existsSync(path)) {
    const identity: DataIdentity = {
      formatVersion: FORMAT_VERSION, clusterId: expected.clusterId, nodeId: expected.nodeId,
      members: expected.members, ranges: expected.ranges, createdAtMs: expected.nowMs,
      ...(expected.replicas === undefined ? {} : { replicas: expected.replicas }),
    };
    const temporary = `${path}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(identity, null, 2)}\n`);
    renameSync(temporary, path);
    return { identity, bootstrapped: true };
  }
  const identity = readIdentity(path);
  if (identity.clusterId !== expected.clusterId) {
    throw new StartupError(NodeErrorCode.ClusterMismatch,
      `data directory ${expected.dir} belongs to cluster ${identity.clusterId}, not ` +
      `${expected.clusterId} (other members or token; pass --cluster-id ` +
      `${identity.clusterId} to start from it)`);
  }
  if (identity.nodeId !== expected.nodeId) {
    throw new StartupError(NodeErrorCode.NodeIdMismatch,
      `data directory ${expected.dir} is node ${identity.nodeId}'s, not node ` +
      `${expected.nodeId}'s`);
  }
  return { identity, bootstrapped: false };
}

function readIdentity(path: string): DataIdentity {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new StartupError(NodeErrorCode.DataCorrupt, `cannot read ${path}: ` +
      `${(error as Error).message}`, { cause: error });
  }
  const o = parsed as Partial<DataIdentity> | null;
  const ok = o !== null && typeof o === 'object' && o.formatVersion === FORMAT_VERSION &&
    typeof o.clusterId === 'string' && Number.isSafeInteger(o.nodeId) &&
    Array.isArray(o.members) && o.members.every(isMember) && Number.isSafeInteger(o.ranges) &&
    (o.replicas === undefined || (Number.isSafeInteger(o.replicas) && o.replicas > 0));
  if (!ok) throw new StartupError(NodeErrorCode.DataCorrupt, `${path} is not a Flotilla identity`);
  assert(typeof o.clusterId === 'string', 'checked above');
  return o as DataIdentity;
}

function isMember(m: unknown): m is Member {
  const o = m as Partial<Member> | null;
  return o !== null && typeof o === 'object' && Number.isSafeInteger(o.nodeId) &&
    typeof o.host === 'string' && Number.isSafeInteger(o.port);
}

/**
 * The initial members from this node's address and its `--join` list. An entry names its
 * node id (`ID@HOST:PORT`), or, as in `--join 127.0.0.1:7002,127.0.0.1:7003`, the members are
 * numbered 1..N in the order of their addresses (host, then port), the same on every node.
 * @returns the members, or a message saying what is inconsistent in the command line
 */
export function membersOf(nodeId: number, listen: HostPort,
  join: readonly (HostPort & { nodeId?: number })[]): Member[] | string {
  const all = [{ ...listen, nodeId }, ...join];
  const keys = new Set(all.map((a) => `${a.host}:${a.port}`));
  if (keys.size !== all.length) return 'the --listen and --join addresses must all differ';
  const named = join.filter((j) => j.nodeId !== undefined).length;
  if (named !== 0 && named !== join.length) {
    return '--join entries must all name their node id (ID@HOST:PORT) or none';
  }
  if (named === join.length && join.length > 0) {
    const ids = new Set(all.map((a) => a.nodeId));
    if (ids.size !== all.length) return 'the node ids of --node-id and --join must all differ';
    return all.map((a) => ({ nodeId: a.nodeId!, host: a.host, port: a.port }));
  }
  const sorted = [...all].sort((a, b) =>
    a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1);
  const members = sorted.map((a, i) => ({ nodeId: i + 1, host: a.host, port: a.port }));
  const self = members.find((m) => m.host === listen.host && m.port === listen.port)!;
  if (self.nodeId !== nodeId) {
    return `--node-id ${nodeId} does not match this node's place among the members ordered ` +
      `by address (${self.nodeId}); give ids explicitly with --join ID@HOST:PORT,...`;
  }
  return members;
}
