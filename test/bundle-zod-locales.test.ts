/**
 * The bundle keeps zod's English messages only (scripts/bundle.mjs,
 * zodEnglishOnly): the other ~70 locales were 367 KB of the zod chunk that
 * every `nsr run` parsed. The config check through bin/nsr (the bundle) must
 * still work, with nsr's own messages.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(root, 'dist', 'bundle');

t.test('the bundle holds zod\'s English locale and no other', async (t) => {
  t.ok(existsSync(bundle), 'dist/bundle exists (npm run build)');
  const locales = new Set<string>();
  for (const f of readdirSync(bundle).filter((f) => f.endsWith('.js'))) {
    // esbuild marks each bundled module with a `// node_modules/...` comment line.
    for (const m of readFileSync(path.join(bundle, f), 'utf8').matchAll(/^\/\/ node_modules\/zod\/v4\/locales\/([\w-]+)\.js$/gm)) locales.add(m[1]!);
  }
  t.same([...locales].sort(), ['en'], 'only en.js of zod/v4/locales is bundled');
});

t.test('nsr check through the bundle still reports a bad config, in English', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nsr-zod-en-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'recorder.yaml');
  writeFileSync(file, 'streams:\n  flow:\n    kind: http\n    url: "http://127.0.0.1:9/x"\n    interval: 5\n');
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [path.join(root, 'bin', 'nsr'), 'check', '-c', file], { cwd: dir }, (_err, _out, stderr) =>
      child.exitCode !== null ? resolve({ code: child.exitCode, stderr }) : child.on('exit', (c) => resolve({ code: c, stderr })),
    );
  });
  t.equal(code, 2, 'exit status 2 (bad config)');
  t.match(stderr, /streams\.flow\.interval: got 5 \(a number\); expected the fetch interval such as 500ms, 1s or 5m/);
});
