#!/usr/bin/env node
/**
 * Finds import cycles between the files of src/ (DESIGN 3: no import cycles).
 * Every relative import counts, `import type` too: a type-only cycle is still
 * two files that cannot be understood apart. Run alone it prints each cycle and
 * exits 1; test/import-cycles.test.ts runs it as part of `npm test`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /(?:^|[^\w.])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** file (relative to root) → the src files it imports. */
export function importGraph(root) {
  const files = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir)) {
      const p = path.join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.join(root, 'src'));
  const graph = new Map();
  for (const f of files) {
    const deps = new Set();
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      deps.add(path.relative(root, path.resolve(path.dirname(f), spec.replace(/\.js$/, '.ts'))));
    }
    graph.set(path.relative(root, f), [...deps].filter((d) => d.endsWith('.ts')));
  }
  return graph;
}

/** The strongly connected components of more than one file (Tarjan), or a file importing itself. */
export function importCycles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], cycles = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const cycles = importCycles(importGraph(root));
  for (const c of cycles) console.log(`import cycle: ${c.join(' ↔ ')}`);
  console.log(cycles.length ? `${cycles.length} import cycle(s) in src/` : 'no import cycle in src/');
  process.exit(cycles.length ? 1 : 0);
}
