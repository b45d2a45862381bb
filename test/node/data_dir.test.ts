/** The data directory's identity: bootstrap once, then refuse another cluster or node id. */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  IDENTITY_FILE,
  deriveClusterId,
  membersOf,
  openDataDir,
  type Member,
} from '../../src/node/data_dir.js';
import { StartupError } from '../../src/node/errors.js';

const MEMBERS: Member[] = [1, 2, 3].map((nodeId) => ({ nodeId, host: '127.0.0.1',
  port: 7000 + nodeId }));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'flotilla-data-'));
  dirs.push(d);
  return d;
}

function refusal(fn: () => unknown): StartupError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StartupError);
    return error as StartupError;
  }
  throw new Error('accepted');
}

describe('deriveClusterId', () => {
  it('is the same for the same token and members in any order, else different', () => {
    const id = deriveClusterId('flotilla', MEMBERS);
    expect(deriveClusterId('flotilla', [...MEMBERS].reverse())).toBe(id);
    expect(deriveClusterId('other', MEMBERS)).not.toBe(id);
    expect(deriveClusterId('flotilla', MEMBERS.slice(0, 2))).not.toBe(id);
    expect(id).toMatch(/^c-[0-9a-f]{16}$/);
  });
});

describe('openDataDir', () => {
  const expected = (dir: string, nodeId = 1, clusterId = 'c-1') =>
    ({ dir, nodeId, clusterId, members: MEMBERS, ranges: 4, nowMs: 5 });

  it('bootstraps a new directory once, then reopens it as is', () => {
    const dir = join(tempDir(), 'n1');
    const first = openDataDir(expected(dir));
    expect(first.bootstrapped).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8'))).toEqual(first.identity);
    expect(existsSync(join(dir, `${IDENTITY_FILE}.tmp`))).toBe(false);
    const again = openDataDir({ ...expected(dir), ranges: 99, nowMs: 6 });
    expect(again).toEqual({ identity: first.identity, bootstrapped: false });
  });

  it("refuses another cluster's directory and another node's", () => {
    const dir = tempDir();
    openDataDir(expected(dir));
    const cluster = refusal(() => openDataDir(expected(dir, 1, 'c-2')));
    expect(cluster.code).toBe('ERR_DATA_CLUSTER_MISMATCH');
    expect(cluster.message).toContain('belongs to cluster c-1, not c-2');
    const node = refusal(() => openDataDir(expected(dir, 2)));
    expect(node.code).toBe('ERR_DATA_NODE_ID_MISMATCH');
  });

  it('refuses an identity file it cannot trust', () => {
    const dir = tempDir();
    for (const text of ['{', '{"formatVersion":1}', '[]', 'null']) {
      writeFileSync(join(dir, IDENTITY_FILE), text);
      expect(refusal(() => openDataDir(expected(dir))).code).toBe('ERR_DATA_IDENTITY_CORRUPT');
    }
  });
});

describe('membersOf', () => {
  const at = (port: number) => ({ host: '127.0.0.1', port });

  it('numbers unnamed members by address and checks this node has its number', () => {
    expect(membersOf(2, at(7002), [at(7003), at(7001)])).toEqual(MEMBERS);
    expect(membersOf(1, at(7002), [at(7003), at(7001)])).toContain("this node's place");
  });

  it('takes named members as given and refuses a mix or duplicates', () => {
    expect(membersOf(9, at(7001), [{ ...at(7002), nodeId: 4 }]))
      .toEqual([{ nodeId: 9, ...at(7001) }, { nodeId: 4, ...at(7002) }]);
    expect(membersOf(1, at(7001), [{ ...at(7002), nodeId: 2 }, at(7003)]))
      .toContain('all name their node id');
    expect(membersOf(1, at(7001), [{ ...at(7002), nodeId: 1 }])).toContain('must all differ');
    expect(membersOf(1, at(7001), [at(7001)])).toContain('addresses must all differ');
  });
});
