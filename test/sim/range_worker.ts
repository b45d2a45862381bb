/**
 * A worker process of `npm run sim -- --layer range`: runs the batches its parent sends and
 * answers with their totals (the protocol is seed_pool.ts's).
 */
import { serveSeedBatches } from './seed_pool.js';
import { runRangeBatch } from './range_run.js';

serveSeedBatches(runRangeBatch);
