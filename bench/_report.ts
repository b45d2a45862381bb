/**
 * Shared output of the benchmarks: one JSON object per result line (name, commit, Node
 * version, parameters and figures whose names carry their units), then a readable table.
 */
import { execSync } from 'node:child_process';

/** One benchmark result: its name, its parameters and its figures. */
export type BenchResult = { name: string } & Record<string, string | number | boolean>;

let cachedCommit: string | undefined;

/** The short commit of the checkout, or `none` outside git. */
export function commitId(): string {
  if (cachedCommit === undefined) {
    try {
      cachedCommit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      cachedCommit = 'none';
    }
  }
  return cachedCommit;
}

/** Prints `result` as one JSON line, stamped with commit and Node version, and returns it. */
export function emit(result: BenchResult): BenchResult {
  const stamped = { ...result, commit: commitId(), node: process.version };
  process.stdout.write(`${JSON.stringify(stamped)}\n`);
  return stamped;
}

/** Prints the results as an aligned table of the given columns. */
export function printTable(results: readonly BenchResult[], columns: readonly string[]): void {
  const cell = (v: unknown): string =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v ?? '');
  const rows = results.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${line(columns)}\n${rows.map(line).join('\n')}\n`);
}

/**
 * Another system's figures, labelled so nobody mistakes them for measurements: each key
 * becomes `reference_<key>`, and `reference_source` says where the figures come from.
 */
export function references(
  figures: Record<string, number>,
  source: string,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(figures)) out[`reference_${key}`] = value;
  out.reference_source = source;
  return out;
}

/** Median, minimum and maximum of `samples` (which it sorts), rounded to `digits`. */
export function spread(
  samples: number[],
  digits = 0,
): { median: number; min: number; max: number } {
  if (samples.length === 0) throw new Error('no samples');
  samples.sort((a, b) => a - b);
  const round = (v: number): number => Number(v.toFixed(digits));
  const mid = samples.length >> 1;
  const median = samples.length % 2 === 1 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  const max = samples[samples.length - 1]!;
  return { median: round(median), min: round(samples[0]!), max: round(max) };
}

/** Reads `--name value` from argv, or returns `fallback`. */
export function argNumber(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`--${name} takes a positive number, got '${process.argv[i + 1] ?? ''}'`);
  }
  return value;
}
