// The control server under attack (issue 13, findings 1 and 7): a web page the
// operator visits (cross-site, DNS rebinding), a local user without the token,
// a runtime stream that would read a secret file or variable and send it away,
// and bad input (oversized bodies, broken %-escapes, too many streams,
// reserved names). Each is refused, and nothing is kept in .nsr.runtime.json.
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { simulatorWithConfig, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';
import { commandHeaders, controlToken, controlUrl, rawRequest } from './control-helpers.js';
import { parseConfig } from '../src/config/loader.js';

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

t.test('a stream added at run time cannot read a secret file or variable the configuration does not allow', async (t) => {
  const dir = tempDir(t);
  const secret = path.join(dir, 'secret.txt');
  writeFileSync(secret, 'hunter2-very-secret\n');
  const sink = await listener(t);
  const config = (allow: string) => `control: {runtime_secrets: [${allow}]}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "http://127.0.0.1:1", data: flow, interval: 500ms}\n`;
  writeFileSync(path.join(dir, 'r.yaml'), config(''));
  const { nsr, url } = await running(t, dir, { NSR_TEST_RUNTIME_SECRET: 'from-the-environment' });
  const add = (body: object) => rawRequest(`${url}/streams`, { method: 'POST', headers: commandHeaders(dir), body: JSON.stringify(body) });
  const junos = (name: string, auth: object) => ({ name, kind: 'junos', scheme: 'http', interval: '500ms', devices: [{ name: 'x', host: '127.0.0.1', port: sink.port }], username: 'u', ...auth });

  // The attack of the finding, by the recorder's own user (with the token): refused, naming the key and the fix.
  const byFile = await add(junos('stolen', { password_file: secret }));
  t.equal(byFile.status, 400, byFile.text);
  t.match(byFile.json().error, /streams\.stolen\.password_file: a stream added at run time may not name a file for password_file \(got ".*secret\.txt"\).*add ".*secret\.txt" to control\.runtime_secrets in r\.yaml/);
  const byEnv = await add(junos('stolen', { password: '${NSR_TEST_RUNTIME_SECRET}' }));
  t.equal(byEnv.status, 400, byEnv.text);
  t.match(byEnv.json().error, /streams\.stolen\.password: a stream added at run time may not read the environment variable NSR_TEST_RUNTIME_SECRET; to allow it, add "NSR_TEST_RUNTIME_SECRET" to control\.runtime_secrets/);
  const nested = await add({ name: 'probe1', kind: 'probe', targets_file: '/etc/passwd' });
  t.equal(nested.status, 400);
  t.match(nested.json().error, /streams\.probe1\.targets_file: a stream added at run time may not name a file/, 'every *_file setting, not only passwords');
  t.notMatch(byFile.text + byEnv.text, /hunter2|from-the-environment/, 'no secret in the answers');
  t.same(sink.seen, [], 'nothing was sent to the named host');
  t.notOk(existsSync(runtimeFile(dir)), 'nothing kept in .nsr.runtime.json');
  t.same(await streamNames(url), ['flowinfo']);

  // Listed in the file: allowed (the file and the variable), and the secret reaches the device as it should.
  writeFileSync(path.join(dir, 'r.yaml'), config(`${JSON.stringify(secret)}, NSR_TEST_RUNTIME_SECRET`));
  const okFile = await add(junos('viafile', { password_file: secret }));
  t.equal(okFile.status, 200, okFile.text);
  const okEnv = await add(junos('viaenv', { password: '${NSR_TEST_RUNTIME_SECRET}' }));
  t.equal(okEnv.status, 200, okEnv.text);
  const basic = (pw: string) => `Basic ${Buffer.from(`u:${pw}`).toString('base64')}`;
  const until = Date.now() + 8000;
  const got = () => new Set(sink.seen.map((h) => h.authorization));
  while (Date.now() < until && !(got().has(basic('hunter2-very-secret')) && got().has(basic('from-the-environment')))) await sleep(100);
  t.ok(got().has(basic('hunter2-very-secret')), 'the allowed file is read');
  t.ok(got().has(basic('from-the-environment')), 'the allowed variable is substituted');
  const kept = readFileSync(runtimeFile(dir), 'utf8');
  t.match(kept, /\$\{NSR_TEST_RUNTIME_SECRET\}/, 'the runtime file keeps the reference');
  t.notMatch(kept, /from-the-environment|hunter2/, 'never the secret');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-400));
  t.notMatch(nsr.output(), /hunter2|from-the-environment/, 'the secrets are nowhere in the output');

  // Taken off the list, a kept stream that reads a secret stops the next start (the loader a start uses), saying where it is kept.
  const out = path.join(dir, 'recorded_info');
  t.throws(
    () => parseConfig(`output: {dir: ${JSON.stringify(out)}}\n${config('')}`, 'r.yaml'),
    { name: 'ConfigError', message: /streams\.viafile\.password_file: a stream added at run time may not name a file[^]*kept in .*\.nsr\.runtime\.json: allow it as said, or remove it from that file/ },
  );
});

