/**
 * A worker process of `npm run sim -- --layer store`: runs the batches its parent sends and
 * answers with their totals.
 */
import { runStoreBatch, type StoreBatchOptions } from './store_run.js';

interface StoreWorkerMessage {
  kind: 'options' | 'batch' | 'exit';
  batch?: StoreBatchOptions;
  stopAtFailure?: boolean;
  first?: number;
  count?: number;
}

let batch: StoreBatchOptions = {};
let stopAtFailure = true;
process.on('message', (m: StoreWorkerMessage) => {
  if (m.kind === 'options') {
    batch = m.batch!;
    stopAtFailure = m.stopAtFailure!;
  } else if (m.kind === 'batch') {
    process.send!(runStoreBatch(m.first!, m.count!, batch, stopAtFailure));
  } else {
    process.disconnect();
  }
});
