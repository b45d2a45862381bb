/** Test helpers for commands run as processes (tsx, as the npm scripts run them). */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The checkout's root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** How a process ended and what it printed. */
export interface Outcome {
  code: number | null;
  out: string;
  err: string;
}

/** A running process and the promise of its outcome. */
export interface Running {
  child: ChildProcess;
  done: Promise<Outcome>;
  /** What it has printed so far. */
  output(): { out: string; err: string };
}

/** Starts a TypeScript entry point with tsx; killed with SIGKILL after `timeoutMs`. */
export function startScript(file: string, args: readonly string[],
  env: NodeJS.ProcessEnv = {}, timeoutMs = 50_000): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Outcome>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
  return { child, done, output: () => ({ out, err }) };
}

/** Runs a TypeScript entry point to its end. */
export function runScript(file: string, args: readonly string[],
  env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return startScript(file, args, env).done;
}

/** A refusal: exit code 2 and exactly one line on stderr, without a stack trace. */
export function expectRefusal(r: Outcome, message: string): void {
  expect(r.code, r.err).toBe(2);
  const lines = r.err.trimEnd().split('\n');
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toContain(message);
  expect(r.err).not.toMatch(/\n\s+at /);
}

/**
 * Runs `tasks` with at most `concurrency` at once (in order of the results), so that a test
 * of many commands does not start dozens of processes on a two-core machine together.
 */
export async function runAll<T>(tasks: readonly (() => Promise<T>)[], concurrency = 3):
  Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}
