// The control server under attack (issue 13, findings 1 and 7): a web page the
// operator visits (cross-site, DNS rebinding), a local user without the token,
// and bad input (oversized bodies, broken %-escapes). Each is refused, and
// nothing is kept in .nsr.runtime.json.
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { simulatorWithConfig, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';
import { commandHeaders, controlToken, controlUrl, rawRequest } from './control-helpers.js';

/** Starts `nsr run -c r.yaml` in `dir` (killed at teardown) and waits for its control URL. */
async function running(t: Tap.Test, dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ nsr: NsrProcess; url: string }> {
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml'], env);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  return { nsr, url: await controlUrl(dir, nsr) };
}

/** An HTTP server that only notes what reaches it: where a stolen secret would go. */
async function listener(t: Tap.Test): Promise<{ port: number; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as { port: number }).port, seen };
}

const runtimeFile = (dir: string) => path.join(dir, 'recorded_info', '.nsr.runtime.json');
const streamNames = async (url: string) => Object.keys((await rawRequest(`${url}/status`)).json().streams).sort();
/** The recent events of /status: a refused command must leave none. */
const eventNames = async (url: string) => ((await rawRequest(`${url}/status`)).json().events as { event: string }[]).map((e) => e.event);

t.test('a web page cannot command the recorder: cross-site POSTs, DNS rebinding, no token, a wrong content type', async (t) => {
  const dir = tempDir(t);
  const secret = path.join(dir, 'secret.txt');
  writeFileSync(secret, 'hunter2-very-secret\n');
  const sink = await listener(t);
  await simulatorWithConfig(t, dir, (url) => `output: {window: 1h}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 500ms}\n`);
  // A symlink planted where the token file goes: the token must not be written through it.
  const tokenFile = path.join(dir, 'recorded_info', '.nsr.control-token');
  const victim = path.join(dir, 'victim.txt');
  writeFileSync(victim, 'untouched\n');
  mkdirSync(path.dirname(tokenFile));
  symlinkSync(victim, tokenFile);
  const { nsr, url } = await running(t, dir);
  const port = new URL(url).port;
  // The stream of the finding: a junos device at a host of the attacker's choosing, its password from a file nsr can read.
  const steal = JSON.stringify({ name: 'stolen', kind: 'junos', scheme: 'http', devices: [{ name: 'x', host: '127.0.0.1', port: sink.port }], username: 'u', password_file: secret });

  // 1. A form or fetch() from another site: text/plain (no preflight), a foreign Origin.
  const crossSite = { 'content-type': 'text/plain', origin: 'http://evil.example' };
  for (const [route, body] of [['/streams', steal], ['/reload', ''], ['/rotate', ''], ['/streams/flowinfo/pause', '']] as const) {
    const r = await rawRequest(`${url}${route}`, { method: 'POST', headers: crossSite, body });
    t.equal(r.status, 403, `cross-site POST ${route}: 403`);
    t.match(r.json().error, /requests from web pages are refused \(Origin "http:\/\/evil\.example"\)/);
  }
  // Even with the token (a page cannot have it, but the Origin alone decides).
  const withToken = await rawRequest(`${url}/rotate`, { method: 'POST', headers: { ...commandHeaders(dir), origin: 'http://evil.example' } });
  t.equal(withToken.status, 403, 'a foreign Origin is refused even with the token');
  t.equal((await rawRequest(`${url}/status`, { headers: { origin: 'null' } })).status, 403, 'Origin: null (a sandboxed page) too');

  // 2. DNS rebinding: the page's own name resolves to 127.0.0.1, so the Host is the attacker's.
  for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`]) {
    const read = await rawRequest(`${url}/status`, { headers: { host } });
    t.equal(read.status, 403, `GET /status with Host ${host}: 403`);
    t.match(read.json().error, /is not a name of this control server .*DNS rebinding.*control\.allowed_hosts/);
    t.notMatch(read.text, /flowinfo/, 'and nothing of the status');
    const post = await rawRequest(`${url}/streams`, { method: 'POST', headers: { ...commandHeaders(dir), host }, body: steal });
    t.equal(post.status, 403, `POST /streams with Host ${host} (and the token): 403`);
  }
  t.equal((await rawRequest(`${url}/status`, { headers: { host: `localhost:${port}` } })).status, 200, 'Host localhost:<port> is this server');
  t.equal((await rawRequest(`${url}/status`, { headers: { host: `127.0.0.1:${Number(port) + 1}` } })).status, 403, 'another port is not');

  // 3. A local user (or curl) without the token: 401, whatever the route.
  for (const [method, route, body] of [['POST', '/streams', steal], ['POST', '/reload', ''], ['POST', '/rotate', ''], ['POST', '/streams/flowinfo/pause', ''], ['DELETE', '/streams/flowinfo', '']] as const) {
    const none = await rawRequest(`${url}${route}`, { method, headers: { 'content-type': 'application/json' }, body });
    t.equal(none.status, 401, `${method} ${route} without a token: 401`);
    t.match(none.json().error, /missing token: commands need the control token, also on loopback; send Authorization: Bearer <the token in .*\.nsr\.control-token/);
    const wrong = await rawRequest(`${url}${route}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${'0'.repeat(64)}` }, body });
    t.equal(wrong.status, 401, `${method} ${route} with a wrong token: 401`);
  }
  // 4. The token, but not JSON: 415.
  const plain = await rawRequest(`${url}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${controlToken(dir)}`, 'content-type': 'text/plain' } });
  t.equal(plain.status, 415);
  t.match(plain.json().error, /a command needs Content-Type: application\/json \(got "text\/plain"\)/);

  // Nothing happened: no stream added or paused, nothing kept, no request to the attacker's host, no command event.
  t.same(await streamNames(url), ['flowinfo']);
  t.equal((await rawRequest(`${url}/status`)).json().streams.flowinfo.paused, false, 'flowinfo was not paused');
  t.notOk(existsSync(runtimeFile(dir)), 'nothing in .nsr.runtime.json');
  t.same(sink.seen, [], "the attacker's host heard nothing");
  const events = await eventNames(url);
  for (const e of ['reload', 'rotation', 'stream_paused']) t.notOk(events.includes(e), `no ${e} event`);
  t.equal((await rawRequest(`${url}/healthz`)).status, 200, 'reads stay open on loopback');

  // The token file is the recorder user's alone, and was created afresh.
  t.ok(lstatSync(tokenFile).isFile(), 'a regular token file replaced the planted symlink');
  t.equal(readFileSync(victim, 'utf8'), 'untouched\n', "the symlink's target is untouched");
  t.equal(lstatSync(tokenFile).mode & 0o777, 0o600, 'the token file has mode 0600');
  t.equal(lstatSync(path.join(dir, 'recorded_info', '.nsr.lock')).mode & 0o777, 0o600, 'so has the lock');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-400));
  t.notOk(existsSync(tokenFile), 'and is removed at the stop');
  t.notMatch(nsr.output(), /hunter2/, 'the secret is nowhere in the output');
});

t.test('bad input: an oversized body is 413, a broken %-escape 400', async (t) => {
  const dir = tempDir(t);
  await simulatorWithConfig(t, dir, (url) => `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const { nsr, url } = await running(t, dir);

  // a body over 64 KB: the client reads a 413, not a reset (declared length, and chunked)
  const big = JSON.stringify({ name: 'big', kind: 'ndtwin', data: 'flow', pad: 'x'.repeat(200 * 1024) });
  const sized = await rawRequest(`${url}/streams`, { method: 'POST', headers: commandHeaders(dir), body: big });
  t.equal(sized.status, 413, 'with Content-Length');
  t.match(sized.json().error, /larger than 65536 bytes/);
  const streamed = await fetch(`${url}/streams`, {
    method: 'POST',
    headers: commandHeaders(dir),
    body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) }),
    duplex: 'half',
  } as RequestInit);
  t.equal(streamed.status, 413, 'chunked');
  t.equal((await rawRequest(`${url}/healthz`)).status, 200, 'the server answers on');

  // a malformed %-escape in a stream name
  for (const [method, route] of [['POST', '/streams/%E0%A4%A/pause'], ['DELETE', '/streams/%zz'], ['POST', '/streams/a%/resume']] as const) {
    const r = await rawRequest(`${url}${route}`, { method, headers: commandHeaders(dir) });
    t.equal(r.status, 400, `${method} ${route}: 400`);
    t.match(r.json().error, /malformed %-escape/);
  }
  t.notOk(existsSync(runtimeFile(dir)), 'nothing was kept');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-400));
});
