/** Harnesses of the durable engines for the contract suite and their own tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { CrashModelEngine, LevelEngine, type StorageEngine } from '../../src/storage/index.js';
import type { EngineHarness } from './contract.js';

/** Identity options every test engine uses. */
export const IDENTITY = { storeId: 1, clusterId: 'test-cluster' } as const;

/** A fresh directory under the OS temp dir, removed after the file's tests. */
export function tempDirs(): () => string {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-storage-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return () => join(root, `db${++n}`);
}

/** The LevelDB engine's harness. */
export function levelHarness(): EngineHarness {
  const dir = tempDirs();
  return {
    name: 'LevelEngine',
    make: async () => {
      const engine = new LevelEngine({ ...IDENTITY, location: dir() });
      await engine.open();
      return engine;
    },
    drive: () => undefined,
    reopen: async (engine: StorageEngine) => {
      const location = (engine as LevelEngine).location;
      await engine.close();
      const again = new LevelEngine({ ...IDENTITY, location });
      return [again, await again.open()];
    },
  };
}

/** The crash-model engine's harness (a reopen is a crash after every write completed). */
export function crashModelHarness(): EngineHarness {
  return {
    name: 'CrashModelEngine',
    make: async () => {
      const engine = new CrashModelEngine(IDENTITY);
      await engine.open();
      return engine;
    },
    drive: (engine) => void (engine as CrashModelEngine).completeAll(),
    reopen: async (engine: StorageEngine) => {
      const model = engine as CrashModelEngine;
      model.completeAll();
      const again = model.crash();
      return [again, await again.open()];
    },
  };
}
