/**
 * `npm run crash -- --points N [--seed S] [--ranges R] [--kill-ms-max MS] [--mode M]
 *  [--kill-after-acks A] [--bug ack-before-sync|ack-before-commit]`
 *
 * kill -9 with real processes: through three stores on LevelDB (`--mode store`, the
 * default, store_crash.ts) or against the LevelDB engine alone (`--mode engine`, crash.ts).
 * `--bug` plants a bug the check must catch (store_child.ts and child.ts say which). Ends with
 * `crash: P points, A acknowledged, L lost, D duplicated` and exits 1 on any violation (each
 * printed, with the seed). Wall-clock time is printed for the whole run. `--kill-after-acks`
 * starts each kill's delay only after the child acknowledged that many writes.
 */
import { runCrash } from './crash.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) {
    process.stderr.write(`--${name} takes a positive integer\n`);
    process.exit(2);
  }
  return v;
}

function choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1] as T;
  if (!choices.includes(v)) {
    process.stderr.write(`--${name} takes one of ${choices.join(', ')}\n`);
    process.exit(2);
  }
  return v;
}

const points = arg('points', 20);
const mode = choice('mode', ['store', 'engine'] as const) ?? 'store';
const bug = choice('bug', ['ack-before-sync', 'ack-before-commit'] as const);
const seed = arg('seed', 1);
const started = performance.now();
const outcome = await runCrash({
  points, seed, mode, compiled: true, ranges: arg('ranges', 8),
  killAfterMsMax: arg('kill-ms-max', 300),
  ...(process.argv.includes('--kill-after-acks') ?
    { killAfterAcks: arg('kill-after-acks', 1) } : {}),
  ...(bug === undefined ? {} : { bug }),
  onProgress: (line) => process.stderr.write(`${line}\n`),
});
for (const v of outcome.violations.slice(0, 20)) process.stdout.write(`violation: ${v}\n`);
if (outcome.violations.length > 0) process.stdout.write(`seed: ${seed}\n`);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(`time: ${seconds} s\n`);
process.stdout.write(`crash: ${outcome.points} points, ${outcome.acknowledged} acknowledged, ` +
  `${outcome.lost} lost, ${outcome.duplicated} duplicated\n`);
process.exit(outcome.violations.length > 0 || outcome.points < points ? 1 : 0);
