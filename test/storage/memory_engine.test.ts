/** The memory engine against the storage contract. */
import { MemoryEngine } from '../../src/storage/index.js';
import { describeContract } from './contract.js';

describeContract({
  name: 'MemoryEngine',
  make: async () => {
    const engine = new MemoryEngine();
    await engine.open();
    return engine;
  },
  drive: () => undefined,
  reopen: null,
});
