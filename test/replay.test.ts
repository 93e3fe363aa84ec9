// nsr replay: recorded bodies served back byte for byte on the kernel's endpoints,
// the past advancing at --speed; recording a replay gives back the same bodies.
import t from 'tap';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { recordBody, shapeForEndpoint, shapeFromRecord, topLevelMembers, wrappedKey } from '../src/archive/record-body.js';
import { ReplayServer } from '../src/archive/replay-server.js';
import { recordEncoder, recordTimestamp } from '../src/pipeline/record.js';
import { validateBody } from '../src/sources/common/body.js';
import { formatWindowTime } from '../src/sinks/window-naming.js';
import { NdtwinSimulator } from '../src/simulate/ndtwin-simulator.js';
import { FIXTURES, readArchives, seqOf, sleep, startNsr, tempDir } from './helpers.js';

const FLOW = '/ndt/get_detected_flow_data';
const GRAPH = '/ndt/get_graph_data';
const RECORDER_OUTPUT = path.join(FIXTURES, 'recorder_output');
const golden = (name: string) =>
  readFileSync(path.join(RECORDER_OUTPUT, name), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Buffer.from(l));
const goldenFlow = golden('2026_02_10_14-03-12_flowinfo.json');
const goldenGraph = golden('2026_02_10_14-03-12_graphinfo.json');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A plain GET on a fresh connection: the path is sent exactly as given. */
function get(url: string, target: string, method = 'GET'): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: target, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  return new Promise((resolve) => s.once('listening', () => {
    const { port } = s.address() as AddressInfo;
    s.close(() => resolve(port));
  }));
}

const keysOf = (v: unknown) => Object.keys(v as object).sort();

t.test('recordBody gives back the bodies of the original recorder, byte for byte', async (t) => {
  const kernelFlow = JSON.parse(readFileSync(path.join(FIXTURES, 'get_detected_flow_data.json'), 'utf8'));
  const kernelGraph = JSON.parse(readFileSync(path.join(FIXTURES, 'get_graph_data.json'), 'utf8'));
  const wrap = recordEncoder({ mode: 'wrap', key: 'flowinfo' });
  for (const line of goldenFlow) {
    const body = recordBody(line, { mode: 'wrap' });
    t.ok(body.equals(validateBody(body, 'array')), 'a valid JSON array');
    t.ok(recordBody(line, { mode: 'wrap', key: 'flowinfo' }).equals(body), 'the same with the key checked');
    t.ok(wrap(recordTimestamp(line)!, body).equals(Buffer.concat([line, Buffer.from('\n')])), 'encoding it again gives the line back exactly');
    const parsed = JSON.parse(body.toString());
    if (parsed.length > 0) t.same(keysOf(parsed[0]), keysOf(kernelFlow[0]), 'a kernel flow entry');
  }
  t.equal(recordBody(goldenFlow[3], { mode: 'wrap' }).toString(), '[]', 'an idle network: []');
  const merge = recordEncoder({ mode: 'merge' });
  for (const line of goldenGraph) {
    const body = recordBody(line, { mode: 'merge' });
    t.ok(body.equals(validateBody(body, 'object')), 'a valid JSON object');
    t.ok(merge(recordTimestamp(line)!, body).equals(Buffer.concat([line, Buffer.from('\n')])), 'encoding it again gives the line back exactly');
    const parsed = JSON.parse(body.toString());
    t.same(keysOf(parsed), keysOf(kernelGraph), 'the kernel graph members');
    t.same(keysOf(parsed.edges[0]), keysOf(kernelGraph.edges[0]));
    t.same(keysOf(parsed.nodes[0]), keysOf(kernelGraph.nodes[0]));
  }
});

