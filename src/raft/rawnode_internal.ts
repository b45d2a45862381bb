/**
 * The one door to a `RawNode`'s state machine, for src/raft itself (bootstrap) and for
 * white-box tests of the core (the conformance harness, test/raft, the raw-group simulation).
 * Not exported from index.ts, so no other layer can reach it; `npm run lint:imports` also
 * rejects `.raft.` property access outside src/raft and test/conformance.
 */
import type { Raft } from './raft.js';
import type { RawNode } from './rawnode.js';

/** The state machine inside `node`. TEST AND CORE ONLY: hosts use RawNode's accessors. */
export function raftOf(node: RawNode): Raft {
  // Element access is TypeScript's sanctioned way past `private` (no runtime cost).
  return node['raft'];
}
