/**
 * Private: opening a store on an engine that already holds replicas (`Store.open`).
 *
 * ONE SCAN. The engine reads every replica's metadata in one pass (`StorageEngine.open` with
 * `onReplica`: HardState, log bounds, applied index and ConfState; no log entry) and each
 * replica is seated as the scan passes it:
 *
 * - DORMANT (the common case): initialized, and everything committed is applied
 *   (`appliedIndex === commit`). A table slot, quiesced and dormant, with no storage object
 *   and no `RawNode`: its term and applied index are in the table, its vote and last index
 *   in `ColdRecords` (status only). The storage is loaded from the engine (`loadReplica`,
 *   which walks and checks the log) and the node built when the replica first wakes: a
 *   message, proposal, read, campaign or explicit wake. Its leader is unknown (0), so a
 *   woken replica comes up as a leaderless follower and, hearing from no leader, elects one
 *   after an election timeout; a message from the range's live leader makes it follow.
 * - AWAKE: committed entries not yet applied (a crash between the commit and the apply of a
 *   batch), or not initialized (a replica a peer's message created, waiting for its
 *   snapshot, perhaps holding a vote). Loaded and given a node at once; the first kind
 *   replays from its applied index in its first Ready, the second ticks as a lazily created
 *   replica does (and is collected unless it voted).
 * - REFUSED: the engine found its records corrupt (counted and logged there). A slot that
 *   refuses every message and request (`ReplicaBrokenError`); the other ranges serve.
 *
 * The state machine learns each seated replica's applied index (`StateMachine.replicaOpened`)
 * before any entry is applied: the store replays from there, so a state machine that keeps
 * its state elsewhere and persisted a later index skips what it already holds.
 *
 * The peers named by every configuration join the liveness set (pings start at once).
 */
import type { Logger } from 'pino';
import { assert, RANGE_ID_LIMIT, systemClock } from '../util/index.js';
import { RawNode } from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import { ReplicaCorruptError, type ReplicaSummary } from '../storage/index.js';
import { StoreFullError } from './errors.js';
import type { StoreContext } from './_context.js';
import { rawNodeConfig } from './_replicas.js';

/** Progress of an open, as `StoreOpenOptions.onProgress` and the final log line give it. */
export interface OpenProgress {
  /** Replicas the scan has passed. */
  replicasListed: number;
  /** Seated dormant (no storage, no node). */
  replicasDormant: number;
  /** Seated awake (replaying committed entries, or uninitialized). */
  replicasAwake: number;
  /** Refused for corrupt records, or for a range id outside `[1, 2^32)`. */
  replicasRefused: number;
  /** Milliseconds since the open began (real time). */
  elapsedMs: number;
  /** Whether this is the final report. */
  done: boolean;
}

/** Options of `Store.open`. */
export interface StoreOpenOptions {
  /** Called every `progressEvery` replicas and once at the end. @default none */
  onProgress?: (progress: Readonly<OpenProgress>) => void;
  /**
   * Replicas between two progress reports (`onProgress` and an info line on the store's
   * logger). @default 100000 (replicas)
   */
  progressEvery?: number;
}

/**
 * Opens the store's engine and seats every replica it holds (see the file comment).
 * @throws StoreFullError if the engine holds more than `replicasMax` replicas; whatever
 *   the engine's `open` throws (identity, version).
 */
export async function openReplicas(st: StoreContext, options: StoreOpenOptions):
  Promise<OpenProgress> {
  assert(st.replicaCount === 0, 'open seats replicas into an empty store');
  const every = options.progressEvery ?? 100_000;
  assert(Number.isInteger(every) && every > 0, 'a positive progress interval');
  const startedMs = systemClock.nowMs();
  const progress: OpenProgress = {
    replicasListed: 0, replicasDormant: 0, replicasAwake: 0, replicasRefused: 0,
    elapsedMs: 0, done: false,
  };
  const report = (): void => {
    progress.elapsedMs = Math.round(systemClock.nowMs() - startedMs);
    options.onProgress?.(progress);
    logProgress(st.log, progress);
  };
  await st.engine.open({
    onReplica: (summary) => {
      seat(st, summary, progress);
      if (++progress.replicasListed % every === 0) report();
    },
  });
  progress.done = true;
  report();
  assert(progress.replicasListed === progress.replicasDormant + progress.replicasAwake +
    progress.replicasRefused, 'every listed replica seated or refused');
  return progress;
}

function logProgress(log: Logger | null, p: OpenProgress): void {
  if (log === null) return;
  log.info({ replicasListed: p.replicasListed, replicasDormant: p.replicasDormant,
    replicasAwake: p.replicasAwake, replicasRefused: p.replicasRefused, elapsedMs: p.elapsedMs },
  p.done ? 'store opened' : 'opening store');
}

/** Seats one replica of the scan. */
function seat(st: StoreContext, s: ReplicaSummary, progress: OpenProgress): void {
  const rangeId = s.rangeId;
  if (!(rangeId > 0 && rangeId < RANGE_ID_LIMIT)) {
    st.log?.error({ rangeId }, 'replica refused at open: range id out of range');
    progress.replicasRefused++;
    return;
  }
  if (st.replicaCount >= st.config.replicasMax) throw new StoreFullError(st.config.replicasMax);
  const t = st.table;
  const gid = t.allocate(rangeId);
  st.stats.replicasOpened++;
  if (s.error !== null) {
    t.markRefused(gid);
    progress.replicasRefused++;
    return;
  }
  for (const peer of s.confState.voters) st.liveness.addPeer(peer, st.storeTicks);
  for (const peer of s.confState.learners) st.liveness.addPeer(peer, st.storeTicks);
  st.config.stateMachine.replicaOpened?.(rangeId, s.appliedIndex);
  const initialized = s.appliedIndex > 0;
  if (initialized && s.appliedIndex === s.commit) {
    st.ticker.add(gid);
    st.ticker.quiesce(gid);
    t.markOpenedDormant(gid, s.term, s.appliedIndex);
    st.cold.set(gid, s.vote, s.lastIndex, t.capacity);
    progress.replicasDormant++;
    return;
  }
  if (seatAwake(st, gid, s, initialized)) progress.replicasAwake++;
  else progress.replicasRefused++;
}

/** Loads a replica that cannot sleep and gives it a node (see the file comment). */
function seatAwake(st: StoreContext, gid: GroupId, s: ReplicaSummary, initialized: boolean):
  boolean {
  const t = st.table;
  let storage;
  try {
    storage = st.engine.loadReplica(s.rangeId);
  } catch (error) {
    if (!(error instanceof ReplicaCorruptError)) throw error;
    t.markRefused(gid);
    return false;
  }
  assert(storage.appliedState().index === s.appliedIndex, 'the storage the scan summarized');
  t.storages[gid] = storage;
  st.enterRange(gid);
  t.nodes[gid] = new RawNode(rawNodeConfig(st, storage, s.appliedIndex));
  st.ticker.add(gid);
  if (initialized) {
    t.markInitialized(gid);
    st.scheduler.enqueue(gid, WorkFlag.Ready);
    return true;
  }
  // Beyond the cap it is kept but never collected (like one that voted).
  if (!st.uninitialized.full) {
    st.uninitialized.add(gid, st.storeTicks);
    if (s.vote !== 0) st.uninitialized.pin(gid);
  }
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
  return true;
}
