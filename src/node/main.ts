/**
 * `npm start`: a local cluster of node processes with a live view (cluster_command.ts).
 * `npm run demo` runs the in-process multiraft demo instead (`flotilla demo`).
 */
import { runMain } from './cli_args.js';
import { clusterCommand } from './cluster_command.js';
import { StartupError } from './errors.js';

await runMain('npm start', () => clusterCommand(process.argv.slice(2)),
  (error) => error instanceof StartupError);
