#!/usr/bin/env node
// Offline tools on a day of archives: `nsr cat` of one minute out of 24 hours
// against `unzip -p` of the matching window piped to a line filter (awk), run
// side by side in one run; and the full-scan speed of `nsr verify`.
//
// Usage: npm run build && node bench/archive.bench.mjs [--hours 24] [--keep DIR] [--no-index]
// The archive (flow records of ~36 KB at 1 s, 5-minute windows, as nsr writes
// them) is generated once into DIR (default a temporary directory).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompressionPool } from '../dist/compress/compression-pool.js';
import { encodeZipComment } from '../dist/compress/zip-meta.js';
import { jsonName, zipName } from '../dist/sinks/window-naming.js';
import { WindowWriter } from '../dist/sinks/window-writer.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const hours = Number(arg('--hours', 24));
const dir = arg('--keep', path.join(tmpdir(), `nsr-archive-bench-${hours}h`));
const NSR = fileURLToPath(new URL('../bin/nsr', import.meta.url));
const body = readFileSync(new URL('../fixtures/ndtwin/get_detected_flow_data.json', import.meta.url));
const T0 = Date.UTC(2026, 1, 10, 0, 0, 0);

async function generate() {
  mkdirSync(dir, { recursive: true });
  const pool = new CompressionPool({ workers: 2 });
  const writer = new WindowWriter({ dir, stream: 'flowinfo', windowMs: 300_000, maxBytes: 2 ** 40, fsync: 'close' });
  const jobs = [];
  const submit = (w) => jobs.push(pool.submit({ jsonPath: w.jsonPath, zipPath: path.join(dir, zipName(w.base)), entryName: jsonName(w.base), level: 4, comment: encodeZipComment(w), mtime: w.last }));
  const started = performance.now();
  for (let s = 0; s < hours * 3600; s++) {
    const ts = T0 + s * 1000 + 5 + (s % 7);
    await writer.append(Buffer.concat([Buffer.from(`{"timestamp":${ts},"flowinfo":`), body, Buffer.from('}\n')]), ts);
    writer.takeClosed().forEach(submit);
  }
  await writer.close();
  writer.takeClosed().forEach(submit);
  await Promise.all(jobs);
  await pool.close();
  console.log(`generated ${hours} h in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

function timed(fn, runs = 5) {
  const times = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    out = fn();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(runs / 2)], out };
}

if (!existsSync(dir) || readdirSync(dir).filter((f) => f.endsWith('.zip')).length < hours * 12) await generate();
// The recorder keeps an archive index beside its windows (.nsr.index); the generated day gets one the
// same way unless --no-index (archives copied without it, or a build from before the index).
const indexed = !args.includes('--no-index');
if (indexed && !existsSync(path.join(dir, '.nsr.index'))) {
  const r = spawnSync(process.execPath, [NSR, 'index', '--rebuild', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nsr index --rebuild ${dir}: ${r.stderr}`);
}
if (!indexed) rmSync(path.join(dir, '.nsr.index'), { force: true });
const zips = readdirSync(dir).filter((f) => f.endsWith('_json.zip'));
const zipBytes = zips.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);

// A range in the middle of the day: `nsr cat` against the manual way (find the
// windows by their names, unzip them, filter the lines by timestamp).
const pad = (n) => String(n).padStart(2, '0');
function windowName(t) {
  const d = new Date(t - (t % 300_000));
  return `${d.getFullYear()}_${pad(d.getMonth() + 1)}_${pad(d.getDate())}_${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}_flowinfo_json.zip`;
}
function compare(label, from, to) {
  const cat = timed(() => spawnSync(process.execPath, [NSR, 'cat', 'flowinfo', '-d', dir, '--from', String(from), '--to', String(to)], { maxBuffer: 1 << 30 }).stdout);
  const names = [];
  for (let t = from - (from % 300_000); t < to; t += 300_000) names.push(`'${path.join(dir, windowName(t))}'`);
  const awk = `BEGIN{FS="[:,]"} $2>=${from} && $2<${to}`;
  const manual = timed(() => execFileSync('sh', ['-c', `for z in ${names.join(' ')}; do unzip -p "$z"; done | awk '${awk}'`], { maxBuffer: 1 << 30 }));
  return {
    range: label,
    records: cat.out.toString().split('\n').filter(Boolean).length,
    nsr_cat_ms: +cat.ms.toFixed(0),
    unzip_awk_ms: +manual.ms.toFixed(0),
    ratio_nsr_over_unzip: +(cat.ms / manual.ms).toFixed(2),
    identical_output: Buffer.compare(cat.out, manual.out) === 0,
  };
}
const mid = T0 + (hours / 2) * 3_600_000 + 120_000;
const catResults = [compare('1 minute', mid, mid + 60_000), compare('1 hour', mid, mid + 3_600_000)];

const verifyStart = performance.now();
const verify = spawnSync(process.execPath, [NSR, 'verify', dir], { encoding: 'utf8' });
const verifySecs = (performance.now() - verifyStart) / 1000;
const rawMb = Number(/([\d.]+) MB checked/.exec(verify.stdout)?.[1]);

const results = {
  archive: { hours, windows: zips.length, zip_mb: +(zipBytes / 1e6).toFixed(0), raw_mb: rawMb, index: indexed },
  cat: catResults,
  verify_full_scan: { seconds: +verifySecs.toFixed(1), raw_mb_per_s: +(rawMb / verifySecs).toFixed(0), zip_mb_per_s: +(zipBytes / 1e6 / verifySecs).toFixed(0), verdict: verify.stdout.trim().split('\n').pop() },
};
console.log(JSON.stringify(results, null, 2));
if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
