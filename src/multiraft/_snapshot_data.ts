/**
 * Private, STOP-GAP until the engine's chunked range snapshots land (helper `snap`, tag
 * `snap-data`): the application's data travels inside Raft's snapshot message.
 *
 * A leader's outgoing MsgSnap carries the storage's snapshot. When that snapshot is the
 * applied point itself (`appliedState().index`: the log was compacted there, as when a peer
 * is added) and the state machine has `snapshotData`, the store asks it for its state of the
 * range and sends that: the state machine's state is exactly that point, since a group's
 * turn runs between its applies. Any other snapshot (a range's bootstrap, whose state a
 * split creates on every store; one this replica received itself, data included) goes as
 * it is: its data, if any, is of its own index.
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
  if (snapshot.metadata.index !== storage.appliedState().index) return;
  const data = produce.call(st.config.stateMachine, st.table.rangeIds[gid]!, snapshot);
  assert(data instanceof Uint8Array, 'snapshot data is bytes');
  // The storage's snapshot object is shared: the message gets its own.
  m.snapshot = { data, metadata: snapshot.metadata };
}
