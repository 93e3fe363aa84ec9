// Every offline command on the original Python recorder's own archives
// (fixtures/ndtwin/recorder_output: no nsr metadata, names in the recording
// machine's local time, UTC+8), run as bin/nsr processes by a reader in another
// zone; and months of such archives beside nsr's own in one recorded_info/.
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSingleEntryZip } from '../src/compress/zip-writer.js';
import { encodeZipComment } from '../src/compress/zip-meta.js';
import { FIXTURES, NSR, sleep, startNsr, tempDir } from './helpers.js';

const ORIGINAL = path.join(FIXTURES, 'recorder_output');
/** A reader far from where the archives were recorded (Taiwan, UTC+8): names and records disagree by 16 hours. */
const READER = { TZ: 'America/Los_Angeles' };
const fixtureLines = (stream: string) => readFileSync(path.join(ORIGINAL, `2026_02_10_14-03-12_${stream}.json`), 'utf8').split('\n').filter(Boolean);
const timestampOf = (line: string) => Number(/^\{"timestamp":(\d+)/.exec(line)![1]);

/** `bin/nsr` to its end: exit code, stdout, stderr. */
function nsr(cwd: string, args: string[], env: NodeJS.ProcessEnv = READER): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** The original's zips, as its recorded_info/ holds them (it removes each `.json` once zipped). */
function originalArchives(t: Tap.Test): string {
  const dir = path.join(tempDir(t), 'recorded_info');
  mkdirSync(dir);
  for (const f of readdirSync(ORIGINAL).filter((f) => f.endsWith('_json.zip'))) copyFileSync(path.join(ORIGINAL, f), path.join(dir, f));
  return dir;
}

t.test('nsr ls: streams, records and first/last times read from the records, not the names', async (t) => {
  const dir = originalArchives(t);
  const r = await nsr(dir, ['ls', '--json', '.']);
  t.equal(r.code, 0, r.err);
  const streams = JSON.parse(r.out).streams.map((s: any) => [s.stream, s.windows, s.records, s.first, s.last, s.gaps.length]);
  t.same(streams, [
    ['flowinfo', 1, 4, 1770703392057, 1770703407060, 0],
    ['graphinfo', 1, 3, 1770703392060, 1770703402062, 0],
  ]);
});

t.test('nsr cat with a range: the records of the range, bytes as the original wrote them', async (t) => {
  const dir = originalArchives(t);
  const lines = fixtureLines('flowinfo');
  // 2026-02-10T06:03:15Z … 06:03:25Z is 14:03 in the names, 22:03 the day before for this reader.
  for (const [from, to] of [
    ['1770703395000', '1770703405000'],
    ['2026-02-10T06:03:15Z', '2026-02-10T06:03:25Z'],
    ['2026-02-09T22:03:15', '2026-02-09T22:03:25'],
  ]) {
    const r = await nsr(dir, ['cat', 'flowinfo', '.', '--from', from, '--to', to]);
    t.equal(r.code, 0, r.err);
    t.equal(r.out, `${lines[1]}\n${lines[2]}\n`, `--from ${from} --to ${to}`);
  }
});

t.test('nsr verify: the original zips pass (one entry named like the window, lines with integer timestamps in order)', async (t) => {
  const dir = originalArchives(t);
  const r = await nsr(dir, ['verify', '.']);
  t.equal(r.code, 0, r.out + r.err);
  t.match(r.out, /^2 windows, 7 records, .*all good$/m);
  // The fixture directory as it is: each window also as its `.json` beside the zip.
  const asShipped = await nsr(dir, ['verify', ORIGINAL]);
  t.equal(asShipped.code, 0, asShipped.out + asShipped.err);
});

t.test('nsr stats: the interval is inferred from the records (no events stream)', async (t) => {
  const dir = originalArchives(t);
  const r = await nsr(dir, ['stats', 'flowinfo', '.', '--json']);
  t.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  t.same([s.records, s.first, s.last, s.interval.ms, s.interval.source, s.coverage.percent, s.gaps.count], [4, 1770703392057, 1770703407060, 5001, 'inferred', 100, 0]);
  const text = await nsr(dir, ['stats', 'graphinfo', '.']);
  t.match(text.out, /interval\s+5001 ms, inferred: median of 2 differences between records/);
  t.match(text.out, /coverage\s+100\.00 %/);
});

t.test('nsr export --for ndtwin-gui: the original archives pair by tick (the interval read from their records)', async (t) => {
  const dir = originalArchives(t);
  const r = await nsr(dir, ['export', '--for', 'ndtwin-gui', '-d', '.', '--out', 'gui', '--from', '2026-02-10T06:00Z', '--to', '2026-02-10T06:05Z']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^3 flow\/graph pairs in 1 file pair/);
  t.match(r.out, /left out, without a partner at the same tick: 1 flow, 0 graph records/);
  const gui = path.join(dir, 'gui');
  const files = readdirSync(gui).sort();
  t.equal(files.length, 2, files.join(', '));
  const flows = readFileSync(path.join(gui, files.find((f) => f.endsWith('_flowinfo.json'))!), 'utf8');
  const graphs = readFileSync(path.join(gui, files.find((f) => f.endsWith('_graphinfo.json'))!), 'utf8');
  const expectedFlows = fixtureLines('flowinfo').slice(0, 3).map((l) => l.replace(/^(\{"timestamp":\d+,)"flowinfo":/, '$1"flow_info":'));
  t.equal(flows, `${expectedFlows.join('\n')}\n`, 'flow_info key, bytes otherwise as recorded');
  t.equal(graphs, `${fixtureLines('graphinfo').join('\n')}\n`, 'graph lines as recorded (uint64 DPIDs exact)');
});

t.test('nsr replay: serves the original archives on the kernel routes', async (t) => {
  const dir = originalArchives(t);
  const replay = startNsr(dir, ['replay', '.', '--port', '0', '--speed', '1', '--loop'], READER);
  let stopped = false;
  t.teardown(() => stopped || process.kill(replay.pid, 'SIGTERM'));
  let url: string | undefined;
  for (let i = 0; i < 200 && !url; i++) {
    await sleep(50);
    if (replay.output().includes('/replay/status\n')) url = /at 1× on (http:\/\/[\d.]+:\d+)/.exec(replay.output())?.[1];
  }
  t.ok(url, replay.output());
  const flows = new Map(fixtureLines('flowinfo').map((l) => [timestampOf(l), l]));
  const graphs = new Map(fixtureLines('graphinfo').map((l) => [timestampOf(l), l]));
  const flow = await fetch(`${url}/ndt/get_detected_flow_data`);
  t.equal(flow.status, 200);
  const flowLine = flows.get(Number(flow.headers.get('x-nsr-record-timestamp')));
  t.ok(flowLine, `a recorded flow record: ${flow.headers.get('x-nsr-record-timestamp')}`);
  t.equal(`{"timestamp":${timestampOf(flowLine!)},"flowinfo":${await flow.text()}}`, flowLine, 'the flow body as the kernel sent it');
  const graph = await fetch(`${url}/ndt/get_graph_data`);
  t.equal(graph.status, 200);
  const graphLine = graphs.get(Number(graph.headers.get('x-nsr-record-timestamp')));
  t.ok(graphLine);
  t.equal(`{"timestamp":${timestampOf(graphLine!)},${(await graph.text()).slice(1)}`, graphLine, 'the graph body as the kernel sent it');
  process.kill(replay.pid, 'SIGTERM');
  stopped = true;
  t.equal((await replay.exit).code, 0);
});

// --- Months of the original's archives, then nsr's in the same recorded_info/ ---

const TAIPEI_MS = 8 * 3_600_000;
/** `YYYY_MM_DD_HH-MM-SS` in UTC+8, as the original names windows on a machine in Taiwan. */
const taipeiName = (t: number) => new Date(t + TAIPEI_MS).toISOString().replace(/^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+).*$/, '$1_$2_$3_$4-$5-$6');

async function writeWindow(dir: string, stream: string, nameTime: number, timestamps: number[], withMeta: boolean): Promise<void> {
  const base = `${taipeiName(nameTime)}_${stream}`;
  const lines = timestamps.map((ts) => `{"timestamp":${ts},"flowinfo":[]}\n`).join('');
  const json = path.join(dir, `${base}.json`);
  writeFileSync(json, lines);
  const meta = { stream, records: timestamps.length, first: timestamps[0], last: timestamps.at(-1)!, bytes: Buffer.byteLength(lines) };
  await writeSingleEntryZip({ source: json, target: path.join(dir, `${base}_json.zip`), entryName: `${base}.json`, level: 4, comment: withMeta ? encodeZipComment(meta) : '', mtime: new Date(nameTime) });
  rmSync(json);
}

/** Five-minute windows of the original (named when opened, records every 1 s), then nsr's (aligned, with metadata). */
async function mixedDirectory(t: Tap.Test): Promise<{ dir: string; all: number[]; originalEnd: number }> {
  const dir = path.join(tempDir(t), 'recorded_info');
  mkdirSync(dir);
  const all: number[] = [];
  let at = Date.UTC(2026, 1, 10, 6, 3, 12, 57);
  for (let w = 0; w < 24; w++) {
    const ts = Array.from({ length: 300 }, (_, i) => at + i * 1000);
    await writeWindow(dir, 'flowinfo', at, ts, false);
    all.push(...ts);
    at += 300_000;
  }
  const originalEnd = at;
  // nsr takes over an hour later (within the 8 hours a reader in UTC would misplace the original's names by).
  at = Date.UTC(2026, 1, 10, 9, 0, 0);
  for (let w = 0; w < 12; w++) {
    const ts = Array.from({ length: 300 }, (_, i) => at + i * 1000 + 3);
    await writeWindow(dir, 'flowinfo', at, ts, true);
    all.push(...ts);
    at += 300_000;
  }
  return { dir, all, originalEnd };
}

t.test('the original archives beside nsr own: cat reads both in time order, whatever the reader zone', async (t) => {
  const { dir, all } = await mixedDirectory(t);
  for (const TZ of ['UTC', 'Asia/Taipei', 'America/Los_Angeles']) {
    const r = await nsr(dir, ['cat', 'flowinfo', '.'], { TZ });
    t.equal(r.code, 0, r.err);
    t.same(r.out.split('\n').filter(Boolean).map(timestampOf), all, `TZ=${TZ}: every record once, in time order`);
  }
});

t.test('cat --from --to on months of the original archives opens only the windows near the range', async (t) => {
  const { dir, all } = await mixedDirectory(t);
  // A broken window of the original a day before the range: never opened, so never reported.
  writeFileSync(path.join(dir, `${taipeiName(Date.UTC(2026, 1, 9, 6, 0, 0))}_flowinfo_json.zip`), 'not a zip');
  // The range is more than a window plus an hour (the margin for zones and DST) after the first window following it.
  const from = Date.UTC(2026, 1, 10, 7, 45, 0);
  const to = from + 600_000;
  const r = await nsr(dir, ['cat', 'flowinfo', '.', '--from', String(from), '--to', String(to)]);
  t.equal(r.code, 0, r.err);
  t.equal(r.err, '', 'nothing reported: the broken window lies outside the range');
  t.same(r.out.split('\n').filter(Boolean).map(timestampOf), all.filter((ts) => ts >= from && ts < to));
  // Asked for, it is reported (exit 1): the pruning above was by time, not by luck.
  const whole = await nsr(dir, ['cat', 'flowinfo', '.', '--from', String(Date.UTC(2026, 1, 9, 0, 0, 0)), '--to', String(to)]);
  t.equal(whole.code, 1);
  t.match(whole.err, /2026_02_09_14-00-00_flowinfo_json\.zip/);
});

/** `nsr replay` started in `dir`: its URL once it serves, or its output when it exited first. */
async function startReplay(t: Tap.Test, dir: string, args: string[]): Promise<{ url?: string; replay: ReturnType<typeof startNsr> }> {
  const replay = startNsr(dir, ['replay', '.', '--port', '0', ...args], READER);
  let exited = false;
  void replay.exit.then(() => (exited = true));
  t.teardown(() => exited || process.kill(replay.pid, 'SIGTERM'));
  let url: string | undefined;
  for (let i = 0; i < 400 && !url && !exited; i++) {
    await sleep(50);
    if (replay.output().includes('/replay/status\n')) url = /on (http:\/\/[\d.]+:\d+)/.exec(replay.output())?.[1];
  }
  return { url, replay };
}

t.test('replay --from months into the original archives: windows long before it are never opened, serving starts at it', async (t) => {
  const { dir, all } = await mixedDirectory(t);
  // A broken window of the original a day before --from: opening it would report it.
  const broken = `${taipeiName(Date.UTC(2026, 1, 9, 6, 0, 0))}_flowinfo_json.zip`;
  writeFileSync(path.join(dir, broken), 'not a zip');
  const from = Date.UTC(2026, 1, 10, 7, 45, 0);
  const { url, replay } = await startReplay(t, dir, ['--from', String(from), '--speed', '1']);
  t.ok(url, 'serving', { output: replay.output() });
  const res = await fetch(`${url}/ndt/get_detected_flow_data`);
  t.equal(res.status, 200);
  const served = Number(res.headers.get('x-nsr-record-timestamp'));
  const atFrom = all.filter((ts) => ts <= from).at(-1)!;
  t.ok(served >= atFrom && served < from + 5000, `the record current at --from (${atFrom}) or one just after it, got ${served}`);
  process.kill(replay.pid, 'SIGTERM');
  t.equal((await replay.exit).code, 0);
  t.notMatch(replay.output(), broken, 'the broken window lies long before --from: never opened, never reported');
  // From the day before, the same replay opens it and says so: the pruning above was by time, not by luck.
  const early = await startReplay(t, dir, ['--from', String(Date.UTC(2026, 1, 9, 0, 0, 0)), '--speed', '1']);
  t.ok(early.url, 'serving', { output: early.replay.output() });
  process.kill(early.replay.pid, 'SIGTERM');
  await early.replay.exit;
  t.match(early.replay.output(), broken);
});
