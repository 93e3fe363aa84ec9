// The compression pool and crash recovery: atomic zips with metadata, retried after a worker dies.
import t from 'tap';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CompressionPool, GZIP_BYTES_PER_MS, GZIP_MAX_BYTES, gzipKeepsUp } from '../src/compress/compression-pool.js';
import { headerLength } from '../src/compress/gzip-deflater.js';
import { gzipProgram } from '../src/compress/gzip-program.js';
import { encodeZipComment } from '../src/compress/zip-meta.js';
import { recoverDirectory } from '../src/compress/recovery.js';
import { readZipEntries, readZipInfo } from '../src/archive/zip-reader.js';
import { readArchives, tempDir } from './helpers.js';

function windowFile(dir: string, base: string, records: number, start = 1_770_703_392_000): string {
  const lines = Array.from({ length: records }, (_, i) => `{"timestamp":${start + i * 1000},"flowinfo":[{"dpid":14721744659231801344,"u":0.0,"i":${i}}]}\n`);
  const file = path.join(dir, `${base}.json`);
  writeFileSync(file, lines.join(''));
  return file;
}

const job = (dir: string, base: string, meta: { records: number; first: number; last: number; bytes: number }) => ({
  jsonPath: path.join(dir, `${base}.json`),
  zipPath: path.join(dir, `${base}_json.zip`),
  entryName: `${base}.json`,
  level: 4,
  comment: encodeZipComment({ stream: 'flowinfo', ...meta }),
  mtime: meta.last,
});

const GZIP = gzipProgram('gzip');
if (!GZIP && process.env.CI) throw new Error('gzip is not on PATH: the compression tests need it in CI');

