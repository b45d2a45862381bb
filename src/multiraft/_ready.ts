/**
 * Private: taking a group's Ready in its turn, and the batch end that persists, sends,
 * applies and advances every Ready of the batch.
 */
import { assert } from '../util/index.js';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  ReadyKind,
  type Message,
  StateType,
  unmarshalConfChange,
  type ConfState,
  type Entry,
  type RawNode,
  type Ready,
} from '../raft/index.js';
import { WorkFlag, type GroupId } from '../scheduler/index.js';
import type { EngineBatch } from '../storage/index.js';
import type { StoreContext } from './_context.js';
import type { InFlightBatch } from './_pipeline.js';
import { internSnapshot } from './_replicas.js';
import { maybeRelease } from './_quiescer.js';
import { fillSnapshotData } from './_snapshot_data.js';
import { maybeTruncate } from './_truncation.js';

/** Takes the group's Ready; its writes, sends and applies happen at the batch end. */
export function processReady(st: StoreContext, gid: GroupId): void {
  const t = st.table;
  if (gid >= t.allocated || t.nodes[gid] === null) return;
  if (t.isReadyPending(gid)) return;
  if (st.pipeline.full) {
    // Backpressure (see _pipeline.ts): taken again when a batch in flight completes.
    st.pipeline.deferred.push(gid);
    return;
  }
  const node = st.settled(gid);
  const kind = node.pendingReady();
  if (kind === ReadyKind.None) return;
  const rangeId = t.rangeIds[gid]!;
  if (kind === ReadyKind.MessagesOnly) {
    // Most turns of an awake group (heartbeats, their responses): nothing to persist, apply
    // or advance, so no Ready is built; the messages leave after the batch's writes.
    sendMessages(st, gid, rangeId, node.takeMessages());
    t.grantTickCredit(gid, node, st.quiescence);
    return;
  }
  const rd = node.ready();
  st.snapshots?.receiver.readyTaken(rangeId, rd.snapshot);
  // Read states need nothing persisted: the reader waits until the index is applied.
  const done = st.config.stateMachine.readIndexDone;
  for (let i = 0; i < rd.readStates.length && done !== undefined; i++) {
    const rs = rd.readStates[i]!;
    done.call(st.config.stateMachine, rangeId, rs.index, rs.requestCtx);
  }
  sendMessages(st, gid, rangeId, rd.messages);
  const hs = rd.hardState;
  if (rd.entries.length === 0 && rd.committedEntries.length === 0 && rd.snapshot === null &&
    hs.term === 0 && hs.vote === 0 && hs.commit === 0) {
    // Messages only (heartbeats and their responses, most of an awake group's traffic):
    // nothing to persist or apply, so nothing to wait for. Advancing now, while the node
    // is still in cache, spares the batch end a second visit. Such an advance steps no
    // storage acknowledgement (those come only with entries or a HardState), but it may
    // step a self-addressed response: a pre-candidate's own pre-vote, which a lone voter
    // wins at once (a role change, hence a soft state). Its next Ready is then queued.
    // The messages still leave after the batch's writes.
    node.advance();
    if (rd.softState !== null && node.hasReady()) st.scheduler.enqueue(gid, WorkFlag.Ready);
    else t.grantTickCredit(gid, node, st.quiescence);
    return;
  }
  t.markReadyPending(gid);
  st.staging.stageReady(gid, rd);
}

/**
 * The scheduler's `onBatchEnd`. ORDER (etcd's Ready contract, for every group of the batch
 * at once): stage every Ready's writes into the batch's one engine batch and commit it;
 * only once it is durable send all messages, in one `send` and one `flush` (a message may
 * promise that its sender persisted something); then apply committed entries and advance.
 * The second half runs when the commit completes, in commit order (_pipeline.ts): with the
 * memory engine at once, with a durable engine after its sync, while the event loop runs
 * the next batches.
 */
export function finishBatch(st: StoreContext): void {
  const staging = st.staging;
  const groups = staging.groups;
  const readies = staging.readies;
  for (let i = 0; i < groups.length; i++) persist(st, groups[i]!, readies[i]!);
  const writes = staging.takeWrites();
  const flight = st.pipeline.begin(staging);
  st.snapshots?.receiver.bindFlight(flight);
  if (writes === null) {
    flight.durable = true;
    drain(st);
    return;
  }
  // Read before the commit (the engine may recycle the batch); the clock only when observed.
  const groupCount = writes.groupCount;
  const byteCount = writes.byteCount;
  const startMs = st.storageCommitObserver === null ? 0 : st.config.clock.nowMs();
  st.engine.commit(writes, (error) => {
    if (error !== null) return fail(st, error);
    st.stats.storageCommits++;
    observeCommit(st, groupCount, byteCount, startMs);
    flight.durable = true;
    drain(st);
  });
}

