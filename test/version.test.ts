/**
 * `nsr --version` (and `-V`) print package.json's version and exit 0: answered
 * by bin/nsr before dist/ loads, also when bin/nsr is reached through a symlink
 * (npm's bin links), and by commander when dist/ is run directly.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const expected = `${JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version}\n`;
const run = (file: string, arg: string) => execFileSync(process.execPath, [file, arg], { encoding: 'utf8', cwd: os.tmpdir() });

t.test('bin/nsr --version and -V print the package version', async (t) => {
  t.not(expected, 'unknown\n');
  t.equal(run(path.join(root, 'bin', 'nsr'), '--version'), expected);
  t.equal(run(path.join(root, 'bin', 'nsr'), '-V'), expected);
});

t.test('through a symlink elsewhere, as npm links bin/nsr', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nsr-version-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const link = path.join(dir, 'nsr');
  symlinkSync(path.join(root, 'bin', 'nsr'), link);
  t.equal(run(link, '--version'), expected);
});

t.test('dist/entry.js run directly: commander answers the same', async (t) => {
  t.equal(run(path.join(root, 'dist', 'entry.js'), '--version'), expected);
});
