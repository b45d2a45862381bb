/**
 * The merge's wait for application, as a seam (CockroachDB's `WaitForApplication` RPC).
 *
 * A merge coordinator (the left range's leader) froze the right range at `freezeIndex`
 * (merge_apply.ts) and must not propose the merge before every replica of the right range
 * applied that index: the merge command, applied on a store whose right replica was not yet
 * frozen there, would subsume a range that still takes writes. The replicas live on other
 * stores, so the question "has your replica of range R applied index I?" goes to them:
 *
 * - `inProcessMergeWaiter`: the stores are `RangeNode`s of one process (tests, simulations,
 *   embedding several stores);
 * - across processes the node layer implements `MergeWaiter` over its peers' HTTP
 *   (src/node/applied_wait.ts), answered from the remote node's own replica.
 *
 * An implementation resolves once the replica applied the index, or rejects with a typed
 * error (`MergeWaitTimeoutError` after its deadline, `MergeWaitPeerError` for a peer it
 * cannot ask); it never resolves early. The frozen range stays frozen after a failed wait
 * (a freeze never thaws), so the coordinator's caller retries the merge later
 * (`RangeNode.merge` resumes a frozen right range instead of freezing it again).
 */
import { FlotillaError, assert } from '../util/index.js';

/** Stable codes of the merge wait's errors. */
export const MergeWaitErrorCode = {
  Timeout: 'ERR_MERGE_WAIT_TIMEOUT',
  Peer: 'ERR_MERGE_WAIT_PEER',
} as const;

/** A replica did not report the freeze index applied within the waiter's deadline. */
export class MergeWaitTimeoutError extends FlotillaError {
  constructor(readonly nodeId: number, readonly rangeId: number, readonly index: number,
    readonly appliedIndex: number) {
    super(MergeWaitErrorCode.Timeout, `range ${rangeId}: the replica on node ${nodeId} did ` +
      `not apply index ${index} in time (applied ${appliedIndex})`);
  }
}

/** The waiter cannot ask `nodeId` (unknown to it, or its answers are malformed). */
export class MergeWaitPeerError extends FlotillaError {
  constructor(readonly nodeId: number, readonly rangeId: number, why: string) {
    super(MergeWaitErrorCode.Peer, `range ${rangeId}: cannot ask node ${nodeId}: ${why}`);
  }
}

/** How a merge coordinator waits for another store's replica (see the file header). */
export interface MergeWaiter {
  /**
   * Resolves once `nodeId`'s replica of `rangeId` has applied `index`.
   * @throws MergeWaitTimeoutError, MergeWaitPeerError
   */
  waitApplied(nodeId: number, rangeId: number, index: number): Promise<void>;
}

/** What the in-process waiter needs of each store's range node. */
export interface LocalAppliedSource {
  /** Resolves once this store's replica of `rangeId` has applied `index`. */
  waitApplied(rangeId: number, index: number): Promise<void>;
}

/**
 * The waiter over range nodes of this process: `nodeOf(nodeId)` is that store's range node
 * (undefined: not in this process, `MergeWaitPeerError`).
 */
export function inProcessMergeWaiter(
  nodeOf: (nodeId: number) => LocalAppliedSource | undefined,
): MergeWaiter {
  return {
    waitApplied(nodeId, rangeId, index) {
      assert(Number.isSafeInteger(index) && index > 0, 'a freeze index');
      const node = nodeOf(nodeId);
      if (node === undefined) {
        return Promise.reject(new MergeWaitPeerError(nodeId, rangeId, 'not in this process'));
      }
      return node.waitApplied(rangeId, index);
    },
  };
}
