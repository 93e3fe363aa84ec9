// The rules every file nsr keeps in its output directory goes through
// (src/fs/safe-files.ts): never through a symlink, only regular files, one link
// when changed in place, temporaries of random names created exclusively.
// The attacks themselves, on a running recorder, are in output-dir-symlinks.test.ts.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../src/config/errors.js';
import { readRuntimeStreams, writeRuntimeStreams } from '../src/config/runtime-streams.js';
import { createExclusive, openOwnFile, replaceOwnFileSync, temporaryName } from '../src/fs/safe-files.js';
import { readState, writeState } from '../src/sources/common/state-file.js';
import { tempDir } from './helpers.js';

/** A directory with `victim` (holding "precious") outside it, and the path of a missing file. */
function setUp(t: Tap.Test) {
  const dir = tempDir(t);
  const outside = tempDir(t, 'nsr-outside-');
  const victim = path.join(outside, 'victim');
  writeFileSync(victim, 'precious');
  return { dir, victim, nowhere: path.join(outside, 'nowhere') };
}

t.test('an exclusive create refuses any entry at the name, a dangling symlink included (O_EXCL never follows)', async (t) => {
  const { dir, victim, nowhere } = setUp(t);
  symlinkSync(victim, path.join(dir, 'to-file'));
  symlinkSync(nowhere, path.join(dir, 'dangling'));
  await t.rejects(createExclusive(path.join(dir, 'to-file')), { code: 'EEXIST' });
  await t.rejects(createExclusive(path.join(dir, 'dangling')), { code: 'EEXIST' });
  t.equal(readFileSync(victim, 'utf8'), 'precious');
  t.throws(() => readFileSync(nowhere), { code: 'ENOENT' }, 'nothing created through the dangling link');
  const fresh = await createExclusive(path.join(dir, 'fresh'));
  await fresh.close();
});

t.test('temporaries have names no one can plant in advance', async (t) => {
  const a = temporaryName('/d/.nsr.runtime.json');
  t.match(a, /^\/d\/\.nsr\.runtime\.json\.[0-9a-f]{12}\.tmp$/);
  t.not(a, temporaryName('/d/.nsr.runtime.json'));
});

t.test('opening an own file: a symlink, a directory, a named pipe (without hanging) and, to change it, a hard-linked file are refused', async (t) => {
  const { dir, victim } = setUp(t);
  symlinkSync(victim, path.join(dir, 'link.json'));
  mkdirSync(path.join(dir, 'dir.json'));
  execFileSync('mkfifo', [path.join(dir, 'pipe.json')]);
  writeFileSync(path.join(dir, 'own.json'), 'x');
  linkSync(path.join(dir, 'own.json'), path.join(dir, 'second-name.json'));
  await t.rejects(openOwnFile(path.join(dir, 'link.json'), 'read'), { code: 'EUNSAFEFILE', found: 'a symbolic link' });
  await t.rejects(openOwnFile(path.join(dir, 'dir.json'), 'read'), { code: 'EUNSAFEFILE', found: 'a directory' });
  await t.rejects(openOwnFile(path.join(dir, 'pipe.json'), 'read'), { code: 'EUNSAFEFILE', found: 'a named pipe' });
  await t.rejects(openOwnFile(path.join(dir, 'own.json'), 'update'), { code: 'EUNSAFEFILE', found: 'a file with 2 hard links' });
  const h = await openOwnFile(path.join(dir, 'own.json'), 'read');
  t.equal((await h.readFile()).toString(), 'x', 'reading a hard-linked file changes nothing: allowed');
  await h.close();
  t.equal(readFileSync(victim, 'utf8'), 'precious');
});

t.test('replacing an own file: a symlink at its name is left alone; nothing is left behind', async (t) => {
  const { dir, victim } = setUp(t);
  const file = path.join(dir, '.nsr.state.json');
  symlinkSync(victim, file);
  t.throws(() => replaceOwnFileSync(file, 'new'), { code: 'EUNSAFEFILE', found: 'a symbolic link' });
  t.equal(readFileSync(victim, 'utf8'), 'precious', 'not written through');
  t.equal(readlinkSync(file), victim, 'the link is left alone');
  t.same(readdirSync(dir), ['.nsr.state.json'], 'no temporary left');

  const own = path.join(dir, '.nsr.other.json');
  replaceOwnFileSync(own, 'one');
  replaceOwnFileSync(own, 'two');
  t.equal(readFileSync(own, 'utf8'), 'two');
  t.same(readdirSync(dir).sort(), ['.nsr.other.json', '.nsr.state.json']);
});

t.test('the runtime streams file: a symlink is refused with the file named and the fix; the one it points to is neither read nor written', async (t) => {
  const { dir, victim } = setUp(t);
  writeFileSync(victim, JSON.stringify({ added: { planted: { kind: 'http', url: 'http://127.0.0.1:9/' } } }));
  symlinkSync(victim, path.join(dir, '.nsr.runtime.json'));
  const err = t.throws(() => readRuntimeStreams(dir)) as Error;
  t.ok(err instanceof ConfigError, 'a configuration error (exit 2)');
  t.match(err.message, /\.nsr\.runtime\.json is a symbolic link.*rm -- '.*\.nsr\.runtime\.json'.*streams added at run time/);
  t.throws(() => writeRuntimeStreams(dir, { added: {}, removed: [] }), { name: 'ConfigError' });
  t.match(readFileSync(victim, 'utf8'), /planted/, 'not written through');
});

t.test("a source's state file: a symlink is neither read nor written through (a fresh start, not kept)", async (t) => {
  const { dir, victim } = setUp(t);
  writeFileSync(victim, '{"checkpoints":{"x":1}}');
  const file = path.join(dir, '.nsr.netbeam.s.json');
  symlinkSync(victim, file);
  t.same(readState(file, { checkpoints: {} }), { checkpoints: {} }, 'not read');
  t.equal(writeState(file, { checkpoints: { y: 2 } }), false, 'not written');
  t.equal(readFileSync(victim, 'utf8'), '{"checkpoints":{"x":1}}');
  t.equal(readlinkSync(file), victim);
});
