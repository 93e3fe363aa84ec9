// The NDTwin clients against nsr replay and nsr simulate: the Web-GUI (a React page on
// another origin whose calls are preflighted) and the Network-Traffic-Visualizer's Top-K
// mode. A page in headless Chromium fetches both servers from another loopback port.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ReplayServer } from '../src/archive/replay-server.js';
import { recordTimestamp } from '../src/pipeline/record.js';
import { formatWindowTime } from '../src/sinks/window-naming.js';
import { NdtwinSimulator } from '../src/simulate/ndtwin-simulator.js';
import { TOP_K_ORDER_FIELD, topKFlows, topKRequest } from '../src/sources/ndtwin/top-k-flows.js';
import { FIXTURES, readArchives, startNsr, tempDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_INSTALL = 'apt-get update && apt-get install -y chromium';
const GRAPH = '/ndt/get_graph_data';
const FLOW = '/ndt/get_detected_flow_data';
const TOP_K = '/ndt/get_detected_top_k_flow_data';
const RATE = TOP_K_ORDER_FIELD;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection, the target sent exactly as given. */
function call(url: string, target: string, method = 'GET', headers: Record<string, string> = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: target, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a browser sends before a cross-origin GET with Content-Type: application/json. */
const preflight = (url: string, target: string) =>
  call(url, target, 'OPTIONS', { Origin: 'http://127.0.0.1:1', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'content-type,x-requested-with' });

function checkPreflightAnswer(t: Test, r: Reply, what: string): void {
  t.equal(r.status, 204, `${what}: OPTIONS answered 204`);
  t.equal(r.headers['access-control-allow-origin'], '*', `${what}: any origin`);
  t.match(r.headers['access-control-allow-methods'], /\bGET\b.*\bPOST\b.*\bOPTIONS\b/, `${what}: GET, POST, OPTIONS`);
  const allowed = String(r.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
  t.ok(allowed.includes('content-type') && allowed.includes('x-requested-with'), `${what}: Content-Type and the requested header allowed (${allowed})`);
}

// Flow rates above 2^53, listed so that a sort on JS numbers would get them wrong:
// 9007199254740992 and …993 are the same double, and so are 18446744073709551614 and …615.
const flow = (ip: number, rate: string, extra = '') => `{"dst_ip":9,${extra}"${RATE}":${rate},"src_ip":${ip}}`;
const FLOWS_T0 = [
  flow(1, '9007199254740992'),
  flow(2, '9007199254740993', '"bytes":0.0,'),
  flow(3, '18446744073709551614'),
  flow(4, '18446744073709551615'),
  flow(5, '7'),
  flow(6, '9007199254740994'),
];
/** The order the kernel gives them: the exact rates, descending. */
const RANKED_T0 = [FLOWS_T0[3], FLOWS_T0[2], FLOWS_T0[5], FLOWS_T0[1], FLOWS_T0[0], FLOWS_T0[4]];
const FLOWS_T1 = [flow(7, '1'), flow(8, '2')];
const GRAPH_BODY = '{"edges":[],"nodes":[{"dpid":1,"u":0.0}]}';

/** An archive directory with a flow stream (two records) and a graph stream. */
function archive(t: Test): { dir: string; t0: number } {
  const dir = tempDir(t);
  const t0 = Date.UTC(2026, 1, 10, 14, 0, 0);
  const write = (stream: string, lines: string[]) => writeFileSync(path.join(dir, `${formatWindowTime(recordTimestamp(lines[0])!)}_${stream}.json`), lines.map((l) => `${l}\n`).join(''));
  write('flowinfo', [`{"timestamp":${t0},"flowinfo":[${FLOWS_T0.join(',')}]}`, `{"timestamp":${t0 + 1000},"flowinfo":[${FLOWS_T1.join(',')}]}`]);
  write('graphinfo', [`{"timestamp":${t0},${GRAPH_BODY.slice(1)}`]);
  return { dir, t0 };
}

t.test('top-k: the kernel order, exact above 2^53, each flow as sent', async (t) => {
  const body = Buffer.from(`[${FLOWS_T0.join(',')}]`);
  t.equal(topKFlows(body, 100).toString(), `[${RANKED_T0.join(',')}]`, 'all flows, largest rate first, compared exactly');
  t.equal(topKFlows(body, 2).toString(), `[${RANKED_T0.slice(0, 2).join(',')}]`, 'the first k');
  t.equal(topKFlows(body, 0).toString(), '[]', 'k=0: none');
  t.equal(topKFlows(Buffer.from(' [] '), 5).toString(), '[]', 'no flows');
  t.equal(topKFlows(Buffer.from(`[${flow(1, '5')},{"src_ip":2},${flow(3, '5')}]`), 3).toString(), `[${flow(1, '5')},${flow(3, '5')},{"src_ip":2}]`, 'equal rates keep their order; no rate goes last');
  t.throws(() => topKFlows(Buffer.from('{"a":1}'), 1), /not a JSON array/);

  // The kernel's own Top-K answer is in this order already, and in no other rate's.
  const kernel = readFileSync(path.join(FIXTURES, 'get_detected_top_k_flow_data.json'));
  t.equal(topKFlows(kernel, 50).toString(), kernel.toString(), "the kernel's answer (fixture) is ranked the same");
  const flows = JSON.parse(kernel.toString()) as Record<string, number>[];
  for (const other of Object.keys(flows[0]).filter((k) => k.startsWith('estimated_') && k !== RATE)) {
    t.notOk(flows.every((f, i) => i === 0 || flows[i - 1][other] >= f[other]), `not ranked by ${other}`);
  }

  t.same(topKRequest(`${TOP_K}?k=3`), { k: 3 });
  t.same(topKRequest(`${TOP_K}?liveness=all&k=0`), { k: 0 });
  t.same(topKRequest(TOP_K), { k: 50 }, "no k: the kernel's default, 50");
  t.equal(topKRequest(FLOW), undefined, 'another route');
  t.equal(topKRequest(`${TOP_K}x?k=1`), undefined, 'a longer path is another route');
  for (const bad of ['-1', 'abc', '', '1.5', '1e3', '+2']) {
    const r = topKRequest(`${TOP_K}?k=${encodeURIComponent(bad)}`);
    const error = r && 'error' in r ? JSON.parse(r.error.toString()) : undefined;
    t.same(Object.keys(error ?? {}), ['details', 'error'], `k=${bad}: the kernel's error shape`);
    t.equal(error?.details, `k: got ${JSON.stringify(bad)}; expected a whole number of flows, 0 or more, e.g. ${TOP_K}?k=10`, `k=${bad}: says what was sent and what to send`);
  }
});

t.test('nsr replay: CORS as the kernel, and the Top-K route from the flow record in effect', async (t) => {
  const { dir, t0 } = archive(t);
  let clock = 0;
  const server = new ReplayServer({ dir, port: 0, now: () => clock, pumpMs: 0 });
  const { url, topK } = await server.start();
  t.teardown(() => server.stop());
  t.same(topK, { path: TOP_K, from: 'flowinfo' }, 'the Top-K route ranks the flow stream');

  checkPreflightAnswer(t, await preflight(url, GRAPH), 'graph');
  checkPreflightAnswer(t, await preflight(url, `${TOP_K}?k=5`), 'top-k');
  const graph = await call(url, GRAPH, 'GET', { Origin: 'http://127.0.0.1:1', 'Content-Type': 'application/json' });
  t.equal(graph.body, GRAPH_BODY);
  t.equal(graph.headers['access-control-allow-origin'], '*', 'a kernel route: any origin may read it');
  t.equal((await call(url, '/ndt/nope')).headers['access-control-allow-origin'], '*', "a kernel route's 404 too, as the kernel's");

  // The replay's own status stays same-origin.
  const status = await preflight(url, '/replay/status');
  t.equal(status.status, 404, 'no preflight for /replay/status');
  t.equal(status.headers['access-control-allow-origin'], undefined);
  t.equal((await call(url, '/replay/status')).headers['access-control-allow-origin'], undefined, '/replay/status: same-origin only');

  let r = await call(url, `${TOP_K}?k=4`);
  t.equal(r.status, 200);
  t.equal(r.body, `[${RANKED_T0.slice(0, 4).join(',')}]`, 'k=4 at the first record: largest exact rates first, bytes as recorded');
  t.equal(r.headers['access-control-allow-origin'], '*');
  t.equal(r.headers['x-nsr-record-timestamp'], String(t0), 'the record it came from');
  t.equal((await call(url, TOP_K)).body, `[${RANKED_T0.join(',')}]`, "no k: the kernel's 50 (here all six)");
  clock = 1000;
  r = await call(url, `${TOP_K}?k=1`);
  t.equal(r.body, `[${FLOWS_T1[1]}]`, 'one second later: ranked from the next record');

  for (const bad of ['-3', 'ten']) {
    r = await call(url, `${TOP_K}?k=${bad}`);
    t.equal(r.status, 400, `k=${bad}: 400`);
    t.equal(JSON.parse(r.body).error, 'Bad Request');
    t.equal(r.headers['access-control-allow-origin'], '*', 'readable by the page that sent it');
  }
  t.same((server.status().top_k as { served: number }).served, 3, 'the status counts the Top-K answers');
});

t.test('nsr simulate: CORS as the kernel, Top-K from the current flows', async (t) => {
  const sim = new NdtwinSimulator({ port: 0, now: () => Date.UTC(2026, 1, 10, 14, 3, 12) });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());

  checkPreflightAnswer(t, await preflight(url, GRAPH), 'graph');
  checkPreflightAnswer(t, await preflight(url, FLOW), 'flow');
  for (const target of [GRAPH, FLOW, '/ndt/get_power_report', `${TOP_K}?k=1`]) {
    t.equal((await call(url, target)).headers['access-control-allow-origin'], '*', `${target}: any origin may read it`);
  }

  const flows = (await call(url, FLOW)).body.replace(/"sim_seq":\d+,/, '');
  const ranked = (JSON.parse(flows) as Record<string, number>[]).sort((a, b) => b[RATE] - a[RATE]);
  const top = await call(url, `${TOP_K}?k=5`);
  t.equal(top.status, 200);
  t.notMatch(top.body, /sim_seq/, 'no sequence marker: the kernel sends none');
  const topFlows: unknown = JSON.parse(top.body);
  t.same(topFlows, ranked.slice(0, 5), 'the five busiest of the current flows, in the kernel order');
  if (Array.isArray(topFlows)) for (const f of topFlows) t.ok(flows.includes(JSON.stringify(f)), 'each flow as the flow route sends it', { diagnostic: false });
  t.equal(JSON.parse((await call(url, TOP_K)).body).length, 50, "no k: the kernel's 50");
  const bad = await call(url, `${TOP_K}?k=-1`);
  t.equal(bad.status, 400);
  t.match(JSON.parse(bad.body).details, /^k: got "-1"; expected a whole number of flows/);
});

t.test('nsr simulate: a web page can neither drive nor read the /sim/ routes', async (t) => {
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());

  // A page may not drive the simulator: a cross-site POST needs no preflight, so Origin is refused.
  const plan = JSON.stringify({ rate: 1, kinds: ['http_500'] });
  const post = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const u = new URL(url);
      const req = request({ host: u.hostname, port: u.port, path: '/sim/faults', method: 'POST', headers: { 'Content-Type': 'text/plain', ...headers }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(plan);
    });
  t.equal(await post({ Origin: 'http://evil.example' }), 403, 'POST /sim/faults from a page: 403');
  t.equal(sim.faultPlan(), null, 'and no fault plan installed');
  const simPreflight = await preflight(url, '/sim/faults');
  t.not(simPreflight.status, 204, 'no preflight for /sim/');
  t.equal(simPreflight.headers['access-control-allow-origin'], undefined);
  t.equal((await call(url, '/sim/served')).headers['access-control-allow-origin'], undefined, '/sim/served: same-origin only');
  t.equal(await post({}), 204, 'a tool (no Origin) still installs a plan');
  t.equal(sim.faultPlan()?.rate, 1);
});

/** The switch DPIDs a graph body names (0 is a host's). */
const switchDpids = (graph: string) => new Set([...graph.matchAll(/"(?:src_|dst_)?dpid":(\d+)/g)].map((m) => BigInt(m[1])).filter((d) => d !== 0n));
const MININET_SWITCHES = Array.from({ length: 10 }, (_, i) => BigInt(i + 1));
const JAVA_LONG_MAX = 2n ** 63n - 1n;

function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  return new Promise((resolve) => s.once('listening', () => {
    const { port } = s.address() as AddressInfo;
    s.close(() => resolve(port));
  }));
}

