/**
 * `flotilla bench NAME [--out DIR] [--sweep KEY=A,B] [-- ARGS]`: runs `bench/NAME.bench.ts`
 * (once, or once per `--sweep` value as `--KEY VALUE`) in a fresh process
 * (with the Node flags its npm script uses), passes its progress through, collects its JSON
 * result lines, then prints them as a table, writes them to `DIR/NAME.json`, and draws an SVG
 * chart of each sweep into DIR: for every result name measured at several sizes, each figure
 * of interest against the size (density: heap bytes and idle CPU against groups; throughput:
 * operations per second against ranges).
 *
 * The figures are the benchmark's own, as printed; nothing here measures. Another system's
 * figures (`reference_...` fields) go into the JSON and the table as they came.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, parseOrExit } from './cli_args.js';
import { renderChart, type ChartSeries } from './svg_chart.js';

/** The flags of `flotilla bench`. */
export const BENCH_COMMAND = {
  name: 'flotilla bench',
  summary: 'Runs bench/NAME.bench.ts with progress output, then prints its results as a ' +
    'table and writes them (JSON, and an SVG chart of each sweep) to --out. Arguments after ' +
    '-- go to the benchmark.',
  positionalsMax: 1,
  positionalsUsage: 'NAME',
  flags: {
    out: { kind: 'string', valueName: 'DIR',
      description: 'where the JSON and the charts go (default: bench-out/NAME)' },
    sweep: { kind: 'string', valueName: 'KEY=A,B,...',
      description: 'run the benchmark once per value with --KEY VALUE (e.g. ranges=1000,3000)' },
    list: { kind: 'boolean', description: 'list the benchmarks and exit' },
  },
} as const;

/** Node flags of each benchmark (as its npm script runs it). */
const NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  density: ['--expose-gc', '--max-old-space-size=16384'],
  rawnode: ['--expose-gc'],
  transport: ['--expose-gc'],
};

/** Sizes a sweep runs over, in order of preference. */
const SWEEP_KEYS = ['groups', 'ranges', 'replicas', 'writers', 'nodes', 'peers', 'batch'];
/** Figures charted when present: density's memory and idle CPU; throughput. */
const FIGURE_PATTERNS = [/heap_bytes/, /idle_cpu/, /per_s/, /ops_s/];

type Result = Record<string, unknown> & { name: string };

function benchDir(): string {
  // src/node/bench_command.ts (or dist/node/bench_command.js) → the checkout's bench/.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
}

/** The benchmarks in bench/. */
export function benchNames(): string[] {
  const dir = benchDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -9))
    .sort();
}