t.test('bad input: an oversized body is 413, a broken %-escape 400, at most 100 runtime streams, reserved names refused', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'recorded_info');
  // 100 streams added at run time already (disabled: they cost nothing here), kept from an earlier run.
  const added = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`extra${i}`, { kind: 'ndtwin', kernel: 'http://127.0.0.1:1', data: 'flow', enabled: false }]));
  mkdirSync(out);
  writeFileSync(path.join(out, '.nsr.runtime.json'), JSON.stringify({ added, removed: [] }));
  await simulatorWithConfig(t, dir, (url) => `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const { nsr, url } = await running(t, dir);
  const kept = () => readFileSync(path.join(out, '.nsr.runtime.json'), 'utf8');
  const before = kept();

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

  // the 101st runtime stream
  const more = await rawRequest(`${url}/streams`, { method: 'POST', headers: commandHeaders(dir), body: JSON.stringify({ name: 'one_more', kind: 'ndtwin', data: 'graph' }) });
  t.equal(more.status, 400, more.text);
  t.match(more.json().error, /streams\.one_more: 100 streams were added at run time already, the most there may be \(100\); write more streams into r\.yaml .*or remove a runtime stream first \(DELETE \/streams\/<name>\)/);

  // reserved names at run time
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    const r = await rawRequest(`${url}/streams`, { method: 'POST', headers: commandHeaders(dir), body: `{"name": ${JSON.stringify(name)}, "kind": "ndtwin", "data": "graph"}` });
    t.equal(r.status, 400, `${name}: 400`);
    t.match(r.json().error, new RegExp(`streams\\.${name}: the name "${name}" is reserved`));
  }
  t.equal(kept(), before, 'nothing of it was kept');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-400));
});

t.test('reserved stream names in the configuration file and in a kept runtime file are configuration errors', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'r.yaml'), `streams:\n  __proto__: {kind: ndtwin, data: flow}\n  flowinfo: {kind: ndtwin, data: flow}\n`);
  const check = startNsr(dir, ['check', '-c', 'r.yaml']);
  t.equal((await check.exit).code, 2, 'nsr check: exit 2');
  t.match(check.output(), /r\.yaml: streams\.__proto__: the name "__proto__" is reserved .*choose another name/);
  // the others, and a runtime file kept from an earlier run (or planted), through the loader itself
  for (const name of ['constructor', 'prototype']) {
    t.throws(() => parseConfig(`streams:\n  ${name}: {kind: ndtwin, data: flow}\n`, 'r.yaml'), { message: new RegExp(`r\\.yaml: streams\\.${name}: the name "${name}" is reserved`) }, name);
  }
  const kept = JSON.parse('{"added": {"__proto__": {"kind": "ndtwin", "data": "flow"}}, "removed": []}');
  t.throws(() => parseConfig('streams:\n  flowinfo: {kind: ndtwin, data: flow}\n', 'r.yaml', {}, kept), { message: /streams\.__proto__: the name "__proto__" is reserved/ }, 'a kept runtime stream named __proto__');
});
