/**
 * Typed errors of the transport. Each failure has its own class and a stable `code`, so the
 * store, the tests and the status page switch on `code`, never on message text.
 */
import { FlotillaError } from '../util/index.js';

/** Stable codes of frame errors: why a received frame was rejected. */
export const FrameErrorCode = {
  /** The input ended before the frame its header announced. */
  Truncated: 'ERR_FRAME_TRUNCATED',
  /** The header announced a frame larger than `frameBytesMax`. */
  Oversized: 'ERR_FRAME_OVERSIZED',
  /** The payload's CRC-32 differs from the header's. */
  Checksum: 'ERR_FRAME_CHECKSUM',
  /** The checksum matched but the payload is not a valid frame of its kind. */
  Decode: 'ERR_FRAME_DECODE',
  /** A frame was begun but not completed within `frameTimeoutMs`. */
  Timeout: 'ERR_FRAME_TIMEOUT',
} as const;
export type FrameErrorCode = (typeof FrameErrorCode)[keyof typeof FrameErrorCode];

/**
 * A received frame is malformed. The connection it came on is closed (its byte stream can no
 * longer be trusted to be in sync); the node and its other connections go on.
 */
export class FrameError extends FlotillaError {
  declare readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Stable codes of handshake refusals. */
export const HandshakeErrorCode = {
  /** The peer belongs to another cluster. */
  ClusterMismatch: 'ERR_HANDSHAKE_CLUSTER_MISMATCH',
  /** The peer is not the node we dialed, or did not dial us. */
  NodeMismatch: 'ERR_HANDSHAKE_NODE_MISMATCH',
  /** The two protocol version ranges do not overlap. */
  VersionMismatch: 'ERR_HANDSHAKE_VERSION_MISMATCH',
  /**
   * The peer's version is outside the cluster's version window (`versionWindow`): below the
   * cluster version (or the downgrade target), or above what the window allows.
   */
  VersionWindow: 'ERR_HANDSHAKE_VERSION_WINDOW',
  /** The peer sent something other than a handshake first, or closed during it. */
  Protocol: 'ERR_HANDSHAKE_PROTOCOL',
  /** The peer did not complete the handshake within `handshakeTimeoutMs`. */
  Timeout: 'ERR_HANDSHAKE_TIMEOUT',
  /**
   * The peer claims a node id this node does not know: without TLS only configured peers
   * (`peers`, `setPeer`) are accepted.
   */
  UnknownPeer: 'ERR_HANDSHAKE_UNKNOWN_PEER',
  /** Accepting the peer would exceed `peerNodeIdsMax` distinct peer node ids. */
  PeerLimit: 'ERR_HANDSHAKE_PEER_LIMIT',
  /** The peer's TLS certificate does not name the cluster and node id it claims. */
  Certificate: 'ERR_HANDSHAKE_CERTIFICATE',
  /** The TLS handshake failed (no certificate, one from another CA, no common cipher, ...). */
  Tls: 'ERR_HANDSHAKE_TLS',
} as const;
export type HandshakeErrorCode = (typeof HandshakeErrorCode)[keyof typeof HandshakeErrorCode];

/** A connection was refused during the handshake (by us or by the peer). */
export class HandshakeError extends FlotillaError {
  declare readonly code: HandshakeErrorCode;
  constructor(code: HandshakeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Stable codes of connections closed after the handshake for exceeding a limit. */
export const ConnectionErrorCode = {
  /** No complete frame arrived within `idleTimeoutMs`. */
  Idle: 'ERR_CONNECTION_IDLE',
  /**
   * The peer opened a newer connection that took the place of this one
   * (`inboundConnectionsPerPeerMax`).
   */
  Superseded: 'ERR_CONNECTION_SUPERSEDED',
  /**
   * The bytes buffered in partial frames over all accepted connections went above
   * `inboundBufferedBytesMax`; the connection whose frame took it over is closed.
   */
  BufferFull: 'ERR_CONNECTION_BUFFER_FULL',
  /** `inboundConnectionsMax` connections were open: a new one was dropped on arrival. */
  Limit: 'ERR_CONNECTION_LIMIT',
} as const;
export type ConnectionErrorCode = (typeof ConnectionErrorCode)[keyof typeof ConnectionErrorCode];

/** An accepted connection was closed for exceeding a limit; the peer may reconnect. */
export class ConnectionError extends FlotillaError {
  declare readonly code: ConnectionErrorCode;
  constructor(code: ConnectionErrorCode, message: string) {
    super(code, message);
  }
}
