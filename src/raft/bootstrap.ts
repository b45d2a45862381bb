/**
 * Bootstrapping a new group on an empty storage (etcd's `RawNode.Bootstrap`): the initial
 * membership becomes committed ConfChange entries at term 1, applied at once so that the node
 * can campaign immediately. Recommended instead: a storage whose first index is above 1 and
 * whose InitialState holds the desired ConfState.
 */

import { FlotillaError } from '../util/index.js';
import { assert } from '../util/index.js';
import {
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  emptyHardState,
  type Entry,
} from './raftpb.js';
import { NONE } from './raft_state.js';
import type { RawNode } from './rawnode.js';
import { raftOf } from './rawnode_internal.js';
import { asV2, encodeConfChange } from './confchange_codec.js';

/** A member of the initial configuration. */
export interface Peer {
  id: number;
  /** Opaque context stored in the member's ConfChange. @default empty */
  context?: Uint8Array;
}

/** Bootstrap was refused: no peers, or a storage that already holds a log. */
export class BootstrapError extends FlotillaError {
  constructor(message: string) {
    super('ERR_RAFT_BOOTSTRAP', message);
  }
}

/** See the file comment. Throws BootstrapError. */
export function bootstrap(rn: RawNode, peers: Peer[]): void {
  if (peers.length === 0) {
    throw new BootstrapError('must provide at least one peer to Bootstrap');
  }
  const r = raftOf(rn);
  const lastIndex = r.raftLog.storage.lastIndex();
  if (lastIndex !== 0) throw new BootstrapError("can't bootstrap a nonempty Storage");

  // Nothing is persisted yet: the first Ready must carry the HardState.
  rn.setPrevHardState(emptyHardState());
  r.becomeFollower(1, NONE);
  const ents: Entry[] = new Array<Entry>(peers.length);
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i]!;
    const data = encodeConfChange({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: p.id,
      context: p.context ?? EMPTY_BYTES,
      id: 0,
    });
    ents[i] = { type: EntryType.EntryConfChange, term: 1, index: i + 1, data };
  }
  r.raftLog.append(ents);

  // Apply at once so the node can campaign right away; the application will see (and apply)
  // these entries again through Ready.committedEntries, since applied stays 0.
  r.raftLog.committed = ents.length;
  for (let i = 0; i < peers.length; i++) {
    r.applyConfChange(
      asV2({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: peers[i]!.id,
        context: EMPTY_BYTES,
        id: 0,
      }),
    );
  }
  assert(r.raftLog.lastIndex() === peers.length, 'bootstrap entries not appended');
}
