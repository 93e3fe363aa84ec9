#!/usr/bin/env node
// The bundle bin/nsr runs: dist/ (tsc's output) joined into a few files under
// dist/bundle/ with esbuild, the dependencies in it too. A start then reads ~90
// files instead of ~400 (zod alone loads 50 locale modules nsr never uses, and
// the bundle leaves them out), and costs about 0.075 s less CPU and 5 MB less
// RSS (BENCHMARKS.md §17). Each command is still its own chunk, loaded when run.
//
// Left out of the bundle: ssh2 (its optional native cpu-features is found at
// run time) and pg-native (pg's optional native binding). The entry points keep
// their names: bin/nsr loads dist/bundle/main.js; the compression pool and the
// JSON check fork/start ./zip-worker.js and ./json-check-worker.js beside their
// own module, which in the bundle is dist/bundle/ as well. Modules that find the
// package's files (package.json, bin/nsr, fixtures/) do so two levels up from
// themselves: dist/<dir>/x.js and dist/bundle/x.js alike.
//
// The archive tools (ls, cat, verify, index, export, stats) and the two
// workers are each one file with all they use (dist/bundle/cat.js...), not a
// set of shared chunks: each ES module costs Node ~1 ms to load and link, and
// `nsr cat` loaded 22 of them (BENCHMARKS.md §17). main.js's import() of such a
// command stays as written and finds that file. The recorder (`nsr run`) and
// the other commands keep the chunks they share with main.js: `run` loads a
// kind's code only when the config names it, which one file cannot do (esbuild
// inlines an import() when it does not split), and a one-file `run` would load
// a second copy of commander beside main's. A one-file command has its own copy
// of what it shares with main.js (commander's Option, common.js): main builds
// the program and hands it over, and commander reads an option by its fields,
// not by its class.
//
// commander requires node:child_process when it loads (for executable
// subcommands, which nsr has none of); loading it, and net and dgram with it,
// costs ~5 ms of every command's start, `nsr cat`'s too. In the bundle
// commander gets a stand-in that loads the module at its first use.
//
// Usage: node scripts/bundle.mjs (npm run build runs it after tsc).
//
// A CommonJS dependency loaded with import() lands in a chunk of its own whose only
// export is `default` (the module's exports object): take such a module by its default
// export (`const { default: pg } = await import('pg')`), as Node's own loader allows
// too. test/bundle-imports.test.ts checks src/ for it.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Packages left out of the bundle: loaded by Node at run time, with Node's own semantics. */
export const BUNDLE_EXTERNAL = ['ssh2', 'cpu-features', 'pg-native'];

/** Commands (dist/cli/<module>.js) bundled one file each; see the header. */
export const ONE_FILE_COMMANDS = ['ls', 'cat', 'verify', 'index-cmd', 'export', 'stats'];
const WORKERS = ['compress/zip-worker.js', 'json/json-check-worker.js'];

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'bundle');

const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (a) => (/[\\/]node_modules[\\/]commander[\\/]/.test(a.importer) ? { path: 'child_process', namespace: 'nsr-lazy' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'nsr-lazy' }, () => ({
      contents: "let m; module.exports = new Proxy({}, { get: (_t, k) => (m ??= require('node:child_process'))[k] });",
      loader: 'js',
    }));
  },
};

/**
 * zod re-exports all its 63 message locales (`z.locales`, `z.core.locales`),
 * and a bundle keeps what is re-exported: 367 KB of the 767 KB zod chunk that
 * `nsr run` loads, parsed at every start and held as source in the heap. nsr
 * uses only English, which zod's schemas import by their own path (en.js); the
 * namespace keeps `en` alone (BENCHMARKS.md §17, seventh sitting).
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(a.importer) ? { path: path.join(path.dirname(a.importer), '..', 'locales', 'index.js'), namespace: 'nsr-zod-en' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'nsr-zod-en' }, (a) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: path.dirname(a.path),
      loader: 'js',
    }));
  },
};

/** In main.js, import('./cat.js') and the like stay as written: they load dist/bundle/cat.js. */
const oneFileCommandsStayImported = {
  name: 'one-file-commands-stay-imported',
  setup(b) {
    const main = path.join(dist, 'cli', 'main.js');
    const filter = new RegExp(`^\\./(${ONE_FILE_COMMANDS.join('|')})\\.js$`);
    b.onResolve({ filter }, (a) => (path.resolve(a.importer) === main ? { path: a.path, external: true } : undefined));
  },
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await bundle();

async function bundle() {
  const { build } = await import('esbuild');
  rmSync(out, { recursive: true, force: true });
  const common = {
    outdir: out,
    entryNames: '[name]',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: BUNDLE_EXTERNAL,
    // The dependencies written as CommonJS call require(); in an ES module it has to be made.
    banner: { js: "import { createRequire as __nsrCreateRequire } from 'node:module'; const require = __nsrCreateRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
  };
  await build({ ...common, entryPoints: [path.join(dist, 'cli', 'main.js')], splitting: true, plugins: [lazyChildProcessForCommander, zodEnglishOnly, oneFileCommandsStayImported] });
  await build({
    ...common,
    entryPoints: [...ONE_FILE_COMMANDS.map((c) => `cli/${c}.js`), ...WORKERS].map((f) => path.join(dist, f)),
    splitting: false,
    plugins: [lazyChildProcessForCommander, zodEnglishOnly],
  });
  asciiOnly(out);
}

/**
 * esbuild's output is ASCII (its default charset) except in the comments it
 * keeps, where non-ASCII characters stay as written. One such character (an
 * em dash, an arrow) makes V8 hold the whole chunk's source as a two-byte
 * string: ~1.3 MB more heap for the recorder. Escaped there too, the chunks
 * are ASCII, and only comments changed.
 */
function asciiOnly(dir) {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js')) continue;
    const file = path.join(dir, f);
    const text = readFileSync(file, 'utf8');
    if (/^[\x00-\x7f]*$/.test(text)) continue;
    writeFileSync(file, text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`));
  }
}