/** Tells the storage commit observer, if any, of one completed commit. */
function observeCommit(st: StoreContext, groups: number, bytes: number, startMs: number): void {
  const observer = st.storageCommitObserver;
  if (observer === null) return;
  assert(groups >= 0 && bytes >= 0, 'batch sizes are not negative');
  const seconds = Math.max(0, st.config.clock.nowMs() - startMs) / 1000;
  observer(groups, bytes, seconds);
}

/** Completes the durable flights at the head of the pipeline, in order. */
function drain(st: StoreContext): void {
  if (st.pipeline.broken !== null) return;
  for (let flight = st.pipeline.nextDurable(); flight !== null;
    flight = st.pipeline.nextDurable()) {
    afterCommit(st, flight);
    st.pipeline.recycle(flight);
  }
  const deferred = st.pipeline.deferred;
  for (let i = 0; i < deferred.length; i++) st.scheduler.enqueue(deferred[i]!, WorkFlag.Ready);
  deferred.length = 0;
}

/** A commit failed: nothing of it or of any later batch is sent, applied or acknowledged. */
function fail(st: StoreContext, error: Error): void {
  if (st.pipeline.broken !== null) return;
  st.pipeline.broken = error;
  st.stats.storageFailures++;
  st.log?.error({ err: error, batchesDropped: st.pipeline.length },
    'storage commit failed: the store stops making progress');
  st.pipeline.dropAll();
}

/** Sends, applies and advances once the batch's writes are durable. */
function afterCommit(st: StoreContext, flight: InFlightBatch): void {
  const groups = flight.groups;
  const readies = flight.readies;
  st.sendOutbox(flight.outbox);
  st.snapshots?.receiver.flightDurable(flight);
  for (let i = 0; i < groups.length; i++) {
    applyCommitted(st, groups[i]!, readies[i]!);
    advanceReady(st, groups[i]!, readies[i]!);
  }
  // The applied states (and any state-machine writes staged with them) in one batch of
  // their own: the entries they cover are durable already, so nothing waits for it.
  const applied = st.staging.takeWrites();
  if (applied !== null) {
    st.stats.appliedCommits++;
    const groupCount = applied.groupCount;
    const byteCount = applied.byteCount;
    const startMs = st.storageCommitObserver === null ? 0 : st.config.clock.nowMs();
    st.engine.commit(applied, (error) => {
      if (error !== null) fail(st, error);
      else observeCommit(st, groupCount, byteCount, startMs);
    });
  }
  st.stats.batches++;
  // Applying may propose (a state machine reacting to a command), but a proposal's
  // messages leave with its group's next Ready, never through this batch's outbox.
  assert(flight.outbox.length === 0, 'one send per batch: nothing queued after it');
}

/**
 * Queues a turn's messages for the batch end, consecutive appends merged; a snapshot gets
 * its data filled and, with a chunk-capable transport, streams in chunks instead.
 */
function sendMessages(st: StoreContext, gid: GroupId, rangeId: number,
  messages: readonly Message[]): void {
  let streamed = false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.type !== MessageType.MsgSnap) continue;
    fillSnapshotData(st, gid, m);
    // A snapshot streams in chunks from the engine (_snapshot_send.ts) when it can.
    if (st.snapshots !== null) {
      st.snapshots.sender.start(gid, rangeId, m);
      streamed = true;
    }
  }
  // Rare (a snapshot streamed): the turn's other messages leave as usual.
  const rest = streamed ? messages.filter((m) => m.type !== MessageType.MsgSnap) : messages;
  st.stats.appendsMerged += st.staging.sendReady(rangeId, rest);
}

/** Stages a Ready's snapshot, entries and HardState into the batch's engine batch. */
function persist(st: StoreContext, gid: GroupId, rd: Ready): void {
  const t = st.table;
  const storage = t.storages[gid]!;
  let writes: EngineBatch | null = null;
  if (rd.snapshot !== null && rd.snapshot.metadata.index !== 0) {
    writes = st.staging.writes();
    const snapshot = internSnapshot(st, rd.snapshot);
    // A streamed snapshot's data, range-local keys and descriptor go into this batch too.
    const descriptor = st.snapshots?.receiver.stageInto(gid, t.rangeIds[gid]!, snapshot,
      writes) ?? EMPTY_BYTES;
    const error = storage.applySnapshot(snapshot, descriptor, writes);
    assert(error === null, 'Raft hands out only snapshots newer than the storage');
    st.config.stateMachine.applySnapshot(t.rangeIds[gid]!, snapshot, writes);
    initialize(st, gid, snapshot.metadata.confState);
  }
  if (rd.entries.length > 0) storage.append(rd.entries, writes ??= st.staging.writes());
  const hs = rd.hardState;
  if (hs.term !== 0 || hs.vote !== 0 || hs.commit !== 0) {
    storage.setHardState(hs, writes ?? st.staging.writes());
  }
}

