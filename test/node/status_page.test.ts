/**
 * The status page in headless Chromium (Debian's `chromium`): it shows every range with the
 * leader the stores hold, a picture of the groups per node with each node's leader count,
 * and it refreshes by itself (the server sees it read `/status` again). A screenshot is
 * saved to `tmp/status-page.png`.
 *
 * Setup: when /usr/bin/chromium is missing, `apt-get install -y chromium` is tried once (as
 * root, where apt-get exists), for at most five minutes so that CI stays within its budget; if
 * Chromium still cannot be run, the tests are skipped with a message that says why.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpServer } from '../../src/node/http_server.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import type { StatusSource } from '../../src/node/status.js';
import { root } from './_process.js';
import { TestCluster } from './_cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const RANGES = 9;

/** Finds Chromium, installing it once if possible; returns why not otherwise. */
function chromium(): { path: string } | { missing: string } {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' });
  if (apt.status !== 0) return { missing: `${CHROMIUM} is missing and apt-get is not available` };
  if (process.getuid?.() !== 0) return { missing: `${CHROMIUM} is missing (not root: no install)` };
  const install = spawnSync('apt-get', ['install', '-y', 'chromium'], {
    encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  return { missing: `${CHROMIUM} is missing and 'apt-get install -y chromium' failed: ` +
    `${install.stderr?.trim().split('\n').at(-1) ?? install.error?.message ?? 'unknown'}` };
}

/** Runs headless Chromium on `url` with one of its own output modes; resolves to stdout. */
function runChromium(path: string, url: string, mode: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'flotilla-chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`,
    '--virtual-time-budget=4000', '--window-size=1100,900', ...mode, url];
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (code === 0) resolve(out);
      else reject(new Error(`chromium exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}

const found = chromium();
const cluster = new TestCluster();
let server: NodeHttpServer;
let base = '';
let statusReads = 0;

describe.skipIf('missing' in found)(`the status page in headless Chromium${
  'missing' in found ? ` (skipped: ${found.missing})` : ''}`, () => {
  beforeAll(async () => {
    cluster.createRanges(RANGES);
    cluster.tick(2);
    const node = cluster.nodes[0]!;
    const counted: StatusSource = { ...node.statusSource };
    const store = node.statusSource.store;
    // Count the page's reads of /status: each one asks for the peers once.
    counted.peers = () => {
      statusReads++;
      return node.statusSource.peers();
    };
    counted.store = store;
    server = new NodeHttpServer({ status: counted,
      metrics: new NodeMetrics(node.metricsSource, { processMetrics: false }) });
    base = `http://127.0.0.1:${(await server.listen()).port}/`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('shows every range with its leader and the groups per node', async () => {
    const path = (found as { path: string }).path;
    const dom = await runChromium(path, base, ['--dump-dom']);
    const rows = [...dom.matchAll(/<tr data-range="(\d+)" data-leader="(\d+)">/g)]
      .map((m) => [Number(m[1]), Number(m[2])]);
    // TestCluster puts the leader of range r on node r % 3 + 1.
    expect(rows).toEqual(Array.from({ length: RANGES }, (_, i) => [i + 1, ((i + 1) % 3) + 1]));
    const bars = [...dom.matchAll(/<g data-node="(\d+)" data-leaders="(\d+)"/g)]
      .map((m) => [Number(m[1]), Number(m[2])]);
    expect(bars).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(dom).toContain('Flotilla node n1 - cluster test-cluster');
    expect(dom).toContain(`this node (n1): ${RANGES} replicas`);
    // The page read /status again by itself: it refreshes live.
    expect(statusReads).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('renders, and the screenshot is saved', async () => {
    const path = (found as { path: string }).path;
    const dir = join(root, 'tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'status-page.png');
    rmSync(file, { force: true });
    await runChromium(path, base, [`--screenshot=${file}`]);
    expect(existsSync(file)).toBe(true);
    // A PNG, and not an empty page: a blank 1100x900 PNG compresses to a few KiB.
    expect(execFileSync('head', ['-c', '8', file]).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
    expect(statSync(file).size).toBeGreaterThan(10_000);
  }, 90_000);
});
