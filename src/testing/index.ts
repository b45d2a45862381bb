/**
 * `flotilla/testing`: harnesses for tests, simulations and benchmarks, kept out of the main
 * entry so that an application never ships them by accident.
 *
 * CONTRACT
 *
 * 1. `LocalCluster` runs several stores in one process over the loopback network, on the
 *    `VirtualClock` (deterministic, driven by `settle`/`tick`) or on real time.
 * 2. `CountingStateMachine` only counts what it applies.
 * 3. `LoopbackNetwork` injects faults (loss, duplication, delay, partitions) between the
 *    transports it creates; `seededRandom` is its deterministic random source.
 * 4. `MemoryKv` serves the node's KV API from one in-memory map (tests of the HTTP API).
 * 5. Nothing here is used by the main entry. The source files stay in the folders that own
 *    them; this entry only gathers them.
 */
export {
  CountingStateMachine,
  LocalCluster,
  type ClusterStoreOptions,
  type LocalClusterOptions,
} from '../multiraft/index.js';
export { VirtualClock } from '../util/index.js';
export {
  LoopbackNetwork,
  LoopbackTransport,
  seededRandom,
  type LinkFaults,
  type LoopbackNetworkOptions,
  type LoopbackNetworkStats,
  type LoopbackTransportOptions,
} from '../transport/index.js';
export { MemoryKv } from '../node/index.js';
