/**
 * Configuration changes of the Raft core, with the semantics of etcd raft's `confchange`.
 *
 * Contract:
 * - `new Changer(tracker, lastIndex)` then `simple(...ccs)`, `enterJoint(autoLeave, ...ccs)`
 *   or `leaveJoint()` returns a new `{ config, progress }` for the caller to install
 *   (`tracker.config = config; tracker.progress = progress`); the tracker itself is never
 *   modified. New peers start with match 0, next max(lastIndex, 1), recentActive true.
 * - `restore(changer, confState)` rebuilds a configuration from a ConfState, starting from
 *   the changer's (empty) base.
 * - A refused change throws {@link ConfChangeError} (code `ERR_CONF_CHANGE`) whose message is
 *   etcd's exact text; violated invariants of the base or the result throw it too (etcd
 *   returns them as errors; its Raft core panics on them).
 * - Changes with node id 0 are ignored, as in etcd.
 */
export {
  Changer,
  ConfChangeError,
  checkInvariants,
  describeConfChanges,
  type ChangeResult,
  type ChangerBase,
} from './confchange.js';
export { restore, toConfChangeSingle } from './restore.js';
