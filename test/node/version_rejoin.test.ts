/**
 * Mixed versions with real processes: two `flotilla start` nodes on loopback mid-downgrade
 * (cluster version 2, target 1), versions forced by `--version`. Node 2 is killed and comes
 * back, first still at the old version (etcd's bug locked such a member out), then at the
 * target; each time node 1 accepts it. Without the downgrade, node 1 refuses it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startScript, type Running } from './_process.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-versions-'));
const running: Running[] = [];

afterAll(() => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A node's log lines (stderr) that contain every fragment. */
function linesOf(node: Running, ...fragments: string[]): string[] {
  return node.output().err.split('\n').filter((l) => fragments.every((f) => l.includes(f)));
}

async function until(what: string, predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !predicate(); i++) await sleep(100);
  if (!predicate()) throw new Error(`timed out waiting for ${what}`);
}

describe('flotilla start with mixed versions', () => {
  it('mid-downgrade a member rejoins at the old version or the new; outside it is refused',
    async () => {
      const raft = [await freePort(), await freePort()];
      const http = [await freePort(), await freePort()];
      const args = (n: number, extra: string[]): string[] => ['start', '--node-id', String(n),
        '--listen', `127.0.0.1:${raft[n - 1]}`, '--http', `127.0.0.1:${http[n - 1]}`,
        '--join', `${3 - n}@127.0.0.1:${raft[2 - n]}`, '--data', join(dir, `n${n}`),
        '--ranges', '2', '--log-level', 'info', ...extra];
      const start = (n: number, extra: string[]): Running => {
        const r = startScript('src/node/cli.ts', args(n, extra), {}, 160_000);
        running.push(r);
        return r;
      };
      const downgrade = ['--cluster-version', '2', '--downgrade-target', '1'];
      let one = start(1, downgrade);
      let two = start(2, ['--version', '2', ...downgrade]);
      const accepted = (version: number): string[] => linesOf(one, '"accepted connection"',
        '"peerNodeId":2', `"version":${version}`);
      await until('node 1 to accept node 2 at version 2', () => accepted(2).length > 0);

      // Killed before it was downgraded, node 2 comes back still at version 2.
      two.child.kill('SIGKILL');
      await two.done;
      const before = accepted(2).length;
      two = start(2, ['--version', '2', ...downgrade]);
      await until('node 2 to rejoin at version 2', () => accepted(2).length > before);

      // Downgraded to the target, it rejoins at version 1.
      two.child.kill('SIGKILL');
      await two.done;
      two = start(2, ['--version', '1', ...downgrade]);
      await until('node 2 to rejoin at version 1', () => accepted(1).length > 0);
      expect(linesOf(one, 'ERR_HANDSHAKE_VERSION_WINDOW')).toHaveLength(0);

      // Node 1 restarted without the downgrade (cluster version 2): node 2 at 1 is refused.
      one.child.kill('SIGTERM');
      expect((await one.done).code).toBe(0);
      one = start(1, ['--cluster-version', '2']);
      await until('node 1 to refuse node 2', () =>
        linesOf(one, 'ERR_HANDSHAKE_VERSION_WINDOW').length > 0);
      expect(linesOf(one, '"accepted connection"', '"peerNodeId":2')).toHaveLength(0);
      for (const r of [one, two]) r.child.kill('SIGTERM');
      expect((await one.done).code).toBe(0);
      expect((await two.done).code).toBe(0);
    }, 170_000);
});
