import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/util/index.js';
import {
  HandshakeError,
  HandshakeErrorCode,
  checkVersionWindow,
  versionAdmitted,
  versionWindow,
} from '../../src/transport/index.js';

const VERSIONS = [1, 2, 3, 4, 5, 6, 7];

/** The rule written out independently: the oracle of the exhaustive checks. */
function expected(cluster: number, target: number | null, version: number): boolean {
  if (target === null) return version === cluster || version === cluster + 1;
  return version >= target && version <= cluster;
}

describe('versionWindow', () => {
  it('every cluster version, target and member version against the written-out rule', () => {
    let checked = 0;
    for (const cluster of VERSIONS) {
      for (const target of [null, ...VERSIONS.filter((t) => t < cluster)]) {
        const window = versionWindow({ clusterVersion: cluster, downgradeTarget: target });
        for (const version of [0, ...VERSIONS, 8]) {
          expect(versionAdmitted(window, version), `C=${cluster} T=${target} v=${version}`)
            .toBe(expected(cluster, target, version));
          checked++;
        }
      }
    }
    expect(checked).toBe(9 * (7 + 21));
  });

  it('mid-downgrade, a member still at the old version rejoins (the etcd bug case)', () => {
    const window = versionWindow({ clusterVersion: 3, downgradeTarget: 2 });
    // The member at 3 disconnected before it was downgraded: admitted, not locked out.
    expect(versionAdmitted(window, 3)).toBe(true);
    // Once downgraded, it rejoins at the target too.
    expect(versionAdmitted(window, 2)).toBe(true);
    expect(versionAdmitted(window, 1)).toBe(false);
    expect(versionAdmitted(window, 4)).toBe(false);
  });

  it('without a downgrade, a member below the cluster version is refused', () => {
    const window = versionWindow({ clusterVersion: 2 });
    expect(window).toEqual({ clusterVersion: 2, downgradeTarget: null, low: 2, high: 3 });
    expect(versionAdmitted(window, 1)).toBe(false);
    expect(versionAdmitted(window, 2)).toBe(true);
    expect(versionAdmitted(window, 3)).toBe(true);
  });

  it('a multi-step downgrade admits every version between target and cluster version', () => {
    const window = versionWindow({ clusterVersion: 5, downgradeTarget: 2 });
    expect([1, 2, 3, 4, 5, 6].map((v) => versionAdmitted(window, v)))
      .toEqual([false, true, true, true, true, false]);
  });

  it('non-integer member versions are not admitted', () => {
    const window = versionWindow({ clusterVersion: 2, downgradeTarget: 1 });
    for (const v of [1.5, Number.NaN, Infinity, -1]) expect(versionAdmitted(window, v)).toBe(false);
  });

  it('refuses bad options with ConfigError', () => {
    const bad: unknown[] = [
      { clusterVersion: 0 }, { clusterVersion: 1.5 }, { clusterVersion: '2' }, {},
      { clusterVersion: 70_000 }, { clusterVersion: 2, downgradeTarget: 2 },
      { clusterVersion: 2, downgradeTarget: 3 }, { clusterVersion: 2, downgradeTarget: 0 },
      { clusterVersion: 2, downgradeTarget: 1.5 }, null, 7,
    ];
    for (const options of bad) {
      expect(() => versionWindow(options as never), JSON.stringify(options))
        .toThrow(ConfigError);
    }
  });

  it('checkVersionWindow throws the typed handshake refusal naming the window', () => {
    const window = versionWindow({ clusterVersion: 3, downgradeTarget: 2 });
    expect(() => checkVersionWindow(window, 4, 3)).not.toThrow();
    let caught: unknown;
    try {
      checkVersionWindow(window, 4, 1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HandshakeError);
    expect((caught as HandshakeError).code).toBe(HandshakeErrorCode.VersionWindow);
    expect((caught as HandshakeError).code).toBe('ERR_HANDSHAKE_VERSION_WINDOW');
    expect((caught as Error).message).toContain('node 4 runs version 1, outside [2, 3]');
  });
});
