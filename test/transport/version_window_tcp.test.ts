import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/util/index.js';
import {
  TcpTransport,
  type PeerAddress,
  type TcpTransportOptions,
} from '../../src/transport/index.js';
import { append, RecordingHandler, silentLogger } from './_helpers.js';

const open: TcpTransport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

type NodeOptions = Partial<TcpTransportOptions> & { nodeId: number };

async function startNode(options: NodeOptions) {
  const transport = new TcpTransport({ clusterId: 'c1', logger: silentLogger,
    reconnectDelayMsMin: 10, reconnectDelayMsMax: 20, ...options });
  const handler = new RecordingHandler();
  transport.setHandler(handler);
  const address: PeerAddress = await transport.listen();
  open.push(transport);
  return { transport, handler, address };
}
type Node = Awaited<ReturnType<typeof startNode>>;

function link(a: Node, b: Node): void {
  a.transport.setPeer(b.transport.nodeId, b.address);
  b.transport.setPeer(a.transport.nodeId, a.address);
}

/**
 * Sends an append from `a` to `b` until one arrives: after a peer restarts, the sender's
 * first sends go to its old connection or are dropped during backoff, as Raft's would be.
 */
async function deliver(a: Node, b: Node, rangeId: number): Promise<void> {
  const arrived = (): boolean => b.handler.envelopes.some((e) => e.rangeId === rangeId &&
    e.message.from === a.transport.nodeId);
  for (let attempt = 0; attempt < 200 && !arrived(); attempt++) {
    a.transport.send([append(rangeId, a.transport.nodeId, b.transport.nodeId, [1])]);
    await b.handler.until(() => arrived(), 30).catch(() => undefined);
  }
  expect(arrived()).toBe(true);
}

/** One append each way. */
async function exchange(a: Node, b: Node, rangeId: number): Promise<void> {
  await deliver(a, b, rangeId);
  await deliver(b, a, rangeId);
}

const DOWNGRADE = { clusterVersion: 2, downgradeTarget: 1 };

describe('TcpTransport version window', () => {
  it('mid-downgrade, a member at the old version disconnects and rejoins, then at the new',
    async () => {
      const leader = await startNode({ nodeId: 1, versionWindow: DOWNGRADE });
      let member = await startNode({ nodeId: 2, versionWindow: DOWNGRADE });
      link(leader, member);
      await exchange(leader, member, 10);
      // The member drops off before it is downgraded and comes back still at version 2:
      // etcd's bug refused it here (only the target version could rejoin).
      await member.transport.close();
      member = await startNode({ nodeId: 2, versionWindow: DOWNGRADE });
      link(leader, member);
      await exchange(leader, member, 11);
      // Now downgraded to the target: it rejoins at version 1 and speaks version 1.
      await member.transport.close();
      member = await startNode({ nodeId: 2, protocolVersionMax: 1, versionWindow: DOWNGRADE });
      link(leader, member);
      await exchange(leader, member, 12);
      expect(leader.transport.stats().handshakesRefused).toBe(0);
      expect(member.transport.stats().handshakesRefused).toBe(0);
      expect(leader.transport.stats().errorsByCode.ERR_HANDSHAKE_VERSION_WINDOW).toBeUndefined();
    });

  it('outside a downgrade, a member below the cluster version is refused by both ends, ' +
    'counted each time and logged once', async () => {
    const lines: { code?: string; msg?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => {
      lines.push(JSON.parse(line) as { code?: string });
    } });
    const current = await startNode({ nodeId: 1, logger, errorLogIntervalMs: 3_600_000,
      versionWindow: { clusterVersion: 2 } });
    const old = await startNode({ nodeId: 2, protocolVersionMax: 1,
      versionWindow: { clusterVersion: 1 } });
    link(current, old);
    // The old node dials: the current one refuses its Hello.
    for (let attempt = 1; attempt <= 3; attempt++) {
      old.transport.send([append(5, 2, 1, [1])]);
      await current.handler.until(() =>
        current.transport.stats().errorsByCode.ERR_HANDSHAKE_VERSION_WINDOW === attempt);
      await old.handler.until(() =>
        old.transport.stats().errorsByCode.ERR_HANDSHAKE_VERSION_WINDOW === attempt);
      // Past the dialer's backoff, so the next send dials again.
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(current.transport.stats().handshakesRefused).toBe(3);
    expect(old.transport.stats().handshakesRefused).toBe(3);
    // The current node dials the old one, which (its window being [1, 2]) would admit it:
    // the current node refuses the old one's HelloAck itself.
    current.transport.send([append(6, 1, 2, [1])]);
    await current.handler.until(() =>
      current.transport.stats().errorsByCode.ERR_HANDSHAKE_VERSION_WINDOW === 4);
    expect(current.handler.envelopes).toHaveLength(0);
    expect(old.handler.envelopes).toHaveLength(0);
    const logged = lines.filter((l) => l.code === 'ERR_HANDSHAKE_VERSION_WINDOW');
    expect(logged).toHaveLength(1);
  });

  it('without a window, a previous-version peer is admitted as before', async () => {
    const a = await startNode({ nodeId: 1 });
    const b = await startNode({ nodeId: 2, protocolVersionMax: 1 });
    link(a, b);
    await exchange(a, b, 7);
  });

  it('refuses an own version outside the window, and a bad window, with ConfigError', () => {
    const make = (options: Partial<TcpTransportOptions>) => () =>
      new TcpTransport({ clusterId: 'c1', nodeId: 1, logger: silentLogger, ...options });
    expect(make({ protocolVersionMax: 1, versionWindow: { clusterVersion: 2 } }))
      .toThrow(ConfigError);
    expect(make({ versionWindow: { clusterVersion: 2, downgradeTarget: 2 } }))
      .toThrow(ConfigError);
    expect(make({ versionWindow: { clusterVersion: 0 } })).toThrow(ConfigError);
    const ok = new TcpTransport({ clusterId: 'c1', nodeId: 1, logger: silentLogger,
      protocolVersionMax: 1, versionWindow: DOWNGRADE });
    open.push(ok);
  });
});