t.test('the Visualizer reads DPIDs as a Java long: nsr simulate and nsr run --simulate serve 1…N unless told otherwise', async (t) => {
  const dir = tempDir(t);
  /** Starts `nsr simulate` with these flags and gives back the switch DPIDs of its graph. */
  const simulate = async (flags: string[]) => {
    const p = startNsr(dir, ['simulate', '--port', '0', ...flags]);
    try {
      let url: string | undefined;
      for (let i = 0; i < 300 && !url; i++) {
        url = /listening on (http:\/\/\S+)/.exec(p.output())?.[1];
        if (!url) await Promise.race([p.exit, new Promise((r) => setTimeout(r, 50))]);
      }
      if (!url) throw new Error(`nsr simulate did not start: ${p.output()}`);
      return switchDpids((await call(url, GRAPH)).body);
    } finally {
      process.kill(p.pid, 'SIGTERM');
      await p.exit;
    }
  };
  /** Starts `nsr simulate` with flags it must refuse, and gives back its exit code and output. */
  const refused = async (flags: string[]) => {
    const p = startNsr(dir, ['simulate', '--port', '0', ...flags]);
    return { code: (await p.exit).code, output: p.output() };
  };
  // nsr run --simulate starts the simulator on the configured kernel address; all run side by side.
  const port = await freePort();
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nlog: {level: warn}\nshutdown: {grace: 1s}\nstreams:\n  graphinfo: {kind: ndtwin, kernel: "http://127.0.0.1:${port}", data: graph, interval: 1s}\n`);
  const run = startNsr(dir, ['run', '--simulate', '-c', 'r.yaml', '--for', '3s']);
  const [mininet, testbed, badValue, badPair] = await Promise.all([
    simulate([]),
    simulate(['--dpids', 'testbed']),
    refused(['--dpids', 'big']),
    refused(['--topology', 'testbed', '--dpids', 'mininet']),
  ]);
  t.same([...mininet].sort((a, b) => (a < b ? -1 : 1)), MININET_SWITCHES, 'nsr simulate: switches 1…10 by default');
  t.ok(testbed.size === 10 && [...testbed].every((d) => d > JAVA_LONG_MAX), '--dpids testbed: uint64 DPIDs above 2^63');
  t.equal(badValue.code, 2, '--dpids big: exit 2');
  t.match(badValue.output, /invalid --dpids 'big': expected mininet \(switch DPIDs 1…N\) or testbed \(uint64 DPIDs above 2\^63\)/);
  t.equal(badPair.code, 2, '--topology testbed --dpids mininet: exit 2');
  t.match(badPair.output, /--dpids mininet needs --topology mininet/);
  t.equal((await run.exit).code, 0, run.output().slice(-400));
  const lines = (await readArchives(path.join(dir, 'out'), 'graphinfo')).flatMap((w) => w.lines);
  t.ok(lines.length > 0, `graph records from the simulator (${lines.length})`);
  t.ok(lines.every((l) => [...switchDpids(l)].sort((a, b) => (a < b ? -1 : 1)).join() === MININET_SWITCHES.join()), 'nsr run --simulate: every record names switches 1…10');
});

/** Runs a page in headless Chromium and gives back its DOM once its fetches are done; undefined (test skipped or failed) without Chromium. */
async function renderInChromium(t: Test, pageUrl: string, profile: string): Promise<string | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI) t.fail(`headless Chromium is missing at ${CHROMIUM}; install it with: ${CHROMIUM_INSTALL}`);
    else t.pass('the page reads replay and the simulator in headless Chromium', { skip: `headless Chromium is not installed (${CHROMIUM}); to run this check: ${CHROMIUM_INSTALL}` });
    return undefined;
  }
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
  // Virtual time stands still while requests are pending: the DOM is dumped once the page's fetches are done.
  const { stdout } = await promisify(execFile)(CHROMIUM, [...flags, '--virtual-time-budget=30000', '--dump-dom', pageUrl], { timeout: 90_000, maxBuffer: 16 << 20 });
  return stdout;
}

t.test('in Chromium, a page on another loopback port reads replay and the simulator', async (t) => {
  const { dir } = archive(t);
  const replay = new ReplayServer({ dir, port: 0, now: () => 0, pumpMs: 0 });
  const { url: replayUrl } = await replay.start();
  t.teardown(() => replay.stop());
  const sim = new NdtwinSimulator({ port: 0, now: () => Date.UTC(2026, 1, 10, 14, 3, 12) });
  const { url: simUrl } = await sim.start();
  t.teardown(() => sim.stop());

  // What the Web-GUI and the Visualizer call, as they call it: GET with Content-Type: application/json (preflighted).
  const calls = {
    replayGraph: `${replayUrl}${GRAPH}`,
    replayTopK: `${replayUrl}${TOP_K}?k=3`,
    simTopK: `${simUrl}${TOP_K}?k=3`,
    replayStatus: `${replayUrl}/replay/status`,
  };
  const script = `
    const calls = ${JSON.stringify(calls)};
    Promise.all(Object.entries(calls).map(([name, url]) =>
      fetch(url, { headers: { 'Content-Type': 'application/json' } })
        .then(async (r) => [name, { status: r.status, body: await r.text() }], (e) => [name, { error: String(e) }])
    )).then((results) => {
      const out = document.getElementById('result');
      out.textContent = JSON.stringify(Object.fromEntries(results));
      out.dataset.done = 'yes';
    });`;
  const page = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><body><pre id="result">waiting</pre><script>${script}</script></body></html>`);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => page.close(() => resolve())));
  const pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;

  const dom = await renderInChromium(t, pageUrl, path.join(dir, 'chromium-profile'));
  if (dom === undefined) return;
  const m = /<pre id="result" data-done="yes">([^<]*)<\/pre>/.exec(dom);
  t.ok(m, `the page's fetches all settled and it wrote their results into its DOM: ${dom.slice(0, 300)}`);
  if (!m) return;
  const results = JSON.parse(m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&nbsp;/g, '\u00a0').replace(/&amp;/g, '&')) as Record<string, { status?: number; body?: string; error?: string }>;
  t.same(results.replayGraph, { status: 200, body: GRAPH_BODY }, 'the page read the replayed graph');
  t.same(results.replayTopK, { status: 200, body: `[${RANKED_T0.slice(0, 3).join(',')}]` }, 'and the replayed Top-K flows, exact above 2^53');
  t.same(results.simTopK, { status: 200, body: (await call(simUrl, `${TOP_K}?k=3`)).body }, "and the simulator's Top-K flows");
  t.match(results.replayStatus, { error: /TypeError/ }, 'but not the replay status: it stays same-origin');
});

