/**
 * Transport: moving Raft messages between the nodes of a Flotilla cluster.
 *
 * Contract (what the store may rely on):
 *
 * 1. `send(envelopes)` queues `(rangeId, message)` envelopes by destination node
 *    (`message.to`; a replica's Raft id is its node id). `flush()` (explicit, or automatic at
 *    most `flushDelayMs` later, which is at most half a tick) writes every queued envelope for
 *    one node in one frame, split only above `frameBytesMax`.
 * 2. Plain heartbeats and heartbeat responses are coalesced: a compact column of (group, term,
 *    commit, quiesce) rows per frame, 2 to 5 bytes a group, with `from`/`to` taken from the
 *    frame. The receiver fans them out into `MsgHeartbeat`/`MsgHeartbeatResp` messages equal
 *    to the ones sent. The quiesce flag rides in `Envelope.quiesce`.
 * 3. Delivery is at most once per frame, in order per connection on TCP; the loopback may
 *    drop, duplicate, delay, reorder and partition on purpose. Raft tolerates all of it. A
 *    duplicate is a deep copy, in every mode: no message object is delivered twice.
 * 4. Nothing ever blocks or grows without bound: every queue has a validated maximum; beyond
 *    it Raft messages are dropped, counted in `stats()`, and their groups reported through
 *    `TransportHandler.reportUnreachable` (heartbeats excepted). A `MsgSnap`'s outcome is
 *    reported through `reportSnapshot`.
 * 5. Handler calls happen on the event loop, never inside `send`/`flush`.
 * 6. Bad input from a peer (truncated, oversized, bad checksum, undecodable frame; failed
 *    handshake) closes that connection with a counted `FrameError`/`HandshakeError`, logged
 *    with its code at most once per code per `errorLogIntervalMs`; the node and its other
 *    connections go on. Nothing a peer sends throws out of a socket handler.
 * 7. Every resource a peer can claim on TCP is bounded by a validated option, before and after
 *    the handshake: bytes buffered before the Hello (`helloBytesMax`, 4 KiB) and the time to
 *    complete it (`handshakeTimeoutMs`, counted in `handshakesRefused` when it runs out);
 *    distinct peer node ids (`peerNodeIdsMax`, refused with `ERR_HANDSHAKE_PEER_LIMIT`);
 *    connections per peer (`inboundConnectionsPerPeerMax`: a newer one supersedes the
 *    oldest) and in all (`inboundConnectionsMax`); idle connections (`idleTimeoutMs`, after
 *    which the dialer redials on its next send without losing it); and partial frames
 *    (`frameTimeoutMs` each, `inboundBufferedBytesMax` all together, gauged in
 *    `inboundBufferedBytesNow`). Going over closes or refuses the connection and counts it.
 * 8. Peers are authenticated. Without TLS, a node accepts connections only from the node ids
 *    it has addresses for (`peers`, `setPeer`; others: `ERR_HANDSHAKE_UNKNOWN_PEER`). With
 *    `tls`, every connection is mutual TLS 1.3 against one CA, and each node's certificate
 *    names `nodeCertificateUri(clusterId, nodeId)` in its subject alternative names: the
 *    listener refuses a Hello whose node id its dialer's certificate does not name, the dialer
 *    a listener whose certificate does not name the node it dialed
 *    (`ERR_HANDSHAKE_CERTIFICATE`), and either end a certificate from another CA
 *    (`ERR_HANDSHAKE_TLS`). A certified node is admitted without an address, within
 *    `peerNodeIdsMax`. The node ids handed to `handleBatch` are thus admitted ones only.
 * 9. With `versionWindow` (a cluster version and, during a downgrade, a target), both ends of
 *    a handshake refuse a peer whose version is outside the window with
 *    `ERR_HANDSHAKE_VERSION_WINDOW` (counted, logged at most once per interval); a member in
 *    the window, at the old version or the new, may disconnect and rejoin at any time.
 *
 * Implementations: `TcpTransport` (node:net or node:tls, msgpackr frames, handshake with
 * cluster id, node ids and protocol version range, reconnect with capped exponential backoff
 * and jitter, snapshots streamed in chunks behind heartbeats) and `LoopbackTransport` (in
 * process, with fault injection, for tests, the simulation and benchmarks).
 *
 * 10. Range snapshots (`sendSnapshotChunk`, `handleSnapshotChunk`): chunks travel as frames
 *    of their own (`FrameKind.RangeSnapshotChunk`), each within `frameBytesMax`, the stream
 *    within `inboundSnapshotBytesMax` (offset plus bytes); beyond, a chunk is dropped and
 *    counted (`snapshotChunksRefused`), the connection stays. The loopback applies its faults
 *    (drop, duplicate, delay, reorder) to chunks too.
 *
 * This file is the only one other folders import.
 */
export { SnapshotChunkKind } from './types.js';
export type {
  Envelope,
  SnapshotChunk,
  Transport,
  TransportHandler,
  TransportStats,
} from './types.js';
export { newTransportStats } from './types.js';
export {
  ConnectionError,
  ConnectionErrorCode,
  FrameError,
  FrameErrorCode,
  HandshakeError,
  HandshakeErrorCode,
} from './errors.js';
export { realClock, type TimerHandle, type TransportClock } from './clock.js';
export type { BatchingOptions } from './_batching.js';
export {
  FRAME_HEADER_BYTES,
  FrameCodec,
  FrameKind,
  FrameReader,
  batchEnvelopes,
  type BatchFrame,
  type EncodedBatch,
  type Frame,
} from './codec.js';
export { HeartbeatCursor, isCoalescible } from './heartbeats.js';
export {
  LoopbackNetwork,
  LoopbackTransport,
  seededRandom,
  type LinkFaults,
  type LoopbackNetworkOptions,
  type LoopbackNetworkStats,
  type LoopbackTransportOptions,
} from './loopback.js';
export {
  TcpTransport,
  type PeerAddress,
  type TcpTransportOptions,
} from './tcp.js';
export { nodeCertificateUri, type TcpTlsOptions } from './_tls.js';
export {
  PROTOCOL_VERSION_COALESCED,
  PROTOCOL_VERSION_CURRENT,
  PROTOCOL_VERSION_OLDEST,
} from './handshake.js';
export {
  checkVersionWindow,
  versionAdmitted,
  versionWindow,
  type VersionWindow,
  type VersionWindowOptions,
} from './version_window.js';
