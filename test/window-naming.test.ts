// Window boundaries and file names (DESIGN 2.2).
import t from 'tap';
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatWindowTime, freeWindowBase, parseWindowName, parseWindowTime, windowStart } from '../src/sinks/window-naming.js';
import { tempDir } from './helpers.js';

t.test('names use the local time of the window start', async (t) => {
  const at = new Date(2026, 1, 10, 14, 3, 12, 57).getTime();
  t.equal(formatWindowTime(at), '2026_02_10_14-03-12');
  t.equal(parseWindowTime('2026_02_10_14-03-12'), new Date(2026, 1, 10, 14, 3, 12).getTime());
});

t.test('windows align to the local clock', async (t) => {
  const at = new Date(2026, 1, 10, 14, 3, 12, 57).getTime();
  t.equal(formatWindowTime(windowStart(at, 5 * 60_000)), '2026_02_10_14-00-00');
  t.equal(formatWindowTime(windowStart(at, 60 * 60_000)), '2026_02_10_14-00-00');
  t.equal(formatWindowTime(windowStart(at, 10_000)), '2026_02_10_14-03-10');
  const start = windowStart(at, 300_000);
  t.equal(windowStart(start, 300_000), start, 'a window start is its own window');
  t.equal(windowStart(start - 1, 300_000), start - 300_000);
});

t.test('file names parse back, stream names with underscores included', async (t) => {
  t.same(parseWindowName('2026_02_10_14-03-12_flowinfo.json'), { base: '2026_02_10_14-03-12_flowinfo', time: '2026_02_10_14-03-12', stream: 'flowinfo', type: 'json' });
  t.same(parseWindowName('2026_02_10_14-03-12_my_stream_json.zip'), { base: '2026_02_10_14-03-12_my_stream', time: '2026_02_10_14-03-12', stream: 'my_stream', type: 'zip' });
  t.match(parseWindowName('2026_02_10_14-03-12_flowinfo_json.zip.tmp'), { type: 'tmp', stream: 'flowinfo' });
  t.equal(parseWindowName('notes.txt'), undefined);
  t.equal(parseWindowName('2026_02_10_14-03-12_flowinfo.json.bak'), undefined);
});

t.test('a taken name is never reused: the new file moves to a free second', async (t) => {
  const dir = tempDir(t);
  const start = new Date(2026, 1, 10, 14, 0, 0).getTime();
  const first = start + 3 * 60_000 + 12_345;
  t.equal(freeWindowBase(dir, 'flowinfo', start, first), '2026_02_10_14-00-00_flowinfo');
  writeFileSync(path.join(dir, '2026_02_10_14-00-00_flowinfo_json.zip'), 'x');
  t.equal(freeWindowBase(dir, 'flowinfo', start, first), '2026_02_10_14-03-12_flowinfo', 'named by the first record');
  writeFileSync(path.join(dir, '2026_02_10_14-03-12_flowinfo.json'), 'x');
  t.equal(freeWindowBase(dir, 'flowinfo', start, first), '2026_02_10_14-03-13_flowinfo', 'then the next free second');
  t.equal(freeWindowBase(dir, 'graphinfo', start, first), '2026_02_10_14-00-00_graphinfo', 'other streams unaffected');
});

t.test('any entry takes a name, a dangling symlink too; one that is not a regular file is reported', async (t) => {
  const dir = tempDir(t);
  const start = new Date(2026, 1, 10, 14, 0, 0).getTime();
  symlinkSync(path.join(dir, 'nowhere'), path.join(dir, '2026_02_10_14-00-00_flowinfo.json'));
  const reported: string[] = [];
  t.equal(freeWindowBase(dir, 'flowinfo', start, start + 12_345, 'json', (file, found) => reported.push(`${file}: ${found}`)), '2026_02_10_14-00-12_flowinfo');
  t.same(reported, ['2026_02_10_14-00-00_flowinfo.json: a symbolic link']);
});

t.test('zip temporaries with a random part parse as temporaries', async (t) => {
  t.match(parseWindowName('2026_02_10_14-03-12_flowinfo_json.zip.0123456789ab.tmp'), { type: 'tmp', stream: 'flowinfo', base: '2026_02_10_14-03-12_flowinfo' });
});
