/**
 * `nsr ls` reads the archive index into columns (index-rows.ts) and, when the
 * index is sealed, does not list the directory: what it shows must be what
 * the directory holds, exactly as the catalog (which opens every zip when told
 * not to use the index) shows it, through removals by hand and by retention,
 * zips copied in, open windows, lines out of order and repeated, and seals
 * made void by a change.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { readCatalog, type StreamCatalog } from '../src/archive/catalog.js';
import { encodeLine, INDEX_FILE, parseIndex } from '../src/archive/index/index-format.js';
import { indexRows } from '../src/archive/index/index-rows.js';
import { SEAL_FILE, sealHolds, sealIndex } from '../src/archive/index/index-seal.js';
import { ArchiveIndex } from '../src/archive/index/index-writer.js';
import { rowsOf, summarize, type StreamSummary } from '../src/archive/summary.js';
import { LOCK_FILE } from '../src/pipeline/lock-file.js';
import { formatWindowTime } from '../src/sinks/window-naming.js';
import { nsrAsync, simulatorWithConfig, sleep, startNsr, tempDir, untilRecording } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 10, 22, 0, 0);
const note = () => {};

/** 3 streams × 20 windows 10 minutes apart of 5 records a second (gaps between them); one graphinfo window of 2 records 4 s apart (a gap inside). */
async function archive(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < 20; i++) for (const s of ['flowinfo', 'graphinfo', 'events']) files.push(await makeWindow(dir, s, T0 + i * 10 * MINUTE, ...(s === 'graphinfo' && i === 7 ? [2, 0, 4000] : [5])));
  return files;
}

async function openIndex(dir: string): Promise<ArchiveIndex> {
  const index = new ArchiveIndex(dir, note);
  await index.ready;
  return index;
}

const index = (dir: string) => readFileSync(path.join(dir, INDEX_FILE), 'latin1');
const append = (dir: string, text: string) => appendFileSync(path.join(dir, INDEX_FILE), text);

/** A catalog's summaries, as `nsr ls` makes them from a catalog read. */
const summaries = (cats: StreamCatalog[]) => cats.map((c) => summarize(rowsOf(c)));

/** The summaries `nsr ls` prints from the columns, and the directory's own truth (every zip opened). */
async function sameAsDirectory(t: Test, dir: string, what: string): Promise<StreamSummary[]> {
  const rows = await indexRows(dir);
  t.ok(rows, `${what}: read from the index`);
  const fromColumns = rows!.map(summarize);
  const fromZips = summaries(await readCatalog(dir, { useIndex: false }));
  const fromCatalog = summaries(await readCatalog(dir));
  t.same(fromColumns, fromZips, `${what}: the columns show what the zips hold`);
  t.same(fromCatalog, fromZips, `${what}: so does the catalog read from the index`);
  return fromColumns;
}

const windows = (s: StreamSummary[]) => Object.fromEntries(s.map((x) => [x.stream, x.windows]));

