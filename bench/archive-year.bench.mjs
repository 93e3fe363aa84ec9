#!/usr/bin/env node
// A year of archives (issue 18): 3 streams × 288 five-minute windows a day × 365
// days = 315,360 zips in one directory, each a real nsr zip (a few small records,
// nsr's metadata comment), named as nsr names them; then the offline tools on it,
// timed wall clock from spawn to exit, each run 3 times, and the zips each one
// opens counted with strace. The year ends at the last window before "now", so
// `--since 1d` means the last day of it.
//
// Usage: npm run build && node bench/archive-year.bench.mjs [--days 365] [--dir DIR] [--keep]
//          [--reuse] [--streams flowinfo,graphinfo,events] [--nsr CHECKOUT] [--runs 3] [--timeout 600]
//          [--verify-days 7] [--no-strace] [--only ls,ls-listed,ls-json,cat,verify,stats]
// --dir DIR   where the archives go (default: a new temporary directory, removed at the end
//             unless --keep). Without --reuse DIR must not exist yet or be empty.
// --reuse     time an existing generated DIR as it is (the manifest it holds says what it is).
// --nsr PATH  the checkout whose bin/nsr is timed (default this one; its dist/ must be built).
//             The zips are always written with this checkout's dist/, so two builds can be
//             timed on the same directory: generate once with --keep, then --reuse --nsr ….
// --verify-days N  a full `nsr verify` is timed on a directory of the last N days (generated
//             beside DIR as DIR-<N>d, kept and reused with DIR); `--since 1d` on DIR as well
//             when the build has the option.
// Windows are written by an in-process copy of zip-writer.js's layout (synchronous, so a
// year takes minutes, not hours); the first window of each stream and a sample of others
// are also written by dist/compress/zip-writer.js itself and must come out byte for byte
// the same, or the bench stops.
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { writeSingleEntryZip } from '../dist/compress/zip-writer.js';
import { encodeZipComment } from '../dist/compress/zip-meta.js';
import { isRunMark } from '../dist/logging/run-marks.js';
import { encodeObjectRecord } from '../dist/pipeline/record.js';
import { formatWindowTime, jsonName, windowStart, zipName } from '../dist/sinks/window-naming.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const flag = (name) => args.includes(name);

const WINDOW_MS = 300_000;
const INTERVAL_MS = 100_000; // 3 records a window: ticks at +0 s, +100 s, +200 s
const LEVEL = 4; // output.compression.level's default
const DAY_MS = 86_400_000;
const MANIFEST = 'archive-year.manifest.json'; // not a window file: the archive tools leave it alone

const days = Number(arg('--days', 365));
const streams = arg('--streams', 'flowinfo,graphinfo,events').split(',');
const runs = Number(arg('--runs', 3));
const timeoutS = Number(arg('--timeout', 600));
const verifyDays = Number(arg('--verify-days', 7));
const only = arg('--only', 'ls,ls-listed,ls-json,cat,verify,stats').split(',');
const reuse = flag('--reuse');
const keep = flag('--keep') || reuse;
const strace = !flag('--no-strace') && existsSync('/usr/bin/strace');
const nsrArg = path.resolve(arg('--nsr', path.join(here, '..')));
const nsrBin = statSync(nsrArg).isDirectory() ? path.join(nsrArg, 'bin', 'nsr') : nsrArg;
const nsrCheckout = path.resolve(path.dirname(nsrBin), '..');
if (!existsSync(path.join(nsrCheckout, 'dist', 'cli', 'main.js'))) {
  console.error(`${nsrCheckout} is not built: run npm run build there`);
  process.exit(2);
}
const dir = path.resolve(arg('--dir', '') || mkdtempSync(path.join(os.tmpdir(), 'nsr-archive-year-')));

// ---------------------------------------------------------------------------
// Records
const flowFixture = JSON.parse(readFileSync(path.join(here, '..', 'fixtures', 'ndtwin', 'get_detected_flow_data.json'), 'utf8')).slice(0, 2);
const graphFixture = JSON.parse(readFileSync(path.join(here, '..', 'fixtures', 'ndtwin', 'get_graph_data.json'), 'utf8'));
const smallGraph = { edges: graphFixture.edges.slice(0, 2), nodes: graphFixture.nodes.slice(0, 2) };

/** A small deterministic spread (0 ≤ x < n) so that records differ a little. */
const spread = (x, n) => ((x * 2654435761) >>> 0) % n;

