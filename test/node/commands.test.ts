/**
 * Every command line of the project, run as a process: `--help` prints its flags and exits 0;
 * each bad configuration prints one clear line on stderr and exits 2, never a stack trace.
 */
import { describe, expect, it } from 'vitest';
import { expectRefusal, runAll, runScript } from './_process.js';

const CASES: [string, string[], string, NodeJS.ProcessEnv?][] = [
  ['src/node/main.ts', ['--bogus'], 'unknown flag --bogus'],
  ['src/node/main.ts', ['--ranges', '0.5'],
    "--ranges must be an integer in [2, 1000000], got '0.5'"],
  ['src/node/main.ts', ['--nodes', '8'], "--nodes must be an integer in [1, 7], got '8'"],
  ['src/node/cli.ts', ['demo', '--ranges', '0'], "--ranges must be an integer in [1, 1000000]"],
  ['src/node/main.ts', ['--ranges'], '--ranges needs a value'],
  ['src/node/main.ts', ['--log-level', 'loud'], '--log-level must be one of'],
  ['src/node/main.ts', [], "LOG_LEVEL must be one of", { LOG_LEVEL: 'loud' }],
  ['src/node/cli.ts', ['no-such-command'], "unknown command 'no-such-command'"],
  ['src/node/cli.ts', ['demo', '--writes-per-s', '-1'], '--writes-per-s must be a positive'],
  ['test/sim/cli.ts', ['--seeds', '0'], "--seeds must be an integer of at least 1, got '0'"],
  ['test/sim/cli.ts', ['--bug', 'nope'], "--bug must be one of"],
  ['test/sim/cli.ts', ['--seeds', '3', '--trace'], '--trace needs a single --seed'],
  ['test/sim/cli.ts', ['--layer', 'store', '--ranges', '0.5'], "--ranges must be an integer"],
  ['test/sim/cli.ts', ['--layer', 'store', '--nodes', '2'], '--nodes must be an integer in [3, 7]'],
  ['bench/quorum.bench.ts', ['--voters', '3,x'], "--voters must be a comma-separated list"],
  ['bench/scheduler.bench.ts', ['--groups'], '--groups needs a value'],
  ['bench/scheduler.bench.ts', ['--sparse-awake', '0'], '--sparse-awake must be an integer'],
  ['bench/transport.bench.ts', ['--bogus'], 'unknown flag --bogus'],
];

const HELPS: [string, string[], string][] = [
  ['src/node/main.ts', ['--help'], '--ranges N'],
  ['src/node/cli.ts', ['--help'], 'usage: flotilla COMMAND'],
  ['test/sim/cli.ts', ['--help'], '--seeds N'],
  ['test/sim/cli.ts', ['--layer', 'store', '--help'], '--chaos-ticks N'],
  ['bench/quorum.bench.ts', ['--help'], '--voters N,...'],
  ['bench/scheduler.bench.ts', ['--help'], '--groups N,...'],
  ['bench/transport.bench.ts', ['--help'], '--groups N,...'],
];

describe('command lines', () => {
  it('refuse each bad configuration with one line and exit code 2', async () => {
    const outcomes = await runAll(CASES.map(([file, args, , env]) =>
      () => runScript(file, args, env)));
    CASES.forEach(([file, args, message], i) => {
      expect.soft(() => expectRefusal(outcomes[i]!, message), `${file} ${args.join(' ')}`)
        .not.toThrow();
    });
  }, 120_000);

  it('answer --help with their flags and exit 0, running nothing', async () => {
    const outcomes = await runAll(HELPS.map(([file, args]) => () => runScript(file, args)));
    HELPS.forEach(([file, args, flag], i) => {
      const r = outcomes[i]!;
      expect(r.code, `${file} ${args.join(' ')}: ${r.err}`).toBe(0);
      expect(r.out).toMatch(/^usage: /);
      expect(r.out).toContain(flag);
      expect(r.err).toBe('');
    });
  }, 120_000);
});
