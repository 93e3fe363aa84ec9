#!/usr/bin/env node
// Regular-expression engines for probe `match:` patterns, side by side: the
// RE2 family (linear-time matching, so a pattern from a table cannot stall the
// process) against V8's RegExp (backtracking) on safe patterns as the baseline.
// For each engine found: install weight (the package and its dependencies on
// disk, a native build or not), the time to load it in a fresh process, the
// time to compile each pattern, and the time to match it over a 1 KB and a
// 64 KB body (the match at the very end, so the whole body is scanned); then
// the ReDoS pattern ^(a+)+$ on the RE2 engines; and whether 10,000 compiles
// of one pattern (a targets table refreshed for a while) leave the engine usable.
//
// Usage: node bench/regex.bench.mjs [--from DIR] [--ms 300]
// DIR holds the candidates in DIR/node_modules (default: this project's own).
// To measure all three:
//   d=$(mktemp -d) && (cd $d && npm init -y && npm install re2js@2.10.0 re2-wasm@1.0.2 re2@1.23.3)
//   node bench/regex.bench.mjs --from $d
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const from = path.resolve(arg('--from', fileURLToPath(new URL('..', import.meta.url))));
const budgetMs = Number(arg('--ms', 300));
const require = createRequire(path.join(from, 'package.json'));

/** Bytes on disk under a directory. */
function dirBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += dirBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** The package and everything it depends on, as installed (hoisted or nested). */
function installWeight(name) {
  const seen = new Map();
  const visit = (pkg, base) => {
    let dir = path.join(base, 'node_modules', pkg);
    if (!existsSync(dir)) dir = path.join(from, 'node_modules', pkg);
    if (!existsSync(dir) || seen.has(dir)) return;
    const json = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    seen.set(dir, json);
    for (const dep of Object.keys(json.dependencies ?? {})) visit(dep, dir);
  };
  visit(name, from);
  const dirs = [...seen.keys()];
  const [main] = seen.values();
  return {
    version: main.version,
    packages: dirs.length,
    mb: +(dirs.reduce((n, d) => n + dirBytes(d), 0) / 1e6).toFixed(1),
    native_build: dirs.some((d) => existsSync(path.join(d, 'binding.gyp'))),
    engines_node: main.engines?.node ?? '(any)',
  };
}

/** ms to load the module in a fresh Node process (median of 5), the process start subtracted. */
function loadMs(name, esm) {
  const spec = esm ? pathToFileURL(require.resolve(name)).href : require.resolve(name);
  const code = esm ? `const t=performance.now();await import(${JSON.stringify(spec)});console.log(performance.now()-t)` : `const t=performance.now();require(${JSON.stringify(spec)});console.log(performance.now()-t)`;
  const times = [];
  for (let i = 0; i < 5; i++) times.push(Number(spawnSync(process.execPath, [esm ? '--input-type=module' : '--input-type=commonjs', '-e', code], { encoding: 'utf8' }).stdout));
  return +times.sort((a, b) => a - b)[2].toFixed(1);
}

/** µs per call of fn, repeated for the time budget (after a warm-up), at most maxCalls a round, median of 3 rounds. */
function perCall(fn, maxCalls = Infinity) {
  for (let i = 0; i < 20; i++) fn();
  const rounds = [];
  for (let r = 0; r < 3; r++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < budgetMs / 3 && n < maxCalls) {
      fn();
      n++;
    }
    rounds.push(((performance.now() - start) * 1000) / n);
  }
  return +rounds.sort((a, b) => a - b)[1].toFixed(2);
}