t.test('recordBody: empty objects, uint64 above 2^53, other keys, bad lines', async (t) => {
  t.equal(recordBody(Buffer.from('{"timestamp":1770703392060}'), { mode: 'merge' }).toString(), '{}', '{"timestamp":N} was {}');
  const u64 = '{"nodes":[{"dpid":14721744659231801345,"x":0.0,"s":"a,}\\"]"}],"edges":[]}';
  t.equal(recordBody(Buffer.from(`{"timestamp":5,${u64.slice(1)}`), { mode: 'merge' }).toString(), u64, 'merged: uint64 and 0.0 kept exactly');
  t.equal(recordBody(Buffer.from(`{"timestamp":5,"flow_info":${u64}}`), { mode: 'wrap' }).toString(), u64, 'wrapped under flow_info');
  t.equal(recordBody(Buffer.from('{"timestamp":5,"we\\"ird":[18446744073709551615]}'), { mode: 'wrap' }).toString(), '[18446744073709551615]', 'an escaped key');
  t.equal(wrappedKey(Buffer.from('{"timestamp":5,"flow_info":[]}')), 'flow_info');
  t.throws(() => recordBody(Buffer.from('{"timestamp":5,"flow_info":[]}'), { mode: 'wrap', key: 'flowinfo' }), /expected the key "flowinfo"/);
  t.throws(() => recordBody(Buffer.from('{"timestamp":5}'), { mode: 'wrap' }), /needs a key/);
  t.throws(() => recordBody(Buffer.from('{"time":5,"a":1}'), { mode: 'merge' }), /not a record line/);
  t.throws(() => recordBody(Buffer.from('{"timestamp":5,"a":1'), { mode: 'merge' }), /not a record line/, 'a torn line');

  t.same(shapeForEndpoint(GRAPH), { mode: 'merge' });
  t.same(shapeForEndpoint(FLOW), { mode: 'wrap' });
  t.same(shapeForEndpoint('/ndt/get_detected_top_k_flow_data'), { mode: 'wrap' });
  t.equal(shapeForEndpoint('/api/get_graph_data'), undefined, 'only the kernel API');
  t.equal(topLevelMembers(Buffer.from('{"timestamp":5,"a":{"b":1,"c":[1,2]},"d":"x,y"}')), 3);
  t.equal(topLevelMembers(Buffer.from('{"timestamp":5}')), 1);
  t.same(shapeFromRecord(Buffer.from('{"timestamp":5,"data":[1,2,{"a":"}"}]}')), { mode: 'wrap' });
  t.same(shapeFromRecord(Buffer.from('{"timestamp":5,"a":1,"b":2}')), { mode: 'merge' });
  t.same(shapeFromRecord(Buffer.from('{"timestamp":5}')), { mode: 'merge' });
});

/** The original recorder's zips (no events stream) in a fresh directory. */
function originalArchive(t: { teardown(fn: () => void): void }): string {
  const dir = tempDir(t);
  for (const f of ['2026_02_10_14-03-12_flowinfo_json.zip', '2026_02_10_14-03-12_graphinfo_json.zip']) copyFileSync(path.join(RECORDER_OUTPUT, f), path.join(dir, f));
  return dir;
}

const flowBody = (i: number) => recordBody(goldenFlow[i], { mode: 'wrap' });
const graphBody = (i: number) => recordBody(goldenGraph[i], { mode: 'merge' });
const F0 = 1770703392057; // first flow record; the graph records follow 3 ms after each flow record

t.test('serves the newest record at replay time, byte for byte (injected clock)', async (t) => {
  let clock = 1_000_000;
  const server = new ReplayServer({ dir: originalArchive(t), port: 0, now: () => clock, pumpMs: 0 });
  const started = await server.start();
  t.teardown(() => server.stop());
  t.equal(started.from, F0, 'from: the first record');
  t.equal(started.to, 1770703407060, 'to: the last record');
  t.same(
    started.streams.map((s) => [s.stream, s.path, s.endpointFrom, s.records]),
    [
      ['flowinfo', FLOW, 'default', 4],
      ['graphinfo', GRAPH, 'default', 3],
    ],
    'the original recorder streams on their kernel endpoints',
  );
  const at = async (ms: number, target: string) => {
    clock = 1_000_000 + ms;
    return get(started.url, target);
  };

  let r = await at(0, FLOW);
  t.equal(r.status, 200);
  t.ok(r.body.equals(flowBody(0)), 'at from: the first flow body');
  t.equal(r.headers['content-type'], 'application/json');
  t.equal(Number(r.headers['content-length']), flowBody(0).length);
  t.equal(r.headers['x-nsr-record-timestamp'], String(F0));
  r = await at(0, GRAPH);
  t.equal(r.status, 503, 'before the first graph record: 503');
  t.same(JSON.parse(r.body.toString()), { error: 'No data yet' });
  r = await at(3, GRAPH);
  t.ok(r.status === 200 && r.body.equals(graphBody(0)), 'the graph record once its time comes');
  r = await at(5000, FLOW);
  t.ok(r.body.equals(flowBody(0)), '1 ms before the second flow record: still the first');
  r = await at(5001, FLOW);
  t.ok(r.body.equals(flowBody(1)), 'at the second record: the second');
  t.equal(r.headers['x-nsr-record-timestamp'], String(F0 + 5001));
  r = await at(12_000, GRAPH);
  t.ok(r.body.equals(graphBody(2)), 'graph at +12 s: the third record');
  r = await at(3_600_000, FLOW);
  t.ok(r.status === 200 && r.body.equals(flowBody(3)) && r.body.toString() === '[]', 'past the end: the last record stays served');
  r = await at(3_600_000, GRAPH);
  t.ok(r.body.equals(graphBody(2)));

  for (const target of [`${FLOW}?x=1`, `${FLOW}?`, `${FLOW}/`, '/ndt/get_graph_data_x', '/', '/ndt/get_power_report']) {
    r = await get(started.url, target);
    t.equal(r.status, 404, `${target}: 404`);
    t.equal(r.body.toString(), '{"error":"Not Found"}');
  }
  r = await get(started.url, FLOW, 'POST');
  t.equal(r.status, 404, 'only GET');
  const status = JSON.parse((await get(started.url, '/replay/status')).body.toString());
  t.equal(status.speed, 1);
  t.equal(status.ended, true);
  t.equal(status.streams.flowinfo.endpoint, FLOW);
  t.equal(status.streams.flowinfo.served, 4);
  t.equal(status.streams.graphinfo.shape, 'merge');
});

