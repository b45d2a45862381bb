/**
 * Test helper: three stores on the loopback network on virtual time, each behind a
 * `CountingTransport` as in a real node, with the `MetricsSource` and `StatusSource` of each,
 * driven synchronously (`tick`, `settle`) while HTTP servers run on the real event loop.
 */
import pino from 'pino';
import { SeededRandom } from '../../src/raft/index.js';
import { Store } from '../../src/multiraft/index.js';
import { CountingStateMachine, LoopbackNetwork, VirtualClock } from '../../src/testing/index.js';
import { CountingTransport } from '../../src/node/counting_transport.js';
import type { MetricsSource } from '../../src/node/metrics.js';
import type { PeerInfo, StatusSource } from '../../src/node/status.js';

/** One node of the test cluster. */
export interface TestNode {
  store: Store;
  transport: CountingTransport;
  metricsSource: MetricsSource;
  statusSource: StatusSource;
}

/** Three stores on virtual time. */
export class TestCluster {
  readonly clock = new VirtualClock();
  readonly network = new LoopbackNetwork({ seed: 7, clock: this.clock });
  readonly nodes: TestNode[] = [];
  readonly nodeIds = [1, 2, 3];

  constructor() {
    const random = new SeededRandom(7);
    const logger = pino({ level: 'silent' });
    for (const nodeId of this.nodeIds) {
      const transport = new CountingTransport(
        this.network.createTransport({ nodeId, autoFlush: true }));
      const store = new Store({ nodeId, transport, random, logger,
        stateMachine: new CountingStateMachine() });
      const peers = this.nodeIds.filter((id) => id !== nodeId);
      const peerInfo = (): PeerInfo[] => peers.map((id) => ({
        nodeId: id, address: `loopback:${id}`, version: null, live: store.isNodeLive(id),
      }));
      this.nodes.push({
        store, transport,
        metricsSource: {
          nodeId, store, messageCounts: transport.counts,
          transportStats: () => transport.stats(), knownPeers: () => peers,
        },
        statusSource: {
          identity: { nodeId, clusterId: 'test-cluster', version: '0.0.0-test',
            listen: `loopback:${nodeId}`, http: 'unused', startedAtMs: 1_000 },
          store, peers: peerInfo, nowMs: () => 11_000,
        },
      });
    }
  }

  /** Creates ranges `1..count` on every store, the leader of range r on node r % 3 + 1. */
  createRanges(count: number): void {
    for (let r = 1; r <= count; r++) {
      for (const n of this.nodes) n.store.createRange(r, { voters: this.nodeIds });
      this.nodes[r % 3]!.store.campaign(r);
    }
    this.settle();
  }

  /** Runs every scheduler and delivers due messages until nothing moves. */
  settle(): void {
    for (let round = 0; round < 100_000; round++) {
      let moved = false;
      for (const n of this.nodes) {
        if (n.store.scheduler.hasWork) {
          n.store.runUntilIdle();
          moved = true;
        }
      }
      if (this.clock.runDue() > 0) moved = true;
      if (!moved) return;
    }
    throw new Error('cluster did not settle');
  }

  /** `ticks` full tick intervals. */
  tick(ticks: number): void {
    const store = this.nodes[0]!.store;
    const slots = store.ticker.config.tickSpreadSlots;
    for (let i = 0; i < ticks * slots; i++) {
      this.clock.advance(store.ticker.subTickIntervalMs);
      for (const n of this.nodes) n.store.tick();
      this.settle();
    }
  }
}
