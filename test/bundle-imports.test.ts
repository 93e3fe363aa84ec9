/**
 * bin/nsr runs a bundle (scripts/bundle.mjs) in which a CommonJS package loaded
 * with import() has only a default export: `(await import('mysql2/promise')).createPool`
 * is undefined there, though Node's own loader gives it (the inventory tables
 * failed so). Every import() of a bundled CommonJS package in src/ must take its
 * default export, on the same line.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ES module script without types
import { BUNDLE_EXTERNAL } from '../scripts/bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Whether the file a package specifier resolves to (for import) is CommonJS. */
function commonJs(spec: string): boolean {
  const file = fileURLToPath(import.meta.resolve(spec));
  if (file.endsWith('.mjs')) return false;
  if (file.endsWith('.cjs')) return true;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) return JSON.parse(readFileSync(pkg, 'utf8')).type !== 'module';
  }
  return true;
}

const packageName = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

t.test('every import() of a bundled CommonJS package takes its default export', async (t) => {
  const found: string[] = [];
  const wrong: string[] = [];
  for (const file of sources(path.join(root, 'src'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      // import('pkg') as a value: not node: builtins, not relative, not a type (`import('pg').PoolConfig`).
      for (const m of line.matchAll(/import\(\s*'([^'.][^']*)'\s*\)(?!\.)/g)) {
        const spec = m[1];
        if (spec.startsWith('node:') || BUNDLE_EXTERNAL.includes(packageName(spec)) || !commonJs(spec)) continue;
        const where = `${path.relative(root, file)}:${i + 1}: import('${spec}')`;
        found.push(spec);
        if (!line.includes('default')) wrong.push(where);
      }
    });
  }
  // The check sees the CommonJS packages nsr is known to load so (it would pass vacuously otherwise).
  for (const spec of ['mysql2/promise', 'amqplib', 'yauzl']) t.ok(found.includes(spec), `import('${spec}') was checked`);
  t.same(wrong, [], 'take the default export: const { default: x } = await import(...)');
});
