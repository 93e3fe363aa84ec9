// NetBox inventory and Junos devices recorded by bin/nsr against the simulated
// NetBox and devices: devices taken from the newest NetBox snapshot, one device
// hanging and one failing while the rest are recorded on time, replies written
// verbatim, the joined view by physical interface, change-only inventory.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetboxSimulator } from '../src/simulate/netbox-simulator.js';
import { JunosSimulator, type JunosSimulatorOptions } from '../src/simulate/junos-simulator.js';
import { elementSpans, memberSpan } from '../src/json/json-spans.js';
import { ConfigError } from '../src/config/errors.js';
import { parseConfig } from '../src/config/loader.js';
import { windowStart } from '../src/sinks/window-naming.js';
import { readArchives, readEvents, ROOT, sleep, startNsr, tempDir, untilRecording, untilWritten } from './helpers.js';

/** The devices listen on their own loopback addresses; a random port keeps parallel tests apart. */
async function startDevices(t: Tap.Test, opts: Omit<JunosSimulatorOptions, 'port'>): Promise<{ junos: JunosSimulator; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const junos = new JunosSimulator({ ...opts, port });
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

const lines = async (dir: string, stream: string) => (await readArchives(dir, stream)).flatMap((w) => w.lines);
/** The value of `key` inside the object at `outer` of a record line, as the bytes written. */
function rawMember(line: string, outer: string, key: string): string {
  const b = Buffer.from(line);
  const o = memberSpan(b, outer)!;
  const inner = b.subarray(o.start, o.end);
  const s = memberSpan(inner, key)!;
  return inner.subarray(s.start, s.end).toString('utf8');
}

t.test('devices from NetBox: a hanging and a failing device never hold back the others; replies verbatim; view joined by physical interface', async (t) => {
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
    netbox: {stream: inventory, filter: {platform: junos}}
    scheme: http
    port: ${port}
    username: \${JUNOS_USER}
    password: \${JUNOS_PASSWORD}
    interval: 2s
    device_timeout: 1s
    max_workers: 3
`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml'], { JUNOS_USER: 'nsr', JUNOS_PASSWORD: 'pw-Very-Secret-42' });
  // Conditions, not seconds: on a loaded machine the recorder starts and cycles late.
  await untilRecording(path.join(dir, 'out'), 'routers');
  await sleep(2500);
  netbox.items.devices.find((d) => d.name === 'lab-pe01')!.description = 'moved to rack 4';
  await untilWritten(path.join(dir, 'out'), 'inventory', 'moved to rack 4');
  await sleep(2500);
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
      ['msk1-pe02 timeout', 'spb2-p01 http_500', 'spb2-sw01 no_address'],
      `tick ${c.tick}: the hanging, the failing and the address-less device are reported, each with its reason`,
    );
  }
  const missed = events.filter((e) => e.event === 'missed_tick' && e.stream === 'routers');
  t.same(missed, [], 'no routers tick was missed: failing devices do not fail the cycle');

  const raw = (await lines(out, 'routers')).map((l) => ({ line: l, rec: JSON.parse(l) }));
  for (const c of cycles) {
    const inTick = raw.filter(({ rec }) => rec.timestamp >= c.scheduled_at && rec.timestamp < c.scheduled_at + 2000);
    t.same(inTick.map(({ rec }) => rec.device).sort(), [...good].sort(), `tick ${c.tick}: every answering device recorded once`);
    // The hanging device holds one worker for its 1 s timeout; the others go on with the other two. Half a second of slack for a loaded machine.
    for (const { rec } of inTick) t.ok(rec.timestamp - c.scheduled_at < 1500, `${rec.device} recorded ${rec.timestamp - c.scheduled_at} ms into the tick, not held behind the hanging device`);
  }
  const one = raw.find(({ rec }) => rec.device === 'msk1-pe01')!;
  const fixture = (name: string) => readFileSync(path.join(ROOT, 'fixtures', 'junos', name), 'utf8').replace(/[\r\n]/g, '');
  t.equal(rawMember(one.line, 'replies', 'interfaces'), fixture('get-interface-information.json'), 'get-interface-information written byte for byte (line breaks aside)');
  t.equal(rawMember(one.line, 'replies', 'inet.3'), fixture('get-route-information.inet.3.json'));
  t.equal(rawMember(one.line, 'replies', 'mpls.0'), fixture('get-route-information.mpls.0.json'));
  t.match(one.rec, { host: '127.20.0.1', netbox_id: 1 });

  const views = (await lines(out, 'routers_view')).map((l) => JSON.parse(l));
  t.equal(views.length, raw.length, 'one view per device answer');
  const pe01 = views.find((v) => v.device === 'msk1-pe01');
  t.same(pe01.regions, ['Moscow', 'Center', 'Russia'], 'site first, root last');
  t.match(pe01.interfaces.find((i: { name: string }) => i.name === 'xe-0/1/0').far_end, [{ device: 'spb2-p01', interface: 'xe-0/0/0', cable: 501 }]);
  const r1 = views.find((v) => v.device === 'sim-r0001');
  t.match(r1.interfaces.find((i: { name: string }) => i.name === 'xe-0/1/0').far_end, [{ device: 'sim-r0002', interface: 'xe-0/1/1' }], 'generated ring cabling');
  t.match(r1.next_hops.find((h: { destination: string }) => h.destination === '10.255.0.11/32').next_hops[0], { interface: 'xe-0/1/0', far_end: [{ device: 'sim-r0002' }] });

  const inventory = (await lines(out, 'inventory')).map((l) => JSON.parse(l));
  // A snapshot is written first, when the digest changes, and as a window's first record (windows stay readable alone).
  let previous: { digest: string; window: number } | undefined;
  for (const r of inventory) {
    const window = windowStart(r.timestamp, 60_000);
    const due = !previous || previous.digest !== r.digest || previous.window !== window;
    t.equal(r.unchanged ? 'heartbeat' : 'snapshot', due ? 'snapshot' : 'heartbeat', `inventory record at ${r.timestamp}`);
    previous = { digest: r.digest, window };
  }
  t.equal(new Set(inventory.map((r) => r.digest)).size, 2, 'two states of the inventory: before and after the change');
  const changed = inventory.find((r) => r.digest === inventory[inventory.length - 1].digest && !r.unchanged);
  t.equal(changed.devices.find((d: { name: string }) => d.name === 'lab-pe01').description, 'moved to rack 4');
  // Fetched at start (or at the first tick when that is very near); the first cycle waited for it.
  t.ok(inventory[0].timestamp <= Math.min(...raw.map(({ rec }) => rec.timestamp)), 'the first inventory came before the first device record');

  const stats = startNsr(dir, ['stats', 'routers', 'out']);
  t.equal((await stats.exit).code, 0);
  t.match(stats.output(), new RegExp(`coverage +100\\.00 % \\(${cycles.length} of ${cycles.length} ticks`), 'nsr stats counts ticks, not device records, for a junos stream');
});

t.test('static devices with cables from a netbox stream', async (t) => {
  const dir = tempDir(t);
  const netbox = new NetboxSimulator();
  const { url } = await netbox.start();
  t.teardown(() => netbox.stop());
  const pe01 = netbox.devices().find((d) => d.name === 'msk1-pe01')!;
  const { port } = await startDevices(t, { devices: [pe01], static: true });
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
streams:
  inventory: {kind: netbox, url: "${url}", interval: 10s}
  routers:
    kind: junos
    devices: [{name: msk1-pe01, host: ${pe01.address}}]
    cables_from: inventory
    scheme: http
    port: ${port}
    interval: 1s
    view_stream: joined
`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  const views = (await lines(path.join(dir, 'out'), 'joined')).map((l) => JSON.parse(l));
  t.ok(views.length >= 2, `the view went to the stream named by view_stream (${views.length} records)`);
  const last = views[views.length - 1];
  t.match(last, { device: 'msk1-pe01', netbox_id: 1, site: 'msk1' }, 'the static device is found in NetBox by name');
  t.match(last.interfaces[0].far_end, [{ device: 'spb2-p01' }]);

  const check = startNsr(dir, ['check', '-c', 'r.yaml']);
  t.equal((await check.exit).code, 0, 'nsr check: every stream answered');
  t.match(check.output(), /ok {4}inventory: .* answered [\d.]+ KB of valid JSON/);
  t.match(check.output(), /ok {4}routers: .*: 1 of 1 answered/);
});

t.test('NetBox down: nsr check says so for the inventory and for the routers that wait on it, at once', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'r.yaml'), `streams:\n  inventory: {kind: netbox, url: "http://127.0.0.1:1", interval: 1m}\n  routers: {kind: junos, netbox: {stream: inventory}, interval: 1m}\n`);
  const started = Date.now();
  const check = startNsr(dir, ['check', '-c', 'r.yaml']);
  t.equal((await check.exit).code, 1);
  t.match(check.output(), /FAIL {2}inventory: .*connection_refused/);
  t.match(check.output(), /FAIL {2}routers: .*no_inventory: no snapshot of stream inventory yet \(its last fetch failed: connection_refused/);
  t.ok(Date.now() - started < 30_000, 'the routers did not wait out their minute');
});

