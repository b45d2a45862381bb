/**
 * What one seed simulates: cluster size, Raft options, fault rates, workload mix and bounds.
 * Everything is drawn from the seed's random source (first thing, before any event), so that
 * the seed alone names the scenario and a failure replays from `--seed S` alone.
 */
import type { SeededRandom } from '../../src/raft/index.js';
import type { NetworkFaults } from './network.js';

/** Bugs planted on purpose to show that the checkers catch them. */
export const PLANTED_BUGS = [
  'double-vote',
  'commit-old-term',
  'truncate-committed',
  'stale-read',
] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

/** Relative weights of the chaos actions. */
export interface ChaosWeights {
  crash: number;
  partition: number;
  stall: number;
  confChange: number;
  transfer: number;
  forget: number;
  campaign: number;
  compact: number;
  /** The planted truncation (zero unless that bug is planted). */
  planted: number;
}

/** One seed's scenario. Times are virtual milliseconds; ticks are Raft ticks. */
export interface Scenario {
  nodes: number;
  bug: PlantedBug | null;
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  stepDownOnRemoval: boolean;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  faults: NetworkFaults;
  /** Largest disk write latency (0: writes complete at once). */
  diskLatencyMsMax: number;
  stallMsMax: number;
  partitionMsMax: number;
  downMsMin: number;
  downMsMax: number;
  chaosMs: number;
  chaosIntervalMs: number;
  clientIntervalMs: number;
  weights: ChaosWeights;
  keys: number;
  readPercent: number;
  opsMax: number;
  /** Compact once this many entries were applied past the last snapshot. */
  compactEvery: number;
  votersMax: number;
  membersMax: number;
  livenessTicksMax: number;
  stepsMax: number;
}

/** Options that override the draw. */
export interface ScenarioOverrides {
  nodes?: number;
  bug?: PlantedBug;
  chaosMs?: number;
}

/** Draws a scenario. The number and order of draws is fixed, whatever the overrides. */
export function pickScenario(rng: SeededRandom, o: ScenarioOverrides): Scenario {
  const pick = <T>(xs: readonly T[]): T => xs[rng.intn(xs.length)]!;
  const nodesDrawn = 3 + rng.intn(3);
  const lossy = rng.intn(4) !== 0;
  const faults: NetworkFaults = {
    dropRate: lossy ? pick([0.01, 0.05, 0.15]) : 0,
    duplicateRate: lossy ? pick([0, 0.02, 0.1]) : 0,
    delayMsMin: 1,
    delayMsMax: pick([2, 5, 15]),
    spikeRate: lossy ? pick([0, 0.01, 0.05]) : 0,
    spikeDelayMsMax: 200,
  };
  const weights: ChaosWeights = {
    crash: pick([1, 2, 4]),
    partition: pick([1, 2, 4]),
    stall: pick([0, 1, 3]),
    confChange: pick([1, 3, 6]),
    transfer: pick([0, 1, 3]),
    forget: pick([0, 1, 2]),
    campaign: pick([0, 1, 2]),
    compact: pick([1, 2]),
    planted: o.bug === 'truncate-committed' ? 2 : 0,
  };
  const electionTick = pick([5, 10]);
  const sc: Scenario = {
    nodes: o.nodes ?? nodesDrawn,
    bug: o.bug ?? null,
    tickMs: 10,
    electionTick,
    heartbeatTick: 1,
    preVote: rng.intn(2) === 0,
    checkQuorum: rng.intn(2) === 0,
    stepDownOnRemoval: rng.intn(2) === 0,
    maxSizePerMsg: pick([1, 64, 1 << 20]),
    maxInflightMsgs: pick([1, 4, 256]),
    faults,
    diskLatencyMsMax: pick([0, 3, 20]),
    stallMsMax: pick([50, 300]),
    partitionMsMax: pick([100, 400]),
    downMsMin: 20,
    downMsMax: pick([100, 600]),
    chaosMs: pick([800, 1500, 2500]),
    chaosIntervalMs: pick([30, 80, 150]),
    clientIntervalMs: pick([5, 15, 40]),
    weights,
    keys: pick([1, 3, 8]),
    readPercent: pick([20, 40, 60]),
    opsMax: 400,
    compactEvery: pick([5, 20, 60]),
    votersMax: 5,
    membersMax: 7,
    // Generous: with one entry per message, one message in flight, 15ms links and 20ms
    // disks, a follower catches up one entry per ~35ms, and the backlog of a busy run is
    // a few hundred entries.
    livenessTicksMax: 1000,
    stepsMax: 2_000_000,
  };
  if (o.chaosMs !== undefined) sc.chaosMs = o.chaosMs;
  if (o.bug === 'commit-old-term') figureEight(sc, o);
  return sc;
}

/**
 * Makes Raft's Figure 8 likely, for the planted "commit by counting" bug: a leader must get an
 * entry of an earlier term onto a majority before its own first entry (one entry per message
 * and per flight), then lose leadership to a node that lacks it (many crashes and campaigns, no
 * PreVote or CheckQuorum to hold elections back). Applied after all draws, so the draws (and
 * hence every other scenario) stay the same.
 */
function figureEight(sc: Scenario, o: ScenarioOverrides): void {
  if (o.nodes === undefined) sc.nodes = 5;
  sc.maxSizePerMsg = 1;
  sc.maxInflightMsgs = 1;
  sc.preVote = false;
  sc.checkQuorum = false;
  sc.diskLatencyMsMax = 20;
  sc.chaosIntervalMs = 30;
  sc.clientIntervalMs = 5;
  sc.weights = { ...sc.weights, crash: 6, campaign: 4, partition: 2, confChange: 0, compact: 0 };
}

/** One line describing a scenario, for `--seed` replays. */
export function describeScenario(sc: Scenario): string {
  const f = sc.faults;
  return [
    `nodes=${sc.nodes}`,
    sc.bug ? `bug=${sc.bug}` : null,
    `electionTick=${sc.electionTick}`,
    `preVote=${sc.preVote}`,
    `checkQuorum=${sc.checkQuorum}`,
    `stepDownOnRemoval=${sc.stepDownOnRemoval}`,
    `maxSizePerMsg=${sc.maxSizePerMsg}`,
    `maxInflight=${sc.maxInflightMsgs}`,
    `drop=${f.dropRate}`,
    `dup=${f.duplicateRate}`,
    `delay=${f.delayMsMin}-${f.delayMsMax}ms`,
    `spike=${f.spikeRate}`,
    `disk<=${sc.diskLatencyMsMax}ms`,
    `chaos=${sc.chaosMs}ms`,
    `keys=${sc.keys}`,
    `compactEvery=${sc.compactEvery}`,
  ].filter((s) => s !== null).join(' ');
}
