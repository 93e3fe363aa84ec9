/**
 * `nsr --version` (and `-V`) print package.json's version and exit 0: answered
 * by bin/nsr before dist/ loads, also when bin/nsr is reached through a symlink
 * (npm's bin links), and by commander when dist/ is run directly.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const expected = `${JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version}\n`;
const run = (file: string, arg: string) => execFileSync(process.execPath, [file, arg], { encoding: 'utf8', cwd: os.tmpdir() });

t.test('bin/nsr --version and -V print the package version', async (t) => {
  t.equal(run(path.join(root, 'bin', 'nsr'), '--version'), expected);
  t.equal(run(path.join(root, 'bin', 'nsr'), '-V'), expected);
});

t.test('bin/nsr answers without dist/: the CLI is not loaded for it', async (t) => {
  // bin/nsr and package.json alone: without the fast path bin/nsr would say the CLI is not built (exit 2).
  const dir = tempDir(t, 'nsr-version-');
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(root, 'bin', 'nsr'), path.join(dir, 'bin', 'nsr'));
  copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'nsr'), '--version'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, expected);
});

t.test('through a symlink elsewhere, as npm links bin/nsr', async (t) => {
  const dir = tempDir(t, 'nsr-version-');
  const link = path.join(dir, 'nsr');
  symlinkSync(path.join(root, 'bin', 'nsr'), link);
  t.equal(run(link, '--version'), expected);
});

t.test('dist/entry.js run directly: commander answers the same', async (t) => {
  t.equal(run(path.join(root, 'dist', 'entry.js'), '--version'), expected);
});
