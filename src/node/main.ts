/**
 * `npm start`: for now, the in-process demo of the multiraft layer (`flotilla demo`).
 */
import { runMain } from './cli_args.js';
import { demoCommand } from './demo_command.js';

await runMain('npm start', () => demoCommand(process.argv.slice(2)));