// Patterns a probe target would carry, and bodies like the pages it reads.
const PATTERNS = {
  literal: '<title>Example Domain</title>',
  health: 'status["\']?\\s*:\\s*["\']?(ok|up|healthy)',
  version: 'version":\\s*"(\\d+\\.\\d+\\.\\d+)"',
  'case-insensitive': '(?i)copyright\\s+20\\d\\d',
};
const FILLER = '<div class="row"><a href="/docs/item-42">Item 42</a> <span>lorem ipsum dolor sit amet, 3.1415 — ünïcödé</span></div>\n';
const TAIL = '<title>Example Domain</title> {"status": "ok", "version": "2.10.3"} Copyright 2026';
const body = (bytes) => {
  let s = '';
  while (Buffer.byteLength(s) + Buffer.byteLength(FILLER) + TAIL.length <= bytes) s += FILLER;
  return s + TAIL;
};
const BODIES = { '1 KB': body(1024), '64 KB': body(64 * 1024) };

// Each engine: compile(pattern) → { exec(text) } on a string, and on the body's bytes where it takes them.
const engines = [
  { name: 'V8 RegExp (baseline)', pkg: null, compile: (p) => new RegExp(p.replace('(?i)', ''), p.startsWith('(?i)') ? 'i' : '') },
];
async function tryLoad(pkg, make) {
  try {
    require.resolve(pkg);
  } catch {
    console.error(`${pkg}: not installed under ${from}, left out`);
    return;
  }
  engines.push({ name: pkg, pkg, ...(await make()) });
}
await tryLoad('re2js', async () => {
  const { RE2JS } = await import(pathToFileURL(require.resolve('re2js')).href);
  return { esm: true, compile: (p) => RE2JS.compile(p), bytes: true };
});
await tryLoad('re2', async () => {
  const RE2 = require('re2');
  return { compile: (p) => new RE2(p), bytes: true };
});
await tryLoad('re2-wasm', async () => {
  const { RE2 } = require('re2-wasm');
  return { compile: (p) => new RE2(p.replace('(?i)', ''), p.startsWith('(?i)') ? 'iu' : 'u') };
});

const results = [];
for (const e of engines) {
  const row = { engine: e.name, ...(e.pkg ? { install: installWeight(e.pkg), load_ms: loadMs(e.pkg, e.esm) } : {}), compile_us: {}, match_us: {} };
  for (const [label, p] of Object.entries(PATTERNS)) {
    // Bounded: re2-wasm never frees a compiled pattern (see compiles_10k below).
    row.compile_us[label] = perCall(() => e.compile(p), 100);
    const re = e.compile(p);
    for (const [size, text] of Object.entries(BODIES)) {
      if (!re.exec(text)) throw new Error(`${e.name}: ${label} does not match the ${size} body`);
      row.match_us[`${label} / ${size}`] = perCall(() => re.exec(text));
      if (e.bytes) {
        const bytes = Buffer.from(text);
        if (!re.exec(bytes)) throw new Error(`${e.name}: ${label} does not match the ${size} body as bytes`);
        row.match_us[`${label} / ${size} (bytes)`] = perCall(() => re.exec(bytes));
      }
    }
  }
  if (e.pkg) {
    const attack = e.compile('^(a+)+$');
    for (const n of [27, 64 * 1024]) {
      const text = `${'a'.repeat(n - 1)}!`;
      row.match_us[`^(a+)+$ / ${n} bytes`] = perCall(() => attack.exec(text));
    }
  }
  // A recorder compiles a pattern per target, again at every refresh of a targets table:
  // an engine must let go of patterns no longer used.
  let compiles = 0;
  try {
    for (; compiles < 10_000; compiles++) e.compile(PATTERNS.version);
    row.compiles_10k = 'ok';
  } catch (err) {
    row.compiles_10k = `failed after ${compiles} compiles: ${String(err.message).slice(0, 90)}`;
  }
  results.push(row);
  console.error(`${e.name}: done`);
}
// V8 on the attack, on inputs far shorter than the finding's 27 bytes: each extra byte doubles the time.
const v8 = /^(a+)+$/;
const v8Attack = Object.fromEntries([16, 18, 20, 22].map((n) => {
  const start = performance.now();
  v8.exec(`${'a'.repeat(n - 1)}!`);
  return [`${n} bytes`, +(performance.now() - start).toFixed(1)];
}));
console.log(JSON.stringify({ node: process.version, from, budget_ms: budgetMs, results, v8_attack_ms: v8Attack }, null, 2));