/** Applies the Ready's committed entries (none: nothing). @returns true */
function applyCommitted(st: StoreContext, gid: GroupId, rd: Ready): boolean {
  const t = st.table;
  assert(t.isReadyPending(gid), 'staged ready');
  const entries = rd.committedEntries;
  if (entries.length > 0) applyEntries(st, gid, t.rangeIds[gid]!, st.settled(gid), entries);
  return true;
}

function advanceReady(st: StoreContext, gid: GroupId, rd: Ready): void {
  const t = st.table;
  assert(t.isReadyPending(gid), 'staged ready');
  const node = st.settled(gid);
  if (rd.softState !== null && rd.softState.raftState === StateType.StateLeader &&
    rd.softState.lead === st.nodeId) st.stats.leadershipsAcquired++;
  node.advance();
  t.clearReadyPending(gid);
  if (node.hasReady()) st.scheduler.enqueue(gid, WorkFlag.Ready);
  else maybeRelease(st, gid);
  t.maybeGrantTickCredit(gid, st.quiescence);
}

/**
 * Applies committed entries and stages the consistent applied point (etcd's consistent
 * index): the applied index and the ConfState as of the last entry, in the same engine batch
 * as the state-machine writes the application stages through `apply`'s batch argument. After
 * a crash the replica replays from exactly that point.
 */
function applyEntries(st: StoreContext, gid: GroupId, rangeId: number, node: RawNode,
  entries: readonly Entry[]): void {
  const storage = st.table.storages[gid]!;
  const writes = st.staging.writes();
  let confState = storage.appliedState().confState;
  let peerAdded = false;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.type === EntryType.EntryNormal) {
      if (entry.data.length === 0) continue;
      st.config.stateMachine.apply(rangeId, entry, writes);
      st.stats.entriesApplied++;
    } else {
      const before = confState;
      confState = node.applyConfChange(unmarshalConfChange(entry.type, entry.data));
      peerAdded ||= addsPeer(before, confState);
      for (const peer of confState.voters) st.liveness.addPeer(peer, st.storeTicks);
      for (const peer of confState.learners) st.liveness.addPeer(peer, st.storeTicks);
      st.stats.confChangesApplied++;
      st.config.stateMachine.confChanged?.(rangeId, confState, entry.index, writes);
    }
  }
  const last = entries[entries.length - 1]!.index;
  assert(last === entries[0]!.index + entries.length - 1, 'committed entries are contiguous');
  assert(last <= storage.lastIndex(), 'only entries the log holds are applied');
  if (last > storage.appliedState().index) {
    storage.setApplied({ index: last, confState, descriptor: storage.appliedState().descriptor },
      writes);
    maybeTruncate(st, node, storage, writes);
  }
  // A new peer is caught up by a snapshot, and the one the log starts from (a range's
  // bootstrap) predates it: a peer missing from a snapshot's configuration cannot restore
  // it, and would be sent it again and again. Compacted to the applied point, the log's
  // snapshot is that point, with the configuration that holds the new peer.
  if (peerAdded && storage.firstIndex() <= last) {
    const error = storage.compact(last, writes);
    assert(error === null, 'compact applied entries only');
  }
}

/** Whether `after` holds a voter or learner that `before` did not. */
function addsPeer(before: ConfState, after: ConfState): boolean {
  const known = (id: number) => before.voters.includes(id) || before.learners.includes(id) ||
    before.votersOutgoing.includes(id);
  return after.voters.some((id) => !known(id)) || after.learners.some((id) => !known(id));
}

/** A lazily created replica got its snapshot: it knows its configuration and ticks. */
function initialize(st: StoreContext, gid: GroupId, cs: ConfState): void {
  for (const peer of cs.voters) st.liveness.addPeer(peer, st.storeTicks);
  for (const peer of cs.learners) st.liveness.addPeer(peer, st.storeTicks);
  if (!st.table.markInitialized(gid)) return;
  st.uninitialized.delete(gid);
  st.stats.uninitializedReplicasNow = st.uninitialized.count;
  st.ticker.wake(gid);
  assert(st.ticker.isAwake(gid), 'an initialized replica ticks');
}
