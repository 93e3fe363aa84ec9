// A route whose peripheral resets the connection while lines are being
// written: the forwarder reports it and reconnects, and the process stays
// responsive. (A failed write left the socket destroyed before its 'close'
// came; the forwarder took it again and again in microtasks, and the hub
// spun at 100 % CPU, answering nothing, until it was killed.)
//
// The forwarder runs in a child process (the built module) that prints a
// heartbeat: a process that spins stops printing, and is killed.
import t from 'tap';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, sleep } from './helpers.js';

const CHILD = `
const { RouteForwarder } = await import(process.argv[1]);
const port = Number(process.argv[2]);
const note = (event) => process.stdout.write('event ' + event + '\\n');
const f = new RouteForwarder('r', port, { host: '127.0.0.1', maxQueue: 1e6, reconnectMinMs: 50, reconnectMaxMs: 200, unconfirmedWindowMs: 2000 }, note, () => {});
const line = Buffer.from('x'.repeat(99) + '\\n');
for (let seq = 1; seq <= 300000; seq++) f.offer({ line, from: 'uuid-a', seq });
setInterval(() => process.stdout.write('tick\\n'), 50);
`;

t.test('a peripheral that resets the connection mid-write: reported, reconnected, and the process keeps running', async (t) => {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.on('error', () => {});
    // Reset once lines are flowing: the forwarder is writing a batch.
    s.once('data', () => setTimeout(() => s.resetAndDestroy(), 20));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => void server.close());
  const port = (server.address() as net.AddressInfo).port;

  const module = pathToFileURL(path.join(ROOT, 'dist', 'sources', 'hub', 'route-forwarder.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, module, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  let ticks = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    ticks += (d.toString().match(/^tick$/gm) ?? []).length;
  });
  child.stderr.on('data', (d: Buffer) => (out += d));

  // Until a few resets have happened, then the heartbeat must still come.
  for (const until = Date.now() + 15_000; Date.now() < until && connections < 3; ) await sleep(50);
  t.ok(connections >= 3, `the forwarder reconnected after each reset (${connections} connections)`);
  const before = ticks;
  await sleep(1000);
  t.ok(ticks > before, `the process is still responsive after the resets (${ticks - before} heartbeats in 1 s)`);
  t.match(out, /event route_disconnected/, 'the broken connection is reported');
});
