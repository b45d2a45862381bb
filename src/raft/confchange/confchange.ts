/**
 * Validated configuration changes (etcd's `confchange.Changer`): simple changes, entering and
 * leaving joint consensus.
 */
import { assert } from '../../util/index.js';
import { FlotillaError } from '../../util/index.js';
import { ConfChangeType, confChangeTypeNames, type ConfChangeSingle } from '../raftpb.js';
import { MajorityConfig } from '../quorum/index.js';
import { Inflights, Progress, ProgressMap, TrackerConfig } from '../tracker/index.js';

/**
 * A configuration change was refused. `message` is etcd's exact wording (the conformance
 * corpus prints it), e.g. `removed all voters` or `config is already joint`.
 */
export class ConfChangeError extends FlotillaError {
  constructor(message: string) {
    super('ERR_CONF_CHANGE', message);
  }
}

/** The new configuration and progress map a successful change produces. */
export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

/** What a Changer starts from: a ProgressTracker is one. Never mutated by the Changer. */
export interface ChangerBase {
  readonly config: TrackerConfig;
  readonly progress: ProgressMap;
  readonly maxInflight: number;
  readonly maxInflightBytes: number;
}

/**
 * Applies configuration changes to a copy of a tracker's config and progress, validating them
 * so that an invalid change is refused before it touches the active configuration.
 *
 * Errors: every method returns the new `{ config, progress }` or throws a
 * {@link ConfChangeError}. etcd returns `(cfg, prs, err)` and its Raft core panics on `err`,
 * so throwing keeps the core's happy path plain while a harness can catch and print the
 * message. The base tracker is never modified; the caller installs the result.
 */
export class Changer {
  /**
   * @param base The active configuration and progress (e.g. the ProgressTracker).
   * @param lastIndex The leader's last log index: the `next` of newly added peers.
   */
  constructor(
    readonly base: ChangerBase,
    readonly lastIndex: number,
  ) {
    assert(Number.isInteger(lastIndex) && lastIndex >= 0, `invalid last index ${lastIndex}`);
  }

  /**
   * Enters a joint configuration: the outgoing half becomes a copy of the incoming one, then
   * `ccs` apply to the incoming half (C_{new,old} in the Raft thesis, section 4.3).
   */
  enterJoint(autoLeave: boolean, ...ccs: ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint) throw new ConfChangeError('config is already joint');
    if (config.voters.incoming.size === 0) {
      // Adding to an empty config is allowed (bootstrap, tests), but not going joint from it.
      throw new ConfChangeError("can't make a zero-voter config joint");
    }
    config.voters.outgoing = config.voters.incoming.clone();
    this.apply(config, progress, ccs);
    config.autoLeave = autoLeave;
    return checkAndReturn(config, progress);
  }

  /**
   * Leaves the joint configuration: the incoming half decides alone (C_new), staged learners
   * (learnersNext) become learners, and peers only in the outgoing half are dropped.
   */
  leaveJoint(): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (!config.voters.isJoint) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      progressOf(progress, id).isLearner = true;
    }
    config.learnersNext.clear();
    for (const id of config.voters.outgoing) {
      if (!config.voters.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters.outgoing.clear();
    config.autoLeave = false;
    return checkAndReturn(config, progress);
  }

  /**
   * Applies `ccs` without joint consensus. Refused if the config is joint, if the incoming
   * voters change by more than one in aggregate, or if no voter would remain.
   */
  simple(...ccs: ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint) {
      throw new ConfChangeError("can't apply simple config change in joint config");
    }
    this.apply(config, progress, ccs);
    if (symmetricDifferenceSize(this.base.config.voters.incoming, config.voters.incoming) > 1) {
      throw new ConfChangeError('more than one voter changed without entering joint config');
    }
    return checkAndReturn(config, progress);
  }

  /** Applies changes to the incoming half; the outgoing half is only ever copied or cleared. */
  private apply(config: TrackerConfig, progress: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      // Applications zero the node id of a change they decided not to apply: skip those.
      if (cc.nodeId === 0) continue;
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeAddLearnerNode:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeRemoveNode:
          remove(config, progress, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeUpdateNode:
          break;
        default:
          // Unknown numbers can arrive from the wire, so this is an error, not an assertion.
          throw new ConfChangeError(`unexpected conf type ${String(cc.type as never)}`);
      }
    }
    if (config.voters.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  /** Adds `id` as a voter of the incoming half, promoting it if it is a learner. */
  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: number): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, false);
      return;
    }
    pr.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.voters.incoming.add(id);
  }

  /**
   * Makes `id` a learner. A voter of the outgoing half cannot be a learner at the same time,
   * so it is staged in learnersNext and becomes a learner in leaveJoint; otherwise (new peer,
   * or a voter of the incoming half only) it becomes a learner at once.
   */
  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: number): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Drop it as a voter of the incoming half, but keep its Progress.
    remove(config, progress, id);
    progress.set(id, pr);
    if (config.voters.outgoing.has(id)) {
      config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      config.learners.add(id);
    }
  }

  /** Tracks a new peer, probed from the last index. */
  private initProgress(
    config: TrackerConfig,
    progress: ProgressMap,
    id: number,
    isLearner: boolean,
  ): void {
    if (isLearner) config.learners.add(id);
    else config.voters.incoming.add(id);
    assert(!progress.has(id), `peer ${id} already tracked`);
    progress.set(
      id,
      new Progress({
        match: 0,
        // Probing from the last index is optimistic (a new peer usually needs a snapshot);
        // etcd does it, so we do. max(.., 1) keeps match < next.
        next: Math.max(this.lastIndex, 1),
        inflights: new Inflights(this.base.maxInflight, this.base.maxInflightBytes),
        isLearner,
        // A new peer counts as active, or CheckQuorum could depose the leader before the
        // peer had a chance to answer.
        recentActive: true,
      }),
    );
  }

  /** Copies the base config and progress (checking the base's invariants first). */
  private checkAndCopy(): ChangeResult {
    const config = this.base.config.clone();
    const progress = this.base.progress.shallowCopy();
    return checkAndReturn(config, progress);
  }
}

