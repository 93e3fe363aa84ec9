/**
 * The archive index: the offline tools see from it exactly what the zips
 * hold, and it is rebuilt or repaired when deleted, cut short or corrupted,
 * or when a crash interrupted a removal.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { readCatalog, type StreamCatalog } from '../src/archive/catalog.js';
import { HOOK_PENDING, INDEX_FILE, INDEX_HEADER } from '../src/archive/index/index-format.js';
import { readArchiveIndex } from '../src/archive/index/index-reader.js';
import { ArchiveIndex } from '../src/archive/index/index-writer.js';
import { compareIndex as nsrIndexCheck } from '../src/archive/index/index-check.js';
import { nsrAsync, tempDir } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 10, 22, 0, 0);

/** 3 streams × 20 one-minute windows, crossing a UTC midnight. */
async function archive(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < 20; i++) for (const s of ['flowinfo', 'graphinfo', 'events']) files.push(await makeWindow(dir, s, T0 + i * 10 * MINUTE));
  return files;
}

const events: { event: string; fields: Record<string, unknown> }[] = [];
const note = (event: string, fields: Record<string, unknown>) => void events.push({ event, fields });

async function openIndex(dir: string) {
  const index = new ArchiveIndex(dir, note);
  const check = await index.ready;
  index.close();
  return check!;
}

/** What a tool sees, without the fields that say where it came from. */
const view = (cats: StreamCatalog[]) => cats.map((c) => ({ stream: c.stream, windows: c.windows.map(({ file, records, first, last, bytes, diskBytes }) => ({ file, records, first, last, bytes, diskBytes })) }));

async function sameAsDirectory(t: Test, dir: string, what: string): Promise<void> {
  const fromIndex = await readCatalog(dir);
  const fromDir = await readCatalog(dir, { useIndex: false });
  t.same(view(fromIndex), view(fromDir), `${what}: the index shows what the zips hold`);
  t.equal(fromIndex.flatMap((c) => c.windows).filter((w) => w.source === 'metadata').length, 60, `${what}: 60 windows, none opened`);
}

t.test('built at first open, then the tools read it instead of the zips', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  t.equal(await readArchiveIndex(dir), undefined, 'no index yet: the tools read the directory');
  const check = await openIndex(dir);
  t.equal(check.rebuilt, 'missing');
  t.equal(check.windows, 60);
  await sameAsDirectory(t, dir, 'after the first open');
  const again = await openIndex(dir);
  t.equal(again.rebuilt, undefined, 'a sound index is kept');
  t.match(again, { added: 0, gone: 0, completed: 0, cutBytes: 0 });
});

t.test('rebuilt after it was deleted, truncated or corrupted', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  await openIndex(dir);
  const file = path.join(dir, INDEX_FILE);
  const sound = readFileSync(file);

  unlinkSync(file);
  t.equal((await openIndex(dir)).rebuilt, 'missing', 'deleted: rebuilt');
  await sameAsDirectory(t, dir, 'deleted');

  // Cut in the middle of a line: the torn line is cut, the zips it no longer names are added back.
  truncateSync(file, Math.floor(sound.length / 2) + 7);
  const cut = await openIndex(dir);
  t.ok(cut.cutBytes > 0, `the torn last line was cut (${cut.cutBytes} bytes)`);
  t.ok(cut.added > 0, `${cut.added} zips the cut lost were added back`);
  await sameAsDirectory(t, dir, 'truncated');

  // A damaged line: readers fall back to the directory at once; the next open rebuilds.
  const text = readFileSync(file, 'latin1');
  const at = text.indexOf('\tflowinfo') > 0 ? text.indexOf('\nz\t') + 12 : 20;
  writeFileSync(file, Buffer.from(text.slice(0, at) + 'x#' + text.slice(at + 2), 'latin1'));
  t.equal(await readArchiveIndex(dir), undefined, 'a line that does not parse: the index is not used');
  t.same(view(await readCatalog(dir)), view(await readCatalog(dir, { useIndex: false })), 'readers still see every window (from the directory)');
  t.equal((await openIndex(dir)).rebuilt, 'damaged', 'corrupted: rebuilt');
  await sameAsDirectory(t, dir, 'corrupted');

  // Not an index at all (garbage header).
  writeFileSync(file, 'garbage\n');
  t.equal((await openIndex(dir)).rebuilt, 'damaged');
  await sameAsDirectory(t, dir, 'garbage');
});

