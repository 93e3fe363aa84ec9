// Junos over NETCONF/SSH recorded by bin/nsr against the simulated NetBox and
// NETCONF devices: a hanging and a failing device never hold back the others,
// the XML replies are recorded exactly, sessions are kept between cycles, and
// the published documents are read over HTTP while cycles are rebuilt. A
// device whose host key differs from the known one is refused before any
// login.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { NetboxSimulator } from '../src/simulate/netbox-simulator.js';
import { JunosNetconfSimulator, type JunosNetconfSimulatorOptions } from '../src/simulate/junos-netconf-simulator.js';
import { readArchives, readEvents, ROOT, sleep, startNsr, tempDir } from './helpers.js';

async function startDevices(t: Tap.Test, opts: Omit<JunosNetconfSimulatorOptions, 'port'>): Promise<{ junos: JunosNetconfSimulator; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const junos = new JunosNetconfSimulator({ ...opts, port });
    try {
      await junos.start();
      t.teardown(() => junos.stop());
      return { junos, port };
    } catch (err) {
      await junos.stop();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 5) throw err;
    }
  }
}

const freePort = () => 20_000 + Math.floor(Math.random() * 40_000);
const lines = async (dir: string, stream: string) => (await readArchives(dir, stream)).flatMap((w) => w.lines);
const withoutMessageId = (xml: string) => xml.replace(/\smessage-id="[^"]*"/, '');

