/**
 * The bundle keeps zod's English messages only (scripts/bundle.mjs,
 * zodEnglishOnly): the other 62 locales were 367 KB of the zod chunk that
 * every `nsr run` parsed. The config check through bin/nsr (the bundle) must
 * still work, with zod's English words where nsr passes them on.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(root, 'dist', 'bundle');

t.test('the bundle holds zod\'s English locale and no other', async (t) => {
  t.ok(existsSync(bundle), 'dist/bundle exists (npm run build)');
  const locales = new Set<string>();
  for (const f of readdirSync(bundle).filter((f) => f.endsWith('.js'))) {
    // esbuild marks each bundled module with a `// node_modules/...` comment line (a path before it when node_modules is a symlink; the stub's line names its plugin namespace, `nsr-zod-en:`).
    for (const m of readFileSync(path.join(bundle, f), 'utf8').matchAll(/^\/\/ (?:[^:\s]*\/)?node_modules\/zod\/v4\/locales\/([\w-]+)\.js$/gm)) locales.add(m[1]!);
  }
  t.same([...locales].sort(), ['en'], 'only en.js of zod/v4/locales is bundled');
});

t.test('nsr check through the bundle still reports a bad config, with zod\'s English words', async (t) => {
  const dir = tempDir(t, 'nsr-zod-en-');
  const file = path.join(dir, 'recorder.yaml');
  writeFileSync(file, 'output: {dir: ""}\nstreams:\n  flow:\n    kind: http\n    url: "http://127.0.0.1:9/x"\n    interval: 1s\n');
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'nsr'), 'check', '-c', file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 2, 'exit status 2 (bad config)');
  // "expected string to have >=1 characters" is zod's English message (its en locale), as nsr passes it on.
  t.match(r.stderr, /output\.dir: got "" \(a string\); expected string to have >=1 characters/);
});
