import { describe, expect, it } from 'vitest';
import { DirectiveParseError, parseDataDriven, parseLine } from './datadriven.js';

describe('parseLine', () => {
  it('parses a bare command', () => {
    expect(parseLine('raft-state')).toEqual({ cmd: 'raft-state', args: [] });
  });

  it('returns null for a blank line', () => {
    expect(parseLine('   ')).toBeNull();
  });

  it('parses keys, single values, empty values and value lists', () => {
    expect(parseLine('add-nodes 3 voters=(1,2,3) index=10 content= prevote=true')).toEqual({
      cmd: 'add-nodes',
      args: [
        { key: '3', vals: [] },
        { key: 'voters', vals: ['1', '2', '3'] },
        { key: 'index', vals: ['10'] },
        { key: 'content', vals: [''] },
        { key: 'prevote', vals: ['true'] },
      ],
    });
  });

  it('trims the spaces after commas and keeps nested parentheses', () => {
    expect(parseLine('committed idx=(13, 100) e=(a + (b + c), d)')?.args).toEqual([
      { key: 'idx', vals: ['13', '100'] },
      { key: 'e', vals: ['a + (b + c)', 'd'] },
    ]);
  });

  it('keeps quotes as part of the key', () => {
    expect(parseLine('propose 1 "foo"')?.args).toEqual([
      { key: '1', vals: [] },
      { key: '"foo"', vals: [] },
    ]);
  });

  it('rejects an unterminated value list with the column, as datadriven does', () => {
    expect(() => parseLine('vote cfg=(1')).toThrow(
      new DirectiveParseError('cannot parse directive at column 11: vote cfg=(1'),
    );
  });

  it('rejects an argument with an empty key', () => {
    expect(() => parseLine('cmd =5')).toThrow(DirectiveParseError);
  });
});

describe('parseDataDriven', () => {
  it('reads directives, inputs, outputs, comments and blank lines', () => {
    const text = [
      '# a comment',
      '',
      'simple',
      'v1',
      '----',
      'voters=(1)',
      '1: StateProbe match=0 next=1',
      '',
      '  # an indented comment',
      'leave-joint',
      '----',
      "can't leave a non-joint config",
      '',
    ].join('\n');
    const ds = parseDataDriven(text, 'f.txt');
    expect(ds).toHaveLength(2);
    expect(ds[0]).toMatchObject({
      file: 'f.txt',
      line: 3,
      cmd: 'simple',
      input: 'v1',
      expected: 'voters=(1)\n1: StateProbe match=0 next=1\n',
    });
    expect(ds[0]!.error).toBeUndefined();
    expect(ds[1]).toMatchObject({ line: 10, cmd: 'leave-joint', input: '' });
    expect(ds[1]!.expected).toBe("can't leave a non-joint config\n");
  });

  it('joins continuation lines into one command line', () => {
    const ds = parseDataDriven('add-nodes 1 \\\n  voters=(1) \\\n  index=2\n----\nok\n', 'f');
    expect(ds).toHaveLength(1);
    expect(ds[0]!.line).toBe(1);
    expect(ds[0]!.text).toBe('add-nodes 1  voters=(1)  index=2');
    expect(ds[0]!.args.map((a) => a.key)).toEqual(['1', 'voters', 'index']);
  });

  it('keeps multi-line input, blank lines inside it, and trims its ends', () => {
    const ds = parseDataDriven('cmd\n\n  first\n\n  second  \n\n----\nout\n', 'f');
    expect(ds[0]!.input).toBe('first\n\n  second');
    expect(ds[0]!.expected).toBe('out\n');
  });

  it('ends the output at a blank line, even at the end of the file', () => {
    const ds = parseDataDriven('a\n----\nx\ny\n\nb\n----\nz', 'f');
    expect(ds.map((d) => d.expected)).toEqual(['x\ny\n', 'z\n']);
  });

  it('reads the double-separator form with blank lines in the output', () => {
    const text =
      'cmd\n----\n----\nline 1\n\nline 3\n----\nnot the end\n----\n----\n' +
      '\nnext\n----\nok\n';
    const ds = parseDataDriven(text, 'f');
    expect(ds).toHaveLength(2);
    expect(ds[0]!.expected).toBe('line 1\n\nline 3\n----\nnot the end\n');
    expect(ds[1]).toMatchObject({ cmd: 'next', expected: 'ok\n' });
  });

  it('accepts an empty expected output', () => {
    const ds = parseDataDriven('cmd\n----\n\nnext\n----\nok\n', 'f');
    expect(ds.map((d) => d.expected)).toEqual(['', 'ok\n']);
  });

  it('reports a malformed directive and goes on with the next one', () => {
    const ds = parseDataDriven('bad cfg=(1\n----\nx\n\ngood\n----\nok\n', 'f');
    expect(ds).toHaveLength(2);
    expect(ds[0]!.error).toMatch(/cannot parse directive at column/);
    expect(ds[0]!.line).toBe(1);
    expect(ds[1]!.error).toBeUndefined();
    expect(ds[1]!.line).toBe(5);
  });

  it('reports a directive without a separator', () => {
    const ds = parseDataDriven('cmd\ninput only\n', 'f');
    expect(ds).toHaveLength(1);
    expect(ds[0]!.error).toMatch(/missing "----" separator/);
  });

  it('drops carriage returns of CRLF files', () => {
    const ds = parseDataDriven('cmd a=1\r\n----\r\nok\r\n', 'f');
    expect(ds[0]).toMatchObject({ cmd: 'cmd', expected: 'ok\n' });
    expect(ds[0]!.args).toEqual([{ key: 'a', vals: ['1'] }]);
  });
});
