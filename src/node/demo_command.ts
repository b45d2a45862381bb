/**
 * `flotilla demo` (and `npm run demo`): the in-process demo of the multiraft layer
 * (demo.ts): three stores on the loopback network, `--ranges N` ranges, a light write load
 * and a live view refreshed every second. Stops cleanly on Ctrl-C (SIGINT) or SIGTERM, or
 * after `--duration-s S` seconds.
 */
import type { Logger } from 'pino';
import { parseOrExit } from './cli_args.js';
import { Demo } from './demo.js';
import { drawSample } from './demo_view.js';
import { LOG_LEVEL_FLAG, createLogger } from './log.js';

const REFRESH_MS = 1000;

/** The demo's flags. */
export const DEMO_COMMAND = {
  name: 'flotilla demo',
  summary: 'Three stores in one process, many ranges, a light write load and a live view.',
  flags: {
    ranges: { kind: 'integer', min: 1, max: 1_000_000, default: 10_000,
      description: 'ranges to create, each replicated on the three stores' },
    'writes-per-s': { kind: 'number', positive: true, max: 1_000_000, default: 50,
      description: 'writes proposed per second' },
    seed: { kind: 'integer', min: 1, max: 2 ** 32 - 1, default: 1,
      description: 'seed of the random source and of the write load' },
    'duration-s': { kind: 'number', positive: true, valueName: 'S',
      description: 'stop after S seconds (default: run until Ctrl-C)' },
    'log-level': LOG_LEVEL_FLAG,
  },
} as const;

/** Runs the demo until a signal or `--duration-s`; resolves once it has stopped. */
export async function demoCommand(argv: readonly string[]): Promise<void> {
  const { values } = parseOrExit(DEMO_COMMAND, argv);
  const log = createLogger({ level: values['log-level'], name: 'flotilla-demo' });
  const demo = new Demo({
    ranges: values.ranges,
    writesPerSecond: values['writes-per-s'],
    seed: values.seed,
    logger: log,
  });
  demo.start();
  log.info({ ranges: demo.ranges }, 'demo started');
  await runUntilStopped(demo, log, values['duration-s']);
}

function runUntilStopped(demo: Demo, log: Logger, durationS: number | undefined):
  Promise<void> {
  return new Promise((resolve) => {
    const view = setInterval(() => drawSample(process.stdout, demo.sample()), REFRESH_MS);
    let stopping = false;
    const stop = async (why: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      clearInterval(view);
      if (deadline !== null) clearTimeout(deadline);
      await demo.stop();
      process.stdout.write(`stopped (${why})\n`);
      log.info({ why }, 'demo stopped');
      resolve();
    };
    const deadline = durationS === undefined ? null
      : setTimeout(() => void stop(`--duration-s ${durationS}`), durationS * 1000);
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
