/**
 * Enforces the layering of ../shared/DESIGN.md over `src/`:
 *
 * - a layer imports only the layers below it, and another layer only through its `index.ts`;
 * - files named `_*.ts` are private to their folder;
 * - `src/raft` stays pure: no `node:*` or package imports, no timers, Promises, clocks or
 *   `Math.random` (time and randomness enter through its inputs);
 * - no runtime import cycles (type-only imports are erased, so they cannot form one);
 * - nothing outside `src/raft` and `test/conformance` reads a RawNode's state machine
 *   (`.raft.` property access): hosts use RawNode's accessors, white-box tests `raftOf`.
 *
 * Run by `npm test`; exits non-zero and lists every violation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
/** Trees scanned for `.raft.` access, and the folders allowed to use it. */
const stateMachineScanDirs = ['src', 'test', 'bench', 'scripts'].map((d) => join(root, d));
const stateMachineAllowedDirs = [join(root, 'src', 'raft'), join(root, 'test', 'conformance')];
const stateMachineAccess = /\.raft\./g;

/** For each layer, the layers it may import (besides itself). */
const allowed: Record<string, readonly string[]> = {
  util: [],
  raft: ['util'],
  scheduler: ['util'],
  transport: ['util', 'raft'],
  storage: ['util', 'raft'],
  multiraft: ['util', 'raft', 'scheduler', 'transport', 'storage'],
  range: ['util', 'raft', 'scheduler', 'transport', 'storage', 'multiraft'],
  node: ['util', 'raft', 'scheduler', 'transport', 'storage', 'multiraft', 'range'],
  // The package's entries: `flotilla/testing` (harnesses) and `flotilla` (src/index.ts).
  testing: ['util', 'raft', 'scheduler', 'transport', 'storage', 'multiraft', 'range', 'node'],
  'index.ts': ['util', 'raft', 'scheduler', 'transport', 'storage', 'multiraft', 'range', 'node'],
};

/** Packages a layer may import; `src/raft` takes none (house rule 1). */
const packagesAllowed = (layer: string): boolean => layer !== 'raft';

const impurePatterns: readonly [RegExp, string][] = [
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, 'reads the clock'],
  [/\bMath\.random\b/, 'uses Math.random'],
  [/\bset(Timeout|Interval|Immediate)\b|\bqueueMicrotask\b/, 'uses a timer'],
  [/\bPromise\b|\basync\s|\bawait\s/, 'uses Promises'],
  [/\bprocess\./, 'touches the process'],
];

interface Edge {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** A static `import`/`export ... from` (groups 2-4) or a dynamic `import('...')` (group 5). */
const importRe = new RegExp(
  String.raw`^\s*(import|export)\s+(type\s+)?([^'";]*?\s+from\s+)?['"]([^'"]+)['"]` +
    String.raw`|import\(\s*['"]([^'"]+)['"]\s*\)`,
  'gm',
);

function parseImports(text: string): Edge[] {
  const edges: Edge[] = [];
  for (const m of text.matchAll(importRe)) {
    const specifier = m[4] ?? m[5];
    if (specifier === undefined) continue;
    // `import { type A, type B }` is as erasable as `import type`.
    const clause = m[3] ?? '';
    const namedTypesOnly = /^\{\s*(type\s+\w+(\s+as\s+\w+)?\s*,?\s*)+\}\s+from\s+$/.test(clause);
    const line = text.slice(0, m.index).split('\n').length;
    edges.push({ specifier, typeOnly: m[2] !== undefined || namedTypesOnly, line });
  }
  return edges;
}

function stripComments(text: string): string {
  // Comments are blanked, not removed, so that reported line numbers stay right.
  const blank = (c: string) => c.replace(/[^\n]/g, ' ');
  return text.replace(/\/\*[\s\S]*?\*\//g, blank).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function layerOf(file: string): string {
  return relative(srcDir, file).split(sep)[0] ?? '';
}

function resolveTarget(from: string, specifier: string): string {
  return resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
}

function checkEdge(file: string, edge: Edge, problems: string[], graph: Map<string, string[]>) {
  const where = `${relative(root, file)}:${edge.line}`;
  const layer = layerOf(file);
  if (!edge.specifier.startsWith('.')) {
    if (!packagesAllowed(layer)) {
      problems.push(`${where}: src/${layer} may not import '${edge.specifier}'`);
    }
    return;
  }
  const target = resolveTarget(file, edge.specifier);
  const targetLayer = layerOf(target);
  if (targetLayer !== layer) {
    if (!(allowed[layer] ?? []).includes(targetLayer)) {
      problems.push(`${where}: layer '${layer}' may not import layer '${targetLayer}'`);
    } else if (target !== join(srcDir, targetLayer, 'index.ts')) {
      problems.push(`${where}: import layer '${targetLayer}' through its index.ts, ` +
        `not '${edge.specifier}'`);
    }
  } else if (/^_/.test(target.split(sep).at(-1) ?? '') && dirname(target) !== dirname(file)) {
    problems.push(`${where}: '${edge.specifier}' is private to its folder`);
  }
  if (!edge.typeOnly) graph.get(file)?.push(target);
}

function checkPurity(file: string, text: string, problems: string[]) {
  if (layerOf(file) !== 'raft') return;
  const code = stripComments(text);
  for (const [pattern, what] of impurePatterns) {
    const m = pattern.exec(code);
    if (m) {
      const line = code.slice(0, m.index).split('\n').length;
      problems.push(`${relative(root, file)}:${line}: src/raft must stay pure, but it ${what}`);
    }
  }
}

/** Reports `.raft.` property access (in code, not comments) outside the allowed folders. */
function checkStateMachineAccess(problems: string[]) {
  for (const dir of stateMachineScanDirs) {
    for (const file of listSources(dir)) {
      if (stateMachineAllowedDirs.some((allowed) => file.startsWith(allowed + sep))) continue;
      const code = stripComments(readFileSync(file, 'utf8'));
      for (const m of code.matchAll(stateMachineAccess)) {
        const line = code.slice(0, m.index).split('\n').length;
        problems.push(`${relative(root, file)}:${line}: reads RawNode's state machine ` +
          `(its raft property); use RawNode's accessors`);
      }
    }
  }
}

function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 1);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 1) cycles.push(stack.slice(stack.indexOf(next)).concat(next));
      else if (s === undefined && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 2);
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

function main(): number {
  const problems: string[] = [];
  const files = listSources(srcDir);
  const graph = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const file of files) {
    if (!(layerOf(file) in allowed)) {
      problems.push(`${relative(root, file)}: unknown layer '${layerOf(file)}'`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const edge of parseImports(stripComments(text))) checkEdge(file, edge, problems, graph);
    checkPurity(file, text, problems);
  }
  checkStateMachineAccess(problems);
  for (const cycle of findCycles(graph)) {
    problems.push(`import cycle: ${cycle.map((f) => relative(root, f)).join(' -> ')}`);
  }
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.stdout.write(`check-imports: ${files.length} files, ${problems.length} problems\n`);
  return problems.length === 0 ? 0 : 1;
}

process.exit(main());