t.test('the columns show the directory: fresh, after removals by hand and by retention, zips copied in, open windows', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  (await openIndex(dir)).close();
  const fresh = await sameAsDirectory(t, dir, 'fresh');
  t.same(windows(fresh), { events: 20, flowinfo: 20, graphinfo: 20 });
  t.ok(fresh.find((s) => s.stream === 'flowinfo')!.gaps.length > 0, 'the gaps between windows are there to compare');
  t.ok(fresh.find((s) => s.stream === 'graphinfo')!.gaps.some((g) => g.inside), 'and a gap inside a window (named by its file)');

  // Retention removes through the index (`d` lines), a zip goes by hand, another is copied in.
  const idx = await openIndex(dir);
  await idx.remove(files[0], 'max_age');
  await idx.remove(files[4], 'max_bytes');
  idx.close();
  unlinkSync(path.join(dir, files[10]));
  const copied = await makeWindow(dir, 'graphinfo', T0 + 500 * MINUTE);
  const other = await makeWindow(dir, 'newstream', T0 + 30 * MINUTE);
  const after = await sameAsDirectory(t, dir, 'after removals and copies');
  t.same(windows(after), { events: 20, flowinfo: 19, graphinfo: 19, newstream: 1 }, `removed ${files[0]}, ${files[4]}, ${files[10]}; copied ${copied}, ${other}`);

  // An open window the index announced, one it did not, and a `.json` left beside its zip by a crash.
  const openBase = `${formatWindowTime(T0 + 600 * MINUTE)}_flowinfo`;
  append(dir, encodeLine({ op: 'o', day: '20260111', file: `${openBase}.json`, start: T0 + 600 * MINUTE }));
  writeFileSync(path.join(dir, `${openBase}.json`), `{"timestamp":${T0 + 600 * MINUTE},"v":1}\n{"timestamp":${T0 + 600 * MINUTE + 1000},"v":2}\n`);
  writeFileSync(path.join(dir, `${formatWindowTime(T0 + 610 * MINUTE)}_events.json`), `{"timestamp":${T0 + 610 * MINUTE},"event":"x"}\n`);
  writeFileSync(path.join(dir, files[20].replace('_json.zip', '.json')), 'not read: its zip is the window\n');
  const open = await sameAsDirectory(t, dir, 'with open windows');
  t.equal(open.find((s) => s.stream === 'flowinfo')!.openWindows, 1);
  t.equal(open.find((s) => s.stream === 'events')!.openWindows, 1);
});

t.test('lines out of time order, a zip written twice, a removal before a zip of the same name, a CSV sink\'s zips', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  (await openIndex(dir)).close();
  const lines = index(dir).split('\n');
  const zLine = (file: string) => lines.find((l) => l.includes(`\t${file}\t`))!;
  // An old window's line again at the end (a second index line for the same zip: the later one counts),
  // a removal of a zip that is then written again (restored), and a CSV sink's zip.
  append(dir, `${zLine(files[3])}\n`);
  append(dir, `d\t20260110\t${files[6]}\tmax_age\t${Date.now()}\n${zLine(files[6])}\n`);
  append(dir, `z\t20260110\t${formatWindowTime(T0)}_links_csv.zip\t${T0}\t3\t${T0}\t${T0 + 2000}\t99\t80\t-\n`);
  writeFileSync(path.join(dir, `${formatWindowTime(T0)}_links_csv.zip`), 'a CSV sink zip');
  const s = await sameAsDirectory(t, dir, 'repeated and restored lines');
  t.same(windows(s), { events: 20, flowinfo: 20, graphinfo: 20 });

  // One stream's windows listed newest first: the columns are put in time order, as the catalog is.
  const dir2 = tempDir(t);
  await archive(dir2);
  (await openIndex(dir2)).close();
  const [header, ...rest] = index(dir2).split('\n').filter(Boolean);
  const flow = rest.filter((l) => l.includes('_flowinfo_')).reverse();
  writeFileSync(path.join(dir2, INDEX_FILE), [header, ...rest.filter((l) => !l.includes('_flowinfo_')), ...flow, ''].join('\n'));
  await sameAsDirectory(t, dir2, 'a stream listed newest first');
});

t.test('an index that does not parse gives no columns: nsr ls reads the directory', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  (await openIndex(dir)).close();
  append(dir, 'z\t20260110\tnotes.txt\t1\t1\t1\t1\t1\t1\t-\n');
  t.equal(await indexRows(dir), undefined);
  const out = await nsrAsync(dir, ['ls', '--json', dir]);
  t.equal(out.code, 0, out.stderr);
  t.same(JSON.parse(out.stdout).streams, summaries(await readCatalog(dir, { useIndex: false })), 'the same summaries, from the zips');
});

const holds = (dir: string) => sealHolds(dir, readFileSync(path.join(dir, INDEX_FILE)));
const sealed = (dir: string) => existsSync(path.join(dir, SEAL_FILE));

