/**
 * The recorder's check of the archive index never writes through a symlink
 * (DESIGN 5): a link planted at `.nsr.index` between its read and the cut of
 * a torn last line must not have a file elsewhere cut short.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, constants, lstatSync, openSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import * as safeFiles from '../src/fs/safe-files.js';
import { INDEX_FILE } from '../src/archive/index/index-format.js';
import { tempDir } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

t.test('a symlink planted at the index while the check reads it: the file it points to is not cut', async (t) => {
  const dir = tempDir(t);
  const victim = path.join(tempDir(t), 'precious.txt');
  const precious = 'x'.repeat(100_000);
  writeFileSync(victim, precious);
  for (let i = 0; i < 3; i++) await makeWindow(dir, 'flowinfo', Date.UTC(2026, 0, 1) + i * 60_000);
  // Built once; then a crash leaves a torn last line, which the next check cuts.
  const { ArchiveIndex: First } = await import('../src/archive/index/index-writer.js');
  const first = new First(dir, () => {});
  await first.ready;
  first.close();
  appendFileSync(path.join(dir, INDEX_FILE), 'z\t2026');
  // Once the check has read the index, someone swaps in a symlink to the victim.
  const index = path.join(dir, INDEX_FILE);
  const swap = () => {
    if (lstatSync(index).isSymbolicLink()) return;
    renameSync(index, `${index}.moved`);
    symlinkSync(victim, index);
  };
  const { ArchiveIndex } = await t.mockImport<typeof import('../src/archive/index/index-writer.js')>('../src/archive/index/index-writer.js', {
    '../src/fs/safe-files.js': {
      ...safeFiles,
      openOwnFile: async (file: string, mode: 'read' | 'update') => {
        const handle = await safeFiles.openOwnFile(file, mode);
        const read = handle.readFile.bind(handle);
        Object.assign(handle, { readFile: async () => {
          const data = await read();
          if (file === index) swap();
          return data;
        } });
        return handle;
      },
    },
  });
  const writer = new ArchiveIndex(dir, () => {});
  await writer.ready;
  writer.close();
  t.equal(readFileSync(victim, 'utf8'), precious, 'the file the link points to is whole');
});

t.test('a named pipe or a symlink named like a zip: the check neither opens it nor waits for it', async (t) => {
  const dir = tempDir(t);
  await makeWindow(dir, 'flowinfo', Date.UTC(2026, 0, 1));
  const fifo = path.join(dir, '2026_01_01_00-10-00_flowinfo_json.zip');
  execFileSync('mkfifo', [fifo]);
  symlinkSync('/dev/zero', path.join(dir, '2026_01_01_00-20-00_flowinfo_json.zip'));
  const { ArchiveIndex } = await import('../src/archive/index/index-writer.js');
  const index = new ArchiveIndex(dir, () => {});
  const hangs = <T>(p: Promise<T>) => Promise.race([p, new Promise<'hangs'>((r) => setTimeout(() => r('hangs'), 5000).unref())]);
  const check = await hangs(index.ready);
  const { readCatalog } = await import('../src/archive/catalog.js');
  const whole = await hangs(readCatalog(dir));
  const direct = await hangs(readCatalog(dir, { useIndex: false }));
  // Let a reader stuck on the pipe go (a writer opens it), so this test ends either way.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  closeSync(fd);
  index.close();
  t.not(check, 'hangs', 'the check ends');
  t.match(check, { windows: 1 }, 'only the zip is indexed');
  for (const [what, cats] of [['with the index', whole], ['without', direct]] as const) {
    t.not(cats, 'hangs', `a reader ${what} ends`);
    if (cats !== 'hangs') t.same(cats[0].windows.map((w) => [w.file.slice(11, 19), w.error ? 'error' : w.records]), [['00-00-00', 5], ['00-10-00', 'error'], ['00-20-00', 'error']], `${what}: the pipe and the link are unreadable windows`);
  }
});
