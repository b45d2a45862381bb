/**
 * The handshake: the first frame each way on a TCP connection, before any Raft message.
 *
 *     dialer   -> Hello    { clusterId, nodeId, peerNodeId (whom it means to reach), versionMin,
 *                            versionMax }
 *     listener -> HelloAck { clusterId, nodeId, version, versionMax }
 *                 or Refuse { code, reason }
 *
 * Both ends check what they can: the listener that the cluster matches, that it is the node
 * the dialer wants and that the version ranges overlap; the dialer that the acknowledgement
 * comes from the cluster and node it dialed, with a version in its own range. The version is
 * the highest both speak, so a node one version behind can still join, and a cluster can be
 * upgraded (and downgraded) one node at a time. With a version window (`version_window.ts`)
 * both ends also refuse a peer whose own version (the newest it speaks) is outside it
 * (`ERR_HANDSHAKE_VERSION_WINDOW`).
 *
 * Protocol versions:
 *   1: batches carry every message as an ordinary record (no heartbeat columns).
 *   2: batches carry heartbeats and responses as columns (`heartbeats.ts`).
 */
import { HandshakeError, HandshakeErrorCode } from './errors.js';
import type { HelloAckFrame, HelloFrame } from './codec.js';
import { checkVersionWindow, type VersionWindow } from './version_window.js';

/** The newest protocol version this build speaks. */
export const PROTOCOL_VERSION_CURRENT = 2;
/** The oldest protocol version this build still speaks (one version back). */
export const PROTOCOL_VERSION_OLDEST = 1;
/** The first version with coalesced heartbeat columns. */
export const PROTOCOL_VERSION_COALESCED = 2;

/** What one end knows about itself. */
export interface HandshakeIdentity {
  clusterId: string;
  nodeId: number;
  versionMin: number;
  versionMax: number;
  /** The cluster's version window; null admits every peer whose versions overlap. */
  window: VersionWindow | null;
}

/**
 * The listener's check of a `Hello`. Returns the protocol version to speak, or throws the
 * `HandshakeError` to refuse with.
 */
export function acceptHello(self: HandshakeIdentity, hello: HelloFrame): number {
  if (hello.clusterId !== self.clusterId) {
    throw new HandshakeError(HandshakeErrorCode.ClusterMismatch,
      `peer node ${hello.nodeId} is in cluster '${hello.clusterId}', not '${self.clusterId}'`);
  }
  if (hello.peerNodeId !== self.nodeId || hello.nodeId === self.nodeId) {
    throw new HandshakeError(HandshakeErrorCode.NodeMismatch,
      `peer node ${hello.nodeId} dialed node ${hello.peerNodeId}, this is node ${self.nodeId}`);
  }
  if (self.window !== null) checkVersionWindow(self.window, hello.nodeId, hello.versionMax);
  return commonVersion(self, hello.versionMin, hello.versionMax, hello.nodeId);
}

/** The dialer's check of a `HelloAck`. Throws `HandshakeError`; returns the version. */
export function acceptHelloAck(self: HandshakeIdentity, expectedNodeId: number,
  ack: HelloAckFrame): number {
  if (ack.clusterId !== self.clusterId) {
    throw new HandshakeError(HandshakeErrorCode.ClusterMismatch,
      `peer node ${ack.nodeId} is in cluster '${ack.clusterId}', not '${self.clusterId}'`);
  }
  if (ack.nodeId !== expectedNodeId) {
    throw new HandshakeError(HandshakeErrorCode.NodeMismatch,
      `dialed node ${expectedNodeId} but node ${ack.nodeId} answered`);
  }
  if (ack.version < self.versionMin || ack.version > self.versionMax) {
    throw new HandshakeError(HandshakeErrorCode.VersionMismatch,
      `peer node ${ack.nodeId} chose version ${ack.version}, outside ` +
      `[${self.versionMin}, ${self.versionMax}]`);
  }
  const peerVersion = ack.versionMax ?? ack.version;
  if (peerVersion < ack.version) {
    throw new HandshakeError(HandshakeErrorCode.VersionMismatch,
      `peer node ${ack.nodeId} chose version ${ack.version} above its own ${peerVersion}`);
  }
  if (self.window !== null) checkVersionWindow(self.window, ack.nodeId, peerVersion);
  return ack.version;
}

function commonVersion(self: HandshakeIdentity, min: number, max: number, peer: number): number {
  const version = Math.min(self.versionMax, max);
  if (version < Math.max(self.versionMin, min)) {
    throw new HandshakeError(HandshakeErrorCode.VersionMismatch,
      `peer node ${peer} speaks versions [${min}, ${max}], this node ` +
      `[${self.versionMin}, ${self.versionMax}]`);
  }
  return version;
}
