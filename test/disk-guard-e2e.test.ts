// output.min_free on a real size-limited file system (tmpfs): `nsr run` against
// the simulator; a filler file takes the disk below min_free, records wait in
// their queue (disk_low, /healthz 503, nothing new in the window files), the
// filler goes, disk_ok, and every record served is archived once, in order,
// in valid zips, without the disk ever running full.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statfsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { readZipInfo } from '../src/archive/zip-reader.js';
import { writeZip } from '../src/compress/write-zip.js';
import { encodeZipComment } from '../src/compress/zip-meta.js';
import { tmpfsAt } from './tmpfs.js';
import { readArchives, readEvents, seqOf, simulatorWithConfig, sleep, startNsr, tempDir, untilRecording } from './helpers.js';
import { controlUrl } from './control-helpers.js';
import { makeWindow } from './zipped-windows.js';

const FLOW = '/ndt/get_detected_flow_data';
const MIB = 1024 * 1024;

const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Records of `stream` in the directory: lines of its open windows plus the record counts of its zips (a window zipped meanwhile: counted again). */
async function recordsOnDisk(dir: string, stream: string): Promise<number> {
  for (;;) {
    const names = readdirSync(dir);
    try {
      let n = 0;
      for (const f of names.filter((f) => f.endsWith(`_${stream}.json`))) n += readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).length;
      for (const f of names.filter((f) => f.endsWith(`_${stream}_json.zip`))) n += JSON.parse((await readZipInfo(path.join(dir, f))).comment).records;
      return n;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // a window was zipped between the listing and the read
    }
  }
}