t.test('a seal spares the listing only while the directory is as it was sealed', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  const idx = await openIndex(dir);
  t.equal(await idx.seal(), true, 'a clean stop seals the index');
  t.ok(await holds(dir), 'the seal holds');
  t.ok(parseIndex(index(dir)), 'the index itself is unchanged: any nsr reads it');
  await sameAsDirectory(t, dir, 'sealed');

  // A zip removed by hand changes the directory: the seal no longer holds, the removal shows.
  unlinkSync(path.join(dir, files[1]));
  t.notOk(await holds(dir), 'a removal voids the seal');
  t.same(windows(await sameAsDirectory(t, dir, 'a zip removed after the seal')), { events: 20, flowinfo: 20, graphinfo: 19 });

  // The next start removes the seal and writes the removal down; sealed again at its stop. A line appended to the
  // index after the seal voids it too.
  const again = await openIndex(dir);
  t.notOk(sealed(dir), 'a starting recorder removes the seal');
  t.equal(await again.seal(), true);
  t.ok(await holds(dir));
  append(dir, encodeLine({ op: 'w', span: 123 }));
  t.notOk(await holds(dir), 'a line after the seal voids it');

  // The directory does not match the index (a zip copied in before sealing): no seal is written.
  const idx3 = await openIndex(dir);
  idx3.close();
  await makeWindow(dir, 'flowinfo', T0 + 700 * MINUTE);
  const parsed = parseIndex(index(dir))!;
  t.equal(await sealIndex(dir, parsed.state, Buffer.byteLength(index(dir), 'latin1')), false, 'a zip the index does not list: not sealed');
  t.notOk(sealed(dir), 'and no seal file is left');
  // Nor when the index has a line the caller did not read (another writer), nor while a lock file is there.
  const fresh = await openIndex(dir);
  fresh.close();
  const state = parseIndex(index(dir))!.state;
  t.equal(await sealIndex(dir, state, Buffer.byteLength(index(dir), 'latin1') - 1), false, 'an index longer than the caller read: not sealed');
  writeFileSync(path.join(dir, LOCK_FILE), '999999 -\n');
  t.equal(await sealIndex(dir, state, Buffer.byteLength(index(dir), 'latin1')), false, 'a lock file (a recorder starting): not sealed');
  unlinkSync(path.join(dir, LOCK_FILE));
  t.equal(await sealIndex(dir, state, Buffer.byteLength(index(dir), 'latin1')), true, 'sealed once the lock is gone');
});

t.test('a directory touched, or copied with its times kept, is listed again', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  const idx = await openIndex(dir);
  t.equal(await idx.seal(), true);
  // Touching the directory (a new mtime, same names) voids it: the readers list it again, and see the same.
  utimesSync(dir, new Date(), new Date(Date.now() + 5000));
  t.notOk(await holds(dir), 'touched: void');
  await sameAsDirectory(t, dir, 'touched');

  // Copies that keep the times (cp -a, rsync -a) carry the seal file, but are other directories: one zip left out
  // of the copy, and the copy's time set back to the original's.
  const again = await openIndex(dir);
  t.equal(await again.seal(), true);
  const copy = path.join(tempDir(t), 'copy');
  execFileSync('cp', ['-a', dir, copy]);
  unlinkSync(path.join(copy, files[5]));
  execFileSync('touch', ['-r', dir, copy]);
  t.ok(sealed(copy), 'the copy has the seal file');
  t.notOk(await holds(copy), 'which does not hold there');
  t.same(windows(await sameAsDirectory(t, copy, 'a copy with a zip left out')), { events: 19, flowinfo: 20, graphinfo: 20 });
  t.ok(await holds(dir), 'the original is still sealed');
});

t.test('an index written over in place (a backup of the same length) voids the seal; a seal name held by a link to the index is not written through', async (t) => {
  const dir = tempDir(t);
  await archive(dir);
  const idx = await openIndex(dir);
  t.equal(await idx.seal(), true);
  const file = path.join(dir, INDEX_FILE);
  const bytes = readFileSync(file);
  writeFileSync(file, bytes); // the same bytes, the same length, through the same inode
  t.notOk(await holds(dir), 'the index was written since the seal: void');

  // `.nsr.seal` a hard link to the index: sealing replaces the name, it never truncates or writes the index.
  unlinkSync(path.join(dir, SEAL_FILE));
  execFileSync('ln', [file, path.join(dir, SEAL_FILE)]);
  const parsed = parseIndex(index(dir))!;
  t.equal(await sealIndex(dir, parsed.state, bytes.length), true);
  t.same(readFileSync(file), bytes, 'the index is untouched');
  t.ok(await holds(dir));
});