/** A gzip stand-in: `body` runs in sh with GZIP set; "$@" are gzip's arguments. */
function fakeGzip(dir: string, body: string): string {
  const file = path.join(dir, 'fake-gzip.sh');
  writeFileSync(file, `#!/bin/sh\nGZIP_PROGRAM=${GZIP}\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

for (const engine of ['node', 'gzip'] as const) t.test(`${engine}: a window becomes a zip with one entry, its metadata, and no .json left`, { skip: engine === 'gzip' && !GZIP && 'no gzip on PATH' }, async (t) => {
  const dir = tempDir(t);
  const base = '2026_02_10_14-00-00_flowinfo';
  const json = windowFile(dir, base, 50);
  const original = readFileSync(json);
  const pool = new CompressionPool({ workers: 1, gzip: engine === 'gzip' ? GZIP : undefined });
  t.teardown(() => pool.close());
  const outcome = await pool.submit(job(dir, base, { records: 50, first: 1, last: 2, bytes: original.length }));
  t.match(outcome, { ok: true, attempts: 1, bytesIn: original.length });
  t.same(readdirSync(dir), [`${base}_json.zip`]);
  const chunks: Buffer[] = [];
  const info = await readZipEntries(path.join(dir, `${base}_json.zip`), (_e, c) => chunks.push(c));
  t.same(info.entries.map((e) => e.name), [`${base}.json`]);
  t.ok(Buffer.concat(chunks).equals(original), 'bytes come back exactly (uint64 and 0.0 included)');
  t.same(info.meta, { nsr: 1, stream: 'flowinfo', records: 50, first: 1, last: 2, bytes: original.length });
  // Info-ZIP agrees: CRC checks pass and it is plain deflate.
  t.match(execFileSync('unzip', ['-t', path.join(dir, `${base}_json.zip`)], { encoding: 'utf8' }), /No errors detected/);
  t.match(execFileSync('unzip', ['-v', path.join(dir, `${base}_json.zip`)], { encoding: 'utf8' }), /Defl:N/);
  // and so does Python's zipfile, which the original recorder's users reach for
  const py = 'import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; i=z.infolist()[0]; print(json.dumps([i.filename, i.file_size, i.compress_type, z.comment.decode()]))';
  t.same(JSON.parse(execFileSync('python3', ['-c', py, path.join(dir, `${base}_json.zip`)], { encoding: 'utf8' })), [`${base}.json`, original.length, 8, encodeZipComment({ stream: 'flowinfo', records: 50, first: 1, last: 2, bytes: original.length })]);
});

t.test('a worker killed mid-job is replaced and the job retried', async (t) => {
  const dir = tempDir(t);
  const base = '2026_02_10_14-05-00_flowinfo';
  windowFile(dir, base, 200_000); // ~17 MB: long enough to kill the worker during the job
  const deaths: unknown[] = [];
  const pool = new CompressionPool({ workers: 1, onWorkerExit: (info) => deaths.push(info) });
  t.teardown(() => pool.close());
  const pending = pool.submit(job(dir, base, { records: 200_000, first: 1, last: 2, bytes: 1 }));
  await new Promise((r) => setTimeout(r, 150));
  const [pid] = pool.pids();
  process.kill(pid, 'SIGKILL');
  const outcome = await pending;
  t.equal(deaths.length, 1, 'the death was reported');
  t.match(outcome, { ok: true, attempts: 2 });
  t.same(readdirSync(dir), [`${base}_json.zip`], 'the retry finished the zip and removed the .json and the temporary');
  const info = await readZipInfo(path.join(dir, `${base}_json.zip`));
  t.equal(info.entries[0].name, `${base}.json`);
});

t.test('gzip: a gzip killed mid-job is reported and the job retried', { skip: !GZIP && 'no gzip on PATH' }, async (t) => {
  const dir = tempDir(t);
  const base = '2026_02_10_14-05-00_flowinfo';
  const json = windowFile(dir, base, 2_000);
  const original = readFileSync(json);
  // The first run hangs (and is killed below); the retry is a real gzip.
  const mark = path.join(dir, 'ran-once');
  const program = fakeGzip(dir, `if [ ! -e ${mark} ]; then : > ${mark}; exec sleep 30; fi\nexec "$GZIP_PROGRAM" "$@"`);
  const deaths: { signal?: string | null }[] = [];
  const pool = new CompressionPool({ workers: 1, gzip: program, onWorkerExit: (info) => deaths.push(info) });
  t.teardown(() => pool.close());
  const pending = pool.submit(job(dir, base, { records: 2_000, first: 1, last: 2, bytes: original.length }));
  for (let i = 0; i < 200 && !(existsSync(mark) && pool.pids().length); i++) await new Promise((r) => setTimeout(r, 25));
  process.kill(pool.pids()[0], 'SIGKILL');
  const outcome = await pending;
  t.match(deaths, [{ signal: 'SIGKILL' }], 'the death was reported');
  t.match(outcome, { ok: true, attempts: 2, bytesIn: original.length });
  t.same(readdirSync(dir).filter((f) => f.startsWith('2026')), [`${base}_json.zip`], 'the retry finished the zip and removed the .json and the temporary');
  const chunks: Buffer[] = [];
  await readZipEntries(path.join(dir, `${base}_json.zip`), (_e, c) => chunks.push(c));
  t.ok(Buffer.concat(chunks).equals(original));
});

t.test('gzip: output that is not one gzip member fails the job and the .json stays', { skip: !GZIP && 'no gzip on PATH' }, async (t) => {
  const dir = tempDir(t);
  const base = '2026_02_10_14-10-00_flowinfo';
  windowFile(dir, base, 100);
  // a second, empty member after the first: its trailer holds the wrong length
  const program = fakeGzip(dir, `"$GZIP_PROGRAM" "$@" && printf '' | "$GZIP_PROGRAM" "$@"`);
  const pool = new CompressionPool({ workers: 1, maxAttempts: 2, gzip: program });
  t.teardown(() => pool.close());
  const outcome = await pool.submit(job(dir, base, { records: 100, first: 1, last: 2, bytes: 1 }));
  t.match(outcome, { ok: false, attempts: 2, error: /compressed 0 bytes of a \d+-byte file/ });
  t.same(readdirSync(dir).filter((f) => f.startsWith('2026')), [`${base}.json`], 'no zip and no temporary; the window file is kept');
});

t.test('gzip: a program that cannot be run sends the jobs to the Node worker', async (t) => {
  const dir = tempDir(t);
  const base = '2026_02_10_14-15-00_flowinfo';
  const original = readFileSync(windowFile(dir, base, 100));
  const unavailable: string[] = [];
  const pool = new CompressionPool({ workers: 1, gzip: path.join(dir, 'no-such-gzip'), onGzipUnavailable: (e) => unavailable.push(e) });
  t.teardown(() => pool.close());
  const first = await pool.submit(job(dir, base, { records: 100, first: 1, last: 2, bytes: original.length }));
  t.match(first, { ok: true, attempts: 1, bytesIn: original.length }, 'the attempt that could not start is not counted');
  t.match(unavailable, [/cannot run .*no-such-gzip: ENOENT/]);
  t.same(readdirSync(dir), [`${base}_json.zip`]);
});

t.test('gzip: at the first boundary (no pace yet), windows adding up to GZIP_MAX_BYTES go to a Node worker, and a small one after them to that same worker', async (t) => {
  const dir = tempDir(t);
  // a gzip that always fails: any job it gets would fail
  const program = fakeGzip(dir, 'exit 3');
  // a clock that stands still: the boundary comes 0 ms after the pool began, so only GZIP_MAX_BYTES counts
  let clock = 0;
  const pool = new CompressionPool({ workers: 1, maxAttempts: 1, gzip: program, now: () => clock });
  t.teardown(() => pool.close());
  const large = readFileSync(windowFile(dir, 'large_flowinfo', 100));
  const small = readFileSync(windowFile(dir, 'small_flowinfo', 10));
  const first = await pool.submit({ ...job(dir, 'large_flowinfo', { records: 100, first: 1, last: 2, bytes: large.length }), bytes: GZIP_MAX_BYTES });
  t.match(first, { ok: true, bytesIn: large.length }, 'the window said to be large was zipped by a Node worker');
  const second = await pool.submit({ ...job(dir, 'small_flowinfo', { records: 10, first: 1, last: 2, bytes: small.length }), bytes: small.length });
  t.match(second, { ok: true, bytesIn: small.length }, 'the worker still alive took the small one');
  t.equal(pool.pids().length, 1, 'one Node worker, still waiting out its idle time');
  await new Promise((r) => setTimeout(r, 700));
  clock = 60_000; // the next boundary, a minute on: gzip keeps up with 24 MiB a minute
  const later = readFileSync(windowFile(dir, 'later_flowinfo', 10));
  const third = await pool.submit({ ...job(dir, 'later_flowinfo', { records: 10, first: 1, last: 2, bytes: later.length }), bytes: later.length });
  t.match(third, { ok: false, error: /exited with code 3/ }, 'once the worker left, a small window goes to gzip again');
  t.ok(existsSync(path.join(dir, 'later_flowinfo.json')), 'and its .json stays');
});

t.test('gzip: windows of one boundary are weighed together: a small one closing first rides with a large one to the Node worker', async (t) => {
  const dir = tempDir(t);
  const pool = new CompressionPool({ workers: 1, maxAttempts: 1, gzip: fakeGzip(dir, 'exit 3'), now: () => 0 });
  t.teardown(() => pool.close());
  const flow = readFileSync(windowFile(dir, 'b_flowinfo', 10));
  const graph = readFileSync(windowFile(dir, 'b_graphinfo', 10));
  // submitted in that order, as a boundary closes them: the small one alone would go to gzip (and fail here)
  const outcomes = await Promise.all([
    pool.submit({ ...job(dir, 'b_flowinfo', { records: 10, first: 1, last: 2, bytes: flow.length }), bytes: GZIP_MAX_BYTES / 3 }),
    pool.submit({ ...job(dir, 'b_graphinfo', { records: 10, first: 1, last: 2, bytes: graph.length }), bytes: GZIP_MAX_BYTES }),
  ]);
  t.match(outcomes, [{ ok: true, bytesIn: flow.length }, { ok: true, bytesIn: graph.length }]);
});

t.test('gzip: past GZIP_MAX_BYTES, gzip still takes a boundary it deflates in half the time since the one before; a Node worker one it cannot', { skip: !GZIP && 'no gzip on PATH' }, async (t) => {
  const dir = tempDir(t);
  // a gzip that notes each run in a log
  const runs = path.join(dir, 'runs.log');
  const program = fakeGzip(dir, `echo run >> ${runs}\nexec "$GZIP_PROGRAM" "$@"`);
  let clock = 0;
  const pool = new CompressionPool({ workers: 1, maxAttempts: 1, gzip: program, now: () => clock });
  t.teardown(() => pool.close());
  const gzipRuns = () => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').length - 1 : 0);
  const boundary = (name: string) => {
    const flow = readFileSync(windowFile(dir, `${name}_flowinfo`, 10));
    const graph = readFileSync(windowFile(dir, `${name}_graphinfo`, 10));
    // as at the harness's `fast` scenario: ~52 MB a boundary, past GZIP_MAX_BYTES
    return Promise.all([
      pool.submit({ ...job(dir, `${name}_flowinfo`, { records: 10, first: 1, last: 2, bytes: flow.length }), bytes: 6e6 }),
      pool.submit({ ...job(dir, `${name}_graphinfo`, { records: 10, first: 1, last: 2, bytes: graph.length }), bytes: 46e6 }),
    ]);
  };
  clock = 15_000; // 15-s windows: 52 MB takes gzip ~0.8 s
  t.match(await boundary('a'), [{ ok: true }, { ok: true }]);
  t.equal(gzipRuns(), 2, 'both windows went to gzip');
  clock = 16_500; // the next boundary 1.5 s later: 52 MB is more than gzip does in 0.75 s
  t.match(await boundary('b'), [{ ok: true }, { ok: true }]);
  t.equal(gzipRuns(), 2, 'a Node worker took both');
  t.same(readdirSync(dir).filter((f) => f.endsWith('.zip')).sort(), ['a_flowinfo_json.zip', 'a_graphinfo_json.zip', 'b_flowinfo_json.zip', 'b_graphinfo_json.zip']);
  await new Promise((r) => setTimeout(r, 700)); // the Node worker leaves
  clock = 18_000; // 1.5 s later again: a small window first, the boundary before it weighs
  const c = readFileSync(windowFile(dir, 'c_flowinfo', 10));
  t.match(await pool.submit({ ...job(dir, 'c_flowinfo', { records: 10, first: 1, last: 2, bytes: c.length }), bytes: 1e6 }), { ok: true });
  t.equal(gzipRuns(), 2, 'a Node worker took it: 52 MB came at the boundary before');
});

t.test('gzip: a boundary whose windows close past BATCH_MS is weighed by what it brought so far', { skip: !GZIP && 'no gzip on PATH' }, async (t) => {
  const dir = tempDir(t);
  const runs = path.join(dir, 'runs.log');
  let clock = 0;
  const pool = new CompressionPool({ workers: 1, maxAttempts: 1, gzip: fakeGzip(dir, `echo run >> ${runs}\nexec "$GZIP_PROGRAM" "$@"`), now: () => clock });
  t.teardown(() => pool.close());
  const gzipRuns = () => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').length - 1 : 0);
  const flow = readFileSync(windowFile(dir, 'flowinfo', 10));
  const graph = readFileSync(windowFile(dir, 'graphinfo', 10));
  clock = 1_500; // gzip does 48 MB in half of 1.5 s
  t.match(await pool.submit({ ...job(dir, 'flowinfo', { records: 10, first: 1, last: 2, bytes: flow.length }), bytes: 30e6 }), { ok: true });
  t.equal(gzipRuns(), 1, 'alone, 30 MB went to gzip');
  clock = 1_600; // the same boundary: 30 + 30 MB is past 48
  t.match(await pool.submit({ ...job(dir, 'graphinfo', { records: 10, first: 1, last: 2, bytes: graph.length }), bytes: 30e6 }), { ok: true });
  t.equal(gzipRuns(), 1, 'a Node worker took the second');
});

t.test('gzip: the rule by numbers', (t) => {
  t.ok(gzipKeepsUp(GZIP_MAX_BYTES - 1, 0, 1), 'under GZIP_MAX_BYTES gzip, whatever the pace');
  t.notOk(gzipKeepsUp(GZIP_MAX_BYTES, 0, 1));
  t.ok(gzipKeepsUp(52e6, 15_000, 1), 'fast: 52 MB every 15 s');
  t.notOk(gzipKeepsUp(320e6, 5_000, 1), 'the throughput bench: 320 MB every 5 s, one child');
  t.ok(gzipKeepsUp(320e6, 5_000, 3), 'three children keep up (~1.7 s each)');
  t.notOk(gzipKeepsUp(GZIP_BYTES_PER_MS * 1000, 2_000, 1), 'a boundary of what gzip does in 1 s needs more than 2 s between boundaries');
  t.end();
});

t.test('gzip: the program is looked up on PATH, node means none', (t) => {
  t.equal(gzipProgram('node'), undefined);
  t.equal(gzipProgram('/opt/x/gzip'), '/opt/x/gzip');
  t.equal(gzipProgram('gzip', ''), undefined);
  t.equal(gzipProgram('gzip', `relative:${path.dirname(GZIP ?? '/usr/bin/gzip')}`), GZIP);
  t.end();
});

t.test('gzip: header lengths with a name, extra field, comment and header CRC', (t) => {
  const base = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
  t.equal(headerLength(Buffer.from(base)), 10);
  t.equal(headerLength(Buffer.from(base.slice(0, 9))), undefined, 'not all there yet');
  const full = Buffer.from([0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 2, 0, 0xaa, 0xbb, ...Buffer.from('name\0'), ...Buffer.from('comment\0'), 1, 2, 9]);
  t.equal(headerLength(full), full.length - 1);
  t.equal(headerLength(full.subarray(0, 17)), undefined, 'the name is not ended yet');
  t.throws(() => headerLength(Buffer.from('PK\x03\x04 not gzip')), /no gzip deflate header/);
  t.end();
});

t.test('a job that keeps failing leaves its .json in place', async (t) => {
  const dir = tempDir(t);
  const pool = new CompressionPool({ workers: 1, maxAttempts: 2 });
  t.teardown(() => pool.close());
  const outcome = await pool.submit(job(dir, 'missing_flowinfo', { records: 0, first: 0, last: 0, bytes: 0 }));
  t.match(outcome, { ok: false, attempts: 2, error: /ENOENT/ });
});

t.test('recovery: temporaries removed, torn lines cut, duplicates checked, leftovers returned', async (t) => {
  const dir = tempDir(t);
  // a window whose last line was torn by a crash
  const torn = windowFile(dir, '2026_02_10_14-00-00_flowinfo', 3);
  writeFileSync(torn, readFileSync(torn, 'utf8') + '{"timestamp":1770703395000,"flowinfo":[{"dpi');
  // a temporary zip left by a crash during compression
  writeFileSync(path.join(dir, '2026_02_10_14-00-00_graphinfo_json.zip.tmp'), 'partial');
  // a crash after the rename, before the unlink: the zip is complete, the .json is a duplicate
  const dupBase = '2026_02_10_13-55-00_flowinfo';
  const dup = windowFile(dir, dupBase, 4);
  const dupBytes = readFileSync(dup);
  const pool = new CompressionPool({ workers: 1 });
  t.teardown(() => pool.close());
  writeFileSync(path.join(dir, 'copy.json'), dupBytes); // compress a copy, then put the .json back
  await pool.submit({ ...job(dir, dupBase, { records: 4, first: 0, last: 0, bytes: dupBytes.length }), jsonPath: path.join(dir, 'copy.json') });
  t.ok(existsSync(dup));
  // a .json beside a zip with different content: both are kept
  const clashBase = '2026_02_10_13-50-00_flowinfo';
  windowFile(dir, clashBase, 2);
  await pool.submit(job(dir, clashBase, { records: 2, first: 0, last: 0, bytes: 0 }));
  windowFile(dir, clashBase, 5, 1_770_703_000_000);
  // files that are not nsr's are left alone
  writeFileSync(path.join(dir, 'notes.txt'), 'mine');

  const { actions, windows } = await recoverDirectory(dir);
  t.same(actions.map((a) => a.action).sort(), ['cut_torn_line', 'removed_duplicate_json', 'removed_temporary', 'renamed_conflicting_json']);
  t.match(actions.find((a) => a.action === 'cut_torn_line'), { file: '2026_02_10_14-00-00_flowinfo.json', bytes: 44 });
  t.same(windows.map((w) => [w.base, w.records, w.first, w.last]).sort(), [
    ['2026_02_10_13-50-01_flowinfo', 5, 1_770_703_000_000, 1_770_703_004_000],
    ['2026_02_10_14-00-00_flowinfo', 3, 1_770_703_392_000, 1_770_703_394_000],
  ]);
  t.ok(readFileSync(torn, 'utf8').endsWith('"i":2}]}\n'), 'the torn line is cut at the last complete record');
  t.notOk(existsSync(dup), 'the duplicate .json is removed');
  t.ok(existsSync(path.join(dir, 'notes.txt')));
  for (const w of windows) await pool.submit(job(dir, w.base, w));
  const archived = await readArchives(dir, 'flowinfo');
  t.same(archived.map((a) => a.lines.length), [2, 5, 4, 3], 'every complete record is archived, nothing overwritten');
});
