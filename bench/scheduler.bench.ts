/**
 * Scheduler and ticker costs. Run: `npx tsx bench/scheduler.bench.ts [--groups N,...]
 * [--sparse-awake N]`.
 *
 * - enqueue_process: enqueue a Message for every group, then run batches until idle, with a
 *   processor that does nothing: the scheduler's own cost per group turn (default options,
 *   so it includes the budget clock read after every group, about 40 ns of performance.now).
 * - enqueue_process_noclock: the same with a constant clock, to show the clock's share.
 * - enqueue_only: the enqueue half alone (flag merge + ring push).
 * - tick: one full tick interval (all sub-ticks) of the `Ticker` into a `Scheduler`, per
 *   awake group; the scheduler is drained between intervals, outside the timing. Each size
 *   with every group awake, and the largest with only `--sparse-awake` of them awake.
 *
 * Prints one JSON object per line, then a table.
 */
import { commitId } from './_report.js';
import { parseOrExit } from '../src/node/cli_args.js';
import { Scheduler, Ticker, WorkFlag, toGroupId } from '../src/scheduler/index.js';
import type { GroupId, GroupProcessor } from '../src/scheduler/index.js';
import { systemClock } from '../src/util/index.js';

interface Result {
  name: string;
  groups: number;
  awake?: number;
  ns_per_group: number;
  ns_per_interval?: number;
  bytes_per_group?: number;
}

const COMMAND = {
  name: 'npx tsx bench/scheduler.bench.ts',
  summary: 'Scheduler enqueue+process cost and tick cost per group.',
  flags: {
    groups: { kind: 'integers', min: 1, max: 16_777_216, default: [1_000, 100_000, 1_000_000],
      description: 'group counts to measure' },
    'sparse-awake': { kind: 'integer', min: 1, max: 16_777_216, default: 1_000,
      description: 'awake groups of the sparse tick case (among the largest group count)' },
  },
} as const;
const args = parseOrExit(COMMAND, process.argv.slice(2)).values;
const commit = commitId();

let sink = 0;
const processor: GroupProcessor = {
  processMessages: (id: GroupId) => {
    sink += id;
    return false;
  },
  processTick: () => false,
  processReady: () => {},
};

function roundsFor(groups: number): number {
  return Math.max(3, Math.ceil(4_000_000 / groups));
}

function benchEnqueueProcess(groups: number, clockFree = false): Result[] {
  const scheduler = new Scheduler(processor, {
    groupIdsMax: 1 << 21,
    ...(clockFree ? { clock: { ...systemClock, nowMs: () => 0 } } : {}),
  });
  const suffix = clockFree ? '_noclock' : '';
  const rounds = roundsFor(groups);
  let enqueueMs = 0;
  let totalMs = 0;
  for (let round = -1; round < rounds; round++) {
    const start = performance.now();
    for (let id = 0; id < groups; id++) scheduler.enqueue(toGroupId(id), WorkFlag.Message);
    const enqueued = performance.now();
    scheduler.runUntilIdle();
    const end = performance.now();
    if (round < 0) continue; // warm-up (and array growth)
    enqueueMs += enqueued - start;
    totalMs += end - start;
  }
  const bytes = scheduler.memoryBytes / groups;
  return [
    {
      name: `enqueue_process${suffix}`,
      groups,
      ns_per_group: (totalMs * 1e6) / (rounds * groups),
      bytes_per_group: bytes,
    },
    { name: `enqueue_only${suffix}`, groups, ns_per_group: (enqueueMs * 1e6) / (rounds * groups) },
  ].filter((r) => !clockFree || r.name.startsWith('enqueue_process'));
}

function benchTick(groups: number, awake: number): Result {
  const scheduler = new Scheduler(processor, { groupIdsMax: 1 << 21 });
  const ticker = new Ticker(scheduler, { groupIdsMax: 1 << 21 });
  const stride = groups / awake;
  for (let id = 0; id < groups; id++) ticker.add(toGroupId(id));
  for (let id = 0; id < groups; id++) if (id % stride !== 0) ticker.quiesce(toGroupId(id));
  if (ticker.awakeCount !== awake) throw new Error(`awake ${ticker.awakeCount} != ${awake}`);
  const slots = ticker.config.tickSpreadSlots;
  const rounds = roundsFor(awake);
  let tickMs = 0;
  for (let round = -1; round < rounds; round++) {
    const start = performance.now();
    for (let s = 0; s < slots; s++) ticker.tick();
    const end = performance.now();
    scheduler.runUntilIdle();
    if (round >= 0) tickMs += end - start;
  }
  return {
    name: 'tick',
    groups,
    awake,
    ns_per_group: (tickMs * 1e6) / (rounds * awake),
    ns_per_interval: (tickMs * 1e6) / rounds,
    bytes_per_group: (ticker.memoryBytes + scheduler.memoryBytes) / groups,
  };
}

function round2(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 100) / 100;
}

function print(result: Result): void {
  const line = {
    name: result.name,
    groups: result.groups,
    awake: result.awake,
    ns_per_group: round2(result.ns_per_group),
    ns_per_interval: round2(result.ns_per_interval),
    bytes_per_group: round2(result.bytes_per_group),
    commit,
    node: process.version,
  };
  console.log(JSON.stringify(line));
}

function table(results: Result[]): void {
  const rows = results.map((r) => [
    r.name,
    String(r.groups),
    r.awake === undefined ? '' : String(r.awake),
    r.ns_per_group.toFixed(1),
    r.ns_per_interval === undefined ? '' : (r.ns_per_interval / 1e3).toFixed(1),
    r.bytes_per_group === undefined ? '' : r.bytes_per_group.toFixed(2),
  ]);
  const head = ['name', 'groups', 'awake', 'ns/group', 'us/interval', 'bytes/group'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  console.log('');
  console.log(fmt(head));
  for (const row of rows) console.log(fmt(row));
}

const results: Result[] = [];
for (const groups of args.groups) {
  for (const result of [...benchEnqueueProcess(groups), ...benchEnqueueProcess(groups, true)]) {
    print(result);
    results.push(result);
  }
}
const largest = Math.max(...args.groups);
const tickCases: (readonly [number, number])[] = args.groups.map((g) => [g, g] as const);
if (args['sparse-awake'] < largest) tickCases.push([largest, args['sparse-awake']]);
for (const [groups, awake] of tickCases) {
  const result = benchTick(groups, awake);
  print(result);
  results.push(result);
}
table(results);
if (sink < 0) console.log(sink);
