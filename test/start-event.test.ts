// Issue 13, finding 10: a run killed as soon as it fetches still shows it began. The start event
// is in the events file before the first request leaves (a NetBox stream fetches at once).
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNsr, tempDir } from './helpers.js';

t.test('SIGKILL at the first request: the start event is already on disk', async (t) => {
  const dir = tempDir(t);
  let pid = 0;
  let requests = 0;
  // An upstream that kills the recorder the moment its first request arrives.
  const server = createServer((req, res) => {
    if (requests++ === 0 && pid) process.kill(pid, 'SIGKILL');
    res.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out}\nstreams:\n  inventory: {kind: netbox, url: "http://127.0.0.1:${port}", interval: 5m}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  pid = nsr.pid;
  const { signal } = await nsr.exit;
  t.equal(signal, 'SIGKILL', `killed at its first request (${requests} requests)`);
  const out = path.join(dir, 'out');
  const events = readdirSync(out).filter((f) => f.endsWith('_events.json'));
  const lines = events.flatMap((f) => readFileSync(path.join(out, f), 'utf8').split('\n').filter(Boolean));
  t.ok(lines.some((l) => l.includes('"event":"start"') && l.includes(`"pid":${nsr.pid},`)), `the start event of pid ${nsr.pid} is in ${events.join(', ') || 'no events file'}`);
});
