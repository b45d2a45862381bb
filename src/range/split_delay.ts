/**
 * The split-delay helper: before the leader proposes a split it waits, briefly and boundedly,
 * until every active follower is replicating, so that the split does not cost a snapshot.
 *
 * WHY. A follower that is not in StateReplicate when the split applies on the leader will
 * learn of the right-hand range from the right-hand leader's first appends before it has
 * applied the split itself: its right-hand replica is still uninitialized and cannot take
 * them, so the new leader falls back to a snapshot of the new range, which then cannot apply
 * either while the left replica still covers the span. Splitting in a tight loop makes this
 * self-sustaining (each split's right side is the next split's left): CockroachDB's
 * `maybeDelaySplitToAvoidSnapshot` exists for this, and this is Flotilla's version.
 *
 * RULES (`assessSplitDelay`, a pure function of the leader's `RaftStatus`):
 *   a) no status, or not the leader (an election is on): a problem, wait;
 *   b) for each follower (learners too) not in StateReplicate:
 *      - not recently active: noted as inactive (once per delay) and not waited for: a dead
 *        follower must not hold splits back, it will need a snapshot anyway;
 *      - otherwise a problem, "replica R of node N not caught up", wait.
 * A follower in StateSnapshot or StateProbe is waited for. The case that makes this
 * trustworthy is a follower that a snapshot caught up at the last index of an idle group: the
 * Raft core moves it out of Probe on the snapshot's append response (etcd's fix), so it shows
 * as Replicate and the helper does not wait on it forever (test/range/split_delay.test.ts).
 *
 * DRIVER (`delaySplit`): re-reads the status after sleeps of 1, 2, 4, … ticks (capped at
 * `stepTicksMax`) until no problem remains or `maxDelayTicks` have passed, then lets the split
 * go ahead in any case and reports `delayed by X ticks to resolve: …`, with
 * `(without success)` when the problems remained.
 */
import { assert } from '../util/index.js';
import type { RaftStatus } from '../multiraft/index.js';
import {
  ProgressState,
  progressStateName,
  raftStateName,
  StateType,
} from '../raft/index.js';
import type { RangeDescriptor } from './descriptor.js';

/** What the rules found in one status. */
export interface SplitDelayAssessment {
  /** Reasons to wait (empty: the split may go ahead). */
  problems: string[];
  /** Node ids of followers not recently active (not waited for). */
  inactiveNodeIds: number[];
}

/** The replica id of the replica on `nodeId` (the store uses node ids as replica ids). */
function replicaIdOf(desc: RangeDescriptor | undefined, nodeId: number): number {
  return desc?.replicas.find((r) => r.nodeId === nodeId)?.replicaId ?? nodeId;
}

/** Applies rules a) and b) to the leader's status (see the file header). */
export function assessSplitDelay(
  status: RaftStatus | undefined, desc?: RangeDescriptor,
): SplitDelayAssessment {
  const out: SplitDelayAssessment = { problems: [], inactiveNodeIds: [] };
  if (status === undefined) {
    out.problems.push('no raft status');
    return out;
  }
  if (status.raftState !== StateType.StateLeader) {
    out.problems.push(`not leader (${raftStateName(status.raftState)})`);
    return out;
  }
  assert(status.progress.length > 0, 'a leader has progress');
  for (const pr of status.progress) {
    if (pr.nodeId === status.replicaId || pr.state === ProgressState.StateReplicate) continue;
    if (!pr.recentActive) {
      out.inactiveNodeIds.push(pr.nodeId);
      continue;
    }
    const state = progressStateName(pr.state as ProgressState);
    out.problems.push(`replica ${replicaIdOf(desc, pr.nodeId)} of node ${pr.nodeId} not ` +
      `caught up (${state}, match ${pr.match}, next ${pr.next})`);
  }
  assert(out.problems.length + out.inactiveNodeIds.length < status.progress.length,
    'the leader itself is never a problem');
  return out;
}

/** Options of the split-delay driver. */
export interface SplitDelayOptions {
  /** Most ticks to wait before splitting anyway. @default 20 (ticks: 4 s at 200 ms) */
  maxDelayTicks?: number;
  /** Longest single sleep. @default 4 (ticks) */
  stepTicksMax?: number;
}

/** What the driver needs: the leader's status and a way to sleep (virtual time in tests). */
export interface SplitDelayHost {
  raftStatus(): RaftStatus | undefined;
  /** The descriptor, to name replicas by their replica id (optional). */
  descriptor?(): RangeDescriptor | undefined;
  sleepTicks(ticks: number): Promise<void>;
}

/** How a delay ended. */
export interface SplitDelayReport {
  /** Ticks slept. */
  delayedTicks: number;
  /** Whether no problem remained at the end. */
  resolved: boolean;
  /** The last problems seen (empty when the first look found none). */
  problems: string[];
  /** Followers noted as inactive. */
  inactiveNodeIds: number[];
  /** '' when there was nothing to say, else `delayed by X ticks to resolve: …`. */
  message: string;
}

/** Waits as the file header says, then reports. The split goes ahead after it in any case. */
export async function delaySplit(
  host: SplitDelayHost, options: SplitDelayOptions = {},
): Promise<SplitDelayReport> {
  const maxDelayTicks = options.maxDelayTicks ?? 20;
  const stepTicksMax = options.stepTicksMax ?? 4;
  assert(Number.isSafeInteger(maxDelayTicks) && maxDelayTicks >= 0, 'maxDelayTicks');
  assert(Number.isSafeInteger(stepTicksMax) && stepTicksMax > 0, 'stepTicksMax');
  const inactive: number[] = [];
  let last: string[] = [];
  let slept = 0;
  let resolved = false;
  for (let attempt = 0; ; attempt++) {
    const a = assessSplitDelay(host.raftStatus(), host.descriptor?.());
    for (const n of a.inactiveNodeIds) if (!inactive.includes(n)) inactive.push(n);
    if (a.problems.length === 0) {
      resolved = true;
      break;
    }
    last = a.problems;
    if (slept >= maxDelayTicks) break;
    const step = Math.min(stepTicksMax, 2 ** Math.min(attempt, 30), maxDelayTicks - slept);
    await host.sleepTicks(step);
    slept += step;
  }
  assert(slept <= maxDelayTicks, 'the delay is bounded');
  return { delayedTicks: slept, resolved, problems: last, inactiveNodeIds: inactive,
    message: reportMessage(slept, resolved, last, inactive, host.descriptor?.()) };
}

function reportMessage(
  slept: number, resolved: boolean, problems: string[], inactive: number[],
  desc: RangeDescriptor | undefined,
): string {
  const notes = inactive.map((n) => `replica ${replicaIdOf(desc, n)} of node ${n} inactive`);
  const all = [...notes, ...problems];
  if (all.length === 0) return '';
  return `delayed by ${slept} ticks to resolve: ${all.join('; ')}` +
    (resolved ? '' : ' (without success)');
}
