/**
 * Private, STOP-GAP until the engine's chunked range snapshots land (helper `snap`, tag
 * `snap-data`): the application's data travels inside Raft's snapshot message.
 *
 * A leader's outgoing MsgSnap carries the storage's snapshot. When the state machine has
 * `snapshotData`, the store asks it for its state of the range and sends that, as of the
 * applied point (`appliedState()`: index, its term, ConfState), which may be past the
 * storage snapshot Raft asked for (a range's bootstrap, or split-born initial state): the
 * state machine's state is exactly that point, since a group's turn runs between its
 * applies, and the follower answers with the newer index, which the leader accepts. (A
 * follower whose left range a snapshot carried past a split never applies that split: the
 * right range's empty initial snapshot would leave it waiting for ever; sim seed 2153.)
 */
import { assert } from '../util/index.js';
import type { Message } from '../raft/index.js';
import type { GroupId } from '../scheduler/index.js';
import type { StoreContext } from './_context.js';

/** Fills an outgoing MsgSnap's data from the state machine (see the file comment). */
export function fillSnapshotData(st: StoreContext, gid: GroupId, m: Message): void {
  const produce = st.config.stateMachine.snapshotData;
  const snapshot = m.snapshot;
  if (produce === undefined || snapshot === null) return;
  const storage = st.table.storages[gid]!;
  const applied = storage.appliedState();
  const term = storage.term(applied.index);
  assert(typeof term === 'number' && applied.index >= snapshot.metadata.index,
    'the applied index keeps its term and is at or past the storage snapshot');
  const data = produce.call(st.config.stateMachine, st.table.rangeIds[gid]!, snapshot);
  assert(data instanceof Uint8Array, 'snapshot data is bytes');
  // The storage's snapshot object is shared: the message gets its own, of the applied point.
  m.snapshot = { data, metadata: { index: applied.index, term,
    confState: applied.confState } };
}
