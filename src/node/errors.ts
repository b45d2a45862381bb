/**
 * Typed errors of the node layer. A node refuses to start on a bad configuration with one of
 * these (the CLI prints its message on one line and exits with code 2); the HTTP API answers
 * with their `code` in a JSON body.
 */
import { FlotillaError } from '../util/index.js';

/** Stable codes of the node's errors. */
export const NodeErrorCode = {
  /** The data directory belongs to another cluster. */
  ClusterMismatch: 'ERR_DATA_CLUSTER_MISMATCH',
  /** The data directory was written by another node id. */
  NodeIdMismatch: 'ERR_DATA_NODE_ID_MISMATCH',
  /** The data directory's identity file is unreadable or malformed. */
  DataCorrupt: 'ERR_DATA_IDENTITY_CORRUPT',
  /** An address to listen on is taken or cannot be bound. */
  ListenFailed: 'ERR_LISTEN',
} as const;
/** One of `NodeErrorCode`. */
export type NodeErrorCode = (typeof NodeErrorCode)[keyof typeof NodeErrorCode];

/** The node cannot start with this configuration (data directory, addresses). */
export class StartupError extends FlotillaError {
  constructor(code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