t.test('checked against the directory: zips added or removed by hand, a removal a crash interrupted', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  await openIndex(dir);
  // Removed by hand, and a window copied in.
  unlinkSync(path.join(dir, files[0]));
  await makeWindow(dir, 'flowinfo', T0 + 500 * MINUTE);
  // A crash after the removal was written and before the file went.
  appendFileSync(path.join(dir, INDEX_FILE), `d\t20260110\t${files[4]}\tmax_age\t${Date.now()}\n`);
  t.ok(existsSync(path.join(dir, files[4])));
  const check = await openIndex(dir);
  t.match(check, { gone: 1, added: 1, completed: 1 });
  t.notOk(existsSync(path.join(dir, files[4])), 'the interrupted removal was completed');
  const cats = await readCatalog(dir);
  const all = cats.flatMap((c) => c.windows.map((w) => w.file));
  t.notOk(all.includes(files[0]));
  t.notOk(all.includes(files[4]));
  t.equal(all.length, 59);
  t.same(view(cats), view(await readCatalog(dir, { useIndex: false })));
});

t.test('an index naming files that are not window zips (edited, planted) is damaged: nothing but zips is ever removed', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  await openIndex(dir);
  writeFileSync(path.join(dir, 'notes.txt'), 'the operator keeps notes here');
  writeFileSync(path.join(dir, 'recorder.yaml'), 'output: {dir: .}');
  // A removal "interrupted by a crash", and a zip line for a file that is no window.
  appendFileSync(path.join(dir, INDEX_FILE), `d\t20260110\tnotes.txt\tmax_age\nz\t20260110\trecorder.yaml\t1\t1\t1\t1\t1\t1\t-\n`);
  t.equal(await readArchiveIndex(dir), undefined, 'the readers do not trust it');
  const check = await openIndex(dir);
  t.equal(check.rebuilt, 'damaged');
  t.ok(existsSync(path.join(dir, 'notes.txt')), 'notes.txt is still there');
  const index = new ArchiveIndex(dir, note);
  await index.ready;
  t.teardown(() => index.close());
  t.same([...index.zips.keys()].sort(), [...files].sort(), 'only the zips are in the rebuilt index');
});

t.test('a zip retention removed and the operator restored later (from where on_window shipped it) is kept and indexed again', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  const index = new ArchiveIndex(dir, note);
  await index.ready;
  const zip = path.join(dir, files[0]);
  const bytes = readFileSync(zip);
  await index.remove(files[0], 'max_age');
  index.close();
  t.notOk(existsSync(zip));
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(zip, bytes); // restored, byte for byte
  t.same((await nsrIndexCheck(dir)).unremoved, [], 'nsr index does not call it an interrupted removal');
  const check = await openIndex(dir);
  t.match(check, { completed: 0, added: 1 });
  t.ok(existsSync(zip), 'the restored zip is still there');
  t.ok((await readArchiveIndex(dir))?.state.zips.has(files[0]), 'and in the index');
});

t.test('before the next start, the readers see zips removed or copied in by hand, and no stream that is not there', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  await openIndex(dir);
  unlinkSync(path.join(dir, files[0]));
  unlinkSync(path.join(dir, files[45])); // flowinfo, window 15 (00:30 the next day)
  const copied = await makeWindow(dir, 'flowinfo', T0 + 500 * MINUTE);
  const legacy = await makeWindow(dir, 'oldstream', T0 + 30 * MINUTE);
  writeFileSync(path.join(dir, '2026_01_11_05-00-00_flowinfo.json'), `{"timestamp":${T0 + 420 * MINUTE},"v":1}\n`);
  const whole = view(await readCatalog(dir));
  t.same(whole, view(await readCatalog(dir, { useIndex: false })), 'a whole read');
  t.ok(whole.flatMap((c) => c.windows.map((w) => w.file)).includes(copied), 'with the zip copied in');
  t.ok(whole.some((c) => c.stream === 'oldstream'), 'and its stream');
  t.notOk(whole.flatMap((c) => c.windows.map((w) => w.file)).includes(files[0]), 'without the zip removed');
  const from = T0 + 150 * MINUTE;
  const range = { from, to: from + 10 * MINUTE };
  t.same(view(await readCatalog(dir, { streams: ['flowinfo'], range })), view(await readCatalog(dir, { streams: ['flowinfo'], range, useIndex: false })).map((c) => ({ ...c, windows: c.windows.filter((w) => w.last >= from && w.first < range.to) })), 'a range read: not the zip removed');
  for (const useIndex of [true, false]) t.same(await readCatalog(dir, { streams: ['nosuch'], useIndex }), [], `a stream that is not there (${useIndex ? 'index' : 'directory'})`);
  void legacy;
});

