import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiff } from './diff.js';
import { formatResult, listCorpusFiles, loadFactory, runFile, type CorpusFile } from './runner.js';

/** A small corpus laid out like etcd's, written to a temporary directory. */
const root = mkdtempSync(join(tmpdir(), 'flotilla-conformance-'));
const files: Record<string, string> = {
  'quorum/testdata/mismatch.txt':
    'vote cfg=(1) votes=(y)\n----\nVoteWon\n\n' +
    'vote cfg=(1) votes=(n)\n----\nVoteWon\n\n' +
    'vote\n----\nVoteWon\n',
  'quorum/testdata/malformed.txt': 'vote cfg=(1\n----\nVoteWon\n\nvote\n----\nVoteWon\n',
  'confchange/testdata/ok.txt': 'simple\nv1\n----\nvoters=(1)\n1: StateProbe match=0 next=1\n',
  'testdata/unknown.txt': 'log-level none\n----\nok\n\nfrobnicate 1\n----\nok\n',
  'testdata/.hidden.txt': 'ignored\n----\nok\n',
};
for (const [rel, text] of Object.entries(files)) {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
}
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function run(rel: string) {
  const file = listCorpusFiles(root).find((f: CorpusFile) => f.rel === rel);
  if (file === undefined) throw new Error(`no corpus file ${rel}`);
  return runFile(file, await loadFactory(file.kind));
}

describe('conformance runner', () => {
  it('lists the three suites in order and skips hidden files', () => {
    expect(listCorpusFiles(root).map((f) => `${f.kind} ${f.rel}`)).toEqual([
      'quorum quorum/testdata/malformed.txt',
      'quorum quorum/testdata/mismatch.txt',
      'confchange confchange/testdata/ok.txt',
      'interaction testdata/unknown.txt',
    ]);
  });

  it('passes a matching file', async () => {
    const r = await run('confchange/testdata/ok.txt');
    expect(r).toEqual({ rel: 'confchange/testdata/ok.txt', directives: 1, passed: 1 });
    expect(formatResult(r)).toBe('PASS confchange/testdata/ok.txt (1/1 directives)');
  });

  it('stops at the first mismatch and reports it with a diff', async () => {
    const r = await run('quorum/testdata/mismatch.txt');
    expect(r.passed).toBe(1);
    expect(r.directives).toBe(3);
    expect(r.failure).toMatchObject({ line: 5, expected: 'VoteWon\n', actual: 'VoteLost\n' });
    expect(formatResult(r)).toBe(
      [
        'FAIL quorum/testdata/mismatch.txt:5: vote cfg=(1) votes=(n) (1/3 directives)',
        '  --- expected',
        '  +++ actual',
        '  - VoteWon',
        '  + VoteLost',
      ].join('\n'),
    );
  });

  it('reports a malformed directive with its file and line', async () => {
    const r = await run('quorum/testdata/malformed.txt');
    expect(r.passed).toBe(0);
    expect(r.directives).toBe(2);
    const [head, detail] = formatResult(r).split('\n');
    expect(head).toBe('FAIL quorum/testdata/malformed.txt:1: vote cfg=(1 (0/2 directives)');
    expect(detail).toMatch(/^  malformed directive: cannot parse directive at column 11/);
  });

  it('reports an unknown command as the directive failure', async () => {
    const r = await run('testdata/unknown.txt');
    expect(r.passed).toBe(1);
    expect(r.failure?.line).toBe(5);
    expect(r.failure?.error).toBe('unknown command: frobnicate');
  });
});

describe('formatDiff', () => {
  it('keeps context near changes and elides the rest', () => {
    const expected = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n') + '\n';
    const actual = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'X'].join('\n') + '\n';
    expect(formatDiff(expected, actual, { indent: '' })).toBe(
      ['--- expected', '+++ actual', '@@', '  f', '  g', '- h', '+ X'].join('\n'),
    );
  });

  it('bounds the report', () => {
    const many = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const out = formatDiff(many, '', { linesMax: 10 });
    expect(out.split('\n')).toHaveLength(11);
    expect(out).toMatch(/more diff lines$/);
  });
});
