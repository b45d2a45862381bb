/**
 * The package as a user gets it: `npm pack` (which builds `dist/` first), unpacked into a
 * fresh project whose dependencies are linked from this checkout's `node_modules` (offline,
 * as on a CI machine that has just run `npm ci`; only the dependencies the packed
 * `package.json` declares are linked, so an undeclared one fails the import). The project
 * imports every entry from plain JavaScript, type-checks a TypeScript file against the
 * shipped `.d.ts`, runs the README's embedding example and the `flotilla` bin.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync,
  existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work = '';
let app = '';
let installed = '';

interface PackedManifest {
  version: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
}

function packAndInstall(): void {
  work = mkdtempSync(join(tmpdir(), 'flotilla-pack-'));
  execFileSync(npm, ['pack', '--pack-destination', work, '--silent'], {
    cwd: root, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  expect(tarball, 'npm pack wrote a tarball').toBeDefined();
  app = join(work, 'app');
  installed = join(app, 'node_modules', 'flotilla');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, tarball!), '-C', installed, '--strip-components=1']);
  writeFileSync(join(app, 'package.json'), '{"name":"app","type":"module","private":true}\n');
  const manifest = readManifest();
  for (const dep of [...Object.keys(manifest.dependencies), '@types/node']) {
    const target = join(app, 'node_modules', dep);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), target, 'dir');
  }
}

function readManifest(): PackedManifest {
  return JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackedManifest;
}

function run(file: string, args: string[] = []): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [file, ...args], {
    cwd: app, encoding: 'utf8', timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const PLAIN_JS = `
import * as main from 'flotilla';
import * as raft from 'flotilla/raft';
import * as testing from 'flotilla/testing';
const report = {
  main: ['Store', 'TcpTransport', 'MemoryEngine', 'FlotillaError', 'createLogger',
    'FlotillaNode', 'NodeHttpServer', 'NodeMetrics'].filter((n) => typeof main[n] === 'function'),
  mainHarnesses: ['LocalCluster', 'VirtualClock', 'CountingStateMachine', 'MemoryKv']
    .filter((name) => name in main),
  raft: ['RawNode', 'MemoryStorage', 'SeededRandom'].filter((n) => typeof raft[n] === 'function'),
  testing: ['LocalCluster', 'VirtualClock', 'CountingStateMachine', 'LoopbackNetwork',
    'MemoryKv'].filter((name) => typeof testing[name] === 'function'),
};
const cluster = new testing.LocalCluster();
cluster.createRange(1, { leaderNodeId: 2 });
cluster.settle();
const status = cluster.store(1).raftStatus(1);
report.leader = status.lead;
report.codeOfError = new main.NotLeaderError(1, 0).code;
console.log(JSON.stringify(report));
`;

const TYPESCRIPT = `
import { Store, type KvService, type NodeStatusJson, type RaftStatus, type StoreOptions,
  type StateMachine } from 'flotilla';
import { MemoryKv } from 'flotilla/testing';
import { RawNode, type Entry } from 'flotilla/raft';
import { LocalCluster } from 'flotilla/testing';

const machine: StateMachine = {
  apply(rangeId: number, entry: Entry): void { void rangeId; void entry.data.byteLength; },
  applySnapshot(): void {},
};
function leaderOf(status: RaftStatus | undefined): number { return status?.lead ?? 0; }
const cluster = new LocalCluster({ stateMachine: () => machine });
const options: Partial<StoreOptions> = { electionTimeoutTicks: 10 };
// @ts-expect-error: nodeId is a number; a build without types would not catch this.
const bad: Partial<StoreOptions> = { nodeId: 'one' };
const kv: KvService = new MemoryKv();
const leaders = (s: NodeStatusJson): number[] => s.ranges.map((r) => r.lead);
export const checks = [leaderOf(cluster.store(1).raftStatus(1)), options, bad, Store, RawNode,
  kv, leaders];
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
    noEmit: true, types: ['node'], skipLibCheck: true,
  },
  files: ['app.ts'],
};

describe('the packed package', () => {
  beforeAll(packAndInstall, 120_000);
  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('ships the built entries, their types and the bin, and no sources or tests', () => {
    const manifest = readManifest();
    expect(Object.keys(manifest.exports)).toEqual(['.', './raft', './testing', './package.json']);
    for (const entry of ['index', 'raft/index', 'testing/index']) {
      expect(existsSync(join(installed, 'dist', `${entry}.js`)), entry).toBe(true);
      expect(existsSync(join(installed, 'dist', `${entry}.d.ts`)), entry).toBe(true);
    }
    expect(readFileSync(join(installed, manifest.bin['flotilla']!), 'utf8'))
      .toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect(existsSync(join(installed, 'test'))).toBe(false);
  });

  it('imports every entry from plain JavaScript; the harnesses only from flotilla/testing', () => {
    writeFileSync(join(app, 'plain.mjs'), PLAIN_JS);
    const r = run('plain.mjs');
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as Record<string, unknown>;
    expect(report).toEqual({
      main: ['Store', 'TcpTransport', 'MemoryEngine', 'FlotillaError', 'createLogger',
        'FlotillaNode', 'NodeHttpServer', 'NodeMetrics'],
      mainHarnesses: [],
      raft: ['RawNode', 'MemoryStorage', 'SeededRandom'],
      testing: ['LocalCluster', 'VirtualClock', 'CountingStateMachine', 'LoopbackNetwork',
        'MemoryKv'],
      leader: 2,
      codeOfError: 'ERR_NOT_LEADER',
    });
  });

  it('type-checks TypeScript against the shipped declarations', () => {
    writeFileSync(join(app, 'app.ts'), TYPESCRIPT);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const ok = run(tsc, ['-p', 'tsconfig.json']);
    // Zero also proves the types are real: were they `any`, the @ts-expect-error would be
    // unused, which is an error.
    expect(ok.code, ok.out + ok.err).toBe(0);
  });

  it("runs the README's embedding example", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const example = /<!-- embedding-example -->\n```js\n([\s\S]*?)```/.exec(readme);
    expect(example, 'README has the embedding example').not.toBeNull();
    writeFileSync(join(app, 'embed.mjs'), example![1]!);
    const r = run('embed.mjs');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('300 replicas of 100 ranges on 3 nodes applied their write');
  });

  it('installs a working flotilla command', () => {
    const bin = readManifest().bin['flotilla']!;
    const version = run(join(installed, bin), ['--version']);
    expect(version.out.trim()).toBe(readManifest().version);
    const help = run(join(installed, bin), ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage: flotilla COMMAND');
    const bad = run(join(installed, bin), ['no-such-command']);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
  });
});