t.test('DNS rebinding: a request on loopback naming another host is refused by replay and the simulator', async (t) => {
  const { dir } = archive(t);
  const replay = new ReplayServer({ dir, port: 0, now: () => 0, pumpMs: 0 });
  const { url: replayUrl } = await replay.start();
  t.teardown(() => replay.stop());
  const sim = new NdtwinSimulator({ port: 0 });
  const { url: simUrl } = await sim.start();
  t.teardown(() => sim.stop());
  for (const [name, url] of [['replay', replayUrl], ['simulator', simUrl]]) {
    const port = new URL(url).port;
    for (const path of [GRAPH, name === 'replay' ? '/replay/status' : '/sim/served']) {
      const rebound = await call(url, path, 'GET', { Host: `attacker.example:${port}` });
      t.equal(rebound.status, 403, `${name} ${path}: a rebinding page's Host is refused`);
      t.match(rebound.body, /not a loopback name/, `${name}: and told why`);
      t.notMatch(rebound.body, /switch|dpid/i, `${name}: no recorded data in the answer`);
    }
    t.equal((await call(url, GRAPH, 'GET', { Host: `localhost:${port}` })).status, 200, `${name}: localhost is served`);
    t.equal((await call(url, GRAPH, 'GET', { Host: `127.0.0.1:${port}` })).status, 200, `${name}: 127.0.0.1 is served`);
  }
});
