/**
 * `npm start`: until the runnable node lands, the in-process demo of the multiraft layer
 * (demo.ts): three stores, `--ranges N` ranges (default 10000), a light write load
 * (`--writes-per-s`, default 50), and a live view refreshed every second. Stops cleanly on
 * Ctrl-C (SIGINT) or SIGTERM, or after `--duration-s N` seconds.
 */
import pino from 'pino';
import { Demo } from './demo.js';
import { drawSample } from './demo_view.js';

/** Reads `--name value` as a positive number, or returns `fallback`. */
function argNumber(name: string, fallback: number | null): number | null {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`--${name} takes a positive number, got '${process.argv[i + 1] ?? ''}'\n`);
    process.exit(2);
  }
  return value;
}

const REFRESH_MS = 1000;

async function main(): Promise<void> {
  const log = pino({ name: 'flotilla', level: process.env['LOG_LEVEL'] ?? 'warn' },
    pino.destination(2));
  const demo = new Demo({
    ranges: Math.floor(argNumber('ranges', 10_000)!),
    writesPerSecond: argNumber('writes-per-s', 50)!,
    seed: Math.floor(argNumber('seed', 1)!),
    logger: log,
  });
  const durationS = argNumber('duration-s', null);
  demo.start();
  log.info({ component: 'node', ranges: demo.ranges }, 'demo started');
  const view = setInterval(() => drawSample(process.stdout, demo.sample()), REFRESH_MS);
  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(view);
    if (deadline !== null) clearTimeout(deadline);
    await demo.stop();
    process.stdout.write(`stopped (${why})\n`);
    log.info({ component: 'node', why }, 'demo stopped');
  };
  const deadline = durationS === null ? null
    : setTimeout(() => void stop(`--duration-s ${durationS}`), durationS * 1000);
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

await main();
