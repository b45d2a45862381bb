/**
 * `npm start`: the runnable node. Until the store layer lands this entry point says so and
 * exits non-zero, so that nobody mistakes a placeholder for a running cluster.
 */
import pino from 'pino';

const log = pino({ name: 'flotilla' });
log.error(
  { component: 'node' },
  'the runnable node is not built yet: the store and node layers are still open issues',
);
process.exitCode = 1;