t.test('speed scales replay time; with loop the replay starts again at from', async (t) => {
  let clock = 0;
  const server = new ReplayServer({ dir: originalArchive(t), port: 0, speed: 2, loop: true, now: () => clock, pumpMs: 0 });
  const { url, from, to } = await server.start();
  t.teardown(() => server.stop());
  t.equal(to - from, 15_003);
  clock = 2500;
  t.ok((await get(url, FLOW)).body.equals(flowBody(0)), '2.5 s at 2×: replay +5000 ms, still the first flow record');
  clock = 2501;
  t.ok((await get(url, FLOW)).body.equals(flowBody(1)), '2.501 s at 2×: replay +5002 ms, the second (at +5001)');
  clock = 7501;
  t.ok((await get(url, FLOW)).body.equals(flowBody(2)), 'replay +15002 ms: the third');
  clock = 7501.5;
  t.ok((await get(url, FLOW)).body.equals(flowBody(3)), 'replay +15003 ms = to: the last');
  clock = 7502; // replay +15004 ms: past the end, the loop starts again at from
  t.ok((await get(url, FLOW)).body.equals(flowBody(0)), 'looped: the first record again');
  t.equal((await get(url, GRAPH)).status, 503, 'looped: before the first graph record again');
  clock = 7503.5;
  t.ok((await get(url, GRAPH)).body.equals(graphBody(0)), 'and the first graph record 3 ms later');
  const status = JSON.parse((await get(url, '/replay/status')).body.toString());
  t.equal(status.cycle, 1);
  t.equal(status.loop, true);
  t.equal(status.speed, 2);
});

t.test('--from inside a window serves the record current at that time', async (t) => {
  const server = new ReplayServer({ dir: originalArchive(t), port: 0, from: F0 + 6000, to: F0 + 10_000, now: () => 0, pumpMs: 0 });
  const { url } = await server.start();
  t.teardown(() => server.stop());
  t.ok((await get(url, FLOW)).body.equals(flowBody(1)), 'the record from 1 s before --from');
  t.ok((await get(url, GRAPH)).body.equals(graphBody(1)));
});

