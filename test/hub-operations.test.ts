// The hub (kind: hub) run as bin/nsr, on the paths hub-e2e.test.ts does not
// walk: peripherals expiring, the discovery scan, a full route queue,
// /update_data_port and /config, and the operator's `nsr hub …` and
// `nsr status`. Peripherals are EGG-speaking sockets in this process (their
// own ports: test/hub-helpers.ts fakePeripheral), so what the hub sends them
// and when it connects is observed directly.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NSR, nsrAsync, readArchives, readEvents, tempDir, type NsrProcess } from './helpers.js';
import { fakePeripheral, freePorts, hubCommands, startHub, waitFor } from './hub-helpers.js';
import { controlUrl } from './control-helpers.js';

async function stop(t: Tap.Test, nsr: NsrProcess): Promise<void> {
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-2000));
}

/** A data connection as a peripheral holds one: its uuid first, then one payload a line. */
function dataConnection(port: number, uuid: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`${uuid}\n`);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** The hub's part of the recorder's /status. */
async function hubStatus(url: string): Promise<any> {
  const res = await fetch(`${url}/status`);
  return ((await res.json()) as any).streams.egg.hub;
}

const orchOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'recorded_info', 'orch.cf'), 'utf8'));

t.test('a peripheral unheard for longer than expire_after is forgotten, with an event; one that keeps sending stays', async (t) => {
  const dir = tempDir(t);
  const [cmd, data, quietPort, chattyPort] = await freePorts(4);
  const nsr = await startHub(t, dir, cmd, data, 'expire_after: 3s');
  const registered = await hubCommands(cmd, [`/register Quiet uuid-q ${quietPort}`, `/register Chatty uuid-c ${chattyPort}`]);
  t.match(registered, `/ack ${data}\n/ack ${data}`);
  t.match(await hubCommands(cmd, ['/list']), /1\. Quiet .*\n2\. Chatty /);

  // Quiet says one thing, then nothing; Chatty sends a line every 300 ms (well inside 3 s even on a busy machine); Quiet says nothing.
  const quiet = await dataConnection(data, 'uuid-q');
  quiet.end('before\n');
  const chatty = await dataConnection(data, 'uuid-c');
  let n = 0;
  const ticker = setInterval(() => chatty.write(`tick ${n++}\n`), 300);
  t.teardown(() => {
    clearInterval(ticker);
    chatty.destroy();
  });
  const registeredAt = Date.now();
  let list = '';
  await waitFor('Quiet to be forgotten', async () => !(list = await hubCommands(cmd, ['/list'])).includes('Quiet'), 30_000);
  t.ok(Date.now() - registeredAt >= 3000, 'not before expire_after');
  t.match(list, /^Known peripherals:\n1\. Chatty \(UUID: uuid-c/, '/list no longer shows it; the peripheral that kept sending is still there');
  clearInterval(ticker);
  chatty.destroy();
  const listsQuiet = () => {
    try {
      return orchOf(dir).peripherals.some((p: { name: string }) => p.name === 'Quiet');
    } catch {
      return true; // not written yet: not written without it either
    }
  };
  await waitFor('orch.cf to be written without it', () => !listsQuiet());
  // Back again: registered anew, its lines continue its sequence (seq counts a sender's lines in the run).
  t.match(await hubCommands(cmd, [`/register Quiet uuid-q ${quietPort}`]), `/ack ${data}`);
  (await dataConnection(data, 'uuid-q')).end('after\n');
  await waitFor('the line after the return', async () => (await hubStatus(await controlUrl(dir, nsr))).received >= n + 2);

  await stop(t, nsr);
  const fromQuiet = (await readArchives(path.join(dir, 'recorded_info'), 'egg')).flatMap((w) => w.lines.map((l) => JSON.parse(l))).filter((r) => r.uuid === 'uuid-q');
  t.same(fromQuiet.map((r) => [r.seq, r.payload]), [[1, 'before'], [2, 'after']], 'no sequence number twice for one sender in a run');
  const expired = (await readEvents(path.join(dir, 'recorded_info'))).filter((e) => e.event === 'peripheral_expired');
  t.match(expired[0], { name: 'Quiet', uuid: 'uuid-q', port: quietPort }, 'the expiry is an event');
  t.ok(expired[0].unheard_ms >= 3000, `with how long it was unheard (${expired[0].unheard_ms} ms)`);
  t.ok(listsQuiet(), 'orch.cf lists it again');
});

t.test('discovery: peripherals answering /info on the configured ports are found, a second name gets _2, secrets are not kept, other ports are left alone', async (t) => {
  const dir = tempDir(t);
  const [cmd, data, x, y, p3, decoyPort] = await freePorts(6);
  // The scan goes through the ports in ascending order: the lower one is found first and keeps the name.
  const [p1, p2] = [x, y].sort((m, n) => m - n);
  const asr1 = await fakePeripheral(p1, 'ASR_Engine\nuuid-1\nrole=asr\napi_key=sekrit-one\nEOF\n');
  const asr2 = await fakePeripheral(p2, 'ASR_Engine\nuuid-2\nmodel=whisper\ntoken=sekrit-two\nEOF\n');
  const mute = await fakePeripheral(p3); // listens, answers nothing: not a peripheral
  const decoy = await fakePeripheral(decoyPort, 'Decoy\nuuid-d\nEOF\n'); // would answer, but its port is not configured
  t.teardown(() => Promise.all([asr1, asr2, mute, decoy].map((f) => f.close())));
  // The hub's own ports are in the list too: the scan skips them (unit-tested in hub-discovery.test.ts; here they must not break anything).
  const nsr = await startHub(t, dir, cmd, data, `discovery: {ports: [${p1}, ${p2}, ${p3}, ${cmd}, ${data}], interval: 300ms, rate: 50, timeout: 500ms}`);

  await waitFor('both ASR engines to be discovered', async () => /ASR_Engine_2/.test(await hubCommands(cmd, ['/list'])), 30_000);
  // Further scans find the same uuids: updated, not added again.
  await waitFor('a few more scans', () => asr1.connections >= 4 && asr2.connections >= 4, 30_000);
  const list = await hubCommands(cmd, ['/list']);
  t.match(list, new RegExp(`^Known peripherals:\\n1\\. ASR_Engine \\(UUID: uuid-1, Port: ${p1}, .*\\n2\\. ASR_Engine_2 \\(UUID: uuid-2, Port: ${p2}, [^\\n]*\\n$`), 'two peripherals, the second renamed; rescans add none');
  t.ok(mute.connections >= 1, 'the silent port was probed');
  t.equal(decoy.connections, 0, 'a port not in discovery.ports is never probed');
  t.equal(asr1.received.split('\n').filter(Boolean).every((l) => l === '/info'), true, 'a probe sends /info only');

  await stop(t, nsr);
  const orchText = readFileSync(path.join(dir, 'recorded_info', 'orch.cf'), 'utf8');
  t.notMatch(orchText, /sekrit/, 'no secret from /info in orch.cf');
  const byUuid = Object.fromEntries(orchOf(dir).peripherals.map((p: { uuid: string }) => [p.uuid, p]));
  t.match(byUuid['uuid-1'], { name: 'ASR_Engine', port: p1, config: 'role=asr\napi_key=***' }, 'key=values kept, the secret replaced');
  t.match(byUuid['uuid-2'], { name: 'ASR_Engine_2', port: p2, config: 'model=whisper\ntoken=***' });
  const events = await readEvents(path.join(dir, 'recorded_info'));
  t.notMatch(JSON.stringify(events), /sekrit/, 'nor in the events');
});

t.test('a full route queue: lines past it are recorded as queue_full and reported in route_overflow; the other route is not held up', async (t) => {
  const dir = tempDir(t);
  const [cmd, data, aPort, slowPort, fastPort] = await freePorts(5);
  const slow = await fakePeripheral(slowPort);
  slow.setReading(false); // connected, never reads: the kernel's buffers fill, then the route's queue
  const fast = await fakePeripheral(fastPort);
  t.teardown(() => Promise.all([slow.close(), fast.close()]));
  const nsr = await startHub(t, dir, cmd, data, 'route_queue: 5');
  const url = await controlUrl(dir, nsr);
  await hubCommands(cmd, [`/register A uuid-a ${aPort}`, `/register Slow uuid-s ${slowPort}`, `/register Fast uuid-f ${fastPort}`]);
  t.match(await hubCommands(cmd, ['/routes add slow A Slow', '/routes add fast A Fast']), /'slow' added successfully\.\n.*'fast' added successfully\./);

  // Big lines, so the kernel's socket buffers toward Slow fill after a few MB; sent until the slow route overflows, then 20 more.
  const LINE = 64 * 1024;
  const line = (i: number) => `${String(i).padStart(8, '0')}${'x'.repeat(LINE - 9)}\n`;
  const a = await dataConnection(data, 'uuid-a');
  t.teardown(() => a.destroy());
  let sent = 0;
  // At most 4 lines (less than the queue of 5) are in flight toward Fast: the next ones wait until Fast has
  // them all. So Fast's queue cannot fill from a burst on a loaded machine, only if Slow held it up, and
  // then this wait times out and says so.
  const fastHasAll = () =>
    waitFor('Fast to receive every line sent so far', () => fast.bytes === sent * LINE, 90_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}: Fast has ${fast.bytes / LINE} of ${sent} lines; hub: ${JSON.stringify((await hubStatus(url)).routes)}`);
    });
  const send = async (count: number) => {
    for (let k = 0; k < count; k++) {
      if (!a.write(line(sent++))) await new Promise((r) => a.once('drain', r));
      if (sent % 4 === 0) await fastHasAll();
    }
  };
  let extra = -1;
  while (extra < 0 || sent < extra) {
    await send(20);
    if (extra < 0 && (await hubStatus(url)).routes.find((r: any) => r.name === 'slow').overflowed > 0) extra = sent + 20;
    if (sent > 3000) throw new Error(`the slow route never overflowed after ${sent} lines of ${LINE} bytes`);
  }
  // Then a trickle, one line at a time: the overflows are summed into about one event a second, not one each.
  const trickleStart = Date.now();
  for (let k = 0; k < 30; k++) {
    await send(1);
    await new Promise((r) => setTimeout(r, 40));
  }
  // Fast gets every line while Slow still holds its full queue.
  await fastHasAll();
  const st = await hubStatus(url);
  const slowNow = st.routes.find((r: any) => r.name === 'slow');
  t.equal(slowNow.queue, 5, 'the slow route still holds a full queue meanwhile');
  t.match(st.routes.find((r: any) => r.name === 'fast'), { delivered: sent, overflowed: 0, queue: 0 });
  t.ok(fast.received.startsWith(line(0).slice(0, 100)), 'in order from the first line');

  a.end();
  const stoppedAt = Date.now();
  await stop(t, nsr);
  const records = (await readArchives(path.join(dir, 'recorded_info'), 'egg')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  t.equal(records.length, sent, 'every line recorded once');
  t.ok(records.every((r) => r.forward.fast === 'queued'), 'all forwarded on the fast route');
  const full = records.filter((r) => r.forward.slow === 'queue_full');
  t.ok(full.length >= 20, `lines past the slow queue are recorded with queue_full (${full.length})`);
  t.ok(records.every((r) => r.forward.slow === 'queued' || r.forward.slow === 'queue_full'), 'the others as queued');
  const overflow = (await readEvents(path.join(dir, 'recorded_info'))).filter((e) => e.event === 'route_overflow');
  t.ok(overflow.length >= 1 && overflow.every((e) => e.route === 'slow' && e.queue === 5), 'route_overflow events name the route and its queue');
  t.equal(overflow.reduce((s, e) => s + e.lines, 0), full.length, 'they count every line not forwarded');
  t.equal(overflow.at(-1)!.total, full.length);
  const trickle = overflow.filter((e) => e.timestamp >= trickleStart);
  t.ok(trickle.length <= Math.ceil((stoppedAt - trickleStart) / 1000) + 2, `${trickle.length} route_overflow events in ${stoppedAt - trickleStart} ms of one-line overflows: about one a second`);
});

t.test('/update_data_port moves a route to the new port; /config is stored without its secrets; both answer', async (t) => {
  const dir = tempDir(t);
  const [cmd, data, oldPort, newPort, yPort] = await freePorts(5);
  const before = await fakePeripheral(oldPort);
  const after = await fakePeripheral(newPort);
  t.teardown(() => Promise.all([before.close(), after.close()]));
  const nsr = await startHub(t, dir, cmd, data, '');
  await hubCommands(cmd, [`/register X uuid-x ${oldPort}`, `/register Y uuid-y ${yPort}`, '/routes add y_x Y X']);
  const y = await dataConnection(data, 'uuid-y');
  t.teardown(() => y.destroy());
  y.write('first\n');
  await waitFor('the first line at the old port', () => before.received === 'first\n');

  const answers = await hubCommands(cmd, [`/update_data_port uuid-x ${newPort}`, '/update_data_port nobody 7001', '/update_data_port uuid-x notaport', '/update_data_port uuid-x']);
  t.equal(answers, `/ack ${newPort}\nPeripheral 'nobody' not found; /register first.\nUsage: /update_data_port <uuid> <port>\nUsage: /update_data_port <uuid> <port>\n`);
  const shown = await hubCommands(cmd, ['/list', '/routes info']);
  t.match(shown, new RegExp(`1\\. X \\(UUID: uuid-x, Port: ${newPort},`), '/list shows the new port');
  t.match(shown, new RegExp(`To: X \\(UUID: uuid-x, Port: ${newPort}\\)`), 'and so does the route');
  y.write('second\n');
  await waitFor('the second line at the new port', () => after.received === 'second\n');
  t.equal(before.received, 'first\n', 'nothing more to the old port');

  const config = await hubCommands(cmd, ['/config uuid-x', '{"model": "m1", "api_key": "sekrit-x", "nested": {"password": "pw"}}', 'EOF', '/config nobody', '{}', 'EOF', '/config']);
  t.equal(config, "Configuration received.\nPeripheral 'nobody' not found; /register first.\n", 'answers; a bare /config waits for its document (EOF never came)');

  await stop(t, nsr);
  const orch = readFileSync(path.join(dir, 'recorded_info', 'orch.cf'), 'utf8');
  t.notMatch(orch, /sekrit|"pw"/, 'no secret in orch.cf');
  const x = JSON.parse(orch).peripherals.find((p: { uuid: string }) => p.uuid === 'uuid-x');
  t.equal(x.port, newPort, 'orch.cf has the new port');
  t.same(JSON.parse(x.config), { model: 'm1', api_key: '***', nested: { password: '***' } }, 'and the configuration, secrets replaced');
  const routes = JSON.parse(readFileSync(path.join(dir, 'recorded_info', 'routes.cf'), 'utf8'));
  t.match(routes, [{ name: 'y_x', outgoing: 'uuid-x', outgoing_port: newPort }], 'routes.cf follows');
});

t.test('the operator: nsr hub route add/remove and peripheral remove over the control server; nsr status and nsr hub show draw the hub', async (t) => {
  const dir = tempDir(t);
  const [cmd, data, aPort, bPort] = await freePorts(4);
  const b = await fakePeripheral(bPort);
  t.teardown(() => b.close());
  const nsr = await startHub(t, dir, cmd, data, '');
  await controlUrl(dir, nsr);
  await hubCommands(cmd, [`/register A uuid-a ${aPort}`, `/register B uuid-b ${bPort}`]);
  const nsrHub = (...args: string[]) => nsrAsync(dir, ['hub', ...args, '-c', 'r.yaml']);

  let r = await nsrHub('route', 'add', 'ab', 'A', 'B');
  t.same([r.code, r.stdout], [0, "Route 'ab' added successfully.\n"], r.stderr);
  t.match(await hubCommands(cmd, ['/routes info']), /Route Name: ab\n {2}From: A \(UUID: uuid-a, Port: \d+\)\n {2}To: B/, 'the route is there for EGG tools too');
  r = await nsrHub('route', 'add', 'ab', 'A', 'B');
  t.same([r.code, r.stdout], [1, "Route 'ab' already exists.\n"], 'adding it again fails, with EGG\'s answer');
  r = await nsrHub('route', 'add', 'ax', 'A', 'Nobody');
  t.same([r.code, r.stdout], [1, "Outgoing peripheral 'Nobody' not found.\n"]);

  // A line through the route, so it has a last use.
  const a = await dataConnection(data, 'uuid-a');
  t.teardown(() => a.destroy());
  a.write('hello\n');
  await waitFor('the line at B', () => b.received === 'hello\n');

  const st = await nsrAsync(dir, ['status', '-c', 'r.yaml']);
  t.equal(st.code, 0, st.stderr);
  t.match(st.stdout, new RegExp(`^hub egg  listening 127\\.0\\.0\\.1:${cmd} \\+ ${data}  connections \\d+  lines 1 \\(0 with no route\\)$`, 'm'));
  t.match(st.stdout, /^ {2}PERIPHERAL +UUID +PORT +DATA PORT +LAST SEEN +LINES$/m);
  t.match(st.stdout, new RegExp(`^ {2}A +uuid-a +${aPort} +${data} +[\\d.]+s ago +1$`, 'm'), 'each peripheral with when it was last seen');
  t.match(st.stdout, new RegExp(`^ {2}B +uuid-b +${bPort} +${data} +[\\d.]+s ago +0$`, 'm'));
  t.match(st.stdout, /^ {2}ROUTE +FROM → TO +STATE +LAST USED +QUEUE +DELIVERED +OVERFLOW +MAYBE LOST$/m);
  t.match(st.stdout, new RegExp(`^ {2}ab +A → B:${bPort} +connected +[\\d.]+s ago +0 +1 +0 +0$`, 'm'), 'each route with its last use and queue');
  t.match(st.stdout, /s ago {2}route ab added: A → B \(nsr hub\)$/m, 'and the recent activity');
  const show = await nsrHub('show');
  t.equal(show.code, 0, show.stderr);
  t.match(show.stdout, /^hub egg  listening [^\n]*\n {2}PERIPHERAL/);

  // --watch without a terminal: plain snapshots; one with the hub section is enough.
  const watch = spawn(process.execPath, [NSR, 'status', '-c', 'r.yaml', '--watch'], { cwd: dir });
  t.teardown(() => void watch.kill('SIGKILL'));
  let watched = '';
  watch.stdout.on('data', (d) => (watched += d));
  await waitFor('a --watch snapshot with the hub', () => /^ {2}ab +A → B/m.test(watched), 30_000);
  watch.kill('SIGINT');
  t.match(watched, /^hub egg  listening /m);

  r = await nsrHub('peripheral', 'remove', 'A');
  t.same([r.code, r.stdout], [0, "Peripheral 'A' removed.\n"]);
  t.notMatch(await hubCommands(cmd, ['/list']), /\bA \(UUID/, '/list no longer shows it');
  r = await nsrHub('peripheral', 'remove', 'A');
  t.same([r.code, r.stdout], [1, "Peripheral 'A' not found.\n"]);
  r = await nsrHub('route', 'remove', 'ab');
  t.same([r.code, r.stdout], [0, "Route 'ab' removed successfully.\n"]);
  t.equal(await hubCommands(cmd, ['/routes info']), 'No routes configured.\n');
  r = await nsrHub('route', 'remove', 'ab');
  t.same([r.code, r.stdout], [1, "Route 'ab' not found.\n"]);
  await stop(t, nsr);
});
