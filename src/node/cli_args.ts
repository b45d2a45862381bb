/**
 * The one argument parser of every Flotilla command (the `flotilla` CLI, `npm start`, the
 * simulations, the benchmarks): `node:util`'s `parseArgs` over a small table of typed flags.
 *
 * Each command declares its flags once (kind, description, default, bounds); from that table
 * come the parsed, validated values (typed), and the `--help` text. A command line is
 * refused with one `UsageError` whose message names the flag and what was wrong with it: an
 * unknown flag, a flag without its value, a value of the wrong kind or out of bounds, an
 * unexpected positional argument. `runCommand` turns that into one line on stderr and exit
 * code 2, and `--help` into the help text on stdout and exit code 0: never a stack trace.
 */
import { parseArgs } from 'node:util';
import { FlotillaError } from '../util/index.js';

/** Exit code of a refused command line or configuration (as BSD's EX_USAGE family, `2`). */
export const EXIT_USAGE = 2;

/** A command line that cannot be run: the message says which flag and why, in one line. */
export class UsageError extends FlotillaError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** `HOST:PORT`, as parsed by an `address` flag. */
export interface HostPort {
  host: string;
  port: number;
}

interface FlagBase {
  /** One line for `--help`. */
  description: string;
  /** Name of the value in `--help` (`--ranges N`). @default the kind's usual name */
  valueName?: string;
  /** Hidden from `--help` (internal flags, e.g. a worker process's). @default false */
  hidden?: boolean;
}

/** An on/off flag: present means true. */
export interface BooleanFlag extends FlagBase {
  kind: 'boolean';
}

/** A free-form string, or one of `choices`. */
export interface StringFlag extends FlagBase {
  kind: 'string';
  default?: string;
  choices?: readonly string[];
}

/** A safe integer in [`min`, `max`]. */
export interface IntegerFlag extends FlagBase {
  kind: 'integer';
  default?: number;
  /** @default 0 */
  min?: number;
  /** @default Number.MAX_SAFE_INTEGER */
  max?: number;
}

/** A finite number in [`min`, `max`]; `min` is exclusive with `positive`. */
export interface NumberFlag extends FlagBase {
  kind: 'number';
  default?: number;
  /** @default 0 */
  min?: number;
  /** @default Number.MAX_VALUE */
  max?: number;
  /** The value must be above zero (not merely at least `min`). @default false */
  positive?: boolean;
}

/** `HOST:PORT` (port in [0, 65535]; IPv6 hosts in brackets). */
export interface AddressFlag extends FlagBase {
  kind: 'address';
  default?: string;
}

/** A comma-separated list of `HOST:PORT`. */
export interface AddressListFlag extends FlagBase {
  kind: 'addresses';
}

/** A comma-separated list of safe integers, each in [`min`, `max`] (a benchmark's sweep). */
export interface IntegerListFlag extends FlagBase {
  kind: 'integers';
  default?: readonly number[];
  /** @default 0 */
  min?: number;
  /** @default Number.MAX_SAFE_INTEGER */
  max?: number;
}

/** Any flag of a command. */
export type Flag =
  | BooleanFlag
  | StringFlag
  | IntegerFlag
  | NumberFlag
  | AddressFlag
  | AddressListFlag
  | IntegerListFlag;

/** A command's flags by name (the name is the long flag without `--`). */
export type Flags = Record<string, Flag>;

type Plain<F extends Flag> = F extends BooleanFlag ? boolean
  : F extends StringFlag ? string
  : F extends IntegerFlag | NumberFlag ? number
  : F extends AddressFlag ? HostPort
  : F extends AddressListFlag ? HostPort[]
  : F extends IntegerListFlag ? number[]
  : never;

/** The parsed value of each flag: absent flags without a default are `undefined`. */
export type FlagValues<S extends Flags> = {
  [K in keyof S]: S[K] extends BooleanFlag | AddressListFlag ? Plain<S[K]>
    : S[K] extends { default: unknown } ? Plain<S[K]> : Plain<S[K]> | undefined;
};

/** A command: its name (as typed), one line saying what it does, and its flags. */
export interface CommandSpec<S extends Flags> {
  /** E.g. `flotilla start` or `npm run sim --`. */
  name: string;
  summary: string;
  flags: S;
  /** Positional arguments accepted (e.g. a benchmark name). @default 0 */
  positionalsMax?: number;
  /** Names of the positionals for `--help`, e.g. `NAME`. @default none */
  positionalsUsage?: string;
}