function get(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('NETCONF devices from NetBox: hanging and failing devices never hold back the others; XML verbatim; sessions kept; documents served whole', async (t) => {
  const dir = tempDir(t);
  const netbox = new NetboxSimulator({ generated: 4 });
  const { url } = await netbox.start();
  t.teardown(() => netbox.stop());
  const { junos, port } = await startDevices(t, {
    devices: netbox.devices(),
    latencyMs: { min: 10, max: 60 },
    faults: { 'msk1-pe02': 'hang', 'spb2-p01': 'error' },
    username: 'nsr',
    password: 'pw-Very-Secret-42',
    static: true,
  });
  junos.writeKnownHosts(path.join(dir, 'known_hosts'));
  const publishPort = freePort();
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
shutdown: {grace: 3s, deadline: 30s}
streams:
  inventory:
    kind: netbox
    url: ${url}
    interval: 2s
    change_only: true
    filter: {status: active}
  routers:
    kind: junos
    transport: netconf
    netbox: {stream: inventory, filter: {platform: junos}}
    port: ${port}
    username: \${JUNOS_USER}
    password: \${JUNOS_PASSWORD}
    netconf:
      host_keys: {known_hosts: known_hosts, first_contact: refuse}
    interval: 2s
    device_timeout: 1s
    max_workers: 3
    publish: {listen: "127.0.0.1:${publishPort}"}
`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml'], { JUNOS_USER: 'nsr', JUNOS_PASSWORD: 'pw-Very-Secret-42' });
  // Read both documents over and over while cycles are rebuilt: every answer must be one whole document.
  const seen: { path: string; status: number; body: string }[] = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      for (const p of ['/tmp.json', '/akvorado.json']) {
        try {
          const r = await get(publishPort, p);
          seen.push({ path: p, status: r.status, body: r.body });
        } catch {
          // not listening yet, or stopping
        }
      }
      await sleep(15);
    }
  })();
  // Cycles, not seconds: a loaded machine starts the recorder late. The events window still open is plain NDJSON.
  const cyclesSoFar = () => {
    const out = path.join(dir, 'out');
    if (!existsSync(out)) return 0;
    return readdirSync(out)
      .filter((n) => n.endsWith('_events.json'))
      .flatMap((n) => readFileSync(path.join(out, n), 'utf8').split('\n'))
      .filter((l) => l.includes('"event":"cycle"') && l.includes('"stream":"routers"')).length;
  };
  for (const until = Date.now() + 60_000; cyclesSoFar() < 3 && Date.now() < until; ) await sleep(200);
  const last = await get(publishPort, '/tmp.json');
  const akv = await get(publishPort, '/akvorado.json');
  const again = await get(publishPort, '/akvorado.json', { 'If-None-Match': String(akv.headers.etag) });
  reading = false;
  await reader;
  process.kill(nsr.pid, 'SIGTERM');
  const { code } = await nsr.exit;
  t.equal(code, 0, `clean stop\n${nsr.output().slice(-2000)}`);
  const out = path.join(dir, 'out');
  t.notMatch(nsr.output(), /pw-Very-Secret-42/, 'the password is never logged');

  const events = await readEvents(out);
  const cycles = events.filter((e) => e.event === 'cycle' && e.stream === 'routers');
  t.ok(cycles.length >= 2, `at least two cycles (${cycles.length})`);
  const reachable = netbox.devices().filter((d) => !junos.unavailable.includes(d.address.replace(/^\[|\]$/g, '')));
  const good = reachable.map((d) => d.name).filter((n) => !['msk1-pe02', 'spb2-p01', '#6'].includes(n));
  for (const c of cycles) {
    t.ok(c.ms < 2000, `cycle ${c.tick} ended within its interval (${c.ms} ms) despite the hanging device`);
    const failed = events.filter((e) => e.event === 'item_failed' && e.tick === c.tick);
    t.same(
      failed.map((e) => `${e.item} ${e.reason}`).sort(),
      ['msk1-pe02 timeout', 'spb2-p01 rpc_error', 'spb2-sw01 no_address'],
      `tick ${c.tick}: the hanging, the failing and the address-less device are reported, each with its reason`,
    );
  }
  t.match(events.find((e) => e.event === 'item_failed' && e.reason === 'rpc_error')?.message, /simulated failure/, "the device's rpc-error message is in the event");
  t.same(events.filter((e) => e.event === 'missed_tick' && e.stream === 'routers'), [], 'no routers tick was missed');
  // Sessions: opened in the first cycle and reused after; only the hanging device's (closed at its timeout) is opened again.
  const first = events.filter((e) => e.event === 'item_failed' && e.tick === cycles[0].tick);
  t.equal(cycles[0].sessions_opened, good.length + first.filter((e) => e.reason !== 'no_address').length, `the first cycle opens one session per device polled (${good.length} answering, the hanging and the failing one)`);
  for (const c of cycles.slice(1)) {
    t.ok(c.sessions_opened <= 1, `tick ${c.tick}: ${c.sessions_opened} sessions opened (the hanging device's at most)`);
    t.ok(c.sessions_reused >= good.length * 3, `tick ${c.tick}: ${c.sessions_reused} RPCs on kept sessions`);
  }

  const raw = (await lines(out, 'routers')).map((l) => JSON.parse(l));
  for (const c of cycles) {
    const inTick = raw.filter((rec) => rec.timestamp >= c.scheduled_at && rec.timestamp < c.scheduled_at + 2000);
    t.same(inTick.map((rec) => rec.device).sort(), [...good].sort(), `tick ${c.tick}: every answering device recorded once`);
  }
  const one = raw.find((rec) => rec.device === 'msk1-pe01')!;
  t.match(one, { transport: 'netconf', format: 'xml', host: '127.20.0.1', netbox_id: 1 });
  const fixture = (name: string) => readFileSync(path.join(ROOT, 'fixtures', 'junos', name), 'utf8');
  t.equal(withoutMessageId(one.replies.interfaces), withoutMessageId(fixture('get-interface-information.rpc-reply.xml')), 'the XML reply is recorded exactly (the message-id is the session’s)');
  t.equal(withoutMessageId(one.replies['inet.3']), withoutMessageId(fixture('get-route-information.inet.3.rpc-reply.xml')));
  t.equal(withoutMessageId(one.replies['mpls.0']), withoutMessageId(fixture('get-route-information.mpls.0.rpc-reply.xml')));

  const views = (await lines(out, 'routers_view')).map((l) => JSON.parse(l));
  t.equal(views.length, raw.length, 'one view per device answer');
  const pe01 = views.find((v) => v.device === 'msk1-pe01');
  t.same(pe01.regions, ['Moscow', 'Center', 'Russia'], 'site first, root last');
  const xe010 = pe01.interfaces.find((i: { name: string }) => i.name === 'xe-0/1/0');
  t.match(xe010.far_end, [{ device: 'spb2-p01', interface: 'xe-0/0/0', cable: 501 }]);
  t.equal(xe010.units[0].snmp_index, 540, 'logical units carry their SNMP index');
  // The simulated devices answer on 127.20.x addresses while the fixture's routes name 10.255.x: resolution is proven in junos-view.test.ts.
  t.ok(pe01.next_hops.every((h: object) => 'netbox' in h), 'every next hop says which NetBox device is at its destination (null: none here)');

  // The documents: every answer read during the run was whole, and the last ones hold what the agent's did.
  const answered = seen.filter((s) => s.status === 200);
  t.ok(answered.length >= 20, `${answered.length} documents read while cycles ran`);
  t.same(seen.filter((s) => s.status !== 200 && s.status !== 503), [], 'only 200s, and 503 before the first cycle ended');
  for (const s of answered) JSON.parse(s.body);
  t.pass('every document read during the run parses whole');
  const exporters = JSON.parse(last.body).exporters;
  const e1 = exporters['127.20.0.1'];
  t.same(Object.keys(e1), ['name', 'site', 'regions', 'interfaces', 'nexthops', 'mpls_labels'], "the agent's keys, in its order");
  t.match(e1, { name: 'msk1-pe01', site: 'MSK1', regions: ['Moscow', 'Center', 'Russia'] });
  t.same(e1.interfaces['540'], { name: 'xe-0/1/0.0', speed: '10Gbps', description: '', connection: { device: 'spb2-p01', interface: 'xe-0/0/0' } }, 'a unit by its SNMP index, the physical speed string, its far end');
  // JSON.parse would move integer-like keys first, so the order is read from the bytes.
  t.ok(last.body.indexOf('"540": {') < last.body.indexOf('"16": {'), 'SNMP indexes in the device’s order, as Python kept them');
  t.same(Object.keys(e1.nexthops['10.255.0.2']), ['name', 'site', 'regions', 'labels'], "a next hop in the agent's shape");
  t.ok(Object.values(e1.nexthops['10.255.0.2'].labels).length > 0, 'next hops carry their labels');
  t.ok(Object.keys(e1.mpls_labels).length > 0, 'mpls_labels');
  t.match(exporters['127.20.0.2'], { name: 'msk1-pe02', interfaces: {}, stale: { reason: 'timeout', last_good: null } }, 'the hanging device: listed, marked stale, no data ever');
  t.match(exporters['127.20.0.11'] ?? Object.values(exporters).find((e) => (e as { name: string }).name === 'spb2-p01'), { name: 'spb2-p01', stale: { reason: 'rpc_error' } }, 'the failing device: marked stale with its reason');
  const a1 = JSON.parse(akv.body).exporters.find((e: { name: string }) => e.name === 'msk1-pe01');
  t.match(a1, { exportersubnet: '127.20.0.1/32', site: 'MSK1', region: 'Moscow', default: { name: 'unknown', speed: 1000 } });
  t.same(a1.interfaces.find((i: { ifindex: number }) => i.ifindex === 540), { ifindex: 540, name: 'xe-0/1/0.0', description: 'xe-0/1/0.0', speed: 10000 });
  t.notOk(JSON.parse(akv.body).exporters.some((e: { name: string }) => e.name === 'msk1-pe02'), 'a device that never answered is not sent to Akvorado');
  t.equal(again.status, 304, 'the same document again: 304 on its ETag');
});

t.test('a device whose host key differs from the known one is refused before any login or RPC, with an event naming both fingerprints', async (t) => {
  const dir = tempDir(t);
  const netbox = new NetboxSimulator();
  await netbox.start();
  t.teardown(() => netbox.stop());
  const pe01 = netbox.devices().find((d) => d.name === 'msk1-pe01')!;
  // The known key is another simulator's: the device now offers a different one.
  const other = new JunosNetconfSimulator({ devices: [pe01], port: 1 });
  const { junos, port } = await startDevices(t, { devices: [pe01], username: 'nsr', password: 'pw-Other-Secret-9', static: true });
  writeFileSync(path.join(dir, 'known_hosts'), other.knownHosts().replace(/:1 /g, `:${port} `));
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
streams:
  routers:
    kind: junos
    transport: netconf
    devices: [{name: msk1-pe01, host: "${pe01.address}", port: ${port}}]
    username: nsr
    password: \${JUNOS_PASSWORD}
    netconf:
      host_keys: {known_hosts: known_hosts, first_contact: remember}
    interval: 1s
    device_timeout: 1s
`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s'], { JUNOS_PASSWORD: 'pw-Other-Secret-9' });
  const { code } = await nsr.exit;
  t.equal(code, 0, nsr.output().slice(-2000));
  const events = await readEvents(path.join(dir, 'out'));
  const refused = events.filter((e) => e.event === 'item_failed' && e.item === 'msk1-pe01');
  t.ok(refused.length >= 1, 'each cycle reports the device');
  t.ok(refused.every((e) => e.reason === 'host_key_mismatch'), refused.map((e) => e.reason).join());
  t.match(refused[0].message, new RegExp(junos.fingerprint.replace(/[+/]/g, '.')), 'the offered fingerprint is named');
  t.match(refused[0].message, new RegExp(other.fingerprint.replace(/[+/]/g, '.')), 'the expected fingerprint is named');
  t.equal(junos.rpcsReceived.get('msk1-pe01') ?? 0, 0, 'no RPC reached the device');
  t.equal(junos.sessionsOpened.get('msk1-pe01') ?? 0, 0, 'no session was opened (no login)');
  t.equal(readFileSync(path.join(dir, 'known_hosts'), 'utf8').split('\n').filter(Boolean).length, 1, 'remember never replaces a known key');
  t.notMatch(nsr.output(), /pw-Other-Secret-9/);
  t.same((await lines(path.join(dir, 'out'), 'routers')).length, 0, 'nothing recorded from a device that could be anyone');
});
