/**
 * etcd raft's data-driven corpus, one test per file, over the files recorded as passing in
 * test/conformance/passing.txt. A file joins the list once it passes (`npm run conformance --
 * --record`) and never leaves it, so `npm test` stays green while the interaction files are
 * still being built and catches any regression of a file that passed. The files not yet
 * listed show as todo.
 *
 * The corpus is read in place from ../shared/conformance/etcd-raft (relative to the repository
 * root); if it is missing, the suite fails rather than passing vacuously.
 */
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CORPUS_DIR,
  formatResult,
  listCorpusFiles,
  loadFactory,
  readPassingList,
  runFile,
} from './runner.js';

const corpusPresent = existsSync(DEFAULT_CORPUS_DIR) && statSync(DEFAULT_CORPUS_DIR).isDirectory();
const files = corpusPresent ? listCorpusFiles(DEFAULT_CORPUS_DIR) : [];
const passing = new Set(readPassingList());

describe('etcd raft conformance corpus', () => {
  it('is present at ../shared/conformance/etcd-raft', () => {
    expect(corpusPresent, `corpus directory not found: ${DEFAULT_CORPUS_DIR}`).toBe(true);
    expect(files.length, 'corpus has no test files').toBeGreaterThan(0);
  });

  it('contains every file of the passing list', () => {
    const known = new Set(files.map((f) => f.rel));
    const missing = [...passing].filter((rel) => !known.has(rel));
    expect(missing, 'listed in passing.txt but not in the corpus').toEqual([]);
  });

  for (const file of files) {
    if (!passing.has(file.rel)) {
      it.todo(file.rel);
      continue;
    }
    it(file.rel, async () => {
      const result = runFile(file, await loadFactory(file.kind));
      if (result.failure !== undefined) throw new Error(formatResult(result));
      expect(result.passed).toBe(result.directives);
    });
  }
});
