/**
 * A reader for the data-driven test file syntax of cockroachdb/datadriven, which etcd raft's
 * corpus uses (see ../shared/conformance/README.md for the summary):
 *
 * ```
 * # comment
 * command arg key=value key=(a, b, c) \
 *   continued=arg
 * input line(s)
 * ----
 * expected output, up to the first blank line
 * ```
 *
 * and, for expected output that contains blank lines, the double-separator form
 * `----\n----\n<output with blank lines>\n----\n----`.
 *
 * Unlike the Go library, which stops a test at the first malformed line, the reader keeps
 * going: a malformed directive is returned with its `error` set, so that the runner can report
 * it as that directive's failure (file and line) and count the directives after it.
 */

/** One `key`, `key=value` or `key=(v1, v2, ...)` argument of a directive line. */
export interface CmdArg {
  key: string;
  /** No values for a bare `key`; one for `key=value` (possibly ''); n for `key=(...)`. */
  vals: string[];
}

/** One directive: a command line with its input and expected output. */
export interface Directive {
  /** The file name used in messages (as given to {@link parseDataDriven}). */
  file: string;
  /** 1-based line number of the command line (the first one when continued). */
  line: number;
  /** The command line as written (continuations joined with a space). */
  text: string;
  cmd: string;
  args: CmdArg[];
  /** The lines between the command line and `----`, trimmed as datadriven does. */
  input: string;
  /** The expected output; each line ends in `\n` (empty when there was none). */
  expected: string;
  /** Set when the directive is malformed; the runner reports it instead of running it. */
  error?: string;
}

/** Thrown by {@link parseLine} for a line that is not `cmd [arg | key=val | key=(v, ...)]...`. */
export class DirectiveParseError extends Error {
  override readonly name = 'DirectiveParseError';
}

/** The longest file the reader accepts, in lines: a bound on every loop below. */
const FILE_LINES_MAX = 1_000_000;

/**
 * Parses one directive line into its command and arguments, with datadriven's `ParseLine`
 * rules: values in parentheses are separated by commas, may nest parentheses, and are trimmed
 * of the spaces after each comma. Returns `null` for a blank line.
 */
export function parseLine(line: string): { cmd: string; args: CmdArg[] } | null {
  const orig = line.trim();
  if (orig === '') return null;
  let rest = orig;
  const fail = (): never => {
    const column = orig.length - rest.length + 1;
    throw new DirectiveParseError(`cannot parse directive at column ${column}: ${orig}`);
  };
  // Removes and returns the prefix of `rest` up to (excluding) the first of `chars`.
  const until = (chars: string): string => {
    let i = 0;
    while (i < rest.length && !chars.includes(rest[i]!)) i++;
    const head = rest.slice(0, i);
    rest = rest.slice(i);
    return head;
  };
  const cmd = until(' ');
  if (cmd === '') fail();
  rest = rest.trim();
  const args: CmdArg[] = [];
  while (rest !== '') {
    const key = until(' =');
    if (key === '') fail();
    const arg: CmdArg = { key, vals: [] };
    if (rest.startsWith('=')) {
      rest = rest.slice(1);
      if (rest === '' || rest[0] === ' ') arg.vals.push('');
      else if (rest[0] !== '(') arg.vals.push(until(' '));
      else {
        rest = rest.slice(1);
        let done = false;
        while (!done) {
          const end = scanValue(rest);
          if (end === -1) fail();
          done = rest[end] === ')';
          arg.vals.push(rest.slice(0, end));
          rest = rest.slice(end + 1).trim();
        }
      }
    }
    args.push(arg);
    rest = rest.trim();
  }
  return { cmd, args };
}

/**
 * Returns the position of the `,` or `)` that ends the value at the start of `s`, skipping
 * nested parenthesized groups; -1 when the value is not terminated.
 */
function scanValue(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) return i;
      depth--;
    } else if (c === ',' && depth === 0) return i;
  }
  return -1;
}

/** Splits text into lines as Go's bufio.ScanLines does (drops one trailing `\r` per line). */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}

/** A cursor over the lines of one file. */
class LineCursor {
  /** Index of the next line to read. */
  next = 0;
  constructor(readonly lines: readonly string[]) {}
  done(): boolean {
    return this.next >= this.lines.length;
  }
  read(): string {
    return this.lines[this.next++]!;
  }
  /** 1-based number of the line last read. */
  get lineNumber(): number {
    return this.next;
  }
}