/** Runs `flotilla bench`. */
export async function benchCommand(argv: readonly string[]): Promise<void> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const extra = dash < 0 ? [] : argv.slice(dash + 1);
  const { values: v, positionals } = parseOrExit(BENCH_COMMAND, own);
  const names = benchNames();
  if (v.list) {
    process.stdout.write(`${names.join('\n')}\n`);
    return;
  }
  const name = positionals[0];
  if (name === undefined) throw new UsageError(`name a benchmark: ${names.join(', ')}`);
  if (!names.includes(name)) {
    throw new UsageError(`no benchmark '${name}' (benchmarks: ${names.join(', ')})`);
  }
  const out = resolve(v.out ?? join('bench-out', name));
  const sweep = v.sweep === undefined ? null : parseSweep(v.sweep);
  const results: Result[] = [];
  if (sweep === null) results.push(...await runBench(name, extra));
  for (const value of sweep?.values ?? []) {
    process.stdout.write(`sweep: --${sweep!.key} ${value}\n`);
    results.push(...await runBench(name, [...extra, `--${sweep!.key}`, String(value)]));
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${name}.json`), `${results.map((r) => JSON.stringify(r))
    .join('\n')}\n`);
  process.stdout.write(`\n${table(results)}\n`);
  const charts = writeCharts(results, out);
  process.stdout.write(`\n${results.length} results written to ${join(out, `${name}.json`)}` +
    `; ${charts.length} charts: ${charts.join(', ') || NO_SWEEP}\n`);
  if (results.length === 0) process.exitCode = 1;
}

/** What `flotilla bench` prints when no result was measured at several sizes. */
const NO_SWEEP = 'none: no result was measured at several sizes (no sweep); ' +
  'run a sweep with --sweep KEY=A,B,C (e.g. --sweep ranges=1000,3000,10000)';

/** `KEY=A,B,...`: a flag name of the benchmark and its positive values, at least two. */
function parseSweep(text: string): { key: string; values: number[] } {
  const m = /^([a-z][a-z0-9-]*)=([^=]+)$/.exec(text);
  const values = m === null ? [] : m[2]!.split(',').map(Number);
  if (m === null || values.length < 2 || values.some((x) => !Number.isFinite(x) || x <= 0)) {
    throw new UsageError(`--sweep takes KEY=A,B,... (two or more positive numbers), got '${text}'`);
  }
  return { key: m[1]!, values };
}

/** Runs the benchmark, echoing its output, and returns its JSON result lines. */
function runBench(name: string, args: readonly string[]): Promise<Result[]> {
  const file = join(benchDir(), `${name}.bench.ts`);
  const nodeArgs = [...(NODE_FLAGS[name] ?? []), '--import', 'tsx', file, ...args];
  const results: Result[] = [];
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    const onLine = (line: string): void => {
      const parsed = parseResult(line);
      if (parsed === null) {
        process.stdout.write(`${line}\n`);
        return;
      }
      results.push(parsed);
      const s = ((Date.now() - started) / 1000).toFixed(0);
      process.stdout.write(`[${s}s] result ${results.length}: ${parsed.name} ` +
        `${SWEEP_KEYS.filter((k) => k in parsed).map((k) => `${k}=${parsed[k]}`).join(' ')}\n`);
    };
    child.once('error', fail);
    child.once('exit', (code) => {
      if (pending !== '') onLine(pending);
      if (code !== 0) process.stderr.write(`bench ${name} exited with code ${code}\n`);
      done(results);
    });
  });
}

function parseResult(line: string): Result | null {
  if (!line.startsWith('{')) return null;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    return typeof o['name'] === 'string' ? o as Result : null;
  } catch {
    return null;
  }
}

/** The results as a table: one row per result, the columns every result has first. */
function table(results: readonly Result[]): string {
  if (results.length === 0) return '(no results)';
  const columns = [...new Set(results.flatMap((r) => Object.keys(r)))]
    .filter((c) => c !== 'commit' && c !== 'node' && !c.startsWith('reference_source'));
  const cell = (v: unknown): string => v === undefined ? '' : typeof v === 'number'
    ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
  const rows = results.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  return [line(columns), ...rows.map(line)].join('\n');
}

/** One SVG per (result name, figure) of each sweep; returns the files written. */
function writeCharts(results: readonly Result[], out: string): string[] {
  const byName = new Map<string, Result[]>();
  for (const r of results) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const files: string[] = [];
  for (const [name, rs] of byName) {
    const xKey = SWEEP_KEYS.find((k) => new Set(rs.map((r) => r[k])).size > 1 &&
      rs.every((r) => typeof r[k] === 'number'));
    if (xKey === undefined) continue;
    const figures = Object.keys(rs[0]!).filter((k) => k !== xKey && !k.startsWith('reference') &&
      FIGURE_PATTERNS.some((p) => p.test(k)) && rs.every((r) => typeof r[k] === 'number'));
    for (const figure of figures) {
      const series: ChartSeries[] = [{ label: name, points: rs.map((r) =>
        ({ x: r[xKey] as number, y: r[figure] as number })) }];
      const xs = rs.map((r) => r[xKey] as number);
      const file = `${name}__${figure}.svg`;
      writeFileSync(join(out, file), renderChart({ title: `${name}: ${figure} against ${xKey}`,
        xLabel: xKey, yLabel: figure, series,
        xLog: Math.max(...xs) / Math.max(1, Math.min(...xs)) >= 100 }));
      files.push(file);
    }
  }
  return files;
}
