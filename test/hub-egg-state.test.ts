// The hub and EGG's own files: an existing orch.cf/routes.cf pair (EGG's format,
// with its quirks: monotonic last_seen values, last_used null) is loaded and
// written back in the same format; and the hub's token rules over the wire.
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { readEvents, sleep, startNsr, tempDir } from './helpers.js';
import { hubCommands } from './hub-helpers.js';

const BASE = 20000 + Math.floor(Math.random() * 400) * 100 + 50;

const orchCf = {
  known_ports: '2000-8000',
  scan_interval: 5,
  command_port: 6000,
  data_port_range: '6001-6099',
  peripherals: [
    { name: 'LLM_Engine', uuid: '3484b12d-4330-41ce-bf08-9fe42c1f6a01', config: '', port: 6204, last_seen: 1730493029.609387, data_port: 6018 },
    { name: 'ASR_Engine', uuid: '9f6e64a3-031c-40db-9793-cd8076951fd6', config: '', port: 6207, last_seen: 50.045359776, data_port: 6018 },
    { name: 'TTS_Engine', uuid: '37d46837-f12a-4215-bd74-8d123bdb6a3d', config: 'api_key=***', port: 6237, last_seen: 1730496372.2536228, data_port: 6018 },
  ],
  script_uuid: '6d15d5ff-ba09-4103-91a4-69c451a14bdc',
};
const routesCf = [
  { name: 'asr_llm', incoming: '9f6e64a3-031c-40db-9793-cd8076951fd6', outgoing: '3484b12d-4330-41ce-bf08-9fe42c1f6a01', incoming_port: 6207, outgoing_port: 6204, last_used: 1730496586.1948016 },
  { name: 'llm_tts', incoming: '3484b12d-4330-41ce-bf08-9fe42c1f6a01', outgoing: '37d46837-f12a-4215-bd74-8d123bdb6a3d', incoming_port: 6204, outgoing_port: 6237, last_used: null },
];

t.test("an EGG deployment's orch.cf and routes.cf are loaded and written back in EGG's format", async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'orch'));
  // As Python's json.dump(..., indent=4) writes them.
  writeFileSync(path.join(dir, 'orch', 'orch.cf'), JSON.stringify(orchCf, null, 4));
  writeFileSync(path.join(dir, 'orch', 'routes.cf'), JSON.stringify(routesCf, null, 4));
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out}\nstreams:\n  egg: {kind: hub, state_dir: orch, command_port: ${BASE}, data_ports: "${BASE + 1}-${BASE + 2}", save_delay: 100ms}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  for (let i = 0; i < 200 && !nsr.output().includes('hub listening'); i++) await sleep(50);
  const info = await hubCommands(BASE, ['/routes info', '/list']);
  t.match(info, /Route Name: asr_llm\n {2}From: ASR_Engine \(UUID: 9f6e64a3-031c-40db-9793-cd8076951fd6, Port: 6207\)\n {2}To: LLM_Engine \(UUID: 3484b12d-4330-41ce-bf08-9fe42c1f6a01, Port: 6204\)\n {2}Last Used: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  t.match(info, /Route Name: llm_tts\n.*\n.*\n {2}Last Used: Never/);
  t.match(info, /Known peripherals:\n1\. LLM_Engine \(UUID: 3484b12d-4330-41ce-bf08-9fe42c1f6a01, Port: 6204, Last Seen: /);
  // A registration changes the files: they are written back (debounced).
  t.match(await hubCommands(BASE, ['/register Code_Engine 112d5a8b-c9c3-4794-8382-1504e6c2452c 6205']), /^\/ack \d+\n$/);
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  const orchText = readFileSync(path.join(dir, 'orch', 'orch.cf'), 'utf8');
  t.match(orchText, /^\{\n {4}"known_ports": "2000-8000",\n {4}"scan_interval": 5,\n {4}"command_port": \d+,/, 'indented by 4, as EGG writes it');
  const orch = JSON.parse(orchText);
  t.same(Object.keys(orch), Object.keys(orchCf), 'the same keys in the same order');
  t.equal(orch.script_uuid, orchCf.script_uuid);
  t.same(orch.peripherals.map((p: { name: string; uuid: string; port: number; config: string }) => [p.name, p.uuid, p.port, p.config]), [...orchCf.peripherals.map((p) => [p.name, p.uuid, p.port, p.config]), ['Code_Engine', '112d5a8b-c9c3-4794-8382-1504e6c2452c', 6205, '']]);
  t.same(Object.keys(orch.peripherals[0]), ['name', 'uuid', 'config', 'port', 'last_seen', 'data_port']);
  t.same(JSON.parse(readFileSync(path.join(dir, 'orch', 'routes.cf'), 'utf8')), routesCf, 'routes.cf as it was (nothing was delivered)');
});

t.test('with a token: route changes and /reset need /auth; a uuid registered by one connection cannot be spoken for by another', async (t) => {
  const dir = tempDir(t);
  const port = BASE + 10;
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out}\nstreams:\n  egg:\n    kind: hub\n    token: \${HUB_TOKEN}\n    command_port: ${port}\n    data_ports: "${port + 1}"\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml'], { HUB_TOKEN: 's3cret-token' });
  for (let i = 0; i < 200 && !nsr.output().includes('hub listening'); i++) await sleep(50);
  t.match(await hubCommands(port, ['/register A ua 7001', '/register B ub 7002']), /\/ack \d+\n\/ack \d+/);
  t.match(await hubCommands(port, ['/routes add ab A B', '/reset']), /needs the hub token.*\n.*needs the hub token/);
  t.match(await hubCommands(port, ['/auth wrong', '/routes add ab A B']), /^\/error invalid token\n$/, 'a wrong token closes the connection');
  t.match(await hubCommands(port, ['/auth s3cret-token', '/routes add ab A B']), /\/ok authenticated\nRoute 'ab' added successfully\./);
  // ua was registered by another (now closed) connection: speaking for it needs the token.
  t.match(await hubCommands(port, ['/data ua injected', '/register A ua 7009']), /registered by another connection.*\n.*registered by another connection/);
  await new Promise<void>((resolve) => {
    const s = net.connect(port + 1, '127.0.0.1', () => s.end('ua\ninjected too\n'));
    s.on('close', () => resolve());
  });
  t.match(await hubCommands(port, ['/auth s3cret-token', '/data ua allowed']), /\/ok authenticated/);
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  t.notMatch(nsr.output(), /s3cret-token/, 'the token is never logged');
  const events = await readEvents(path.join(dir, 'out'));
  t.equal(events.filter((e) => e.event === 'hub_refused' && e.reason === 'foreign_uuid').length, 3, 'each refusal is an event');
  t.ok(events.some((e) => e.event === 'hub_auth_failed'));
  const { readArchives } = await import('./helpers.js');
  const payloads = (await readArchives(path.join(dir, 'out'), 'egg')).flatMap((w) => w.lines.map((l) => JSON.parse(l).payload));
  t.same(payloads, ['allowed'], 'only the authenticated line was recorded');
});
