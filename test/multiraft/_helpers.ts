/** Helpers for the store tests: a three-store cluster on virtual time. */
import { expect } from 'vitest';
import {
  LocalCluster,
  newReplicaStatus,
  type ClusterStoreOptions,
  type LocalClusterOptions,
  type ReplicaStatus,
  type StateMachine,
} from '../../src/multiraft/index.js';
import type { Entry } from '../../src/raft/index.js';

/** Small timeouts so that tests need few ticks. */
export const TEST_STORE_OPTIONS: ClusterStoreOptions = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 2,
  quiesceAfterTicks: 3,
  livenessTimeoutTicks: 6,
};

/** A state machine that records every applied payload per range, in order. */
export class RecordingStateMachine implements StateMachine {
  readonly applied = new Map<number, string[]>();
  onApply: ((rangeId: number, entry: Entry) => void) | null = null;

  apply(rangeId: number, entry: Entry): void {
    let list = this.applied.get(rangeId);
    if (list === undefined) this.applied.set(rangeId, (list = []));
    list.push(new TextDecoder().decode(entry.data));
    this.onApply?.(rangeId, entry);
  }

  applySnapshot(): void {}

  of(rangeId: number): string[] {
    return this.applied.get(rangeId) ?? [];
  }
}

/** A cluster of stores 1, 2, 3 with recording state machines. */
export function newTestCluster(
  options: LocalClusterOptions = {},
): { cluster: LocalCluster; machines: RecordingStateMachine[] } {
  const machines: RecordingStateMachine[] = [];
  const cluster = new LocalCluster({
    ...options,
    store: { ...TEST_STORE_OPTIONS, ...options.store },
    stateMachine: () => {
      const m = new RecordingStateMachine();
      machines.push(m);
      return m;
    },
  });
  return { cluster, machines };
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Ticks until every replica of the cluster is quiesced; fails after `ticksMax`. */
export function tickUntilQuiesced(cluster: LocalCluster, ticksMax = 50): number {
  for (let t = 1; t <= ticksMax; t++) {
    cluster.tick(1);
    const s = cluster.summary();
    if (s.quiesced === s.replicas) return t;
  }
  expect.fail(`not quiesced after ${ticksMax} ticks: ${JSON.stringify(cluster.summary())}`);
}

/** The basic status of `rangeId` on every store, in node order. */
export function statuses(cluster: LocalCluster, rangeId: number): ReplicaStatus[] {
  return cluster.stores.map((store) => {
    const s = newReplicaStatus();
    expect(store.readStatus(rangeId, s)).toBe(true);
    return s;
  });
}

/** The node id every replica of `rangeId` agrees leads it (fails if they disagree). */
export function agreedLeader(cluster: LocalCluster, rangeId: number): number {
  const leads = new Set(statuses(cluster, rangeId).map((s) => s.lead));
  expect(leads.size).toBe(1);
  const [lead] = leads;
  expect(lead).not.toBe(0);
  return lead!;
}
