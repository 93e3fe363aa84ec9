// `nsr stats`: on a real recording with injected upstream faults and a restart,
// on the original recorder's archives, and on synthetic archives whose gaps are
// known exactly; the HTML report is opened in headless Chromium.
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { readCatalog } from '../src/archive/catalog.js';
import { Buckets, computeStats, Histogram, linkUtilisation, MAX_BUCKETS, type StatsReport } from '../src/archive/stats.js';
import { formatWindowTime } from '../src/sinks/window-naming.js';
import { FIXTURES, NSR, readEvents, simulatorWithConfig, sleep, startNsr, tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_INSTALL = 'apt-get update && apt-get install -y chromium';
const ORIGINAL = path.join(FIXTURES, 'recorder_output');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** bin/nsr with stdout and stderr apart (both pipes, so no progress may appear). */
function nsr(cwd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function statsJson(cwd: string, args: string[]): Promise<StatsReport> {
  const r = await nsr(cwd, ['stats', ...args, '--json']);
  if (r.code !== 0) throw new Error(`nsr stats ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Opens the report in headless Chromium: the DOM after its script ran, and a
 * screenshot. Undefined (with the test skipped) when Chromium is missing
 * outside CI; in CI a missing Chromium is a failure.
 */
async function chromium(t: Test, file: string): Promise<{ dom: string; png: string } | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI) t.fail(`headless Chromium is missing at ${CHROMIUM}; install it with: ${CHROMIUM_INSTALL}`);
    else t.pass('the HTML report renders in headless Chromium', { skip: `headless Chromium is not installed (${CHROMIUM}); to run this check: ${CHROMIUM_INSTALL}` });
    return undefined;
  }
  const dir = path.dirname(file);
  const flags = (profile: string) => ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, profile)}`];
  const url = `file://${file}`;
  const run = promisify(execFile);
  const { stdout: dom } = await run(CHROMIUM, [...flags('chromium-dom'), '--dump-dom', url], { timeout: 60_000, maxBuffer: 64 << 20 });
  const png = path.join(dir, 'report.png');
  await run(CHROMIUM, [...flags('chromium-shot'), `--screenshot=${png}`, '--window-size=1200,2400', url], { timeout: 60_000 });
  return { dom, png };
}

function checkSelfContained(t: Test, html: string): void {
  t.notMatch(html, /\b(src|href)\s*=/i, 'no src= or href= attributes: nothing is loaded from elsewhere');
  t.notMatch(html, /url\(|@import|https?:\/\//i, 'no url(), @import or http(s) address');
}

t.test('a real recording: missed ticks with their reason, a stop and a start, HTML rendered in Chromium', async (t) => {
  const dir = tempDir(t);
  const { sim } = await simulatorWithConfig(
    t,
    dir,
    (url) => `output: {dir: out, window: 5s}\nlog: {level: warn}\nshutdown: {grace: 1s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 1s}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 1s}\n`,
  );
  const first = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '8s']);
  // The faults must come after the first graph record (a slow start under load would put them before it: no gap).
  while ((sim.served()['/ndt/get_graph_data'] ?? []).length < 2) await sleep(100);
  sim.setFaults({ rate: 1, kinds: ['http_500'], paths: ['/ndt/get_graph_data'] });
  await sleep(3000);
  sim.setFaults(null);
  t.equal((await first.exit).code, 0, first.output().slice(-400));
  await sleep(2000); // nsr is not running: a gap in both streams
  const second = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await second.exit).code, 0, second.output().slice(-400));

  const out = path.join(dir, 'out');
  const events = await readEvents(out);
  const served = sim.served();
  const graph = await statsJson(dir, ['graphinfo', 'out']);
  t.equal(graph.records, served['/ndt/get_graph_data'].length, 'every graph record counted');
  t.same(graph.interval, { ms: 1000, source: 'events', detail: graph.interval.detail, changes: [] }, 'interval from the start event');
  const http500 = events.filter((e) => e.event === 'missed_tick' && e.stream === 'graphinfo' && e.reason === 'http_500').length;
  t.ok(http500 >= 2, `the faults cost graph ticks (${http500})`);
  t.equal(graph.missed_ticks.by_reason.http_500, http500, 'missed ticks by reason counted from the events');
  const faultGap = graph.gaps.biggest.find((g) => g.reasons.http_500);
  t.ok(faultGap, 'the fault gap shows up');
  t.equal(faultGap?.explanation, 'missed_ticks', 'explained by missed_tick events');
  t.equal(faultGap?.missed_ticks, faultGap?.reasons.http_500, 'each missed tick of the gap has its event');
  const downGap = graph.gaps.biggest.find((g) => g.explanation === 'not_running');
  t.ok(downGap && downGap.duration_ms >= 2000, `the stop/start gap shows up (${JSON.stringify(downGap)})`);
  t.match(downGap?.note, /nsr stopped at .*started again/);
  t.equal(graph.gaps.unexplained_missed_ticks, 0, 'nsr leaves no gap unexplained');
  t.same(graph.events.runs, { starts: 2, stops: 2, restarts_without_stop: 0 });
  t.equal(graph.coverage?.expected_ticks, graph.records + graph.gaps.missed_ticks, 'ticks = records + missed ticks');
  t.ok(graph.lateness_ms && graph.lateness_ms.n === graph.records && graph.lateness_ms.max < 1000, 'lateness of every record, within its tick');
  t.ok(graph.utilisation && graph.utilisation.records === graph.records && graph.utilisation.max_percent > 0, 'link utilisation of the graph records');

  const flow = await statsJson(dir, ['flowinfo', 'out']);
  t.equal(flow.records, served['/ndt/get_detected_flow_data'].length);
  t.equal(flow.missed_ticks.total, 0, 'the flow stream missed no tick while nsr ran');
  t.equal(flow.gaps.by_explanation.not_running.gaps, 1, 'its only gap: nsr not running');
  t.equal(flow.gaps.unexplained_missed_ticks, 0);
  t.equal(flow.utilisation, null, 'no utilisation for flow data');

  // A time range: only the second run.
  const restart = events.filter((e) => e.event === 'start')[1].timestamp;
  const later = await statsJson(dir, ['graphinfo', 'out', '--from', String(restart)]);
  t.ok(later.records > 0 && later.records < graph.records && later.first! >= restart, `--from keeps the second run (${later.records} records)`);
  t.equal(later.missed_ticks.by_reason.http_500, undefined, 'missed ticks outside the range are not counted');
  t.same(later.events.runs, { starts: 1, stops: 1, restarts_without_stop: 0 });

  const text = await nsr(dir, ['stats', 'graphinfo', 'out', '--html', 'report.html']);
  t.equal(text.code, 0, text.stderr);
  t.equal(text.stderr, '', 'quiet on stderr in a pipe (no progress)');
  t.match(text.stdout, /interval\s+1000 ms, from nsr's start event/);
  t.match(text.stdout, /missed ticks\s+\d+ reported: http_500 \d+/);
  t.match(text.stdout, /nsr not running/);
  t.match(text.stdout, /every missed tick is explained by the events stream/);

  const file = path.join(dir, 'report.html');
  const html = readFileSync(file, 'utf8');
  checkSelfContained(t, html);
  const browser = await chromium(t, file);
  if (browser) {
    const { dom, png } = browser;
    t.match(dom, /data-charts-drawn="5"/, 'five charts laid out with a size (records, missed over time, reasons, lateness, utilisation)');
    for (const id of ['records', 'missed', 'reasons', 'lateness', 'utilisation']) t.match(dom, new RegExp(`<svg class="chart" id="chart-${id}"`), `chart ${id}`);
    t.match(dom, /<polyline class="line" points="[\d., ]+"/, 'the records line is drawn');
    t.match(dom, /class="gap gap-missed_ticks"/, 'the fault gap is shaded');
    t.match(dom, /class="gap gap-not_running"/, 'the stop/start gap is shaded');
    t.match(dom, new RegExp(`>http_500</text>.*>${http500}</text>`), 'missed ticks by reason, with the count');
    t.match(dom, new RegExp(`<div class="v">${graph.records}</div>`), 'the record count');
    t.match(dom, /<path class="uline" d="M[\d.,ML]+"/, 'the utilisation lines are drawn');
    t.ok(statSync(png).size > 30_000, `a screenshot with content (${statSync(png).size} bytes)`);
  }
});

t.test("the original recorder's archives: counts, inferred interval, no events", async (t) => {
  const dir = tempDir(t);
  const flow = await statsJson(dir, ['flowinfo', ORIGINAL]);
  t.equal(flow.records, 4, 'four records (the .json beside its zip is the same window)');
  t.equal(flow.first, 1770703392057);
  t.equal(flow.last, 1770703407060);
  t.same(flow.interval, { ms: 5001, source: 'inferred', detail: flow.interval.detail, changes: [] }, 'the 5 s interval, inferred from the records');
  t.match(flow.interval.detail, /median of 3 differences/);
  t.equal(flow.lateness_ms, null, 'no lateness: the original ticks are not on the clock grid');
  t.equal(flow.gaps.count, 0);
  t.equal(flow.events.available, false);
  t.same(flow.intervals_ms, { n: 3, p50: 5001, p90: 5001, p99: 5001, max: 5001 });

  const graph = await statsJson(dir, ['graphinfo', ORIGINAL]);
  t.equal(graph.records, 3);
  t.equal(graph.utilisation?.records, 3);
  t.equal(graph.utilisation?.max_percent, 0.22, 'the busiest link of the fixture');

  const ranged = await statsJson(dir, ['flowinfo', ORIGINAL, '--from', '1770703397058', '--to', '1770703407060']);
  t.equal(ranged.records, 2, '--from inclusive, --to exclusive');

  const text = await nsr(dir, ['stats', 'graphinfo', ORIGINAL, '--html', 'report.html']);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /no events stream in this directory/);
  t.match(text.stdout, /link utilisation\s+mean 0\.14 %, max 0\.22 %/);
  const browser = await chromium(t, path.join(dir, 'report.html'));
  if (browser) {
    t.match(browser.dom, /data-charts-drawn="2"/, 'records and utilisation charts laid out');
    t.match(browser.dom, /None: every tick in this range has a record/);
  }
});