/** The bodies of a tick: two flows (wrapped, `flowinfo`), or a graph of two switches and two links (merged). */
function recordLine(stream, ts) {
  if (stream === 'graphinfo') {
    smallGraph.edges[0].link_bandwidth_usage_bps = 100_000_000 + spread(ts, 900_000_000);
    smallGraph.edges[1].link_bandwidth_usage_bps = spread(ts + 1, 900_000_000);
    const body = JSON.stringify(smallGraph);
    return Buffer.from(`{"timestamp":${ts},${body.slice(1)}\n`);
  }
  flowFixture[0].estimated_flow_sending_rate_bps_in_the_last_sec = 9_000_000 + spread(ts, 3_000_000);
  flowFixture[1].estimated_flow_sending_rate_bps_in_the_last_sec = 800_000 + spread(ts + 1, 100_000);
  flowFixture[0].estimated_packet_rate_in_the_last_sec = 900 + spread(ts, 200);
  return Buffer.from(`{"timestamp":${ts},"flowinfo":${JSON.stringify(flowFixture)}}\n`);
}

/** Timestamps of a data window's records: one a tick, 5–54 ms after it (the fetch). */
function recordTimes(stream, start) {
  const out = [];
  for (let t = start; t < start + WINDOW_MS; t += INTERVAL_MS) out.push(t + 5 + spread(t + stream.length, 50));
  return out;
}

/** What nsr writes in its start event (src/pipeline/start-event.ts) for these streams. */
function startEvent(ts) {
  const target = { flowinfo: 'http://127.0.0.1:8000/ndt/get_detected_flow_data', graphinfo: 'http://127.0.0.1:8000/ndt/get_graph_data' };
  const data = streams.filter((s) => s !== 'events');
  return encodeObjectRecord(ts, {
    event: 'start',
    version: '0.1.0',
    pid: 4242,
    config: 'setting/recorder.yaml',
    output_dir: 'recorded_info',
    streams: Object.fromEntries(
      data.map((s) => [s, { kind: 'ndtwin', target: target[s] ?? target.flowinfo, shape: s === 'graphinfo' ? { mode: 'merge' } : { mode: 'wrap', key: 'flowinfo' }, interval_ms: INTERVAL_MS, timeout_ms: 10_000, window_ms: WINDOW_MS }]),
    ),
    window_ms: WINDOW_MS,
  });
}

// ---------------------------------------------------------------------------
// Zips, with dist/compress/zip-writer.js's layout (one deflated entry, data descriptor, comment)
const MAX_32 = 0xffffffff;
function dosTime(d) {
  const year = Math.max(1980, d.getFullYear());
  return { time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1), date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate() };
}
function entryFields(buf, at, f) {
  buf.writeUInt16LE(20, at);
  buf.writeUInt16LE(0x0808, at + 2);
  buf.writeUInt16LE(8, at + 4);
  buf.writeUInt16LE(f.time, at + 6);
  buf.writeUInt16LE(f.date, at + 8);
  buf.writeUInt32LE(f.crc, at + 10);
  buf.writeUInt32LE(f.compressed, at + 14);
  buf.writeUInt32LE(f.size, at + 18);
  buf.writeUInt16LE(f.nameLength, at + 22);
}
function zipBuffer(entryName, data, comment, mtime) {
  const name = Buffer.from(entryName, 'utf8');
  const com = Buffer.from(comment, 'latin1');
  const { time, date } = dosTime(mtime);
  const deflated = deflateRawSync(data, { level: LEVEL });
  if (data.length > MAX_32) throw new Error('too large');
  const crc = crc32(data) >>> 0;
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  entryFields(local, 4, { time, date, crc: 0, compressed: 0, size: 0, nameLength: name.length });
  const descriptor = Buffer.alloc(16);
  descriptor.writeUInt32LE(0x08074b50, 0);
  descriptor.writeUInt32LE(crc, 4);
  descriptor.writeUInt32LE(deflated.length, 8);
  descriptor.writeUInt32LE(data.length, 12);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4);
  entryFields(central, 6, { time, date, crc, compressed: deflated.length, size: data.length, nameLength: name.length });
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  const centralOffset = local.length + name.length + deflated.length + descriptor.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  end.writeUInt16LE(com.length, 20);
  return Buffer.concat([local, name, deflated, descriptor, central, name, end, com]);
}

