/**
 * Private: mutual TLS for the TCP transport, and the binding of a node's identity to its
 * certificate.
 *
 * Binding: a node's certificate carries, in its subject alternative names, the URI
 * `flotilla://<cluster id, URI-encoded>/node/<node id>` (`nodeCertificateUri`). Both ends
 * verify the peer's chain against the configured CA (TLS 1.3, certificates required both
 * ways), then check that the chain's leaf names the cluster and the node id the peer claims:
 * the dialer checks the listener's before it sends anything (`checkServerIdentity`), the
 * listener checks the dialer's when its Hello arrives. A valid certificate of one node is
 * thus useless for claiming another, and a certificate from another CA never gets as far as
 * a Hello.
 *
 * Making one node's certificate with openssl (as `test/transport/tls.test.ts` does):
 *
 *     openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
 *       -keyout node3.key -subj /CN=node3 -out node3.csr
 *     printf 'subjectAltName=URI:flotilla://prod/node/3\n' > node3.ext
 *     openssl x509 -req -in node3.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
 *       -days 365 -extfile node3.ext -out node3.crt
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { ConfigError, assert } from '../util/index.js';
import { HandshakeError, HandshakeErrorCode } from './errors.js';

/** PEM material of one node, for `TcpTransportOptions.tls`. */
export interface TcpTlsOptions {
  /** This node's private key (PEM). */
  key: string | Buffer;
  /**
   * This node's certificate (PEM), naming `nodeCertificateUri(clusterId, nodeId)` among its
   * subject alternative names; intermediates may follow it.
   */
  cert: string | Buffer;
  /** The CA certificate(s) (PEM) that peers' certificates must chain to. */
  ca: string | Buffer | readonly (string | Buffer)[];
}

/** The subject-alternative-name URI that binds a certificate to one node of one cluster. */
export function nodeCertificateUri(clusterId: string, nodeId: number): string {
  assert(Number.isSafeInteger(nodeId) && nodeId > 0, 'node id of a certificate');
  return `flotilla://${encodeURIComponent(clusterId)}/node/${nodeId}`;
}

/** Whether a `subjectaltname` string (Node's format: `URI:a, DNS:b`) lists `uri`. */
export function namesUri(subjectAltName: string | undefined, uri: string): boolean {
  if (subjectAltName === undefined || subjectAltName.length > 65_536) return false;
  // Entries are separated by ", "; our URIs hold neither commas nor quotes (encoded), so an
  // entry Node had to quote never matches.
  for (const entry of subjectAltName.split(', ')) {
    if (entry === `URI:${uri}`) return true;
  }
  return false;
}

/**
 * Validates the TLS options at construction: the key is the certificate's, and the
 * certificate names this node. Throws `ConfigError`.
 */
export function checkTlsOptions(tls: TcpTlsOptions, clusterId: string, nodeId: number): void {
  for (const field of ['key', 'cert', 'ca'] as const) {
    const value = tls[field];
    if (value === undefined || value === null || value.length === 0) {
      throw new ConfigError(`tls.${field} must be PEM text`);
    }
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(tls.cert);
    if (!certificate.checkPrivateKey(createPrivateKey(tls.key))) {
      throw new ConfigError('tls.key is not the key of tls.cert');
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`tls.key or tls.cert is not valid PEM: ${(error as Error).message}`);
  }
  const uri = nodeCertificateUri(clusterId, nodeId);
  if (!namesUri(certificate.subjectAltName, uri)) {
    throw new ConfigError(`tls.cert does not name ${uri} in its subject alternative names`);
  }
}

/**
 * The dialer's check of the listener's certificate (the chain is already verified): it must
 * name the node we dialed. Returns the error to fail the TLS handshake with, as
 * `tls.connect`'s `checkServerIdentity` expects.
 */
export function checkListenerCertificate(certificate: PeerCertificate, clusterId: string,
  expectedNodeId: number): Error | undefined {
  const uri = nodeCertificateUri(clusterId, expectedNodeId);
  if (namesUri(certificate.subjectaltname, uri)) return undefined;
  return new HandshakeError(HandshakeErrorCode.Certificate,
    `the certificate of the node dialed as ${expectedNodeId} does not name ${uri}`);
}

/**
 * The listener's check of the dialer's certificate against its Hello. Throws `HandshakeError`
 * if the certificate does not name the node id the Hello claims.
 */
export function checkDialerCertificate(subjectAltName: string | undefined, clusterId: string,
  claimedNodeId: number): void {
  const uri = nodeCertificateUri(clusterId, claimedNodeId);
  if (!namesUri(subjectAltName, uri)) {
    throw new HandshakeError(HandshakeErrorCode.Certificate,
      `peer claims node ${claimedNodeId} but its certificate does not name ${uri}`);
  }
}