t.test('an index that is a named pipe, a symlink or far too large is not read: the readers read the directory, the recorder rebuilds it', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  await openIndex(dir);
  const file = path.join(dir, INDEX_FILE);
  const from = T0 + 150 * MINUTE + 2000;
  const range = { from, to: from + MINUTE };
  const inRange = (cats: StreamCatalog[]) => view(cats.map((c) => ({ ...c, windows: c.windows.filter((w) => w.last >= range.from && w.first < range.to) })));
  const expected = inRange(await readCatalog(dir, { streams: ['flowinfo'], range }));
  t.equal(expected[0].windows.length, 1);
  const withTimeout = <T>(p: Promise<T>, what: string) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: hangs`)), 5000).unref())]);
  const same = async (what: string) => {
    t.same(view(await withTimeout(readCatalog(dir), what)), view(await readCatalog(dir, { useIndex: false })), `${what}: a whole read`);
    t.same(inRange(await withTimeout(readCatalog(dir, { streams: ['flowinfo'], range }), what)), expected, `${what}: a range read`);
    t.equal((await withTimeout(nsrIndexCheck(dir), what)).state, 'damaged', `${what}: nsr index says it is not sound`);
  };
  // Planted elsewhere: an index that leaves out the window of the range.
  const planted = path.join(dir, '..', `planted-${path.basename(dir)}`);
  writeFileSync(planted, readFileSync(file, 'latin1').split('\n').filter((l) => !l.includes('00-30-00_flowinfo')).join('\n'), 'latin1');
  t.teardown(() => rmSync(planted, { force: true }));
  rmSync(file);
  symlinkSync(planted, file);
  await same('a symlink');
  rmSync(file);
  execFileSync('mkfifo', [file]);
  await same('a named pipe');
  rmSync(file);
  // The header, then hundreds of MB of nothing (sparse: costs no disk).
  writeFileSync(file, INDEX_HEADER);
  truncateSync(file, 300 * 1024 * 1024);
  await same('300 MB');
  t.equal((await openIndex(dir)).rebuilt, 'damaged', 'the recorder rebuilds it');
  t.same(inRange(await readCatalog(dir, { streams: ['flowinfo'], range })), expected);
});

t.test('a rebuild keeps the windows still waiting for their on_window hook pending (a damaged index, nsr index --rebuild)', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  const pendingOf = async () => [...((await readArchiveIndex(dir))?.state.zips.values() ?? [])].filter((z) => z.flags.includes(HOOK_PENDING)).map((z) => z.file);
  const index = new ArchiveIndex(dir, note);
  await index.ready;
  for (const f of [files[3], files[7]]) index.zipped({ ...index.zips.get(f)!, flags: HOOK_PENDING });
  index.hookDone(files[7]);
  index.close();
  t.same(await pendingOf(), [files[3]]);
  appendFileSync(path.join(dir, INDEX_FILE), 'garbage\n');
  t.equal((await openIndex(dir)).rebuilt, 'damaged');
  t.same(await pendingOf(), [files[3]], 'damaged, rebuilt: still pending');
  const r = await nsrAsync(dir, ['index', '--rebuild', dir]);
  t.equal(r.code, 0, r.stderr);
  t.same(await pendingOf(), [files[3]], 'nsr index --rebuild: still pending');
  // Deleted while a recorder writes it: rebuilt at its next fact, from the zips and what it knows.
  events.length = 0;
  const running = new ArchiveIndex(dir, note);
  await running.ready;
  rmSync(path.join(dir, INDEX_FILE));
  running.hookDone(files[9]);
  await waitFor(() => events.find((e) => e.event === 'index_rebuilt'));
  running.close();
  t.same(await pendingOf(), [files[3]], 'rebuilt while recording: still pending');
});

t.test('a range read parses only the days it touches and finds the same windows', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  await openIndex(dir);
  // The archive crosses midnight UTC: windows at 22:00 … 01:10.
  const from = T0 + 150 * MINUTE + 2000; // 00:30:02 next day, among the records of window 15
  const to = from + MINUTE;
  const read = await readArchiveIndex(dir, { from, to }, ['flowinfo', 'nosuch']);
  t.ok(read, 'read');
  t.ok(read!.state.zips.size < 60, `only the lines of the days searched (${read!.state.zips.size} of 60)`);
  t.same([...read!.known], ['flowinfo'], 'a stream the index names is known; one it does not, not');
  const [cat] = await readCatalog(dir, { streams: ['flowinfo'], range: { from, to } });
  const [dirCat] = await readCatalog(dir, { streams: ['flowinfo'], range: { from, to }, useIndex: false });
  const inRange = (c: StreamCatalog) => c.windows.filter((w) => w.records > 0 && w.last >= from && w.first < to).map((w) => w.file);
  t.same(inRange(cat), inRange(dirCat));
  t.equal(inRange(cat).length, 1);
  // Nothing of the stream in the range: it still exists (empty), as the directory read says.
  const [empty] = await readCatalog(dir, { streams: ['graphinfo'], range: { from: T0 + 5000 * MINUTE, to: T0 + 5001 * MINUTE } });
  t.same(empty, { stream: 'graphinfo', windows: [] });
});

t.test('a window longer than a day is found by a range read after a start whose first window was shorter', async (t) => {
  const dir = tempDir(t);
  const HOUR = 60 * MINUTE;
  // Records every 10 h for 40 h: a range read near its end must search the day of its first record.
  const long = await makeWindow(dir, 'flowinfo', T0, 5, 0, 10 * HOUR);
  await openIndex(dir);
  // The next start opens a 5-minute window before its check is done: its span line waits and follows the file's.
  const index = new ArchiveIndex(dir, note);
  index.opened('2026_01_20_00-00-00_flowinfo.json', T0 + 200 * HOUR, 5 * MINUTE);
  await index.ready;
  index.close();
  for (const from of [T0 + 39 * HOUR, T0 + 26 * HOUR]) {
    const range = { from, to: from + MINUTE };
    const files = async (useIndex: boolean) => (await readCatalog(dir, { streams: ['flowinfo'], range, useIndex })).flatMap((c) => c.windows.map((w) => w.file));
    t.ok((await files(false)).includes(long), 'the directory read finds it');
    t.ok((await files(true)).includes(long), 'so does the index');
  }
  // One copied in while no recorder ran, added by the next start's check: its span counts too.
  const copied = await makeWindow(dir, 'graphinfo', T0 + 100 * HOUR, 4, 0, 30 * HOUR);
  t.equal((await openIndex(dir)).added, 1);
  const late = { from: T0 + 189 * HOUR, to: T0 + 191 * HOUR };
  t.same((await readCatalog(dir, { streams: ['graphinfo'], range: late }))[0].windows.map((w) => w.file), [copied], 'a window the check added');
  // A torn last span line (an append in progress) does not hide the longer span before it.
  appendFileSync(path.join(dir, INDEX_FILE), 'w\t6000');
  t.ok((await readCatalog(dir, { streams: ['flowinfo'], range: { from: T0 + 39 * HOUR, to: T0 + 40 * HOUR } }))[0].windows.some((w) => w.file === long), 'a torn span line');
});

t.test('deleted while the recorder writes it: rebuilt at the next fact', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  events.length = 0;
  const index = new ArchiveIndex(dir, note);
  await index.ready;
  rmSync(path.join(dir, INDEX_FILE));
  const file = await makeWindow(dir, 'flowinfo', T0 + 900 * MINUTE);
  index.zipped({ file, start: T0 + 900 * MINUTE, records: 5, first: T0 + 900 * MINUTE, last: T0 + 900 * MINUTE + 4000, bytes: 100, zipBytes: 200, flags: '' });
  await t.resolveMatch(waitFor(() => events.find((e) => e.event === 'index_rebuilt')), { fields: { rebuilt: 'missing' } });
  index.close();
  t.equal((await readCatalog(dir)).flatMap((c) => c.windows).length, 61, 'every zip, the new one too');
  t.ok((await readArchiveIndex(dir))?.state.zips.has(file));
});

async function waitFor<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
