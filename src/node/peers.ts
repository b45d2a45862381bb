/**
 * `PeerDirectory`: what a node knows of its peers beyond their Raft address: their HTTP
 * address (where a KV request is forwarded to a range's leader) and the version each
 * reports.
 *
 * Where it comes from: a peer's HTTP address is given at start (`flotilla start
 * --peer-http ID@HOST:PORT,...`; `npm start` passes every node's); each node then asks every
 * peer's `GET /v1/node` once per `pollIntervalMs` and keeps what it answers (node id, Flotilla
 * version, protocol version, addresses). A peer whose answer names another node id is
 * ignored (and logged): a wrong flag must not route requests to a stranger. Liveness is the
 * store's (its liveness pings), not this poll's.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';

/** What `GET /v1/node` answers. */
export interface NodeInfo {
  nodeId: number;
  clusterId: string;
  /** Flotilla's version. */
  version: string;
  /** The newest protocol version the node advertises in its handshake. */
  protocolVersion: number;
  /** `HOST:PORT` of its Raft transport. */
  listen: string;
  /** `HOST:PORT` of its HTTP server. */
  http: string;
}

/** One peer as the directory knows it. */
export interface PeerEntry {
  nodeId: number;
  /** `HOST:PORT` of its Raft transport. */
  raft: string;
  /** `HOST:PORT` of its HTTP server, if known. */
  http: string | null;
  /** What it last answered on `/v1/node` (null: never answered). */
  info: NodeInfo | null;
  /** Wall-clock time of that answer, ms since the epoch (0: never). */
  heardAtMs: number;
}

/** Options of a `PeerDirectory`. */
export interface PeerDirectoryOptions {
  /** This node's id (answers naming it are not peers). */
  nodeId: number;
  clusterId: string;
  /** The peers: node id, Raft address and, if given, HTTP address. */
  peers: readonly { nodeId: number; raft: string; http: string | null }[];
  /** Time between two polls of every peer. @default 2000 (milliseconds) */
  pollIntervalMs?: number;
  /** @default silent */
  logger?: Logger | null;
}

/** The peers of one node (see the file header). */
export class PeerDirectory {
  private readonly entries = new Map<number, PeerEntry>();
  private timer: NodeJS.Timeout | null = null;
  private readonly pollIntervalMs: number;

  constructor(private readonly options: PeerDirectoryOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    assert(Number.isSafeInteger(this.pollIntervalMs) && this.pollIntervalMs > 0, 'poll interval');
    for (const p of options.peers) {
      assert(p.nodeId !== options.nodeId && !this.entries.has(p.nodeId), 'distinct peers');
      this.entries.set(p.nodeId, { ...p, info: null, heardAtMs: 0 });
    }
  }

  /** Every peer, by node id. */
  list(): PeerEntry[] {
    return [...this.entries.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** The HTTP address of `nodeId`, if known. */
  httpOf(nodeId: number): string | null {
    return this.entries.get(nodeId)?.http ?? null;
  }

  /** Starts polling the peers (and polls once now). */
  start(): void {
    assert(this.timer === null, 'start once');
    void this.pollAll();
    this.timer = setInterval(() => void this.pollAll(), this.pollIntervalMs);
    this.timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async pollAll(): Promise<void> {
    await Promise.all(this.list().map((p) => this.poll(p)));
  }

  private async poll(peer: PeerEntry): Promise<void> {
    if (peer.http === null) return;
    let info: NodeInfo;
    try {
      const res = await fetch(`http://${peer.http}/v1/node`,
        { signal: AbortSignal.timeout(Math.min(this.pollIntervalMs, 1500)) });
      if (!res.ok) return;
      info = checkInfo(await res.json());
    } catch {
      return; // down or not a Flotilla node: liveness says the rest
    }
    if (info.nodeId !== peer.nodeId || info.clusterId !== this.options.clusterId) {
      this.options.logger?.warn({ peer: peer.nodeId, answered: info.nodeId,
        cluster: info.clusterId }, 'a peer\'s HTTP address answers as another node; ignored');
      return;
    }
    peer.info = info;
    peer.heardAtMs = Date.now();
  }
}

/** Checks a `/v1/node` answer from the network. @throws Error if it is not one */
function checkInfo(raw: unknown): NodeInfo {
  const o = raw as Partial<NodeInfo> | null;
  const ok = typeof o === 'object' && o !== null && Number.isSafeInteger(o.nodeId) &&
    typeof o.clusterId === 'string' && typeof o.version === 'string' &&
    Number.isSafeInteger(o.protocolVersion) && typeof o.listen === 'string' &&
    typeof o.http === 'string' && o.version.length < 64 && o.clusterId.length < 128;
  if (!ok) throw new Error('not a node info');
  return { nodeId: o.nodeId!, clusterId: o.clusterId!, version: o.version!,
    protocolVersion: o.protocolVersion!, listen: o.listen!, http: o.http! };
}