/** The outcome of parsing: help asked for, or the values. */
export type Parsed<S extends Flags> =
  | { kind: 'help'; text: string }
  | { kind: 'ok'; values: FlagValues<S>; positionals: string[] };

/**
 * Parses `argv` (without the node and script paths) against `spec`.
 * @throws UsageError for anything it cannot accept
 */
export function parseCommand<S extends Flags>(spec: CommandSpec<S>, argv: readonly string[]):
  Parsed<S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.kind === 'boolean' ? 'boolean' : 'string' };
  }
  // Not strict: the tokens are checked here, so that every refusal is one clear line.
  const { tokens } = parseArgs({
    args: [...argv], options, strict: false, allowPositionals: true, tokens: true,
  });
  const raw = new Map<string, string | true>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.name === 'help') return { kind: 'help', text: helpText(spec) };
    raw.set(token.name, checkToken(spec.flags, token));
  }
  const max = spec.positionalsMax ?? 0;
  if (positionals.length > max) {
    throw new UsageError(max === 0 ? `unexpected argument '${positionals[0]}'`
      : `too many arguments: ${positionals.join(' ')}`);
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    values[name] = convert(name, flag, raw.get(name));
  }
  return { kind: 'ok', values: values as FlagValues<S>, positionals };
}

interface OptionToken {
  name: string;
  rawName: string;
  value?: string | undefined;
  inlineValue?: boolean | undefined;
}

function checkToken(flags: Flags, token: OptionToken): string | true {
  const flag = Object.hasOwn(flags, token.name) ? flags[token.name] : undefined;
  if (flag === undefined || token.rawName !== `--${token.name}`) {
    throw new UsageError(`unknown flag ${token.rawName}`);
  }
  if (flag.kind === 'boolean') {
    if (token.value !== undefined) {
      throw new UsageError(`${token.rawName} takes no value, got '${token.value}'`);
    }
    return true;
  }
  const value = token.value;
  // `--ranges --seed 3`: parseArgs (not strict) takes `--seed` as the value; refuse it.
  if (value === undefined || (token.inlineValue !== true && value.startsWith('--'))) {
    throw new UsageError(`${token.rawName} needs a value (${valueName(flag)})`);
  }
  return value;
}

function convert(name: string, flag: Flag, raw: string | true | undefined): unknown {
  switch (flag.kind) {
    case 'boolean':
      return raw === true;
    case 'addresses':
      return raw === undefined ? [] : parseAddressList(`--${name}`, String(raw));
    case 'string':
      return parseString(name, flag, raw === undefined ? flag.default : String(raw));
    case 'integer':
    case 'number':
      if (raw === undefined) return flag.default;
      return parseNumber(name, flag, String(raw));
    case 'address':
      if (raw === undefined) return flag.default === undefined ? undefined
        : parseAddress(`--${name}`, flag.default);
      return parseAddress(`--${name}`, String(raw));
    case 'integers':
      if (raw === undefined) return flag.default === undefined ? undefined : [...flag.default];
      return parseIntegerList(name, flag, String(raw));
  }
}

function parseIntegerList(name: string, flag: IntegerListFlag, text: string): number[] {
  const min = flag.min ?? 0;
  const max = flag.max ?? Number.MAX_SAFE_INTEGER;
  const parts = text.split(',');
  const values = parts.map((p) => (p.trim() === '' ? Number.NaN : Number(p)));
  if (values.some((v) => !Number.isSafeInteger(v) || v < min || v > max)) {
    throw new UsageError(`--${name} must be a comma-separated list of integers in ` +
      `[${min}, ${max}], got '${text}'`);
  }
  return values;
}

function parseString(name: string, flag: StringFlag, value: string | undefined):
  string | undefined {
  if (value === undefined || flag.choices === undefined || flag.choices.includes(value)) {
    return value;
  }
  throw new UsageError(`--${name} must be one of ${flag.choices.join(', ')}, got '${value}'`);
}

