#!/usr/bin/env node
/**
 * `flotilla COMMAND [flags]`: the command line of a Flotilla node.
 *
 * - `flotilla start`: run one node (see start_command.ts);
 * - `flotilla status --node HOST:PORT`: a terminal summary of a running node's `/status`;
 * - `flotilla cluster`: a local cluster of node processes with a live view (`npm start`);
 * - `flotilla demo`: the in-process demo of the multiraft layer;
 * - `flotilla bench NAME`: a benchmark with progress, a table, JSON and SVG charts.
 *
 * `flotilla --help` lists the commands, `flotilla COMMAND --help` a command's flags,
 * `flotilla --version` prints the version. A refused command line or configuration prints
 * one line on stderr and exits with code 2.
 */
import { exitUsage, runMain } from './cli_args.js';
import { StartupError } from './errors.js';
import { packageVersion } from './version.js';

interface Command {
  summary: string;
  run: (argv: readonly string[]) => Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'run one node (Raft over TCP, HTTP status, metrics and KV API)',
    run: async (argv) => (await import('./start_command.js')).startCommand(argv),
  },
  status: {
    summary: 'print a summary of a running node',
    run: async (argv) => (await import('./status_command.js')).statusCommand(argv),
  },
  cluster: {
    summary: 'a local cluster of node processes with a live view (npm start)',
    run: async (argv) => (await import('./cluster_command.js')).clusterCommand(argv),
  },
  bench: {
    summary: 'run a benchmark (bench/NAME.bench.ts): progress, table, JSON, SVG charts',
    run: async (argv) => (await import('./bench_command.js')).benchCommand(argv),
  },
  demo: {
    summary: 'three stores in one process with a live view',
    run: async (argv) => (await import('./demo_command.js')).demoCommand(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['usage: flotilla COMMAND [flags]', '', 'commands:', ...lines, '',
    "'flotilla COMMAND --help' lists a command's flags; 'flotilla --version' the version.",
    ''].join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    if (name === undefined) process.exitCode = 2;
    return;
  }
  if (name === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    exitUsage('flotilla', `unknown command '${name}' (commands: ` +
      `${Object.keys(COMMANDS).join(', ')}; see flotilla --help)`);
  }
  await runMain(`flotilla ${name}`, () => command.run(rest),
    (error) => error instanceof StartupError);
}

await main(process.argv.slice(2));
