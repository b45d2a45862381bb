/** The shared argument parser: typed values, defaults, and one clear refusal per mistake. */
import { describe, expect, it } from 'vitest';
import {
  UsageError,
  parseAddress,
  parseCommand,
  type CommandSpec,
  type Flags,
} from '../../src/node/cli_args.js';

const SPEC = {
  name: 'test-command',
  summary: 'A command for the tests.',
  flags: {
    ranges: { kind: 'integer', min: 1, max: 1000, default: 10, description: 'ranges' },
    rate: { kind: 'number', positive: true, description: 'rate' },
    mode: { kind: 'string', choices: ['a', 'b'], default: 'a', description: 'mode' },
    name: { kind: 'string', description: 'free text' },
    verbose: { kind: 'boolean', description: 'more output' },
    listen: { kind: 'address', default: '127.0.0.1:7000', description: 'where to listen' },
    join: { kind: 'addresses', description: 'peers' },
    sizes: { kind: 'integers', min: 1, default: [1, 2], description: 'a sweep' },
    internal: { kind: 'boolean', hidden: true, description: 'not in the help' },
  },
} as const satisfies CommandSpec<Flags>;

function ok(argv: string[]) {
  const parsed = parseCommand(SPEC, argv);
  if (parsed.kind !== 'ok') throw new Error('expected values');
  return parsed.values;
}

function refusal(argv: string[]): string {
  try {
    parseCommand(SPEC, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe('ERR_USAGE');
    return (error as UsageError).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('parseCommand', () => {
  it('applies defaults when no flag is given', () => {
    expect(ok([])).toEqual({
      ranges: 10, rate: undefined, mode: 'a', name: undefined, verbose: false,
      listen: { host: '127.0.0.1', port: 7000 }, join: [], sizes: [1, 2], internal: false,
    });
  });

  it('parses every kind, spaced or with =', () => {
    const v = ok(['--ranges=100', '--rate', '0.5', '--mode', 'b', '--name', 'x y', '--verbose',
      '--listen', '[::1]:0', '--join', 'a.example:1,10.0.0.2:65535', '--sizes', '3,4,5']);
    expect(v).toMatchObject({
      ranges: 100, rate: 0.5, mode: 'b', name: 'x y', verbose: true,
      listen: { host: '::1', port: 0 },
      join: [{ host: 'a.example', port: 1 }, { host: '10.0.0.2', port: 65535 }],
      sizes: [3, 4, 5],
    });
  });

  it('refuses unknown flags, short or long, by name', () => {
    expect(refusal(['--bogus'])).toBe('unknown flag --bogus');
    expect(refusal(['-x'])).toBe('unknown flag -x');
    expect(refusal(['--ranges', '5', '--Ranges', '6'])).toBe('unknown flag --Ranges');
  });

  it('refuses a flag without its value, also when the next flag would be taken for it', () => {
    expect(refusal(['--ranges'])).toBe('--ranges needs a value (N)');
    expect(refusal(['--ranges', '--verbose'])).toBe('--ranges needs a value (N)');
  });

  it('refuses values of the wrong kind or out of bounds, quoting them', () => {
    expect(refusal(['--ranges', '0.5']))
      .toBe("--ranges must be an integer in [1, 1000], got '0.5'");
    expect(refusal(['--ranges', '1001'])).toContain("got '1001'");
    expect(refusal(['--ranges='])).toContain("got ''");
    expect(refusal(['--rate', '0'])).toBe("--rate must be a positive number, got '0'");
    expect(refusal(['--rate', 'fast'])).toContain("got 'fast'");
    expect(refusal(['--mode', 'c'])).toBe("--mode must be one of a, b, got 'c'");
    expect(refusal(['--verbose=yes'])).toBe("--verbose takes no value, got 'yes'");
    expect(refusal(['--listen', 'localhost'])).toContain("got 'localhost'");
    expect(refusal(['--listen', 'h:65536'])).toContain('port in [0, 65535]');
    expect(refusal(['--join', 'a:1,b'])).toContain("got 'b'");
    expect(refusal(['--sizes', '1,,2'])).toContain("got '1,,2'");
    expect(refusal(['--sizes', '0'])).toContain('integers in [1,');
  });

  it('refuses positional arguments unless the command takes them', () => {
    expect(refusal(['extra'])).toBe("unexpected argument 'extra'");
    const spec = { ...SPEC, positionalsMax: 1 };
    const parsed = parseCommand(spec, ['one']);
    expect(parsed.kind === 'ok' && parsed.positionals).toEqual(['one']);
    expect(() => parseCommand(spec, ['one', 'two'])).toThrow('too many arguments: one two');
  });

  it('answers --help with every visible flag, its value and its default', () => {
    const parsed = parseCommand(SPEC, ['--ranges', 'bad', '--help']);
    expect(parsed.kind).toBe('help');
    const text = parsed.kind === 'help' ? parsed.text : '';
    expect(text).toContain('usage: test-command [flags]');
    expect(text).toMatch(/--ranges N +ranges \(default 10\)/);
    expect(text).toMatch(/--mode a\|b +mode \(default a\)/);
    expect(text).toMatch(/--listen HOST:PORT +where to listen \(default 127\.0\.0\.1:7000\)/);
    expect(text).toContain('--help');
    expect(text).not.toContain('--internal');
  });
});

describe('parseAddress', () => {
  it('reads host and port, and brackets IPv6', () => {
    expect(parseAddress('x', 'node-1.local:7001')).toEqual({ host: 'node-1.local', port: 7001 });
    expect(parseAddress('x', '[fe80::1]:80')).toEqual({ host: 'fe80::1', port: 80 });
  });

  it('names what it was parsing when it refuses', () => {
    expect(() => parseAddress('--http', ':80')).toThrow("--http must be HOST:PORT");
    expect(() => parseAddress('--http', 'a:b')).toThrow("got 'a:b'");
  });
});
