/**
 * A small line diff for conformance reports: expected lines print as `- `, actual lines as
 * `+ `, a few unchanged lines around each change as `  `, and long reports are cut short.
 */

/** Lines of context kept around each change. */
const CONTEXT_LINES = 2;
/** Above this many lines on either side, the O(n*m) table is skipped for a plain listing. */
const DIFF_LINES_MAX = 4000;

type Op = { kind: ' ' | '-' | '+'; text: string };

/** Splits output into lines, dropping the empty string after a final newline. */
function toLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The edit script from `a` to `b` by longest common subsequence. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n > DIFF_LINES_MAX || m > DIFF_LINES_MAX) {
    return [
      ...a.map((text): Op => ({ kind: '-', text })),
      ...b.map((text): Op => ({ kind: '+', text })),
    ];
  }
  // lcs[i][j]: length of the LCS of a[i..] and b[j..], stored row-major in one array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? lcs[(i + 1) * width + j + 1]! + 1
          : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i++]! });
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) {
      ops.push({ kind: '-', text: a[i++]! });
    } else {
      ops.push({ kind: '+', text: b[j++]! });
    }
  }
  return ops;
}

/**
 * Formats the difference between expected and actual output as at most `linesMax` lines,
 * each prefixed with `indent`. Unchanged stretches far from any change are elided.
 */
export function formatDiff(
  expected: string,
  actual: string,
  options: { indent?: string; linesMax?: number } = {},
): string {
  const indent = options.indent ?? '  ';
  const linesMax = options.linesMax ?? 40;
  const ops = editScript(toLines(expected), toLines(actual));
  const keep = new Array<boolean>(ops.length).fill(false);
  ops.forEach((op, k) => {
    if (op.kind === ' ') return;
    const last = Math.min(ops.length - 1, k + CONTEXT_LINES);
    for (let c = Math.max(0, k - CONTEXT_LINES); c <= last; c++) keep[c] = true;
  });
  const out: string[] = [`${indent}--- expected`, `${indent}+++ actual`];
  let elided = false;
  for (let k = 0; k < ops.length; k++) {
    if (!keep[k]) {
      if (!elided) out.push(`${indent}@@`);
      elided = true;
      continue;
    }
    elided = false;
    const op = ops[k]!;
    out.push(`${indent}${op.kind} ${op.text}`);
  }
  if (expected.endsWith('\n') !== actual.endsWith('\n') && expected !== '' && actual !== '') {
    out.push(`${indent}(the outputs differ in their final newline)`);
  }
  if (out.length > linesMax) {
    const dropped = out.length - linesMax;
    out.length = linesMax;
    out.push(`${indent}... ${dropped} more diff lines`);
  }
  return out.join('\n');
}
