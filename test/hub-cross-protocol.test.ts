// A web page can make the operator's browser POST to the hub's loopback ports;
// a line protocol would then run the body's lines as commands. The hub closes a
// connection whose first line is an HTTP request line, before reading anything
// else it sent: `/reset` in a POST body does nothing, `/register` in one
// registers nothing, and each refusal is an event.
import t from 'tap';
import net from 'node:net';
import path from 'node:path';
import { readEvents, tempDir } from './helpers.js';
import { freePorts, hubCommands, startHub } from './hub-helpers.js';

/** Sends `text` and resolves with what came back once the hub closed the connection. */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.on('data', (d: Buffer) => (got += d.toString('utf8')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
    setTimeout(() => s.destroy(), 10_000);
  });
}

t.test('a browser request to the command or a data port is closed unread: its body runs no command', async (t) => {
  const dir = tempDir(t);
  const [cmd, data, aPort, bPort] = await freePorts(4);
  const nsr = await startHub(t, dir, cmd, data, '', 'out');
  await hubCommands(cmd, [`/register A uuid-a ${aPort}`, `/register B uuid-b ${bPort}`, '/routes add ab A B']);

  const body = `/reset\n/register Evil uuid-evil 1\n`;
  const post = (port: number) => `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  t.equal(await sendRaw(cmd, post(cmd)), '', 'the command port answers nothing and closes');
  t.equal(await sendRaw(data, post(data)), '', 'so does a data port');

  const listed = await hubCommands(cmd, ['/list', '/routes info']);
  t.match(listed, /Route Name: ab/, 'the route is still there: /reset did not run');
  t.notMatch(listed, /Evil|uuid-evil/, 'nothing was registered from the body');

  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
  const refused = (await readEvents(path.join(dir, 'out'))).filter((e) => e.event === 'hub_refused' && e.reason === 'http_request');
  t.same(refused.map((e) => e.port).sort(), [cmd, data].sort(), 'each refusal is an event naming its port');
});