t.test('below output.min_free records wait in the queue, and are all written, in order, when space returns', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'recorded_info');
  if (!tmpfsAt(t, out, '16m')) return;
  const { sim } = await simulatorWithConfig(
    t,
    dir,
    (url) => `output: {window: 2s, min_free: 2MB}\nqueue: {max_records: 12}\nshutdown: {grace: 1s, deadline: 30s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 250ms, timeout: 240ms}\n`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  const url = await controlUrl(dir, nsr, 30_000);
  const get = async (p: string) => {
    const res = await fetch(`${url}${p}`);
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  };
  // Every event /status showed, by name (windows rotate every 2 s: the events files are zipped under the test's feet).
  const seen = new Map<string, Record<string, any>>();
  const until = async (what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
    for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(100)) {
      const s = (await get('/status')).json();
      for (const e of s.events) seen.set(`${e.timestamp}:${e.event}:${e.tick ?? ''}`, e);
      if (await pred()) return s;
    }
    throw new Error(`timed out waiting for ${what}\n${nsr.output().slice(-1500)}`);
  };
  const hasEvent = (name: string, extra: (e: Record<string, any>) => boolean = () => true) => [...seen.values()].some((e) => e.event === name && extra(e));
  await untilRecording(out, 'flowinfo');
  t.match((await get('/status')).json().disk, { free_bytes: Number, min_free_bytes: 2 * MIB, low: false }, '/status shows the guard');

  // Below the margin: ~1 MiB free of the 2 MiB to keep.
  writeFileSync(path.join(out, 'filler'), Buffer.alloc(Math.max(0, freeBytes(out) - MIB)));
  const low = await until('disk_low and records waiting', async () => hasEvent('disk_low') && (await get('/status')).json().streams.flowinfo.queue.depth >= 3);
  t.equal(low.disk.low, true, '/status: low');
  const health = await get('/healthz');
  t.equal(health.status, 503, '/healthz is red while records cannot be archived');
  t.equal(health.json().status, 'disk_low');
  t.match(health.json().disk_low, { min_free_bytes: 2 * MIB });
  t.match((await get('/metrics')).text, /^nsr_disk_low 1$/m);
  const writtenAtLow = low.streams.flowinfo.records;
  const onDiskAtLow = await recordsOnDisk(out, 'flowinfo');
  const servedAtLow = sim.served()[FLOW].length;

  // The queue fills: ticks are skipped and reported, and still nothing is written.
  const full = await until('queue_full', () => hasEvent('missed_tick', (e) => e.reason === 'queue_full') && sim.served()[FLOW].length >= servedAtLow + 3);
  t.equal(full.streams.flowinfo.records, writtenAtLow, 'no record written while low');
  t.equal(await recordsOnDisk(out, 'flowinfo'), onDiskAtLow, 'no new record in the window files while low');
  t.ok(full.streams.flowinfo.queue.depth >= 12, `the records wait in the queue (${full.streams.flowinfo.queue.depth})`);
  t.match([...seen.values()].find((e) => e.event === 'missed_tick' && e.reason === 'queue_full').message, /below output\.min_free/);

  rmSync(path.join(out, 'filler')); // space returns
  const servedAtOk = sim.served()[FLOW].length;
  await until('disk_ok and the queue written', async () => {
    const s = (await get('/status')).json();
    return hasEvent('disk_ok') && s.streams.flowinfo.queue.depth <= 1 && s.streams.flowinfo.records >= servedAtOk + 2;
  });
  t.equal((await get('/healthz')).status, 200, '/healthz green again');
  t.match((await get('/metrics')).text, /^nsr_disk_low 0$/m);

  process.kill(nsr.pid, 'SIGTERM');
  const { code } = await nsr.exit;
  t.equal(code, 0, `the stop exits 0${code === 0 ? '' : `\n${nsr.output().slice(-1500)}`}`);

  t.same(readdirSync(out).filter((f) => !f.endsWith('_json.zip') && !f.startsWith('.')), [], 'every window zipped, no temporary left');
  const windows = await readArchives(out, 'flowinfo'); // CRC-checked
  t.ok(windows.every((w) => w.meta?.records === w.lines.length), "every zip's metadata matches its records");
  const archived = windows.flatMap((w) => w.lines);
  t.ok(archived.every((l) => l.startsWith('{"timestamp":') && l.endsWith(']}')), 'no torn record');
  // A response the simulator completed while nsr had given up on it (a timeout, on a loaded machine) is not a record: the only gaps allowed.
  const seqs = archived.map(seqOf);
  const served = sim.served()[FLOW];
  t.same(seqs, served.filter((s) => seqs.includes(s)), 'archived once each, in the order served, nothing that was not served');
  const timeouts = (await readEvents(out)).filter((e) => e.event === 'missed_tick' && e.reason === 'timeout').length;
  t.ok(served.length - seqs.length <= timeouts, `every response served was archived (${served.length - seqs.length} missing, ${timeouts} fetches timed out)`);
  const stamps = archived.map((l) => Number(/^\{"timestamp":(\d+)/.exec(l)![1]));
  t.ok(stamps.every((s, i) => i === 0 || s >= stamps[i - 1]), 'timestamps never go back');

  const events = await readEvents(out);
  const lows = events.filter((e) => e.event === 'disk_low');
  const oks = events.filter((e) => e.event === 'disk_ok');
  t.equal(lows.length, 1, 'one disk_low');
  t.equal(oks.length, 1, 'one disk_ok');
  t.match(lows[0], { min_free_bytes: 2 * MIB, total_bytes: 16 * MIB, free_bytes: Number, queued_records: Number });
  t.ok(lows[0].free_bytes < 2 * MIB);
  t.ok(oks[0].waited_records >= 12, `disk_ok counts the records that waited (${oks[0].waited_records})`);
  t.ok(oks[0].low_ms > 0);
  // A tick while low either fetched (a record that waited) or was skipped for the full queue, and said so;
  // late, timeout and overlap are a loaded machine's, not the disk's.
  const during = events.filter((e) => e.event === 'missed_tick' && e.timestamp > lows[0].timestamp && e.timestamp < oks[0].timestamp);
  t.ok(during.some((e) => e.reason === 'queue_full'), 'ticks skipped while low are reported as queue_full');
  t.same(during.filter((e) => !['queue_full', 'late', 'timeout', 'overlap'].includes(e.reason)), [], 'and for no other reason');
  t.notOk(events.some((e) => e.event === 'write_error'), 'the disk never ran full: no write failed');
  const stop = events.find((e) => e.event === 'stop');
  t.equal(stop?.unwritten_records, 0);
  const flow = stop?.streams.flowinfo;
  t.equal(flow.records, archived.length, 'the stop counts every record archived');
  const failed = Object.values(flow.failures as Record<string, number>).reduce((a, b) => a + b, 0);
  t.equal(flow.fetches, flow.records + failed, 'every fetch gave a record or a reported failure');
  // No silent hole: every tick from the first to the stop is a fetch or a reported skip.
  const missed = flow.missed_ticks as Record<string, number>;
  const skipped = Object.entries(missed).reduce((n, [reason, k]) => n + (reason in flow.failures ? 0 : k), 0);
  const firstTick = Math.min(...stamps.map((s) => Math.floor(s / 250)), ...events.filter((e) => e.event === 'missed_tick').map((e) => e.tick));
  const lastTick = Math.floor((stop.timestamp - stop.shutdown_ms) / 250);
  const ticks = lastTick - firstTick + 1;
  t.ok(Math.abs(flow.fetches + skipped - ticks) <= 2, `${flow.fetches} fetches and ${skipped} reported skips (${JSON.stringify(missed)}) account for the ${ticks} ticks of the run`);
});