// --- synthetic archives: every gap known exactly ------------------------------

const I = 1000;
const T0 = Math.floor(new Date(2026, 1, 10, 10, 0, 0).getTime() / I) * I;

/** Writes open windows (.json) of a stream and of events; the catalog scans them. */
function writeArchive(dir: string, records: number[], events: Record<string, unknown>[] | undefined, line = (ts: number) => `{"timestamp":${ts},"flowinfo":[]}`): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${formatWindowTime(T0)}_flowinfo.json`), records.map((ts) => `${line(ts)}\n`).join(''));
  if (events) writeFileSync(path.join(dir, `${formatWindowTime(T0)}_events.json`), events.map(({ timestamp, ...e }) => `{"timestamp":${timestamp},${JSON.stringify(e).slice(1)}\n`).join(''));
}

async function statsOf(dir: string, opts: { from?: number; to?: number } = {}) {
  const catalogs = await readCatalog(dir);
  return computeStats(catalogs.find((c) => c.stream === 'flowinfo')!, catalogs.find((c) => c.stream === 'events'), { ...opts, listGaps: 20 });
}

t.test('synthetic archive: each kind of gap is told apart', async (t) => {
  const dir = path.join(tempDir(t), 'out');
  const start = (at: number) => ({ timestamp: at, event: 'start', streams: { flowinfo: { interval_ms: I } } });
  const missed = (tick: number, reason: string) => ({ timestamp: T0 + tick * I + 800, event: 'missed_tick', stream: 'flowinfo', tick, scheduled_at: T0 + tick * I, reason });
  const ticks: number[] = [];
  const events: Record<string, unknown>[] = [start(T0 - 300)];
  for (let k = 0; k < 100; k++) {
    if (k >= 10 && k < 13) events.push(missed(k, 'timeout')); // 3 ticks, explained (written 800 ms after their tick)
    else if (k >= 20 && k < 25) void 0; // 5 ticks, no event: unexplained
    else if (k >= 30 && k < 34) { if (k < 32) events.push(missed(k, 'http_500')); } // 4 ticks, 2 with an event: partly
    else if (k >= 40 && k < 50) {
      if (k === 40) events.push({ timestamp: T0 + 40 * I + 10, event: 'stop', reason: 'SIGTERM' });
      if (k === 49) events.push(start(T0 + 49 * I + 100)); // 10 ticks, nsr not running
    } else if (k >= 60 && k < 63) {
      if (k === 62) events.push(start(T0 + 62 * I + 500)); // 3 ticks: a start without a stop (crash)
    } else if (k === 70) events.push({ timestamp: T0 + 70 * I + 5, event: 'missed_tick', stream: 'graphinfo', tick: 70, scheduled_at: T0 + 70 * I, reason: 'timeout' }); // another stream's event
    else ticks.push(T0 + k * I + 20 + (k % 7) * 100); // late by 20..620 ms
    if (k === 70) ticks.push(T0 + 70 * I + 20);
  }
  events.push(missed(100, 'connection_refused'), missed(101, 'connection_refused'), { timestamp: T0 + 102 * I, event: 'stop', reason: 'SIGTERM' });
  writeArchive(dir, ticks, events);

  const { report: r, series } = await statsOf(dir);
  t.equal(r.records, ticks.length);
  t.equal(r.interval.ms, I);
  t.equal(r.interval.source, 'events');
  const kinds = r.gaps.biggest.map((g) => [g.missed_ticks, g.explanation]);
  t.same(kinds.sort((a, b) => Number(b[0]) - Number(a[0])), [
    [10, 'not_running'],
    [5, 'none'],
    [4, 'partly'],
    [3, 'missed_ticks'],
    [3, 'not_running'],
  ]);
  t.same(r.gaps.by_explanation, { not_running: { gaps: 2, missed_ticks: 13 }, missed_ticks: { gaps: 1, missed_ticks: 3 }, partly: { gaps: 1, missed_ticks: 4 }, retention: { gaps: 0, missed_ticks: 0 }, none: { gaps: 1, missed_ticks: 5 } });
  t.equal(r.gaps.unexplained_missed_ticks, 5 + 2, 'five without any event, two of the partly explained gap');
  t.same(r.missed_ticks.by_reason, { timeout: 3, connection_refused: 2, http_500: 2 }, "the stream's own missed ticks only");
  t.same(r.missed_ticks.after_last_record, { connection_refused: 2 }, 'missed ticks after the last record');
  t.same(r.events.runs, { starts: 3, stops: 2, restarts_without_stop: 1 });
  t.match(r.gaps.biggest.find((g) => g.missed_ticks === 3 && g.explanation === 'not_running')?.note, /without a stop event/);
  t.match(r.gaps.biggest.find((g) => g.explanation === 'partly')?.note, /2 of 4 missed ticks \(http_500 2\)/);
  t.same(r.coverage, { expected_ticks: 100, records: 75, percent: 75 });
  t.same(r.lateness_ms, { n: 75, p50: 320, p90: 620, p99: 620, max: 620 });
  t.equal(series.records.reduce((a, b) => a + b, 0), r.records, 'the series holds every record');
  const missedInSeries = Object.values(series.missed).reduce((n, v) => n + v.reduce((a, b) => a + b, 0), 0);
  t.equal(Math.round(missedInSeries), 3 + 2 + 2 + 5 + 2 + 13, 'the series holds every missed tick: events, unexplained, not running');

  // A range cut in the middle of the stop: nsr is known not to be running at its start.
  const mid = await statsOf(dir, { from: T0 + 45 * I, to: T0 + 80 * I });
  t.equal(mid.report.records, 27, 'records of ticks 50..79 but the three of the crash gap');
  t.same(mid.report.events.runs, { starts: 2, stops: 0, restarts_without_stop: 1 }, 'the start at tick 49 ends the stop; the one at 62 comes without one');
});

t.test('synthetic archive without events: interval inferred, gaps unexplained', async (t) => {
  const dir = path.join(tempDir(t), 'out');
  const ticks: number[] = [];
  for (let k = 0; k < 50; k++) if (k < 20 || k >= 25) ticks.push(T0 + k * 2000 + 3 * k); // 2 s, drifting like the original; 5 records missing
  writeArchive(dir, ticks, undefined);
  const { report: r } = await statsOf(dir);
  t.equal(r.interval.source, 'inferred');
  t.equal(r.interval.ms, 2003);
  t.equal(r.gaps.count, 1);
  t.same(r.gaps.biggest.map((g) => [g.missed_ticks, g.explanation, g.duration_ms]), [[5, 'none', 6 * 2003]]);
  t.match(r.gaps.biggest[0].note, /no events stream/);
  t.equal(r.lateness_ms, null);
});

t.test('link utilisation is read from the bytes, uint64 DPIDs untouched', async (t) => {
  const line = Buffer.from('{"timestamp":1,"edges":[{"dst_dpid":14721744659231801345,"link_bandwidth_utilization_percent":10.5},{"link_bandwidth_utilization_percent":0.0},{"link_bandwidth_utilization_percent":1e1}],"nodes":[]}');
  t.same(linkUtilisation(line), { mean: 20.5 / 3, max: 10.5, links: 3 });
  t.equal(linkUtilisation(Buffer.from('{"timestamp":1,"flowinfo":[]}')), undefined);
});

t.test('bounded memory: buckets widen, histograms stay sparse', async (t) => {
  const b = new Buckets(1000);
  const year = 365 * 86_400_000;
  let n = 0;
  for (let ts = T0; ts < T0 + year; ts += 997_000) {
    b.add('records', ts, 1);
    n++;
  }
  const values = b.values('records');
  t.ok(values.length <= MAX_BUCKETS, `at most ${MAX_BUCKETS} buckets (${values.length}, width ${b.width} ms)`);
  t.equal(values.reduce((a, v) => a + v, 0), n, 'nothing lost when merging');
  const h = new Histogram();
  for (let i = 1; i <= 1_000_000; i++) h.add(i % 1000);
  t.same(h.percentiles(), { n: 1_000_000, p50: 499, p90: 899, p99: 989, max: 999 });
  t.equal(h.entries().length, 1000);
});

t.test('usage errors exit 2 with a message that says what to do', async (t) => {
  const dir = tempDir(t);
  const missing = await nsr(dir, ['stats', 'nosuch', ORIGINAL]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no stream "nosuch" in .*streams there: flowinfo, graphinfo/);
  const events = await nsr(dir, ['stats', 'events', ORIGINAL]);
  t.equal(events.code, 2);
  t.match(events.stderr, /nsr's own events stream/);
  const badTime = await nsr(dir, ['stats', 'flowinfo', ORIGINAL, '--from', 'yesterday']);
  t.equal(badTime.code, 2);
  t.match(badTime.stderr, /--from: got "yesterday"; expected an ISO time/);
  const noDir = await nsr(dir, ['stats', 'flowinfo', 'nowhere']);
  t.equal(noDir.code, 2);
  t.match(noDir.stderr, /nowhere is not a directory of archives/);
});
