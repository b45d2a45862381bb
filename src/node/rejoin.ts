/**
 * `nudgeLostReplicas`: the catch-up of a node restarted without its Raft state.
 *
 * Until the node's store runs on a durable engine (the LevelDB engine with the KV data on
 * it), a restarted node recreates its replicas empty at the bootstrap index. Its leaders do
 * not know: their progress of it still says "caught up to index M", so their heartbeats
 * carry a commit beyond its log, which the store refuses (as etcd's follower would panic),
 * and nothing is sent until the range's next write, whose append it rejects; only then does
 * the leader probe back and send the log from the start (no log truncation yet, so the
 * whole log is there). This makes that happen at once: once a range's leader is known, the
 * node proposes one empty entry on it (forwarded to the leader by Raft; an empty entry never
 * reaches the state machine), which the leader appends and sends, and the rejection starts
 * the catch-up. An empty entry may be lost (a leader that changes, a connection not up yet),
 * so each range is nudged `NUDGES` times, one pass per `intervalMs` apart; a range without a
 * leader yet waits for a later pass; the passes end once every range had its nudges.
 */
import type { Logger } from 'pino';
import { assert } from '../util/index.js';
import { newReplicaStatus, type Store } from '../multiraft/index.js';

const EMPTY = new Uint8Array(0);
/** Nudges per range (cheap: an empty entry each). */
const NUDGES = 3;

/** Starts the nudging; returns a function that stops it. */
export function nudgeLostReplicas(store: Store, log: Logger, intervalMs = 1000): () => void {
  assert(Number.isSafeInteger(intervalMs) && intervalMs > 0, 'a pass interval');
  const nudged = new Map<number, number>();
  const status = newReplicaStatus();
  const pass = (): void => {
    let waiting = 0;
    let seen = 0;
    store.forEachRange((rangeId) => {
      seen++;
      const done = nudged.get(rangeId) ?? 0;
      if (done >= NUDGES) return;
      waiting++;
      if (!store.readStatus(rangeId, status) || !status.initialized) return;
      if (status.lead === 0 || status.lead === store.nodeId) return;
      try {
        store.propose(rangeId, EMPTY);
        nudged.set(rangeId, done + 1);
      } catch {
        // no leader after all, or closing: the next pass tries again
      }
    });
    assert(waiting <= seen, 'a range waits at most once per pass');
    if (waiting === 0 && nudged.size > 0) {
      log.info({ ranges: nudged.size }, 'restarted without Raft state: every range nudged');
      stop();
    }
  };
  const timer = setInterval(pass, intervalMs);
  const stop = (): void => clearInterval(timer);
  return stop;
}