t.test('endpoints from the events stream, shapes told from endpoints or records, --map', async (t) => {
  const dir = tempDir(t);
  const T0 = 1770703200000;
  const write = (stream: string, lines: string[]) => writeFileSync(path.join(dir, `${formatWindowTime(lines.length ? recordTimestamp(lines[0])! : T0)}_${stream}.json`), lines.map((l) => `${l}\n`).join(''));
  const start = (ts: number, streams: Record<string, { kind: string; target: string }>) => JSON.stringify({ timestamp: ts, event: 'start', version: '0.1.0', streams });
  write('events', [
    start(T0 - 500, { topo: { kind: 'ndtwin', target: 'http://127.0.0.1:8000/old/path' } }),
    start(T0 - 100, {
      flows: { kind: 'ndtwin', target: 'http://10.0.0.1:8000/ndt/get_detected_flow_data' },
      topo: { kind: 'ndtwin', target: 'http://10.0.0.1:8000/ndt/get_graph_data' },
      ports: { kind: 'http', target: 'http://netbox.example/api/dcim/interfaces/?limit=0' },
    }),
    `{"timestamp":${T0 + 10},"event":"missed_tick","stream":"flows","reason":"timeout"}`,
  ]);
  const dpid = '{"edges":[],"nodes":[{"dpid":14721744659231801345,"util":0.0}]}';
  write('topo', [`{"timestamp":${T0}}`, `{"timestamp":${T0 + 1000},${dpid.slice(1)}`]);
  write('flows', [`{"timestamp":${T0},"flow_info":[{"src_ip":1,"bytes":18446744073709551615}]}`]);
  write('ports', [`{"timestamp":${T0},"data":{"count":1,"results":[{"id":9007199254740993}]}}`]);
  write('orphan', [`{"timestamp":${T0},"x":1,"y":[2,3]}`]);

  let clock = 0;
  const server = new ReplayServer({ dir, port: 0, now: () => clock, pumpMs: 0, speed: 1 });
  const started = await server.start();
  t.teardown(() => server.stop());
  t.same(
    Object.fromEntries(started.streams.map((s) => [s.stream, [s.path, s.endpointFrom]])),
    { flows: [FLOW, 'events'], ports: ['/api/dcim/interfaces/?limit=0', 'events'], topo: [GRAPH, 'events'] },
    'the newest start event names each endpoint',
  );
  t.same(started.skipped.map((s) => s.stream), ['orphan'], 'a stream with no known endpoint is not served');
  t.equal((await get(started.url, GRAPH)).body.toString(), '{}', 'graph at from: {"timestamp":N} serves {}');
  clock = 1000;
  t.equal((await get(started.url, GRAPH)).body.toString(), dpid, 'graph at +1 s: uint64 above 2^53 and 0.0 exact');
  t.equal((await get(started.url, FLOW)).body.toString(), '[{"src_ip":1,"bytes":18446744073709551615}]', 'flow wrapped under flow_info');
  t.equal((await get(started.url, '/api/dcim/interfaces/?limit=0')).body.toString(), '{"count":1,"results":[{"id":9007199254740993}]}', 'an http stream, wrapped, with its query string');
  t.equal((await get(started.url, '/api/dcim/interfaces/')).status, 404, 'without its query string: 404');
  await server.stop();

  clock = 0;
  const mapped = new ReplayServer({ dir, port: 0, now: () => clock, pumpMs: 0, map: { orphan: '/orphan', topo: '/graph' } });
  const m = await mapped.start();
  t.teardown(() => mapped.stop());
  t.equal((await get(m.url, '/graph')).body.toString(), '{}', '--map moves a stream');
  t.equal((await get(m.url, GRAPH)).status, 404);
  t.equal((await get(m.url, '/orphan')).body.toString(), '{"x":1,"y":[2,3]}', 'a mapped stream, merged as told from its records');

  await t.rejects(new ReplayServer({ dir, map: { nope: '/x' } }).prepare(), /no stream "nope"/);
  await t.rejects(new ReplayServer({ dir, map: { orphan: GRAPH } }).prepare(), /both recorded from \/ndt\/get_graph_data/);
  await t.rejects(new ReplayServer({ dir: path.join(dir, 'missing') }).prepare(), /no such directory/);
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  await t.rejects(new ReplayServer({ dir: empty }).prepare(), /no archives to replay/);
});

t.test('command line errors: exit 2 for usage, exit 1 for a port in use', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'empty'));
  for (const [args, expected] of [
    [['replay', 'missing'], /missing is not a directory of archives/],
    [['replay', '--dir', 'missing'], /missing is not a directory of archives/],
    [['replay', 'empty', '--dir', 'other'], /two directories given/],
    [['replay', 'empty'], /empty: no archives to replay/],
    [['replay', 'empty', '--speed', '0'], /--speed: got "0"; expected a positive number/],
    [['replay', 'empty', '--from', 'yesterday'], /--from: got "yesterday"/],
    [['replay', 'empty', '--map', 'flowinfo:/x'], /--map: got "flowinfo:\/x"; expected stream=\/path/],
  ] as const) {
    const p = startNsr(dir, [...args]);
    const { code } = await p.exit;
    t.equal(code, 2, `${args.join(' ')}: exit 2`);
    t.match(p.output(), expected);
  }
  const busy = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  t.teardown(() => busy.close());
  copyFileSync(path.join(RECORDER_OUTPUT, '2026_02_10_14-03-12_flowinfo_json.zip'), path.join(dir, '2026_02_10_14-03-12_flowinfo_json.zip'));
  const p = startNsr(dir, ['replay', '.', '--port', String((busy.address() as AddressInfo).port)]);
  t.equal((await p.exit).code, 1, 'port in use: exit 1');
  t.match(p.output(), /address already in use/);
});

