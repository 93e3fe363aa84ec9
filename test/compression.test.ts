// The compression pool and crash recovery: atomic zips with metadata, retried after a worker dies.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CompressionPool } from '../src/compress/compression-pool.js';
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

t.test('a window becomes a zip with one entry, its metadata, and no .json left', async (t) => {
  const dir = tempDir(t);
  const base = '2026_02_10_14-00-00_flowinfo';
  const json = windowFile(dir, base, 50);
  const original = readFileSync(json);
  const pool = new CompressionPool({ workers: 1 });
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