/** The same window written by nsr's own zip writer (from a .json file, as the compression pool does). */
async function nsrZipBuffer(scratch, entryName, data, comment, mtime) {
  const json = path.join(scratch, entryName);
  const zip = path.join(scratch, `${entryName}.zip`);
  writeFileSync(json, data);
  await writeSingleEntryZip({ source: json, target: zip, entryName, level: LEVEL, comment, mtime });
  const bytes = readFileSync(zip);
  rmSync(json);
  rmSync(zip);
  return bytes;
}

// ---------------------------------------------------------------------------
// Generation
/** The windows of `days` days ending with the last complete window before `now`. */
function layout(nDays, now) {
  const end = windowStart(now, WINDOW_MS); // the window in progress is not archived yet
  const n = nDays * (DAY_MS / WINDOW_MS);
  return { first: end - n * WINDOW_MS, end, windows: n };
}

async function generate(target, nDays, now) {
  mkdirSync(target, { recursive: true });
  const present = readdirSync(target);
  if (present.length) throw new Error(`${target} is not empty (${present.length} entries): give a new --dir, or --reuse it`);
  const { first, end, windows } = layout(nDays, now);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'nsr-year-check-'));
  const taken = new Map(streams.map((s) => [s, new Set()]));
  const previous = new Map(); // stream → the window before: what its window_compressed event says
  const sampleEvery = Math.max(1, Math.floor(windows / 20));
  let zips = 0;
  let zipBytes = 0;
  let rawBytes = 0;
  let records = 0;
  let checked = 0;
  const started = performance.now();

  const write = async (stream, start, lines) => {
    if (!lines.length) return;
    const times = lines.map((l) => Number(/^\{"timestamp":(\d+)/.exec(l.toString('latin1', 0, 40))[1]));
    // freeWindowBase: a name already taken (local time repeats an hour when DST ends) moves to the first record's second
    let base = `${formatWindowTime(start)}_${stream}`;
    for (let t = Math.max(Math.floor(times[0] / 1000) * 1000, start + 1000); taken.get(stream).has(base); t += 1000) base = `${formatWindowTime(t)}_${stream}`;
    taken.get(stream).add(base);
    const data = Buffer.concat(lines);
    // An events window counts its run marks as nsr's events lane does (the start of the first window).
    const marked = stream === 'events' ? { marked: lines.filter(isRunMark).length } : {};
    const meta = { stream, records: lines.length, first: times[0], last: times[times.length - 1], bytes: data.length, ...marked };
    const comment = encodeZipComment(meta);
    const mtime = new Date(meta.last);
    const bytes = zipBuffer(jsonName(base), data, comment, mtime);
    const i = (start - first) / WINDOW_MS;
    if (i === 0 || i % sampleEvery === 0 || i === windows - 1) {
      const theirs = await nsrZipBuffer(scratch, jsonName(base), data, comment, mtime);
      if (!theirs.equals(bytes)) throw new Error(`${zipName(base)}: the bench's zip differs from dist/compress/zip-writer.js's (${bytes.length} against ${theirs.length} bytes)`);
      checked++;
    }
    writeFileSync(path.join(target, zipName(base)), bytes, { flag: 'wx' });
    previous.set(stream, { file: zipName(base), ...meta, zip_bytes: bytes.length });
    zips++;
    zipBytes += bytes.length;
    rawBytes += data.length;
    records += lines.length;
  };

  for (let start = first; start < end; start += WINDOW_MS) {
    const closing = new Map(previous); // the windows that closed at `start`
    for (const stream of streams) {
      if (stream === 'events') continue;
      await write(stream, start, recordTimes(stream, start).map((ts) => recordLine(stream, ts)));
    }
    if (streams.includes('events')) {
      // The first window holds the start event; each later one the window_compressed events
      // of the windows that closed at its start (data streams, then the events window before).
      const lines = start === first ? [startEvent(start + 2)] : [];
      let at = start + 30;
      for (const s of [...streams.filter((x) => x !== 'events'), 'events']) {
        const w = closing.get(s);
        if (!w) continue;
        at += 10 + spread(at, 40);
        lines.push(encodeObjectRecord(at, { event: 'window_compressed', stream: s, file: w.file, records: w.records, first: w.first, last: w.last, bytes: w.bytes, zip_bytes: w.zip_bytes, ms: 2 + spread(at, 9) }));
      }
      await write('events', start, lines);
    }
    const done = (start - first) / WINDOW_MS + 1;
    if (done % 8640 === 0) process.stderr.write(`  generated ${done / 288} of ${nDays} days (${zips} zips, ${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  rmSync(scratch, { recursive: true, force: true });
  const seconds = (performance.now() - started) / 1000;
  const manifest = { days: nDays, streams, window_ms: WINDOW_MS, interval_ms: INTERVAL_MS, first, end, windows, zips, zip_bytes: zipBytes, raw_bytes: rawBytes, records, generated_at: new Date(now).toISOString(), generation_s: +seconds.toFixed(1), checked_against_zip_writer: checked, tz: Intl.DateTimeFormat().resolvedOptions().timeZone };
  writeFileSync(path.join(target, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function archiveDir(target, nDays, now, mayReuse) {
  const manifestPath = path.join(target, MANIFEST);
  if (mayReuse) {
    if (!existsSync(manifestPath)) throw new Error(`--reuse: ${target} has no ${MANIFEST}; generate it with --keep --dir ${target}`);
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    console.log(`reusing ${target}: ${m.zips} zips, ${m.days} days, generated ${m.generated_at} in ${m.generation_s} s`);
    return m;
  }
  console.log(`generating ${nDays} days × ${streams.length} streams into ${target} …`);
  const m = await generate(target, nDays, now);
  console.log(`generated ${m.zips} zips (${(m.zip_bytes / 1e6).toFixed(0)} MB of zips, ${(m.raw_bytes / 1e6).toFixed(0)} MB of NDJSON, ${m.records} records) in ${m.generation_s} s; ${m.checked_against_zip_writer} windows compared byte for byte with zip-writer.js`);
  return m;
}

// ---------------------------------------------------------------------------
// Timing
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const TIME_MARK = 'nsr-bench-time';

/**
 * One run of `nsr argv…`: wall seconds (spawn to exit), CPU seconds and peak RSS (GNU time),
 * stdout kept for the checks. `timeout -s KILL` ends the nsr process itself after --timeout
 * seconds (the wrapper, time or strace, then reports and exits).
 */
function runNsr(argv, { straceTo } = {}) {
  const inner = ['timeout', '-s', 'KILL', String(timeoutS), process.execPath, nsrBin, ...argv];
  const cmd = straceTo ? ['/usr/bin/strace', '-f', '--seccomp-bpf', '-e', 'trace=openat', '-o', straceTo, ...inner] : TIME ? [TIME, '-f', `${TIME_MARK} %e %U %S %M`, ...inner] : inner;
  const started = performance.now();
  const r = spawnSync(cmd[0], cmd.slice(1), { timeout: (timeoutS + 60) * 1000, killSignal: 'SIGKILL', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - started) / 1000;
  let stderr = (r.stderr ?? Buffer.alloc(0)).toString();
  let cpu;
  let rssMb;
  const mark = new RegExp(`^${TIME_MARK} ([\\d.]+) ([\\d.]+) ([\\d.]+) (\\d+)$`, 'm').exec(stderr);
  if (mark) {
    cpu = Number(mark[2]) + Number(mark[3]);
    rssMb = Number(mark[4]) / 1024;
    stderr = stderr.replace(mark[0], '');
  }
  const timedOut = r.error?.code === 'ETIMEDOUT' || (seconds >= timeoutS - 1 && (r.status === 124 || r.status === 137 || r.signal === 'SIGKILL' || /signal 9/.test(stderr)));
  return { seconds, cpu, rssMb, timedOut, status: r.status, stdout: r.stdout ?? Buffer.alloc(0), stderr };
}

/**
 * How many times `nsr argv…` opens a window zip (openat of a `_json.zip` path), under strace,
 * in a run of its own (not timed). --seccomp-bpf stops the process only at openat, so the
 * run costs about what a plain one does.
 */
function zipsOpened(argv) {
  if (!strace) return { opened: undefined };
  const out = path.join(os.tmpdir(), `nsr-year-strace-${process.pid}.txt`);
  const r = runNsr(argv, { straceTo: out });
  let opened;
  let distinct;
  if (existsSync(out)) {
    const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('_json.zip"'));
    opened = lines.length;
    distinct = new Set(lines.map((l) => /"([^"]*_json\.zip)"/.exec(l)?.[1])).size;
    rmSync(out);
  }
  return { opened, distinct, timedOut: r.timedOut, seconds: r.seconds };
}

const results = [];
function bench(label, argv, check) {
  const times = [];
  const cpus = [];
  const rss = [];
  const loads = [];
  let timedOut = false;
  let last;
  for (let i = 0; i < runs && !timedOut; i++) {
    const load = loadavg();
    loads.push(load);
    last = runNsr(argv);
    timedOut = last.timedOut;
    times.push(last.seconds);
    if (last.cpu !== undefined) cpus.push(last.cpu);
    if (last.rssMb !== undefined) rss.push(last.rssMb);
    const cpuNote = last.cpu !== undefined ? `, CPU ${last.cpu.toFixed(2)} s, max RSS ${last.rssMb.toFixed(0)} MB` : '';
    console.log(`  ${label} run ${i + 1}: ${timedOut ? `> ${timeoutS} s (killed)` : `${last.seconds.toFixed(3)} s, exit ${last.status}`}${cpuNote}, load before ${load}`);
    if (!timedOut && last.status !== 0) console.log(`    stderr: ${last.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`);
  }
  const note = !timedOut && last && check ? check(last.stdout.toString()) : undefined;
  if (note) console.log(`    check: ${note}`);
  const z = zipsOpened(argv);
  if (z.opened !== undefined) console.log(`    zips opened under strace: ${z.opened} openat (${z.distinct} distinct)${z.timedOut ? ` — strace run killed after ${timeoutS} s, count incomplete` : ''}, ${z.seconds.toFixed(1)} s under strace`);
  results.push({ label, command: `nsr ${argv.map((a) => (a.startsWith(dir) ? a.replace(dir, 'DIR') : a)).join(' ')}`, times, cpus, rss, loads, timedOut, median: timedOut ? undefined : median(times), cpu: cpus.length && !timedOut ? median(cpus) : undefined, rssMb: rss.length && !timedOut ? Math.max(...rss) : undefined, opened: z.opened, distinct: z.distinct, openedIncomplete: z.timedOut, exit: last?.status, check: note });
}

function context(label, fn) {
  const times = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    out = fn();
    times.push((performance.now() - s) / 1000);
  }
  results.push({ label, command: label, times, median: median(times), opened: undefined, check: String(out).trim() });
}

// ---------------------------------------------------------------------------
const now = Date.now();
const git = (...a) => {
  try {
    return execFileSync('git', ['-C', nsrCheckout, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
};
const commit = git('rev-parse', '--short', 'HEAD');
const dirty = git('status', '--porcelain', '--', 'src', 'bin') ? ' (with uncommitted changes in src/ or bin/)' : '';
const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
console.log(`machine: nproc ${os.availableParallelism()}, ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
console.log(`node ${process.version}; timing ${nsrBin} at commit ${commit}${dirty}; TZ ${Intl.DateTimeFormat().resolvedOptions().timeZone}`);

const manifest = await archiveDir(dir, days, now, reuse);
const du = execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0];
console.log(`disk used by ${dir}: ${(Number(du) / 1024).toFixed(0)} MiB (du -sk)`);

// Context: what reading the directory alone costs.
context('readdir of DIR in a new node process', () => execFileSync(process.execPath, ['-e', `console.log(require('fs').readdirSync(${JSON.stringify(dir)}).length)`], { encoding: 'utf8' }));
context('ls -f DIR | wc -l', () => execFileSync('sh', ['-c', `ls -f '${dir}' | wc -l`], { encoding: 'utf8' }));
context('node -e 0 (start-up alone)', () => execFileSync(process.execPath, ['-e', '0'], { encoding: 'utf8' }) || '-');

const dataStreams = manifest.streams.filter((s) => s !== 'events');
const catStream = dataStreams.includes('flowinfo') ? 'flowinfo' : dataStreams[0];
// The middle of the year: a minute that holds one tick, and an hour.
const mid = manifest.first + Math.floor(manifest.windows / 2) * WINDOW_MS;
const minute = { from: mid + 90_000, to: mid + 150_000 };
const hour = { from: mid, to: mid + 3_600_000 };
const expectedMinute = recordTimes(catStream, mid).filter((t) => t >= minute.from && t < minute.to).map((t) => recordLine(catStream, t).toString());

const lsCheck = (out) => {
  const m = /windows/.test(out) ? out.trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' ')).join(', ') : out.slice(0, 200);
  return `windows per stream: ${m}`;
};
// `nsr index DIR` (not timed) seals an index that matches the directory, as a recorder's clean stop does: nsr ls then
// does not list the directory. Touching the directory voids the seal: `ls-listed` times the listing of a live one.
const reseal = () => runNsr(['index', dir]);
if (only.includes('ls')) {
  reseal();
  bench('ls', ['ls', dir], lsCheck);
}
if (only.includes('ls-listed')) {
  utimesSync(dir, new Date(), new Date());
  bench('ls, the directory listed (touched since the seal)', ['ls', dir], lsCheck);
  reseal();
}
if (only.includes('ls-json')) bench('ls --json', ['ls', dir, '--json'], (out) => {
  const s = JSON.parse(out).streams;
  const total = s.reduce((n, x) => n + x.windows, 0);
  return `${total} windows listed (${total === manifest.zips ? 'all' : `expected ${manifest.zips}`})`;
});
if (only.includes('cat')) bench(`cat ${catStream}, 1 minute`, ['cat', catStream, dir, '--from', String(minute.from), '--to', String(minute.to)], (out) => {
  const ok = out === expectedMinute.join('');
  return `${out.split('\n').filter(Boolean).length} records printed, ${ok ? 'the expected ones, byte for byte' : `NOT the expected ${expectedMinute.length}`}`;
});
if (only.includes('verify')) {
  // `--since 1d` where the build has it; and always a full `nsr verify` of the last few days,
  // so that builds with and without --since compare on the same command.
  const help = runNsr(['verify', '--help']).stdout.toString();
  if (help.includes('--since')) {
    const lastDay = Math.ceil((manifest.end - (now - DAY_MS)) / WINDOW_MS) * manifest.streams.length;
    bench('verify --since 1d', ['verify', dir, '--since', '1d'], (out) => `${out.trim().split('\n').pop()} (windows of the last 24 h: about ${Math.max(0, lastDay)})`);
  } else {
    console.log(`nsr verify has no --since: a full \`nsr verify\` of the last ${verifyDays} days is timed instead`);
  }
  const small = manifest.days <= verifyDays ? dir : `${dir}-${verifyDays}d`;
  const m = small === dir ? manifest : await archiveDir(small, verifyDays, now, reuse && existsSync(path.join(small, MANIFEST)));
  bench(`verify (full, ${m.days}-day dir, ${m.zips} zips)`, ['verify', small], (out) => out.trim().split('\n').pop());
  if (small !== dir && !keep) rmSync(small, { recursive: true, force: true });
}
if (only.includes('stats') && dataStreams.length) bench(`stats ${catStream}, 1 hour`, ['stats', catStream, dir, '--from', String(hour.from), '--to', String(hour.to), '--json'], (out) => {
  const r = JSON.parse(out);
  return `records ${r.records ?? r.span?.records ?? '?'}, interval ${r.interval?.ms ?? r.interval?.interval_ms ?? '?'} ms (${r.interval?.source ?? '?'}), gaps ${r.gaps?.count ?? '?'}`;
});

console.log(`\nload after: ${loadavg()}\n`);
console.log(`DIR: ${manifest.zips} zips, ${manifest.days} days × ${manifest.streams.length} streams (${manifest.streams.join(', ')}), ${new Date(manifest.first).toISOString()} → ${new Date(manifest.end).toISOString()}; minute ${new Date(minute.from).toISOString()}, hour ${new Date(hour.from).toISOString()}`);
console.log('\n| command | median s | runs (s) | CPU s, median | max RSS MB | zips opened |');
console.log('| --- | ---: | --- | ---: | ---: | ---: |');
for (const r of results) {
  const med = r.timedOut ? `> ${timeoutS}` : r.median.toFixed(r.median < 10 ? 3 : 1);
  const all = r.times.map((t) => t.toFixed(t < 10 ? 3 : 1)).join(', ') + (r.timedOut ? ' (killed)' : '');
  const opened = r.opened === undefined ? '–' : `${r.opened}${r.distinct !== r.opened ? ` (${r.distinct} distinct)` : ''}${r.openedIncomplete ? ' (strace run killed)' : ''}`;
  // The label's words after a comma tell apart runs of one command (`ls`, sealed or listed).
  const what = r.label.includes(',') ? `\`${r.command}\`, ${r.label.slice(r.label.indexOf(',') + 2)}` : `\`${r.command}\``;
  console.log(`| ${what} | ${med} | ${all} | ${r.cpu === undefined ? '–' : r.cpu.toFixed(2)} | ${r.rssMb === undefined ? '–' : r.rssMb.toFixed(0)} | ${opened} |`);
}
console.log(`\n${JSON.stringify({ machine: { nproc: os.availableParallelism(), cpu, node: process.version }, nsr: { checkout: nsrCheckout, commit: commit + dirty }, manifest, results })}`);
if (!keep) rmSync(dir, { recursive: true, force: true });