/** Parses a whole data-driven file into its directives, in order. */
export function parseDataDriven(text: string, file: string): Directive[] {
  const cursor = new LineCursor(splitLines(text));
  if (cursor.lines.length > FILE_LINES_MAX) {
    throw new DirectiveParseError(`${file}: more than ${FILE_LINES_MAX} lines`);
  }
  const out: Directive[] = [];
  while (!cursor.done()) {
    const d = readDirective(cursor, file);
    if (d !== null) out.push(d);
  }
  return out;
}

/** Reads the next directive, or returns null after skipping a comment or blank line. */
function readDirective(cursor: LineCursor, file: string): Directive | null {
  let line = cursor.read().trim();
  const lineNumber = cursor.lineNumber;
  if (line.startsWith('#') || line === '') return null;
  // A trailing backslash continues the command line on the next one.
  while (line.endsWith('\\') && !cursor.done()) {
    line = line.slice(0, -1) + ' ' + cursor.read().trim();
  }
  const d: Directive = {
    file,
    line: lineNumber,
    text: line,
    cmd: '',
    args: [],
    input: '',
    expected: '',
  };
  try {
    const parsed = parseLine(line);
    if (parsed !== null) {
      d.cmd = parsed.cmd;
      d.args = parsed.args;
    }
  } catch (err) {
    if (!(err instanceof DirectiveParseError)) throw err;
    d.error = err.message;
  }
  const input: string[] = [];
  let separator = false;
  while (!cursor.done()) {
    const l = cursor.read();
    if (l === '----') {
      separator = true;
      break;
    }
    input.push(l);
  }
  d.input = input.length === 0 ? '' : (input.join('\n') + '\n').trim();
  if (separator) d.expected = readExpected(cursor);
  else d.error ??= 'missing "----" separator before the end of the file';
  return d;
}

/** Reads the expected output after a `----` line (both the plain and the double form). */
function readExpected(cursor: LineCursor): string {
  let out = '';
  if (cursor.done()) return out;
  let line = cursor.read();
  if (line === '----') {
    // Double-separator form: runs to the next `----\n----`, blank lines included.
    while (!cursor.done()) {
      line = cursor.read();
      if (line === '----' && !cursor.done()) {
        const line2 = cursor.read();
        if (line2 === '----') break;
        out += line + '\n' + line2 + '\n';
        continue;
      }
      out += line + '\n';
    }
    return out;
  }
  // Plain form: runs to the first blank line.
  for (;;) {
    if (line.trim() === '') break;
    out += line + '\n';
    if (cursor.done()) break;
    line = cursor.read();
  }
  return out;
}

/** The first argument whose key is `key`, or undefined. */
export function findArg(args: readonly CmdArg[], key: string): CmdArg | undefined {
  return args.find((a) => a.key === key);
}

/** Formats an argument back as written (`key`, `key=v`, `key=(a, b)`). */
export function formatArg(arg: CmdArg): string {
  if (arg.vals.length === 0) return arg.key;
  if (arg.vals.length === 1) return `${arg.key}=${arg.vals[0]}`;
  return `${arg.key}=(${arg.vals.join(', ')})`;
}

/**
 * A failure of the test harness itself while running a directive (etcd's `t.Fatalf`): bad
 * arguments, an unknown command. The runner reports it as the directive's failure.
 */
export class DirectiveError extends Error {
  override readonly name = 'DirectiveError';
}

/** Parses `s` as Go's `strconv.ParseUint(s, 10, 64)` would (within 2^53). */
export function parseUint(s: string, what = 'value'): number {
  if (!/^[0-9]+$/.test(s)) throw new DirectiveError(`invalid ${what} ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new DirectiveError(`${what} out of range: ${s}`);
  return n;
}

/** Parses `s` as Go's `strconv.Atoi` would (within 2^53). */
export function parseInt10(s: string, what = 'value'): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new DirectiveError(`invalid ${what} ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new DirectiveError(`${what} out of range: ${s}`);
  return n;
}

/** Parses `s` as Go's `strconv.ParseBool` would. */
export function parseBool(s: string, what = 'value'): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new DirectiveError(`invalid ${what} ${JSON.stringify(s)}: not a bool`);
}

/**
 * datadriven's `ScanArgs` for one value: the single value of the first argument named `key`.
 * Throws when the argument is missing or has a different number of values.
 */
export function scanArg(args: readonly CmdArg[], key: string): string {
  const arg = findArg(args, key);
  if (arg === undefined) throw new DirectiveError(`missing argument: ${key}`);
  if (arg.vals.length !== 1) {
    throw new DirectiveError(`${key}: got 1 destinations, but ${arg.vals.length} values`);
  }
  return arg.vals[0]!;
}