/** Removes `id` from the incoming half and learners; keeps its Progress if an outgoing voter. */
function remove(config: TrackerConfig, progress: ProgressMap, id: number): void {
  if (!progress.has(id)) return;
  config.voters.incoming.delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  if (!config.voters.outgoing.has(id)) progress.delete(id);
}

function progressOf(progress: ProgressMap, id: number): Progress {
  const pr = progress.get(id);
  assert(pr !== undefined, `no progress for ${id}`);
  return pr;
}

/**
 * Checks that `config` and `progress` agree; throws a {@link ConfChangeError} with etcd's
 * wording if not. Run on what a Changer starts from and on what it returns.
 */
export function checkInvariants(config: TrackerConfig, progress: ProgressMap): void {
  // The empty config is allowed on purpose: it is where bootstrap and tests start from.
  for (const ids of [config.voters.ids(), config.learners.ids, config.learnersNext.ids]) {
    for (const id of ids) {
      if (!progress.has(id)) throw new ConfChangeError(`no progress for ${id}`);
    }
  }
  // A learner is staged only because it is still a voter of the outgoing half.
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.has(id)) {
      throw new ConfChangeError(`${id} is in LearnersNext, but not Voters[1]`);
    }
    if (progressOf(progress, id).isLearner) {
      throw new ConfChangeError(`${id} is in LearnersNext, but is already marked as learner`);
    }
  }
  // Learners and voters are disjoint.
  for (const id of config.learners) {
    if (config.voters.outgoing.has(id)) {
      throw new ConfChangeError(`${id} is in Learners and Voters[1]`);
    }
    if (config.voters.incoming.has(id)) {
      throw new ConfChangeError(`${id} is in Learners and Voters[0]`);
    }
    if (!progressOf(progress, id).isLearner) {
      throw new ConfChangeError(`${id} is in Learners, but is not marked as learner`);
    }
  }
  // etcd also demands a nil (not merely empty) outgoing half when not joint; an empty
  // MajorityConfig is the only representation here, so that check has no counterpart.
  if (!config.voters.isJoint) {
    if (config.learnersNext.size > 0) {
      throw new ConfChangeError('cfg.LearnersNext must be nil when not joint');
    }
    if (config.autoLeave) throw new ConfChangeError('AutoLeave must be false when not joint');
  }
}

function checkAndReturn(config: TrackerConfig, progress: ProgressMap): ChangeResult {
  checkInvariants(config, progress);
  return { config, progress };
}

/** |l \ r| + |r \ l|: how many voters differ between two configs. */
function symmetricDifferenceSize(l: MajorityConfig, r: MajorityConfig): number {
  let n = 0;
  for (const id of l) if (!r.has(id)) n++;
  for (const id of r) if (!l.has(id)) n++;
  assert(n <= l.size + r.size, 'symmetric difference too large');
  return n;
}

/** Describes changes as etcd does: `ConfChangeAddNode(1) ConfChangeRemoveNode(2)`. */
export function describeConfChanges(ccs: readonly ConfChangeSingle[]): string {
  return ccs
    .map((cc) => `${confChangeTypeNames[cc.type] ?? String(cc.type)}(${cc.nodeId})`)
    .join(' ');
}
