// The control server: /healthz, /metrics, /status of a running `nsr run`,
// found through the URL in the lock file; staleness, metrics under faults,
// the bearer token, and the bad inputs (a wide bind without a token, a port in use).
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { readArchives, readEvents, seqOf, simulatorWithConfig, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';
import { commandHeaders, controlUrl } from './control-helpers.js';

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; text: string; json: () => any; type: string | null }> {
  const res = await fetch(url, { headers, method });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text), type: res.headers.get('content-type') };
}

/** Starts `nsr run -c r.yaml` in `dir` (killed at teardown) and waits for its control URL. */
async function running(t: { teardown(fn: () => unknown): void }, dir: string): Promise<{ nsr: NsrProcess; url: string }> {
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  return { nsr, url: await controlUrl(dir, nsr) };
}

/** Polls until `pred` holds (or fails the test at the timeout). */
async function until<T>(what: string, fn: () => Promise<T>, pred: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await fn();
    if (pred(last)) return last;
    await sleep(100);
  } while (Date.now() < end);
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const metricValue = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

t.test('endpoints answer; a stale stream turns /healthz red and back; metrics move under faults', async (t) => {
  const dir = tempDir(t);
  const { sim } = await simulatorWithConfig(t, dir, (url) =>
    `defaults: {interval: 500ms}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, timeout: 400ms}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, timeout: 400ms}\n`,
  );
  const { nsr, url } = await running(t, dir);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'an ephemeral loopback port, announced in the lock');

  // healthy once the first records are in
  const health = await until('a first green /healthz', () => get(`${url}/healthz`), (r) => r.status === 200, 5000);
  t.same(health.json(), { status: 'ok' });

  const status = await until('records in /status', () => get(`${url}/status`), (r) => r.json().streams.graphinfo.records > 0 && r.json().streams.flowinfo.records > 0, 5000);
  const s = status.json();
  t.equal(s.pid, nsr.pid);
  t.equal(s.output_dir, path.join(dir, 'recorded_info'));
  t.type(s.version, 'string');
  t.type(s.uptime_ms, 'number');
  t.type(s.disk_free_bytes, 'number');
  t.type(s.compression_backlog, 'number');
  t.same(Object.keys(s.streams).sort(), ['flowinfo', 'graphinfo']);
  const g = s.streams.graphinfo;
  t.equal(g.kind, 'ndtwin');
  t.match(g.target, /\/ndt\/get_graph_data$/);
  t.equal(g.interval_ms, 500);
  t.equal(g.freshness_bound_ms, 3 * 500 + 400);
  t.type(g.last_record_age_ms, 'number');
  t.equal(g.stale, false);
  t.ok(g.fetches >= g.records);
  t.type(g.lateness_ms.p99, 'number');
  t.type(g.fetch_ms.p50, 'number');
  t.same(g.queue, { depth: 0, bytes: 0 });
  t.equal(s.events[0].event, 'start', 'the recent events begin with the start');

  const metrics = await get(`${url}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.type, /^text\/plain; version=0\.0\.4/);
  for (const name of ['nsr_fetches_total', 'nsr_records_total', 'nsr_record_bytes_total', 'nsr_fetch_duration_seconds_bucket', 'nsr_queue_depth', 'nsr_queue_bytes', 'nsr_window_files_open', 'nsr_compression_backlog', 'nsr_compression_duration_seconds_count', 'nsr_disk_free_bytes', 'nsr_last_record_age_seconds', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes']) {
    t.match(metrics.text, new RegExp(`^${name}[{ ]`, 'm'), `${name} is exported`);
  }
  t.ok(metricValue(metrics.text, 'nsr_fetches_total{stream="flowinfo"}') > 0);

  // wrong paths and methods
  const missing = await get(`${url}/nope`);
  t.equal(missing.status, 404);
  t.equal(missing.json().error, 'Not Found');
  const post = await get(`${url}/status`, {}, 'POST');
  t.equal(post.status, 405);
  t.match(post.json().error, /not allowed/);

  // faults on the graph endpoint: the http_500 failures counter moves, flowinfo's does not
  const failures = (text: string, stream: string) => metricValue(text, `nsr_fetch_failures_total{stream="${stream}",reason="http_500"}`);
  const missed = (text: string, stream: string) => metricValue(text, `nsr_missed_ticks_total{stream="${stream}",reason="http_500"}`);
  const before = failures(metrics.text, 'graphinfo');
  sim.setFaults({ rate: 1, kinds: ['http_500'], paths: ['/ndt/get_graph_data'] });
  const faulted = await until('http_500 failures in /metrics', () => get(`${url}/metrics`), (r) => failures(r.text, 'graphinfo') >= before + 2, 5000);
  sim.setFaults(null);
  t.ok(failures(faulted.text, 'graphinfo') >= before + 2, 'nsr_fetch_failures_total{reason="http_500"} went up');
  t.ok(missed(faulted.text, 'graphinfo') >= 2, 'and so did the missed ticks of that reason');
  t.equal(failures(faulted.text, 'flowinfo'), 0, 'the other stream is untouched');
  const st = (await get(`${url}/status`)).json();
  t.ok(st.streams.graphinfo.failures.http_500 >= 2, '/status counts them by reason too');
  t.ok(st.events.some((e: any) => e.event === 'missed_tick' && e.reason === 'http_500'), 'the missed ticks are among the recent events');

  await until('graphinfo recording again', () => get(`${url}/healthz`), (r) => r.status === 200, 4000);

  // the upstream goes away for longer than the freshness bound (1.9 s): red, then green again
  void sim.goDown(5000);
  const red = await until('a red /healthz for both streams', () => get(`${url}/healthz`), (r) => r.status === 503 && r.json().stale.length === 2, 4500);
  const body = red.json();
  t.equal(body.status, 'stale');
  t.same(body.stale.map((x: any) => x.stream).sort(), ['flowinfo', 'graphinfo'], 'both streams are stale');
  for (const x of body.stale) {
    t.ok(x.last_record_age_ms > 1900, `${x.stream}: its last record is older than the bound`);
    t.equal(x.last_missed_reason, 'connection_refused', `${x.stream}: and why it misses`);
  }
  const fresh = await get(`${url}/metrics`);
  t.equal(metricValue(fresh.text, 'nsr_stream_fresh{stream="flowinfo"}'), 0, 'nsr_stream_fresh says so too');
  t.ok(metricValue(fresh.text, 'nsr_last_record_age_seconds{stream="flowinfo"}') > 1.9, 'and nsr_last_record_age_seconds');
  t.equal((await get(`${url}/status`)).json().streams.flowinfo.stale, true, 'and /status');
  await until('a green /healthz again', () => get(`${url}/healthz`), (r) => r.status === 200, 7000);
  t.pass('green again once the upstream is back');

  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output());
  t.notOk(existsSync(path.join(dir, 'recorded_info', '.nsr.lock')), 'the lock (and the URL in it) is gone');
});

t.test('with a token every route needs it; a bad or missing token is 401 and changes nothing', async (t) => {
  const dir = tempDir(t);
  const token = 'tok-' + Math.random().toString(36).slice(2) + '-secret';
  process.env.NSR_TEST_CONTROL_TOKEN = token; // the recorder inherits it
  await simulatorWithConfig(t, dir, (url) => `control: {host: 0.0.0.0, token: "\${NSR_TEST_CONTROL_TOKEN}"}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--log-level', 'debug']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  const url = await controlUrl(dir, nsr);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'a wildcard bind is announced on loopback');
  const good = { authorization: `Bearer ${token}` };
  await until('a record', () => get(`${url}/status`, good), (r) => r.status === 200 && r.json().streams.flowinfo.records > 0, 5000);
  for (const route of ['/healthz', '/metrics', '/status', '/nope']) {
    for (const [why, headers] of [
      ['missing', {}],
      ['wrong', { authorization: `Bearer ${token}x` }],
      ['not bearer', { authorization: `Basic ${Buffer.from(`nsr:${token}`).toString('base64')}` }],
      ['shorter', { authorization: `Bearer ${token.slice(0, 5)}` }],
    ] as const) {
      const r = await get(`${url}${route}`, headers);
      t.equal(r.status, 401, `${route}, ${why} token: 401`);
      t.match(r.type, /application\/json/);
      t.type(r.json().error, 'string');
      t.notMatch(r.text, token, 'the token is not echoed');
    }
  }
  t.equal((await get(`${url}/healthz`, good)).status, 200, 'the right token passes');
  t.equal((await get(`${url}/metrics`, { authorization: `bearer ${token}` })).status, 200, 'the scheme is case-insensitive');
  t.equal((await get(`${url}/nope`, good)).status, 404, 'and then unknown paths are 404');
  // refused requests changed nothing: the recorder runs on
  const r1 = (await get(`${url}/status`, good)).json().streams.flowinfo.records;
  await sleep(1500);
  t.ok((await get(`${url}/status`, good)).json().streams.flowinfo.records > r1, 'recording went on');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
  t.notMatch(nsr.output(), token, 'the token never appears in the logs (debug level)');
});

t.test('binding beyond loopback without a token is a configuration error (exit 2)', async (t) => {
  const dir = tempDir(t);
  await simulatorWithConfig(t, dir, (url) => `control: {host: 0.0.0.0}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  const { code } = await nsr.exit;
  t.equal(code, 2);
  t.match(nsr.output(), /control\.host: 0\.0\.0\.0 is not a loopback address, and the control server has no token; set control\.token: \$\{NSR_CONTROL_TOKEN\}/);
  t.notOk(existsSync(path.join(dir, 'recorded_info', '.nsr.lock')), 'nothing was started');
});

t.test('a control port in use is a configuration error (exit 2) that names the fix', async (t) => {
  const dir = tempDir(t);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  await simulatorWithConfig(t, dir, (url) => `control: {port: ${port}}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  const { code } = await nsr.exit;
  t.equal(code, 2, nsr.output());
  t.match(nsr.output(), new RegExp(`control\\.port: 127\\.0\\.0\\.1:${port} is already in use .*choose another control\\.port, or 0`));
  t.notOk(existsSync(path.join(dir, 'recorded_info', '.nsr.lock')), 'the lock is given back');
});

t.test('control.enabled: false starts no server; the lock holds the pid alone', async (t) => {
  const dir = tempDir(t);
  await simulatorWithConfig(t, dir, (url) => `control: {enabled: false}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  const lock = path.join(dir, 'recorded_info', '.nsr.lock');
  await until('the lock', async () => existsSync(lock), Boolean, 5000);
  await sleep(1000);
  t.match(readFileSync(lock, 'utf8'), new RegExp(`^${nsr.pid} \\d+\\n$`), 'the pid and its start time, no URL');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
});

t.test('token_file and config errors about the token', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'both.yaml'), `control: {token: abc, token_file: t.txt}\nstreams:\n  f: {kind: ndtwin, data: flow}\n`);
  writeFileSync(path.join(dir, 'nofile.yaml'), `control: {host: 10.1.2.3, token_file: missing.txt}\nstreams:\n  f: {kind: ndtwin, data: flow}\n`);
  writeFileSync(path.join(dir, 'num.yaml'), `control: {token: 123456789}\nstreams:\n  f: {kind: ndtwin, data: flow}\n`);
  const cases: [string, RegExp][] = [
    ['both.yaml', /control: both token and token_file are set; keep one/],
    ['nofile.yaml', /control\.token_file: cannot read missing\.txt \(ENOENT\)/],
    ['num.yaml', /control\.token: got a number \(not shown: it is a secret\); a token must be a string/],
  ];
  for (const [file, re] of cases) {
    const nsr = startNsr(dir, ['check', '-c', file]);
    t.equal((await nsr.exit).code, 2, file);
    t.match(nsr.output(), re, file);
    t.notMatch(nsr.output(), /123456789/, 'a token is never echoed');
  }
});

t.test('commands: rotate now, pause and resume a stream; bad commands change nothing; nothing lost or doubled', async (t) => {
  const dir = tempDir(t);
  const { sim } = await simulatorWithConfig(t, dir, (url) =>
    `output: {window: 1h}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 500ms}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 500ms}\n`,
  );
  const { nsr, url } = await running(t, dir);
  const out = path.join(dir, 'recorded_info');
  const zips = () => readdirSync(out).filter((f) => f.endsWith('_json.zip'));
  await sleep(1500);
  t.same(zips(), [], 'hour-long windows: nothing zipped yet');

  const cmd = commandHeaders(dir); // commands need the recorder's token, also on loopback
  const rotated = await get(`${url}/rotate`, cmd, 'POST');
  t.equal(rotated.status, 200, rotated.text);
  t.ok(rotated.json().rotated_windows >= 2, `windows closed: ${rotated.text}`);
  await until('the rotated windows to be zipped', async () => zips(), (z) => z.some((f) => f.includes('_flowinfo_')) && z.some((f) => f.includes('_graphinfo_')), 10_000);

  const status = async () => (await get(`${url}/status`)).json();
  t.same((await get(`${url}/streams/graphinfo/pause`, cmd, 'POST')).json(), { stream: 'graphinfo', paused: true });
  const before = (await status()).streams;
  await sleep(2000);
  const during = (await status()).streams;
  t.ok(during.graphinfo.records - before.graphinfo.records <= 1, 'a paused stream records nothing (one fetch may have been in flight)');
  t.ok(during.flowinfo.records - before.flowinfo.records >= 3, 'the other stream goes on');
  t.equal(during.graphinfo.paused, true);
  t.equal((await get(`${url}/healthz`)).status, 200, 'a paused stream is not stale');
  t.same((await get(`${url}/streams/graphinfo/resume`, cmd, 'POST')).json(), { stream: 'graphinfo', paused: false });
  await until('graph to record again', status, (s) => s.streams.graphinfo.records > during.graphinfo.records, 5000);

  // bad commands: clear 4xx, nothing changes
  const unknown = await get(`${url}/streams/nope/pause`, cmd, 'POST');
  t.equal(unknown.status, 404);
  t.match(unknown.json(), { error: 'no stream "nope"', streams: ['flowinfo', 'graphinfo'] });
  t.equal((await get(`${url}/rotate`)).status, 405, 'a command needs POST');
  t.equal((await get(`${url}/streams/flowinfo/explode`, cmd, 'POST')).status, 404);
  t.equal((await status()).streams.flowinfo.paused, false);

  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-400));
  const events = await readEvents(out);
  t.ok(events.some((e) => e.event === 'rotation' && e.reason === 'command'));
  t.ok(events.some((e) => e.event === 'stream_paused' && e.stream === 'graphinfo'));
  t.ok(events.some((e) => e.event === 'stream_resumed' && e.stream === 'graphinfo'));
  t.ok(events.some((e) => e.event === 'missed_tick' && e.stream === 'graphinfo' && e.reason === 'paused'), 'paused ticks are reported, not silent');
  const served = sim.served();
  for (const [stream, endpoint] of [['flowinfo', '/ndt/get_detected_flow_data'], ['graphinfo', '/ndt/get_graph_data']]) {
    const seqs = (await readArchives(out, stream)).flatMap((w) => w.lines.map(seqOf));
    t.same(seqs, served[endpoint], `${stream}: exactly once across the rotation`);
  }
});

t.test('reload (SIGHUP and POST /reload): an added stream records from the next tick, the others miss nothing; an invalid file is rejected and recording goes on', async (t) => {
  const dir = tempDir(t);
  const flowOnly = (url: string) => `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 500ms}\n`;
  const { sim, url: kernel } = await simulatorWithConfig(t, dir, flowOnly);
  const { nsr, url } = await running(t, dir);
  const status = async () => (await get(`${url}/status`)).json();
  await sleep(1500);

  // add graphinfo with SIGHUP
  writeFileSync(path.join(dir, 'r.yaml'), `${flowOnly(kernel)}  graphinfo: {kind: ndtwin, kernel: "${kernel}", data: graph, interval: 500ms}\n`);
  process.kill(nsr.pid, 'SIGHUP');
  const added = await until('graphinfo to record', status, (s) => s.streams.graphinfo?.records >= 2, 5000);
  t.ok(added.streams.graphinfo.records >= 2, 'the added stream records');

  // an invalid file: rejected with the reason, nothing changes
  writeFileSync(path.join(dir, 'r.yaml'), 'streams:\n  flowinfo: {kind: ndtwin, data: flow, interval: fast}\n');
  const bad = await get(`${url}/reload`, commandHeaders(dir), 'POST');
  t.equal(bad.status, 400);
  t.match(bad.json(), { applied: false, error: /streams\.flowinfo\.interval: got "fast"/ });
  t.same(Object.keys((await status()).streams).sort(), ['flowinfo', 'graphinfo'], 'the running configuration stays');

  // remove graphinfo, change flowinfo's interval, with POST /reload
  writeFileSync(path.join(dir, 'r.yaml'), `streams:\n  flowinfo: {kind: ndtwin, kernel: "${kernel}", data: flow, interval: 250ms}\n`);
  const ok = await get(`${url}/reload`, commandHeaders(dir), 'POST');
  t.equal(ok.status, 200, ok.text);
  t.same(ok.json(), { added: [], removed: ['graphinfo'], changed: ['flowinfo'], restart_required: [] });
  await sleep(1200);
  t.same(Object.keys((await status()).streams), ['flowinfo']);

  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-400));
  const out = path.join(dir, 'recorded_info');
  const events = await readEvents(out);
  t.equal(events.filter((e) => e.event === 'reload').length, 2);
  t.ok(events.some((e) => e.event === 'reload_rejected'));
  const flowMissed = events.filter((e) => e.event === 'missed_tick' && e.stream === 'flowinfo' && e.reason !== 'reload');
  t.same(flowMissed, [], 'flowinfo missed no tick through the reloads (a swap tick, if any, says reload)');
  const served = sim.served();
  for (const [stream, endpoint] of [['flowinfo', '/ndt/get_detected_flow_data'], ['graphinfo', '/ndt/get_graph_data']]) {
    const seqs = (await readArchives(out, stream)).flatMap((w) => w.lines.map(seqOf)).sort((a, b) => a - b);
    t.same(seqs, served[endpoint], `${stream}: every response exactly once through the reloads`);
  }
  t.same(readdirSync(out).filter((f) => f.endsWith('.json')), [], 'the removed stream\'s window was closed and zipped');
});

t.test('add and remove streams at run time: checked like the file, kept across a restart, bad requests change nothing', async (t) => {
  const dir = tempDir(t);
  const { sim, url: kernel } = await simulatorWithConfig(t, dir, (url) => `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 500ms}\n`);
  let nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  let url = await controlUrl(dir, nsr);
  const post = async (body: string) => {
    const res = await fetch(`${url}/streams`, { method: 'POST', body, headers: commandHeaders(dir) });
    return { status: res.status, json: await res.json() };
  };
  const names = async () => Object.keys((await get(`${url}/status`)).json().streams).sort();

  const added = await post(JSON.stringify({ name: 'graphinfo', kind: 'ndtwin', kernel, data: 'graph', interval: '500ms' }));
  t.equal(added.status, 200, JSON.stringify(added.json));
  t.same(added.json.added, ['graphinfo']);
  await until('graphinfo to record', async () => (await get(`${url}/status`)).json(), (s) => s.streams.graphinfo?.records >= 1, 5000);

  // bad requests: a clear 400 or 404, nothing changes
  t.match(await post('{not json'), { status: 400, json: { error: /must be a JSON object/ } });
  t.match(await post(JSON.stringify({ kind: 'ndtwin' })), { status: 400, json: { error: /string "name"/ } });
  t.match(await post(JSON.stringify({ name: 'x', kind: 'ndtwin', data: 'flow', interval: 'fast' })), { status: 400, json: { error: /streams\.x\.interval: got "fast"/ } });
  t.match(await post(JSON.stringify({ name: 'flowinfo', kind: 'ndtwin', data: 'flow' })), { status: 400, json: { error: /exists already/ } });
  t.equal((await fetch(`${url}/streams/nope`, { method: 'DELETE', headers: commandHeaders(dir) })).status, 404);
  t.same(await names(), ['flowinfo', 'graphinfo']);

  // the added stream survives a restart; then remove the file's own stream
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
  nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  url = await controlUrl(dir, nsr);
  t.same(await names(), ['flowinfo', 'graphinfo'], 'runtime streams are kept across a restart');
  const removed = await fetch(`${url}/streams/flowinfo`, { method: 'DELETE', headers: commandHeaders(dir) });
  t.equal(removed.status, 200);
  t.same((await removed.json()).removed, ['flowinfo']);
  t.same(await names(), ['graphinfo']);
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
  nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '2s']);
  url = await controlUrl(dir, nsr);
  t.same(await names(), ['graphinfo'], 'a removed stream stays removed');
  t.equal((await nsr.exit).code, 0);

  const out = path.join(dir, 'recorded_info');
  const served = sim.served();
  for (const [stream, endpoint] of [['flowinfo', '/ndt/get_detected_flow_data'], ['graphinfo', '/ndt/get_graph_data']]) {
    const seqs = (await readArchives(out, stream)).flatMap((w) => w.lines.map(seqOf)).sort((a, b) => a - b);
    t.same(seqs, served[endpoint], `${stream}: every response exactly once`);
  }
});