t.test('a window with records at timestamp 0 is placed as the catalog places it', async (t) => {
  const dir = tempDir(t);
  for (const m of [0, 20, 30]) await makeWindow(dir, 'a', T0 + m * MINUTE);
  (await openIndex(dir)).close();
  writeFileSync(path.join(dir, `${formatWindowTime(T0 + 10 * MINUTE)}_a.json`), '{"timestamp":0}\n{"timestamp":0}\n');
  await sameAsDirectory(t, dir, 'an open window of records at 0');
});

t.test('nsr index seals a matching index when no recorder runs there, nsr ls reads it', async (t) => {
  const dir = tempDir(t);
  const files = await archive(dir);
  (await openIndex(dir)).close();
  writeFileSync(path.join(dir, LOCK_FILE), '999999 -\n');
  t.equal((await nsrAsync(dir, ['index', dir])).code, 0);
  t.notOk(sealed(dir), 'not while a lock is there (a recorder would find its index changed)');
  unlinkSync(path.join(dir, LOCK_FILE));
  t.equal((await nsrAsync(dir, ['index', dir])).code, 0);
  t.ok(await holds(dir), 'sealed by nsr index');
  const sealedLs = await nsrAsync(dir, ['ls', '--json', dir]);
  t.same(JSON.parse(sealedLs.stdout).streams, summaries(await readCatalog(dir, { useIndex: false })), 'nsr ls of the sealed directory');
  unlinkSync(path.join(dir, files[2]));
  const afterLs = await nsrAsync(dir, ['ls', '--json', dir]);
  t.same(JSON.parse(afterLs.stdout).streams, summaries(await readCatalog(dir, { useIndex: false })), 'and after a zip was removed by hand');
  t.equal(JSON.parse(afterLs.stdout).streams.find((s: StreamSummary) => s.stream === 'events').windows, 19);
  t.equal((await nsrAsync(dir, ['index', '--rebuild', dir])).code, 0);
  t.ok(await holds(dir), 'nsr index --rebuild seals what it built');
});

t.test('a recorder that stops at SIGTERM seals its index; one killed does not; nsr ls shows the directory either way', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  await simulatorWithConfig(t, dir, (url) =>
    ['output: {dir: out, window: 1s}', 'shutdown: {grace: 1s}', 'streams:', `  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 200ms}`, ''].join('\n'),
  );
  const truth = async () => summaries(await readCatalog(out, { useIndex: false }));
  const lsJson = async () => {
    const r = await nsrAsync(dir, ['ls', '--json', 'out']);
    t.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).streams as StreamSummary[];
  };

  const first = startNsr(dir, ['run', '-c', 'r.yaml']);
  await untilRecording(out, 'graphinfo');
  await sleep(2500);
  process.kill(first.pid, 'SIGTERM');
  t.equal((await first.exit).code, 0, first.output().slice(-1500));
  t.ok(await holds(out), 'sealed at the clean stop');
  const listed = await lsJson();
  t.same(listed, await truth(), 'nsr ls of the sealed directory shows what the zips hold');
  t.ok(listed.find((s) => s.stream === 'graphinfo')!.windows >= 2, 'windows were recorded');

  // One zip removed by hand: the seal no longer holds, and nsr ls shows the zip gone.
  const zips = readdirSync(out).filter((f) => f.endsWith('_graphinfo_json.zip'));
  unlinkSync(path.join(out, zips[0]));
  t.same(await lsJson(), await truth(), 'after a zip was removed by hand');

  // Killed: nothing is sealed (the directory may hold what the index never heard of).
  const second = startNsr(dir, ['run', '-c', 'r.yaml']);
  await untilRecording(out, 'graphinfo');
  await sleep(1500);
  process.kill(second.pid, 'SIGKILL');
  await second.exit;
  t.notOk(sealed(out), 'no seal after SIGKILL (the start removed it)');
  t.same(await lsJson(), await truth(), 'nsr ls after the kill (an open window, zips of the second run)');
});
