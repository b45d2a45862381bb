/**
 * A worker process of `npm run sim -- --layer store`: runs the batches its parent sends and
 * answers with their totals (the protocol is seed_pool.ts's).
 */
import { serveSeedBatches } from './seed_pool.js';
import { runStoreBatch } from './store_run.js';

serveSeedBatches(runStoreBatch);
