/**
 * `flotilla start`'s version flags: `--version`, `--cluster-version`, `--downgrade-target`,
 * as options of the transport, and their refusals (one line, exit code 2) from real processes.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/node/cli_args.js';
import { versionFlags } from '../../src/node/start_command.js';
import { expectRefusal, runScript } from './_process.js';

describe('flotilla start version flags', () => {
  it('map to the transport: forced version, window with and without a downgrade', () => {
    expect(versionFlags(undefined, undefined, undefined))
      .toEqual({ protocolVersionMax: undefined });
    expect(versionFlags(1, undefined, undefined)).toEqual({ protocolVersionMax: 1 });
    expect(versionFlags(undefined, 2, undefined)).toEqual({ protocolVersionMax: undefined,
      versionWindow: { clusterVersion: 2, downgradeTarget: undefined } });
    // Mid-downgrade, a node at the old version and one at the target both start.
    expect(versionFlags(2, 2, 1)).toEqual({ protocolVersionMax: 2,
      versionWindow: { clusterVersion: 2, downgradeTarget: 1 } });
    expect(versionFlags(1, 2, 1)).toEqual({ protocolVersionMax: 1,
      versionWindow: { clusterVersion: 2, downgradeTarget: 1 } });
  });

  it('refuse a version outside the window, a target without a cluster version, a bad target',
    () => {
      expect(() => versionFlags(1, 2, undefined)).toThrow(UsageError);
      expect(() => versionFlags(1, 2, undefined)).toThrow('outside the version window [2, 3]');
      expect(() => versionFlags(undefined, undefined, 1)).toThrow('needs --cluster-version');
      expect(() => versionFlags(undefined, 2, 2)).toThrow(UsageError);
    });

  it('refuse bad version flags in a real process with one line and exit code 2', async () => {
    const base = ['start', '--node-id', '1', '--listen', '127.0.0.1:7001', '--data',
      '/nonexistent/flotilla-version-test'];
    const cases: [string[], string][] = [
      [[...base, '--version', '1', '--cluster-version', '2'], 'outside the version window'],
      [[...base, '--downgrade-target', '1'], '--downgrade-target needs --cluster-version'],
      [[...base, '--version', '9'], '--version'],
    ];
    const outcomes = await Promise.all(cases.map(([args]) => runScript('src/node/cli.ts', args)));
    cases.forEach(([args, message], i) => {
      expect.soft(() => expectRefusal(outcomes[i]!, message), args.join(' ')).not.toThrow();
    });
  }, 60_000);
});
