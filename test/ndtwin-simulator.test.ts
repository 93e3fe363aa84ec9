import t from 'tap';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { NdtwinSimulator, formatNlohmannDouble } from '../src/simulate/ndtwin-simulator.js';

const FIXTURES = new URL('../fixtures/ndtwin/', import.meta.url);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function get(agent: http.Agent, url: string): Promise<Reply> {
  // Pass the raw request target: URL parsing would drop e.g. a bare trailing '?'.
  const u = new URL(url);
  const path = url.slice(u.origin.length) || '/';
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: buf.toString('utf8') });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function seqOf(text: string): number {
  const m = /"sim_seq":(\d+)/.exec(text);
  if (!m) throw new Error('no sim_seq in body');
  return Number(m[1]);
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! >= keys[i]!) return false;
  return true;
}

t.test('mininet topology with uint64 (testbed) DPIDs over HTTP', async (t) => {
  let clock = Date.UTC(2026, 1, 10, 14, 3, 12, 250);
  // Testbed DPIDs: the bodies carry uint64 values above 2^53 that a client must keep exact.
  const sim = new NdtwinSimulator({ port: 0, now: () => clock, dpids: 'testbed' });
  const { url, port, host } = await sim.start();
  t.equal(host, '127.0.0.1');
  t.ok(port > 0);
  t.equal(url, `http://127.0.0.1:${port}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  t.teardown(async () => {
    agent.destroy();
    await sim.stop();
  });

  const received: Record<string, number[]> = {};
  const fetchMain = async (path: string): Promise<Reply> => {
    const r = await get(agent, url + path);
    (received[path] ??= []).push(seqOf(r.text));
    return r;
  };

  const g1 = await fetchMain('/ndt/get_graph_data');
  t.equal(g1.status, 200);
  t.match(g1.headers['content-type'], /application\/json/);
  t.equal(Number(g1.headers['content-length']), Buffer.byteLength(g1.text), 'content-length matches body');
  t.equal(g1.headers.connection, 'keep-alive');
  t.notOk(/\s/.test(g1.text), 'compact, no whitespace');
  const graph = JSON.parse(g1.text) as { edges: Record<string, unknown>[]; nodes: Record<string, unknown>[] };
  t.type(graph, 'object');
  t.notOk(Array.isArray(graph));
  t.same(Object.keys(graph), ['edges', 'nodes', 'sim_seq'], 'top-level keys sorted, sim_seq last');
  t.equal(graph.edges.length, 288);
  t.equal(graph.nodes.length, 138);
  t.ok(g1.text.includes('"src_dpid":14721744659231801345'), 'uint64 DPID > 2^53 verbatim');
  t.ok(g1.text.includes('"dpid":14721744659231801354'), 'node DPID remapped (s10)');
  t.notOk(/"(?:src_|dst_)?dpid":[1-9]\d{0,4}[,}]/.test(g1.text), 'no small switch DPID left');
  t.match(g1.text, /"link_bandwidth_utilization_percent":0\.0[,}]/, '0.0-style double present');
  const pctTokens = [...g1.text.matchAll(/"link_bandwidth_utilization_percent":([^,}]+)/g)].map((m) => m[1]!);
  t.equal(pctTokens.length, 288);
  t.ok(pctTokens.every((s) => /[.e]/.test(s)), 'every percent is written as a double');
  t.ok(graph.edges.every((e) => isSorted(Object.keys(e))), 'edge keys sorted');
  t.ok(graph.nodes.every((n) => isSorted(Object.keys(n))), 'node keys sorted');
  const rawEdges = [
    ...g1.text.matchAll(
      /"left_link_bandwidth_bps":(\d+),"link_bandwidth_bps":(\d+),"link_bandwidth_usage_bps":(\d+),"link_bandwidth_utilization_percent":([^,}]+)/g,
    ),
  ];
  t.ok(
    rawEdges.every((m) => {
      const left = Number(m[1]);
      const cap = Number(m[2]);
      const usage = Number(m[3]);
      return usage >= 0 && usage <= cap && left === cap - usage && m[4] === formatNlohmannDouble((1 - left / cap) * 100);
    }),
    'usage within capacity, left and percent consistent',
  );

  const f1 = await fetchMain('/ndt/get_detected_flow_data');
  t.equal(f1.status, 200);
  t.equal(Number(f1.headers['content-length']), Buffer.byteLength(f1.text));
  const flows = JSON.parse(f1.text) as Record<string, unknown>[];
  t.ok(Array.isArray(flows));
  t.equal(flows.length, 64);
  t.ok(isSorted(Object.keys(flows[0]!)), 'first flow keys sorted including sim_seq');
  t.ok(Object.keys(flows[0]!).includes('sim_seq'));
  t.ok(f1.text.indexOf('"sim_seq":') < f1.text.indexOf('"src_ip":'), 'sim_seq just before src_ip');
  t.equal((f1.text.match(/"sim_seq":/g) ?? []).length, 1, 'exactly one marker');
  t.ok(flows.slice(1).every((f) => !('sim_seq' in f)));
  t.ok(/"node":147217446592318013\d\d[,}]/.test(f1.text), 'switch hops in flow paths remapped to uint64');

  // more requests in the same second: same values, new markers
  const g2 = await fetchMain('/ndt/get_graph_data');
  t.equal(g2.text.replace(/"sim_seq":\d+/, ''), g1.text.replace(/"sim_seq":\d+/, ''), 'same second, same values');
  // next second: values change
  clock += 1000;
  const g3 = await fetchMain('/ndt/get_graph_data');
  const f3 = await fetchMain('/ndt/get_detected_flow_data');
  t.not(g3.text.replace(/"sim_seq":\d+/, ''), g1.text.replace(/"sim_seq":\d+/, ''), 'graph changes between seconds');
  t.not(f3.text.replace(/"sim_seq":\d+/, ''), f1.text.replace(/"sim_seq":\d+/, ''), 'flows change between seconds');
  const rate = (s: string): string => /"estimated_flow_sending_rate_bps_in_the_last_sec":(\d+)/.exec(s)![1]!;
  t.not(rate(f3.text), rate(f1.text));
  // deterministic: going back to the first second gives the first values again
  clock -= 1000;
  const g4 = await fetchMain('/ndt/get_graph_data');
  t.equal(g4.text.replace(/"sim_seq":\d+/, ''), g1.text.replace(/"sim_seq":\d+/, ''), 'deterministic per second');

  // concurrent requests
  await Promise.all([
    fetchMain('/ndt/get_graph_data'),
    fetchMain('/ndt/get_detected_flow_data'),
    fetchMain('/ndt/get_graph_data'),
  ]);

  const all = Object.values(received).flat();
  t.equal(new Set(all).size, all.length, 'markers unique');
  t.same(
    all.slice().sort((a, b) => a - b),
    Array.from({ length: all.length }, (_, i) => i + 1),
    'one global counter starting at 1',
  );
  for (const seqs of Object.values(received)) {
    t.ok(seqs.slice(0, 3).every((s, i, a) => i === 0 || s > a[i - 1]!), 'sequential requests get increasing markers');
  }
  const ledger = sim.served();
  for (const [path, seqs] of Object.entries(received)) {
    t.same(ledger[path]!.slice().sort((a, b) => a - b), seqs.slice().sort((a, b) => a - b), `ledger matches for ${path}`);
    t.ok(ledger[path]!.every((s, i, a) => i === 0 || s > a[i - 1]!), 'ledger in completion order, increasing');
  }
  ledger['/ndt/get_graph_data']!.push(999);
  t.notOk(sim.served()['/ndt/get_graph_data']!.includes(999), 'served() returns a copy');

  const sv = await get(agent, url + '/sim/served');
  t.equal(sv.status, 200);
  t.same(JSON.parse(sv.text), sim.served());

  // 404s
  for (const p of ['/ndt/get_graph_data?x=1', '/ndt/get_detected_flow_data?', '/ndt/nope', '/', '/ndt/get_graph_data/']) {
    const r = await get(agent, url + p);
    t.equal(r.status, 404, `404 for ${p}`);
    t.equal(r.text, '{"error":"Not Found"}');
  }
  t.notOk('/ndt/get_graph_data?x=1' in sim.served());

  // static endpoints served as-is
  for (const name of ['get_power_report', 'get_cpu_utilization', 'get_average_link_usage', 'get_switch_openflow_table_entries']) {
    const r = await get(agent, `${url}/ndt/${name}`);
    t.equal(r.status, 200, name);
    t.equal(r.text, readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'), `${name} verbatim`);
  }
});

t.test('by default, switch DPIDs 1…N as the kernel serves them on Mininet', async (t) => {
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(async () => {
    agent.destroy();
    await sim.stop();
  });
  const g = await get(agent, url + '/ndt/get_graph_data');
  const f = await get(agent, url + '/ndt/get_detected_flow_data');
  const power = await get(agent, url + '/ndt/get_power_report');
  const dpids = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => BigInt(m[1]!));
  const graphDpids = dpids(g.text, /"(?:src_|dst_)?dpid":(\d+)/g);
  const switches = new Set(graphDpids.filter((d) => d !== 0n));
  t.same([...switches].sort((a, b) => (a < b ? -1 : 1)), Array.from({ length: 10 }, (_, i) => BigInt(i + 1)), 'the graph names switches 1…10');
  const LONG_MAX = 2n ** 63n - 1n;
  t.ok(graphDpids.every((d) => d <= LONG_MAX), 'every DPID fits a Java long (the Visualizer reads them as long)');
  t.notOk(g.text.includes('1472174465923'), 'no testbed DPID in the graph');
  const hops = [...f.text.matchAll(/"path":\[([^\]]*)\]/g)].flatMap((m) => dpids(m[1]!, /"node":(\d+)/g).slice(1, -1));
  t.ok(hops.length > 0 && hops.every((d) => switches.has(d)), `the flows' switch hops are graph switches (${hops.length} hops)`);
  t.same(new Set(dpids(power.text, /"dpid":(\d+)/g)), switches, 'the power report names the same switches');
  t.throws(() => new NdtwinSimulator({ topology: 'testbed', dpids: 'mininet' }), /dpids 'mininet' needs the mininet topology/);
});

t.test('testbed topology', async (t) => {
  const sim = new NdtwinSimulator({ port: 0, topology: 'testbed' });
  const { url } = await sim.start();
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(async () => {
    agent.destroy();
    await sim.stop();
  });
  const g = await get(agent, url + '/ndt/get_graph_data');
  t.equal(g.status, 200);
  t.ok(g.text.includes('"dpid":14721744660103168000'), 'DPID > 2^63 verbatim');
  t.ok(g.text.includes('"dpid":14721744659231801344'));
  t.ok(g.text.endsWith(',"sim_seq":1}'));
  const graph = JSON.parse(g.text) as { edges: Record<string, unknown>[] };
  t.equal(graph.edges.length, 96);
  t.ok(graph.edges.every((e) => isSorted(Object.keys(e))));
  const f = await get(agent, url + '/ndt/get_detected_flow_data');
  t.equal(seqOf(f.text), 2);
  const fixture = readFileSync(new URL('get_detected_flow_data.json', FIXTURES), 'utf8');
  const strip = (s: string): string =>
    s
      .replace(/"sim_seq":\d+,/, '')
      .replace(/"estimated_(flow_sending_rate_bps|packet_rate)_in_the_last_sec":\d+/g, '');
  t.equal(strip(f.text), strip(fixture), 'flows unchanged apart from the varying rates');
});

t.test('latency, aborted requests and stop() with idle keep-alive sockets', async (t) => {
  const sim = new NdtwinSimulator({ port: 0, latencyMs: 150 });
  const { url } = await sim.start();
  const agent = new http.Agent({ keepAlive: true });

  const t0 = Date.now();
  const r = await get(agent, url + '/ndt/get_detected_flow_data');
  t.ok(Date.now() - t0 >= 140, 'latency applied');
  t.equal(seqOf(r.text), 1);

  // aborted while waiting: not recorded
  await new Promise<void>((resolve) => {
    const req = http.get(url + '/ndt/get_graph_data', { agent: false });
    req.on('error', () => resolve());
    setTimeout(() => req.destroy(), 30);
  });
  await new Promise((res) => setTimeout(res, 250));
  t.same(sim.served(), { '/ndt/get_detected_flow_data': [1] }, 'aborted request not in the ledger');

  // an idle keep-alive socket is open now; stop() must still resolve promptly
  const s0 = Date.now();
  await sim.stop();
  t.ok(Date.now() - s0 < 2000, 'stop() resolved');
  agent.destroy();
  await sim.stop(); // idempotent
});

t.test('port in use is reported as EADDRINUSE', async (t) => {
  const a = new NdtwinSimulator({ port: 0 });
  const { port } = await a.start();
  const b = new NdtwinSimulator({ port });
  await t.rejects(b.start(), { code: 'EADDRINUSE' });
  await a.stop();
});

t.test('formatNlohmannDouble', async (t) => {
  const cases: [number, string][] = [
    [0, '0.0'],
    [100, '100.0'],
    [10.134114800000004, '10.134114800000004'],
    [0.5, '0.5'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [123456789012345, '123456789012345.0'],
    [1e15, '1e+15'],
    [1.2345678901234568e20, '1.2345678901234568e+20'],
    [-2.5, '-2.5'],
    [Number.NaN, 'null'],
  ];
  for (const [x, s] of cases) t.equal(formatNlohmannDouble(x), s, String(x));
});

t.test('building bodies is fast', async (t) => {
  const sim = new NdtwinSimulator();
  const base = Date.UTC(2026, 1, 10, 14, 3, 12);
  for (let i = 0; i < 50; i++) sim.buildBody('graph', i, base + i * 1000, true);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < 1000; i++) bytes += (sim.buildBody('graph', i, base + i * 1000, true)).length;
  const msPerBody = Number(process.hrtime.bigint() - t0) / 1e6 / 1000;
  t.comment(`graph body (fresh second, incl. marker splice): ${msPerBody.toFixed(3)} ms, ${bytes / 1000} bytes`);
  t.ok(msPerBody < 5, 'well below a few ms per graph body even on a loaded CI box');
});