t.test('ENOSPC in the middle of a zip: no zip and no temporary appear, the .json stays whole; with room again it is zipped', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'small');
  if (!tmpfsAt(t, out, '1m')) return;
  // ~700 KB of records that deflate only to ~75% (random base64): the zip cannot fit in the ~300 KB left.
  const base = '2026_01_01_00-00-00_flowinfo';
  const lines = Array.from({ length: 700 }, (_, i) => `{"timestamp":${1_767_225_600_000 + i},"flowinfo":"${randomBytes(750).toString('base64')}"}\n`);
  const body = Buffer.from(lines.join(''));
  const jsonPath = path.join(out, `${base}.json`);
  writeFileSync(jsonPath, body);
  const job = {
    id: 1,
    jsonPath,
    zipPath: path.join(out, `${base}_json.zip`),
    entryName: `${base}.json`,
    level: 4,
    comment: encodeZipComment({ stream: 'flowinfo', records: lines.length, first: 1_767_225_600_000, last: 1_767_225_600_699, bytes: body.length }),
    mtime: 1_767_225_600_699,
  };
  await t.rejects(writeZip(job), { code: 'ENOSPC' }, 'the zip does not fit');
  t.same(readdirSync(out), [`${base}.json`], 'no partial zip, no temporary left taking space');
  t.ok(readFileSync(jsonPath).equals(body), 'the .json is untouched');

  execFileSync('mount', ['-o', 'remount,size=4m', out]);
  await writeZip(job);
  t.same(readdirSync(out), [`${base}_json.zip`], 'zipped, and only then the .json removed');
  const [w] = await readArchives(out, 'flowinfo'); // CRC-checked
  t.equal(w.lines.length, lines.length);
  t.equal(`${w.lines.join('\n')}\n`, body.toString());
});

t.test('below output.min_free with retention set: the oldest windows go (reason min_free) and recording goes on', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'recorded_info');
  if (!tmpfsAt(t, out, '16m')) return;
  // Two hours of older windows, ~100 KB each, already archived.
  const old: string[] = [];
  for (let i = 0; i < 40; i++) old.push(await makeWindow(out, 'flowinfo', Date.now() - 2 * 3600_000 + i * 60_000, 4, 25_000));
  // A retention no age or size limit triggers (a day, 1 GB): only the free space makes it remove.
  await simulatorWithConfig(
    t,
    dir,
    (url) => `output: {window: 1s, min_free: 4MB, retention: {max_age: 1d, max_bytes: 1GB}}\nlog: {level: info}\nshutdown: {grace: 1s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 100ms}\n`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  await untilRecording(out, 'flowinfo');
  const zips = () => readdirSync(out).filter((f) => f.endsWith('_flowinfo_json.zip')).sort();
  while (zips().length < old.length + 2) await sleep(100);
  // 200 KB below the margin: the oldest windows make the room (with the guard's hysteresis, ~1.2 MB of them).
  writeFileSync(path.join(out, 'filler'), Buffer.alloc(Math.max(0, freeBytes(out) - 4 * MIB + 200 * 1024)));
  const logged = (name: string) => nsr.output().split('\n').filter((l) => l.includes(`"event":"${name}"`)).map((l) => JSON.parse(l));
  for (const end = Date.now() + 15_000; Date.now() < end && !logged('retention_deleted').length; ) await sleep(100);
  await sleep(500);
  const removed = logged('retention_deleted');
  t.ok(removed.length >= 3, `retention removed ${removed.length} windows`);
  t.ok(removed.every((e) => e.reason === 'min_free'), 'each for min_free');
  t.same(removed.map((e) => e.file), old.slice(0, removed.length), 'the oldest first');
  t.ok(removed.length < old.length, 'and only as many as it takes');
  const count = zips().length;
  for (const end = Date.now() + 15_000; Date.now() < end && zips().length <= count + 1; ) await sleep(100);
  t.ok(zips().length > count + 1, 'new windows keep coming');
  t.ok(freeBytes(out) >= 4 * MIB, `free space is above the margin (${freeBytes(out)})`);
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, 'stops cleanly');
  t.equal(logged('disk_low').length, 0, 'retention made the room: no disk_low, no record waited');
});
