// The offline tools on archives made by nsr and by the original recorder:
// nsr ls, cat, verify and export, including window edges, corruption and torn files.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeZip } from '../src/compress/write-zip.js';
import { encodeZipComment } from '../src/compress/zip-meta.js';
import { WindowWriter } from '../src/sinks/window-writer.js';
import { formatWindowTime, jsonName, zipName } from '../src/sinks/window-naming.js';
import { FIXTURES, NSR, tempDir } from './helpers.js';

const nsr = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [NSR, ...args], { cwd, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const T0 = Date.UTC(2026, 1, 10, 6, 0, 0); // a 5-minute window boundary in any whole-hour time zone
const FLOW_BODY = readFileSync(path.join(FIXTURES, 'get_detected_flow_data.json'), 'utf8');
const GRAPH_BODY = readFileSync(path.join(FIXTURES, 'get_graph_data_testbed_u64_dpid.json'), 'utf8');

/** Writes an archive the way the recorder does: window files, then atomic zips with metadata. */
async function makeArchive(dir: string, stream: string, timestamps: number[], line: (ts: number) => string, windowMs = 300_000, zip = true) {
  const writer = new WindowWriter({ dir, stream, windowMs, maxBytes: 2 ** 40, fsync: 'close' });
  for (const ts of timestamps) await writer.append(Buffer.from(`${line(ts)}\n`), ts);
  await writer.close();
  const closed = writer.takeClosed();
  if (zip) {
    for (const w of closed) {
      await writeZip({ id: 0, jsonPath: w.jsonPath, zipPath: path.join(dir, zipName(w.base)), entryName: jsonName(w.base), level: 4, comment: encodeZipComment(w), mtime: w.last });
    }
  }
  return closed;
}

const flowLine = (ts: number) => `{"timestamp":${ts},"flowinfo":${FLOW_BODY}}`;
const graphLine = (ts: number) => `{"timestamp":${ts},${GRAPH_BODY.slice(1)}`;
/** One record a second for 15 minutes, with a 2-minute hole from minute 7. */
const seconds = Array.from({ length: 900 }, (_, i) => T0 + i * 1000 + 7).filter((ts) => ts < T0 + 420_000 || ts >= T0 + 540_000);

t.test('ls, cat and verify on archives made by nsr', async (t) => {
  const dir = tempDir(t);
  await makeArchive(dir, 'flowinfo', seconds, flowLine);
  await makeArchive(dir, 'graphinfo', seconds.map((s) => s + 3), graphLine);

  const ls = JSON.parse(nsr(dir, 'ls', '.', '--json').out);
  const flow = ls.streams.find((s: { stream: string }) => s.stream === 'flowinfo');
  t.match(flow, { windows: 3, records: seconds.length, first: T0 + 7, last: T0 + 899_007, intervalMs: 1000 });
  t.equal(flow.gaps.length, 1, 'the 2-minute hole is a gap');
  t.match(flow.gaps[0], { ms: 120_000, inside: `${formatWindowTime(T0 + 300_000)}_flowinfo_json.zip` });
  t.match(nsr(dir, 'ls', '.', '--gaps').out, /flowinfo gap: 2m of records missing inside/);
  t.ok(flow.ratio > 5, `compression ratio shown (${flow.ratio.toFixed(1)})`);
  const table = nsr(dir, 'ls', '.').out;
  t.match(table, /flowinfo\s+3\s/);
  t.match(table, /graphinfo/);

  // The events stream's records come when something happens, in bursts: no gaps are counted between them.
  const bursts = [1, 2, 3, 400, 401, 402, 403, 880].map((s) => T0 + s * 1000 + 11);
  const eventsDir = tempDir(t);
  await makeArchive(eventsDir, 'events', bursts, (ts) => `{"timestamp":${ts},"event":"missed_tick","stream":"flowinfo"}`);
  await makeArchive(eventsDir, 'flowinfo', seconds, flowLine);
  const events = JSON.parse(nsr(eventsDir, 'ls', '.', '--json').out).streams.find((s: { stream: string }) => s.stream === 'events');
  t.match(events, { records: bursts.length, periodic: false, gaps: [] }, 'events: not periodic, no gaps');
  t.match(nsr(eventsDir, 'ls', '.').out, /^events\s.*\s-$/m, 'the table shows no gap count for events');

  // Window edges: --from is inclusive, --to exclusive, across windows.
  const edge = T0 + 300_007; // the first record of the second window
  const range = nsr(dir, 'cat', 'flowinfo', '-d', '.', '--from', String(edge - 1000), '--to', String(edge + 2000));
  t.equal(range.code, 0, range.err);
  t.same(range.out.split('\n').filter(Boolean).map((l) => Number(/^\{"timestamp":(\d+)/.exec(l)![1])), [edge - 1000, edge, edge + 1000], 'records on both sides of a window edge, in order');
  t.equal(range.out, [edge - 1000, edge, edge + 1000].map((ts) => `${flowLine(ts)}\n`).join(''), 'bytes verbatim');
  const iso = new Date(edge).toISOString();
  t.equal(nsr(dir, 'cat', 'flowinfo', '-d', '.', '--from', iso, '--to', String(edge + 1)).out, `${flowLine(edge)}\n`, 'ISO times accepted');
  const empty = nsr(dir, 'cat', 'flowinfo', '-d', '.', '--from', String(T0 + 430_000), '--to', String(T0 + 530_000));
  t.same([empty.code, empty.out], [0, ''], 'a range inside the gap is empty');
  const renamed = nsr(dir, 'cat', 'flowinfo', '-d', '.', '--from', String(edge), '--to', String(edge + 1), '--flow-key', 'flow_info');
  t.equal(renamed.out, `{"timestamp":${edge},"flow_info":${FLOW_BODY}}\n`, '--flow-key rewrites the key only');
  const graph = nsr(dir, 'cat', 'graphinfo', '-d', '.', '--from', String(edge), '--to', String(edge + 10));
  t.ok(graph.out.includes('14721744659231801344'), 'uint64 values above 2^63 kept exact');

  const verify = nsr(dir, 'verify', '.');
  t.equal(verify.code, 0, verify.out);
  t.match(verify.out, /6 windows, 1560 records, .* all good/);
});

t.test('a corrupted zip: verify reports it, cat reports and skips it; a torn .json too', async (t) => {
  const dir = tempDir(t);
  const windows = await makeArchive(dir, 'flowinfo', seconds, flowLine);
  const victim = path.join(dir, zipName(windows[1].base));
  const bytes = readFileSync(victim);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff; // flip bits inside the deflate data
  writeFileSync(victim, bytes);
  // an open window with a torn last line after the zips
  const torn = path.join(dir, '2026_02_10_06-15-00_flowinfo.json');
  writeFileSync(torn, `${flowLine(T0 + 900_007)}\n${flowLine(T0 + 901_007).slice(0, 100)}`);

  const verify = nsr(dir, 'verify', '.');
  t.equal(verify.code, 1);
  t.match(verify.out, new RegExp(`${path.basename(victim)}: corrupt`));
  t.match(verify.out, /2026_02_10_06-15-00_flowinfo\.json: line 2: the last line has no line end/);

  const all = nsr(dir, 'cat', 'flowinfo', '-d', '.');
  t.equal(all.code, 1, 'cat says the output is incomplete');
  t.match(all.err, new RegExp(`${path.basename(victim)}: .*its records are skipped`));
  t.match(all.err, /incomplete .*skipped/);
  const ts = all.out.split('\n').filter(Boolean).map((l) => Number(/^\{"timestamp":(\d+)/.exec(l)![1]));
  t.equal(ts.length, windows[0].records + windows[2].records + 1, 'every record of the intact windows, none of the corrupt one');
  t.notOk(ts.some((x) => x >= windows[1].first && x <= windows[1].last), 'nothing half-read from the corrupt window');
});

t.test('archives of the original Python recorder (no metadata)', async (t) => {
  const dir = tempDir(t);
  for (const f of readdirSync(path.join(FIXTURES, 'recorder_output')).filter((f) => f.endsWith('.zip'))) copyFileSync(path.join(FIXTURES, 'recorder_output', f), path.join(dir, f));
  const ls = JSON.parse(nsr(dir, 'ls', '.', '--json').out);
  t.same(ls.streams.map((s: { stream: string; records: number }) => [s.stream, s.records]), [['flowinfo', 4], ['graphinfo', 3]], 'counted by scanning');
  const golden = readFileSync(path.join(FIXTURES, 'recorder_output', '2026_02_10_14-03-12_flowinfo.json'), 'utf8');
  t.equal(nsr(dir, 'cat', 'flowinfo', '-d', '.').out, golden, 'cat gives back the original bytes');
  t.equal(nsr(dir, 'cat', 'flowinfo', '-d', '.', '--from', '1770703397058', '--to', '1770703402059').out, `${golden.split('\n')[1]}\n`);
  t.equal(nsr(dir, 'verify', '.').code, 0);
  // the fixture folder holds each window both as .json and as zip: counted once
  const both = JSON.parse(nsr(path.join(FIXTURES, 'recorder_output'), 'ls', '.', '--json').out);
  t.same(both.streams.map((s: { windows: number }) => s.windows), [1, 1]);
});

t.test('export for the NDTwin GUI: flow_info, paired by tick, split below the size limit', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'gui');
  const ticks = seconds.slice(0, 60);
  await makeArchive(dir, 'flowinfo', ticks.filter((_, i) => i !== 10), flowLine); // flow missed one tick
  await makeArchive(dir, 'graphinfo', ticks.map((s) => s + 120), graphLine);
  mkdirSync(out);
  const r = nsr(dir, 'export', '--for', 'ndtwin-gui', '-d', '.', '--out', out, '--max-file-size', '1MB');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /59 flow\/graph pairs/);
  t.match(r.out, /left out, without a partner at the same tick: 0 flow, 1 graph records/);
  const files = readdirSync(out).sort();
  const flows = files.filter((f) => f.endsWith('_flowinfo.json'));
  const graphs = files.filter((f) => f.endsWith('_graphinfo.json'));
  t.ok(flows.length >= 3, `split into ${flows.length} pairs of files (about 24 graph records of 42 KB fit in 1 MB)`);
  t.same(flows.map((f) => f.replace('flowinfo', '')), graphs.map((f) => f.replace('graphinfo', '')), 'files come in pairs');
  let pairs = 0;
  for (let i = 0; i < flows.length; i++) {
    const fl = readFileSync(path.join(out, flows[i]), 'utf8').split('\n').filter(Boolean);
    const gl = readFileSync(path.join(out, graphs[i]), 'utf8').split('\n').filter(Boolean);
    t.ok(statSync(path.join(out, flows[i])).size < 1024 * 1024 && statSync(path.join(out, graphs[i])).size < 1024 * 1024, 'each file below the limit');
    t.equal(fl.length, gl.length, 'same number of flow and graph records in a pair of files');
    for (let k = 0; k < fl.length; k++) {
      const [ft, gt] = [fl[k], gl[k]].map((l) => Number(/^\{"timestamp":(\d+),/.exec(l)![1]));
      if (Math.abs(ft - gt) >= 500) t.fail(`line ${k}: ${ft} and ${gt} are not the same tick`);
      if (!fl[k].startsWith(`{"timestamp":${ft},"flow_info":[`)) t.fail('flow key flow_info');
      pairs++;
    }
    t.ok(gl[0].includes('14721744659231801344'), 'uint64 kept');
  }
  t.equal(pairs, 59);
  const again = nsr(dir, 'export', '--for', 'ndtwin-gui', '-d', '.', '--out', out);
  t.equal(again.code, 2, 'never overwrites an earlier export');
  t.match(again.err, /export into an empty directory/);
});

t.test('a time range opens only the windows near it, whatever the reader\'s time zone', async (t) => {
  const dir = tempDir(t);
  // three hours of records every 10 s, written here (names in this machine's local time)
  const ticks = Array.from({ length: 1080 }, (_, i) => T0 + i * 10_000 + 7);
  const windows = await makeArchive(dir, 'flowinfo', ticks, (ts) => `{"timestamp":${ts},"flowinfo":[]}`);
  // a window two hours before the range is corrupt: a read that never opens it cannot notice
  const far = path.join(dir, zipName(windows[4].base));
  writeFileSync(far, Buffer.from('not a zip at all'));
  const from = T0 + 2 * 3_600_000 + 30 * 60_000;
  const expected = ticks.filter((ts) => ts >= from && ts < from + 60_000).map((ts) => `{"timestamp":${ts},"flowinfo":[]}\n`).join('');
  for (const tz of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles', 'Australia/Lord_Howe']) {
    const r = spawnSync(process.execPath, [NSR, 'cat', 'flowinfo', '-d', '.', '--from', String(from), '--to', String(from + 60_000)], { cwd: dir, encoding: 'utf8', env: { ...process.env, TZ: tz } });
    t.equal(r.stdout, expected, `TZ=${tz}: the right records`);
    t.equal(r.stderr, '', `TZ=${tz}: the corrupt window two hours away was never opened`);
    t.equal(r.status, 0);
  }
  const all = nsr(dir, 'cat', 'flowinfo', '-d', '.');
  t.match(all.err, new RegExp(path.basename(far)), 'a full read does meet it');
});
