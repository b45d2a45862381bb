/**
 * Runs etcd raft's data-driven corpus against Flotilla's Raft core.
 *
 * A corpus is laid out like ../shared/conformance/etcd-raft: `quorum/testdata`,
 * `confchange/testdata` and `testdata` (interaction tests), each run by its own handler. Every
 * file starts with a fresh handler; its directives run in order and the file stops at its
 * first mismatch, as datadriven does. A malformed directive, an unknown command or an
 * exception is that directive's failure.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDataDriven, type Directive } from './datadriven.js';
import { formatDiff } from './diff.js';

/** Runs one directive and returns its actual output. Throws on a harness failure. */
export interface DirectiveHandler {
  handle(d: Directive): string;
}

/** Creates the handler (and its fresh environment) for one file. */
export type HandlerFactory = () => DirectiveHandler;

/** The three parts of the corpus and the handler module that runs each. */
export const SUITES = [
  { dir: 'quorum/testdata', kind: 'quorum' },
  { dir: 'confchange/testdata', kind: 'confchange' },
  { dir: 'testdata', kind: 'interaction' },
] as const;
export type SuiteKind = (typeof SUITES)[number]['kind'];

/** The repository root (two levels above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The corpus read in place, relative to the repository root. */
export const DEFAULT_CORPUS_DIR = resolve(REPO_ROOT, '..', 'shared', 'conformance', 'etcd-raft');
/** The list of files recorded as passing, one corpus-relative path per line. */
export const PASSING_LIST_PATH = join(dirname(fileURLToPath(import.meta.url)), 'passing.txt');

/** Files datadriven's Walk skips: hidden, editor backups, emacs autosaves. */
const TEMP_FILE_RE = /(^\..*)|(.*~$)|(^#.*#$)/;
/** Directory depth at which the walk gives up (a bound against symlink loops). */
const WALK_DEPTH_MAX = 16;

/** One corpus file to run. */
export interface CorpusFile {
  /** Path relative to the corpus root, with `/` separators (the passing list's key). */
  rel: string;
  abs: string;
  kind: SuiteKind;
}

/** Lists the corpus files of every suite, in datadriven's (lexical) order. */
export function listCorpusFiles(corpusDir: string): CorpusFile[] {
  const out: CorpusFile[] = [];
  for (const suite of SUITES) {
    const dir = join(corpusDir, suite.dir);
    if (!existsDir(dir)) continue;
    walk(dir, suite.dir, 0, (rel, abs) => out.push({ rel, abs, kind: suite.kind }));
  }
  return out;
}

function existsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function walk(dir: string, rel: string, depth: number, f: (rel: string, abs: string) => void) {
  if (depth > WALK_DEPTH_MAX) throw new Error(`${dir}: directories nested too deeply`);
  for (const name of readdirSync(dir).sort()) {
    if (TEMP_FILE_RE.test(name)) continue;
    const abs = join(dir, name);
    if (statSync(abs).isDirectory()) walk(abs, `${rel}/${name}`, depth + 1, f);
    else f(`${rel}/${name}`, abs);
  }
}

/** Loads the handler factory of a suite; an import failure becomes a factory that throws. */
export async function loadFactory(kind: SuiteKind): Promise<HandlerFactory> {
  try {
    switch (kind) {
      case 'quorum':
        return (await import('./quorum_handler.js')).createQuorumHandler;
      case 'confchange':
        return (await import('./confchange_handler.js')).createConfChangeHandler;
      case 'interaction':
        return (await import('./interaction/handler.js')).createInteractionHandler;
    }
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    const message = `cannot load the ${kind} handler: ${cause}`;
    return () => ({
      handle(): string {
        const loadError = new Error(message);
        loadError.stack = ''; // The handler's own frames say nothing about the import.
        throw loadError;
      },
    });
  }
}

/** The first failing directive of a file. */
export interface Failure {
  line: number;
  /** The directive's command line. */
  text: string;
  expected: string;
  /** The actual output; absent when the directive could not run. */
  actual?: string;
  /** Why the directive could not run (malformed, unknown command, exception). */
  error?: string;
}

/** The outcome of one file. */
export interface FileResult {
  rel: string;
  /** Directives in the file (malformed ones included). */
  directives: number;
  /** Directives that passed before the first failure (all of them when the file passed). */
  passed: number;
  failure?: Failure;
}

/** Runs one file with a fresh handler; stops at its first failure. */
export function runFile(file: CorpusFile, factory: HandlerFactory): FileResult {
  let directives: Directive[];
  try {
    directives = parseDataDriven(readFileSync(file.abs, 'utf8'), file.rel);
  } catch (err) {
    return {
      rel: file.rel,
      directives: 0,
      passed: 0,
      failure: { line: 0, text: '', expected: '', error: describeError(err) },
    };
  }
  const result: FileResult = { rel: file.rel, directives: directives.length, passed: 0 };
  let handler: DirectiveHandler | undefined;
  for (const d of directives) {
    const failure = runDirective(d, () => (handler ??= factory()));
    if (failure !== undefined) {
      result.failure = failure;
      return result;
    }
    result.passed++;
  }
  return result;
}

function runDirective(d: Directive, handler: () => DirectiveHandler): Failure | undefined {
  const base = { line: d.line, text: d.text, expected: d.expected };
  if (d.error !== undefined) return { ...base, error: `malformed directive: ${d.error}` };
  let actual: string;
  try {
    actual = handler().handle(d);
  } catch (err) {
    return { ...base, error: describeError(err) };
  }
  if (!actual.endsWith('\n')) actual += '\n';
  if (actual === d.expected) return undefined;
  return { ...base, actual };
}

/** An error's message and the first frames of its stack, for a short report. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // A harness error names the directive's problem; its stack says nothing more.
  if (err.name === 'DirectiveError') return err.message;
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((l) => l.trimStart().startsWith('at '))
    .slice(0, 3)
    .map((l) => l.trim());
  const head = `${err.name}: ${err.message}`;
  return frames.length === 0 ? head : `${head}\n${frames.join('\n')}`;
}

/** Formats a result: one line, plus for a failure an indented, bounded diff or error. */
export function formatResult(r: FileResult, options: { diffLinesMax?: number } = {}): string {
  const counts = `${r.passed}/${r.directives} directives`;
  if (r.failure === undefined) return `PASS ${r.rel} (${counts})`;
  const f = r.failure;
  const where = `${r.rel}:${f.line}`;
  const head = `FAIL ${where}: ${f.text} (${counts})`;
  if (f.actual === undefined) {
    const lines = (f.error ?? 'failed').split('\n').map((l) => `  ${l}`);
    return `${head}\n${lines.join('\n')}`;
  }
  return `${head}\n${formatDiff(f.expected, f.actual, { linesMax: options.diffLinesMax ?? 40 })}`;
}

/** Reads the passing list (corpus-relative paths; blank lines and `#` comments ignored). */
export function readPassingList(path = PASSING_LIST_PATH): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