t.test('the shipped example setting/examples/netbox-junos.yaml is valid without any secret set', async (t) => {
  const text = readFileSync(path.join(ROOT, 'setting', 'examples', 'netbox-junos.yaml'), 'utf8');
  const { streams } = parseConfig(text, 'netbox-junos.yaml', {}, { added: {}, removed: [] });
  t.same(streams.map((s) => `${s.name}:${s.kind}`), ['inventory:netbox', 'routers:junos']);
  t.equal(streams[0].options.token, undefined, 'an unset ${NETBOX_TOKEN:-} means no token');
});

t.test('junos configuration errors name the setting and the fix', async (t) => {
  const errorOf = (streams: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseConfig(`streams:\n${streams}`, 'r.yaml', env, { added: {}, removed: [] });
      return 'no error';
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
  };
  const nb = '  inv: {kind: netbox, url: "http://127.0.0.1:9"}\n';
  t.match(errorOf(`  r: {kind: junos}\n`), /streams\.r: set either devices \(a static list\) or netbox .*not neither/);
  t.match(errorOf(`${nb}  r: {kind: junos, devices: [a], netbox: {stream: inv}}\n`), /not both/);
  t.match(errorOf(`  f: {kind: ndtwin, data: flow}\n  r: {kind: junos, netbox: {stream: f}}\n`), /streams\.r\.netbox\.stream: stream "f" is of kind ndtwin; expected a stream of kind netbox/);
  t.match(errorOf(`  r: {kind: junos, devices: [a], cables_from: nope}\n`), /streams\.r\.cables_from: no stream is named "nope"/);
  t.match(errorOf(`${nb}  r: {kind: junos, netbox: {stream: inv}}\n  r_view: {kind: ndtwin, data: flow}\n`), /streams\.r: it also writes stream "r_view", which is taken by stream r_view/);
  t.match(errorOf(`  r: {kind: junos, devices: [a], max_workers: 0}\n`), /streams\.r\.max_workers/);
  t.match(errorOf(`  r: {kind: junos, devices: [a], password: 12345}\n`), /password: got a number \(not shown: it is a secret\); a password must be a string/, 'a malformed password is not echoed');
  t.notMatch(errorOf(`  r: {kind: junos, devices: [a], password: 12345}\n`), /12345/);
  t.match(errorOf(`${nb}  r: {kind: junos, netbox: {stream: inv, filter: {sitee: x}}}\n`), /unknown key "sitee"/);
});