t.test('recording a replay gives back the recorded bodies, byte for byte', async (t) => {
  const dir = tempDir(t);
  // Testbed DPIDs: uint64 values above 2^53 that the replay must serve exactly.
  const sim = new NdtwinSimulator({ port: 0, dpids: 'testbed' });
  const { url: simUrl } = await sim.start();
  t.teardown(() => sim.stop());
  const config = (file: string, out: string, kernel: string) =>
    writeFileSync(
      path.join(dir, file),
      `output: {dir: ${out}, window: 1m}\nlog: {level: warn}\nshutdown: {grace: 1s, deadline: 20s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${kernel}", data: flow, interval: 1s}\n  graphinfo: {kind: ndtwin, kernel: "${kernel}", data: graph, interval: 1s}\n`,
    );
  config('orig.yaml', 'orig', simUrl);
  const rec = startNsr(dir, ['run', '-c', 'orig.yaml', '--for', '6s']);
  t.equal((await rec.exit).code, 0, rec.output().slice(-400));

  // The second recorder starts first (its ticks fail until the replay listens),
  // so the replay is recorded from its first second on.
  const port = await freePort();
  config('again.yaml', 'again', `http://127.0.0.1:${port}`);
  const again = startNsr(dir, ['run', '-c', 'again.yaml', '--for', '9s']);
  await sleep(500);
  const replay = startNsr(dir, ['replay', 'orig', '--port', String(port), '--speed', '1']);
  let replayUrl: string | undefined;
  for (let i = 0; i < 100 && !replayUrl; i++) {
    await sleep(50);
    if (!replay.output().includes('/replay/status\n')) continue; // its last startup line
    replayUrl = /^nsr replay: serving orig \(.+ … .+\) at 1× on (http:\/\/[\d.]+:\d+)$/m.exec(replay.output())?.[1];
  }
  t.equal(replayUrl, `http://127.0.0.1:${port}`, `replay started: ${replay.output()}`);
  t.match(replay.output(), /flowinfo → http:\S+\/ndt\/get_detected_flow_data .*endpoint from events/);
  t.equal((await again.exit).code, 0, again.output().slice(-400));
  process.kill(replay.pid, 'SIGTERM');
  t.equal((await replay.exit).code, 0, `replay stops with exit 0 on SIGTERM: ${replay.output().slice(-300)}`);

  for (const [stream, mode] of [
    ['flowinfo', 'wrap'],
    ['graphinfo', 'merge'],
  ] as const) {
    const lines = async (out: string) => (await readArchives(path.join(dir, out), stream)).flatMap((w) => w.lines);
    const original = await lines('orig');
    const replayed = await lines('again');
    t.ok(original.length >= 5, `${stream}: ${original.length} records from the simulator`);
    t.ok(replayed.length >= 5, `${stream}: ${replayed.length} records from the replay`);
    const originalBodies = original.map((l) => recordBody(Buffer.from(l), { mode }));
    // The record lines without their timestamps: compared without recordBody.
    const tail = (l: string) => l.replace(/^\{"timestamp":\d+/, '');
    let last = -1;
    let matched = 0;
    let backwards = 0;
    const seen = new Set<number>();
    for (const l of replayed) {
      const body = recordBody(Buffer.from(l), { mode });
      const i = originalBodies.findIndex((b) => b.equals(body));
      if (i < 0) continue;
      matched++;
      t.equal(tail(l), tail(original[i]), 'the same record bytes after the timestamp');
      t.equal(seqOf(l), seqOf(original[i]), 'the same sim_seq marker');
      if (i < last) backwards++;
      last = i;
      seen.add(i);
    }
    t.equal(matched, replayed.length, `${stream}: every body recorded from the replay is a body recorded from the simulator`);
    t.equal(backwards, 0, `${stream}: in the recorded order`);
    t.ok(seen.size >= original.length - 2, `${stream}: most original bodies came back (${seen.size} of ${original.length})`);
    if (stream === 'graphinfo') {
      t.ok(originalBodies[0].includes('"dpid":14721744659231801345'), 'the simulator sent uint64 DPIDs above 2^53');
      t.ok(replayed.every((l) => l.includes('"dpid":14721744659231801345')), 'and the replay served them exactly');
    }
  }
});
