#!/usr/bin/env node
// `nsr cat` and `nsr verify` on a window holding one very long record line
// (a few small records, then one of N MB): wall time and peak memory for each
// size, to show how their cost grows with the length of a line (it must grow
// linearly). GNU time measures each run (`/usr/bin/time -f '%e %M'`).
//
// Usage: npm run build && node bench/long-line.bench.mjs [--mb 16,32,64,128] [--nsr path/to/bin/nsr] [--keep DIR]
// --nsr runs another build (e.g. a checkout of an older commit) on the same archives.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompressionPool } from '../dist/compress/compression-pool.js';
import { encodeZipComment } from '../dist/compress/zip-meta.js';
import { jsonName, zipName } from '../dist/sinks/window-naming.js';
import { WindowWriter } from '../dist/sinks/window-writer.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const sizes = arg('--mb', '16,32,64,128').split(',').map(Number);
const nsr = path.resolve(arg('--nsr', fileURLToPath(new URL('../bin/nsr', import.meta.url))));
const root = arg('--keep', path.join(tmpdir(), 'nsr-long-line-bench'));
const T0 = Date.UTC(2026, 1, 10, 0, 0, 0);

/** One zipped window: 3 small records, one of `mb` MB (a JSON string of `a`s), one small record. */
async function generate(dir, mb) {
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).some((f) => f.endsWith('_json.zip'))) return;
  const pool = new CompressionPool({ workers: 1 });
  const writer = new WindowWriter({ dir, stream: 'big', windowMs: 300_000, maxBytes: 2 ** 40, fsync: 'close' });
  const small = (ts) => Buffer.from(`{"timestamp":${ts},"flowinfo":[1,2,3]}\n`);
  for (let i = 0; i < 3; i++) await writer.append(small(T0 + i), T0 + i);
  const head = Buffer.from(`{"timestamp":${T0 + 3},"flowinfo":"`);
  const tail = Buffer.from('"}\n');
  const big = Buffer.alloc(mb * 1e6, 0x61);
  head.copy(big);
  tail.copy(big, big.length - tail.length);
  await writer.append(big, T0 + 3);
  await writer.append(small(T0 + 4), T0 + 4);
  await writer.close();
  const jobs = writer.takeClosed().map((w) => pool.submit({ jsonPath: w.jsonPath, zipPath: path.join(dir, zipName(w.base)), entryName: jsonName(w.base), level: 4, comment: encodeZipComment(w), mtime: w.last }));
  await Promise.all(jobs);
  await pool.close();
}

/** Wall seconds and peak RSS (MB) of `nsr argv…`, its stdout counted, not kept. */
function measure(argv) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, nsr, ...argv], { encoding: 'latin1', maxBuffer: 2 ** 31 - 1 });
  const [secs, kb] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { seconds: secs, peak_mb: Math.round(kb / 1024), exit: r.status, out_bytes: r.stdout.length, note: r.status === 0 ? undefined : r.stderr.trim().split('\n').slice(-3, -1).join(' | ').slice(0, 200) };
}

const results = [];
for (const mb of sizes) {
  const dir = path.join(root, `${mb}mb`);
  await generate(dir, mb);
  const cat = measure(['cat', 'big', '-d', dir]);
  const verify = measure(['verify', dir]);
  results.push({ line_mb: mb, cat_s: cat.seconds, cat_peak_mb: cat.peak_mb, cat_exit: cat.exit, cat_out_mb: +(cat.out_bytes / 1e6).toFixed(1), verify_s: verify.seconds, verify_peak_mb: verify.peak_mb, verify_exit: verify.exit, ...(cat.note && { cat_error: cat.note }), ...(verify.note && { verify_error: verify.note }) });
  console.error(JSON.stringify(results.at(-1)));
}
console.log(JSON.stringify({ nsr, results }, null, 2));
if (!args.includes('--keep') && existsSync(root)) rmSync(root, { recursive: true, force: true });
