/**
 * `npm run conformance -- [DIR] [--record] [--only=SUBSTRING] [--diff-lines=N]`
 *
 * Runs every file of the corpus at DIR (default ../shared/conformance/etcd-raft relative to
 * the repository root) and prints one line per file, `PASS <file> (n/n directives)` or
 * `FAIL <file>:<line>: <directive> (passed/n directives)` followed by a short diff of the
 * expected and actual output (or the error), then a last line
 * `conformance: F/T files, D/N directives`, where D counts the directives that passed up to
 * each file's first failure. Exits 0 only when every file passes.
 *
 * `--record` appends the files that pass and are not yet listed to test/conformance/passing.txt
 * (the list the vitest suite runs); it never removes a file from the list.
 * `--only` runs only the files whose corpus-relative path contains SUBSTRING.
 */
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DEFAULT_CORPUS_DIR,
  PASSING_LIST_PATH,
  formatResult,
  listCorpusFiles,
  loadFactory,
  readPassingList,
  runFile,
  type FileResult,
  type HandlerFactory,
  type SuiteKind,
} from './runner.js';

interface CliOptions {
  corpusDir: string;
  record: boolean;
  only: string | undefined;
  diffLinesMax: number;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run conformance -- ` +
      '[DIR] [--record] [--only=SUBSTRING] [--diff-lines=N]\n',
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = {
    corpusDir: DEFAULT_CORPUS_DIR,
    record: false,
    only: undefined,
    diffLinesMax: 40,
  };
  let dirSeen = false;
  for (const arg of argv) {
    if (arg === '--record') opts.record = true;
    else if (arg.startsWith('--only=')) opts.only = arg.slice('--only='.length);
    else if (arg.startsWith('--diff-lines=')) {
      const n = Number(arg.slice('--diff-lines='.length));
      if (!Number.isInteger(n) || n < 3) usage(`bad ${arg}`);
      opts.diffLinesMax = n;
    } else if (arg === '--help' || arg === '-h') usage('');
    else if (arg.startsWith('-')) usage(`unknown flag ${arg}`);
    else if (dirSeen) usage(`more than one DIR: ${arg}`);
    else {
      // npm runs scripts from the package root, so relative paths resolve against it.
      opts.corpusDir = resolve(process.env['INIT_CWD'] ?? process.cwd(), arg);
      dirSeen = true;
    }
  }
  return opts;
}

/** Appends the newly passing files to the passing list; returns how many were added. */
function recordPassing(results: readonly FileResult[]): number {
  const listed = new Set(readPassingList());
  const fresh = results.filter((r) => r.failure === undefined && !listed.has(r.rel));
  if (fresh.length === 0) return 0;
  const current = existsSync(PASSING_LIST_PATH) ? readFileSync(PASSING_LIST_PATH, 'utf8') : '';
  const prefix = current === '' || current.endsWith('\n') ? '' : '\n';
  appendFileSync(PASSING_LIST_PATH, prefix + fresh.map((r) => `${r.rel}\n`).join(''));
  return fresh.length;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(opts.corpusDir) || !statSync(opts.corpusDir).isDirectory()) {
    process.stderr.write(`conformance: corpus directory not found: ${opts.corpusDir}\n`);
    return 2;
  }
  const files = listCorpusFiles(opts.corpusDir).filter(
    (f) => opts.only === undefined || f.rel.includes(opts.only),
  );
  if (files.length === 0) {
    process.stderr.write(`conformance: no corpus files under ${opts.corpusDir}\n`);
    return 2;
  }
  const factories = new Map<SuiteKind, HandlerFactory>();
  const results: FileResult[] = [];
  for (const file of files) {
    let factory = factories.get(file.kind);
    if (factory === undefined) {
      factory = await loadFactory(file.kind);
      factories.set(file.kind, factory);
    }
    const result = runFile(file, factory);
    results.push(result);
    process.stdout.write(formatResult(result, { diffLinesMax: opts.diffLinesMax }) + '\n');
  }
  const passedFiles = results.filter((r) => r.failure === undefined).length;
  const passedDirectives = results.reduce((n, r) => n + r.passed, 0);
  const directives = results.reduce((n, r) => n + r.directives, 0);
  if (opts.record) {
    const added = recordPassing(results);
    process.stdout.write(
      `recorded ${added} newly passing file(s) in test/conformance/passing.txt\n`,
    );
  }
  process.stdout.write(
    `conformance: ${passedFiles}/${results.length} files, ` +
      `${passedDirectives}/${directives} directives\n`,
  );
  return passedFiles === results.length ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`conformance: ${text}\n`);
    process.exitCode = 2;
  },
);
