/**
 * The version window: which protocol versions a member may run and still (re)join.
 *
 * The cluster runs at a cluster version C. Normally a member may run C or, for a rolling
 * upgrade one node at a time, C + 1. During a downgrade to a target T < C, every member is
 * on its way from C down to T, so the window is [T, C]: a member may disconnect and rejoin
 * at the old version or the new. (etcd once admitted only members already at the target
 * during a downgrade, which locked out a member that merely lost its connection before it
 * was downgraded; the window is the fix.)
 *
 * A member's version is the newest protocol version it advertises (`versionMax` of its
 * Hello, or of its HelloAck). The rule is pure: the handshake applies it at both ends.
 */
import { ConfigError, assert } from '../util/index.js';
import { HandshakeError, HandshakeErrorCode } from './errors.js';

/** The largest version accepted in a window's options (protocol versions are small). */
const VERSION_LIMIT = 65_535;

/** The cluster's versions as configured (`TcpTransportOptions.versionWindow`). */
export interface VersionWindowOptions {
  /** The version the cluster runs at. */
  clusterVersion: number;
  /**
   * The version a downgrade in progress goes to, below `clusterVersion`.
   * @default none (no downgrade in progress)
   */
  downgradeTarget?: number | null;
}

/** A validated window: a member whose version is in [low, high] is admitted. */
export interface VersionWindow {
  readonly clusterVersion: number;
  /** The downgrade target, or null when no downgrade is in progress. */
  readonly downgradeTarget: number | null;
  readonly low: number;
  readonly high: number;
}

function checkVersion(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 ||
    value > VERSION_LIMIT) {
    throw new ConfigError(`${name} must be an integer in [1, ${VERSION_LIMIT}], got ` +
      `${String(value)}`);
  }
  return value;
}

/** Validates the options and derives the window. @throws ConfigError */
export function versionWindow(options: VersionWindowOptions): VersionWindow {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('versionWindow must be an object { clusterVersion, downgradeTarget }');
  }
  const clusterVersion = checkVersion('versionWindow.clusterVersion', options.clusterVersion);
  const target = options.downgradeTarget ?? null;
  if (target === null) {
    return { clusterVersion, downgradeTarget: null, low: clusterVersion,
      high: clusterVersion + 1 };
  }
  checkVersion('versionWindow.downgradeTarget', target);
  if (target >= clusterVersion) {
    throw new ConfigError(`versionWindow.downgradeTarget (${target}) must be below ` +
      `clusterVersion (${clusterVersion})`);
  }
  const window = { clusterVersion, downgradeTarget: target, low: target, high: clusterVersion };
  assert(window.low < window.high, 'a downgrade window spans at least two versions');
  return window;
}

/** Whether a member running `version` may join or rejoin under `window`. */
export function versionAdmitted(window: VersionWindow, version: number): boolean {
  assert(window.low <= window.high, 'version window upside down');
  return Number.isInteger(version) && version >= window.low && version <= window.high;
}

/** Throws the handshake refusal for a peer whose version is outside the window. */
export function checkVersionWindow(window: VersionWindow, peerNodeId: number,
  version: number): void {
  if (versionAdmitted(window, version)) return;
  const phase = window.downgradeTarget === null
    ? `cluster version ${window.clusterVersion}`
    : `downgrade from ${window.clusterVersion} to ${window.downgradeTarget}`;
  throw new HandshakeError(HandshakeErrorCode.VersionWindow,
    `peer node ${peerNodeId} runs version ${version}, outside [${window.low}, ${window.high}] ` +
    `(${phase})`);
}