function parseNumber(name: string, flag: IntegerFlag | NumberFlag, text: string): number {
  const value = text.trim() === '' ? Number.NaN : Number(text);
  const min = flag.min ?? 0;
  if (flag.kind === 'integer') {
    const max = flag.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      const bounds = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `in [${min}, ${max}]`;
      throw new UsageError(`--${name} must be an integer ${bounds}, got '${text}'`);
    }
    return value;
  }
  const max = flag.max ?? Number.MAX_VALUE;
  const positive = flag.positive === true;
  if (!Number.isFinite(value) || value < min || value > max || (positive && value <= 0)) {
    const what = positive ? 'a positive number' : `a number in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be ${what}, got '${text}'`);
  }
  return value;
}

/**
 * Parses `HOST:PORT` (`[::1]:7000` for IPv6).
 * @throws UsageError naming `what` when it is not one
 */
export function parseAddress(what: string, text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = m === null ? -1 : Number(m[3]);
  if (m === null || port > 65_535) {
    throw new UsageError(`${what} must be HOST:PORT with a port in [0, 65535], got '${text}'`);
  }
  const host = m[1] ?? m[2]!;
  return { host, port };
}

function parseAddressList(what: string, text: string): HostPort[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`${what} needs at least one HOST:PORT`);
  return parts.map((p) => parseAddress(what, p));
}

/** Short lists of choices are the value's name (`raft|store`); long ones go to the text. */
function choicesInline(flag: StringFlag): boolean {
  return flag.choices !== undefined && flag.choices.join('|').length <= 24;
}

function valueName(flag: Flag): string {
  if (flag.valueName !== undefined) return flag.valueName;
  switch (flag.kind) {
    case 'boolean': return '';
    case 'string': return choicesInline(flag) ? flag.choices!.join('|') : 'NAME';
    case 'integer': return 'N';
    case 'number': return 'X';
    case 'address': return 'HOST:PORT';
    case 'addresses': return 'HOST:PORT,...';
    case 'integers': return 'N,...';
  }
}

const HELP_COLUMNS = 96;

/** Splits `text` into lines of at most `columns` characters, at spaces. */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The `--help` text of a command: usage, summary and one line per flag. */
export function helpText<S extends Flags>(spec: CommandSpec<S>): string {
  const rows: [string, string][] = [];
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.hidden === true) continue;
    const value = valueName(flag);
    const shown = 'default' in flag && flag.default !== undefined
      ? ` (default ${String(flag.default)})` : '';
    const choices = flag.kind === 'string' && flag.choices !== undefined && !choicesInline(flag)
      ? ` (one of ${flag.choices.join(', ')})` : '';
    rows.push([`--${name}${value === '' ? '' : ` ${value}`}`,
      `${flag.description}${choices}${shown}`]);
  }
  rows.push(['--help', 'print this help and exit']);
  const width = Math.max(...rows.map(([left]) => left.length));
  const positionals = spec.positionalsUsage === undefined ? '' : ` ${spec.positionalsUsage}`;
  return [
    `usage: ${spec.name} [flags]${positionals}`,
    '',
    ...wrap(spec.summary, HELP_COLUMNS),
    '',
    'flags:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    '',
  ].join('\n');
}

/**
 * Parses `argv` for a command run as a process: prints the help and exits 0 on `--help`;
 * prints `name: message` and exits 2 on a refused command line.
 */
export function parseOrExit<S extends Flags>(spec: CommandSpec<S>, argv: readonly string[]):
  { values: FlagValues<S>; positionals: string[] } {
  let parsed: Parsed<S>;
  try {
    parsed = parseCommand(spec, argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    exitUsage(spec.name, `${error.message} (see --help)`);
  }
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    process.exit(0);
  }
  return parsed;
}

/** Prints `name: message` on stderr and exits with code 2. */
export function exitUsage(name: string, message: string): never {
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(EXIT_USAGE);
}

/** Codes of errors that mean "this configuration cannot run" rather than "a bug". */
const REFUSAL_CODES: ReadonlySet<string> = new Set(['ERR_USAGE', 'ERR_CONFIG']);

/**
 * Runs a command's `main`: a refused configuration (a `UsageError`, a `ConfigError`, or any
 * `FlotillaError` that `isRefusal` accepts) prints `name: message` on one line and exits 2;
 * anything else is a bug and propagates with its stack.
 */
export async function runMain(name: string, main: () => Promise<void>,
  isRefusal: (error: FlotillaError) => boolean = () => false): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof FlotillaError && (REFUSAL_CODES.has(error.code) || isRefusal(error))) {
      exitUsage(name, error.message);
    }
    throw error;
  }
}
