// Credentials in URLs (user:pass@, ?api_key=…) and secrets from the environment
// never leave nsr: not in /status, the start event, the logs, the records,
// `nsr check`, replay's routes, nor a rejected reload. The real URL is still
// what is fetched.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { readZipRecords } from '../src/archive/archive-reader.js';
import { isSecretParam, redactUrl, redactUrlsIn, withoutSecretParams } from '../src/sources/common/redact.js';
import { NSR, readEvents, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';

t.test('redactUrl hides userinfo and credential parameters, and nothing else', async (t) => {
  t.equal(redactUrl('http://u:p@h:1/x?api_key=s&page=2'), 'http://***@h:1/x?api_key=***&page=2');
  t.equal(redactUrl('https://h/x?A=1&Token=t&X-Amz-Signature=abc&sig=z&q=a%20b'), 'https://h/x?A=1&Token=***&X-Amz-Signature=***&sig=***&q=a%20b');
  t.equal(redactUrl('https://h/cb#access_token=t&state=1'), 'https://h/cb#access_token=***&state=1');
  t.equal(redactUrl('http://h/x?key=&limit=5'), 'http://h/x?key=&limit=5', 'an empty value hides nothing');
  t.equal(redactUrl('htp//user:pw@h/x?password=p'), 'htp//***@h/x?password=***', 'text that does not parse as a URL');
  for (const name of ['api_key', 'apikey', 'API-KEY', 'key', 'token', 'access_token', 'secret', 'client_secret', 'password', 'passwd', 'pwd', 'auth', 'signature', 'sig', 'subscription-key']) t.ok(isSecretParam(name), name);
  for (const name of ['page', 'limit', 'q', 'format', 'k']) t.notOk(isSecretParam(name), name);
  t.equal(redactUrlsIn('HTTP 500 from http://h/fail?token=abc: {"e":1}'), 'HTTP 500 from http://h/fail?token=***: {"e":1}');
  t.equal(redactUrlsIn('no URL here'), 'no URL here');
  t.equal(withoutSecretParams('/x?api_key=***&page=2'), '/x?page=2');
  t.equal(withoutSecretParams('/x?token=abc'), '/x');
  t.equal(withoutSecretParams('/ndt/get_graph_data'), '/ndt/get_graph_data');
  t.equal(withoutSecretParams('/x?'), '/x?', 'a path without credentials stays byte for byte');
});

/** An upstream that answers JSON on /x, 500 on /fail and text on /p, and keeps what each request carried. */
async function upstream(t: Tap.Test): Promise<{ url: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    const route = (req.url ?? '').split('?')[0];
    res.writeHead(route === '/fail' ? 500 : 200, { 'content-type': 'application/json' });
    res.end(route === '/fail' ? '{"error":"down"}' : '{"ok":1}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Runs `nsr …` to its end (or until `until` holds, then SIGTERM). */
function nsrRun(cwd: string, args: string[], until?: (out: string) => boolean): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd });
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (until?.(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs: number, nsr?: NsrProcess): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)?.slice(0, 500)}\n${nsr?.output().slice(-1500) ?? ''}`);
    await sleep(200);
  }
}

const SECRETS = /SEKRIT/;

t.test('URL credentials and environment secrets stay out of /status, the start event, the logs, the records, nsr check, replay and a rejected reload', async (t) => {
  const dir = tempDir(t);
  const { url, seen } = await upstream(t);
  const port = url.split(':')[2];
  const config = (interval: string) =>
    [
      'output: {window: 1m}',
      'streams:',
      `  api: {kind: http, url: "http://reader:SEKRIT-USERINFO@127.0.0.1:${port}/x?api_key=SEKRIT-QUERY&page=2", interval: ${interval}}`,
      `  failing: {kind: http, url: "${url}/fail?token=SEKRIT-FAIL", interval: 500ms}`,
      `  web: {kind: probe, targets: [{url: "http://user:SEKRIT-PASS@127.0.0.1:${port}/p?sig=SEKRIT-SIG"}]}`,
      '',
    ].join('\n');
  writeFileSync(path.join(dir, 'r.yaml'), config('500ms'));
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml'], { NSR_TEST_SECRET: 'SEKRIT-ENV' });
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });

  // /status, as `nsr status --json` gets it, once every stream has been at work
  const status = await waitFor(
    'records of api and web, and a failure of failing, in nsr status',
    async () => {
      const r = await nsrRun(dir, ['status', '-c', 'r.yaml', '--json']);
      return r.code === 0 ? r.out : '';
    },
    (out) => {
      const s = out ? JSON.parse(out).streams : undefined;
      return s?.api?.records > 0 && s?.web?.records > 0 && Object.keys(s?.failing?.failures ?? {}).length > 0;
    },
    20_000,
    nsr,
  );
  t.notMatch(status, SECRETS, '/status shows no credential');
  t.equal(JSON.parse(status).streams.api.target, `http://***@127.0.0.1:${port}/x?api_key=***&page=2`);

  // the credentials were sent upstream all the same
  const fetched = seen.find((r) => r.url?.startsWith('/x'));
  t.equal(fetched?.url, '/x?api_key=SEKRIT-QUERY&page=2', 'the real URL is fetched');
  t.equal(fetched?.headers.authorization, `Basic ${Buffer.from('reader:SEKRIT-USERINFO').toString('base64')}`);
  t.equal(seen.find((r) => r.url?.startsWith('/p'))?.headers.authorization, `Basic ${Buffer.from('user:SEKRIT-PASS').toString('base64')}`, 'the probe sends its userinfo');

  // a reload with an environment secret where a duration belongs: rejected without the secret
  writeFileSync(path.join(dir, 'r.yaml'), config('"${NSR_TEST_SECRET}"'));
  process.kill(nsr.pid, 'SIGHUP');
  await waitFor('the reload to be rejected', () => nsr.output(), (out) => /reload rejected/.test(out), 10_000, nsr);
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-800));
  writeFileSync(path.join(dir, 'r.yaml'), config('500ms'));

  t.notMatch(nsr.output(), SECRETS, 'the logs hold no credential');
  t.match(nsr.output(), /api_key=\*\*\*/, 'the logs show where the credential was');

  const out = path.join(dir, 'recorded_info');
  const events = await readEvents(out);
  const start = events.find((e) => e.event === 'start');
  t.equal(start?.streams.api.target, `http://***@127.0.0.1:${port}/x?api_key=***&page=2`, 'the start event');
  t.match(events.find((e) => e.event === 'missed_tick' && e.stream === 'failing' && e.reason === 'http_500')?.message, /fail\?token=\*\*\*/, 'a fetch error');
  const rejected = events.find((e) => e.event === 'reload_rejected');
  t.match(rejected?.error, /streams\.api\.interval: got the value of \$\{NSR_TEST_SECRET\}/, 'the rejected reload names the variable');
  for (const file of readdirSync(out).filter((f) => f.endsWith('.zip'))) {
    const { lines } = await readZipRecords(path.join(out, file));
    t.notMatch(lines.join('\n'), SECRETS, `${file} holds no credential`);
  }
  const probes = (await readZipRecords(path.join(out, readdirSync(out).find((f) => f.endsWith('_web_json.zip'))!))).lines.map((l) => JSON.parse(l));
  t.ok(probes.length > 0);
  t.same(new Set(probes.map((p) => `${p.target} ${p.url}`)), new Set([`http://***@127.0.0.1:${port}/p?sig=*** http://***@127.0.0.1:${port}/p?sig=***`]), 'probe records: target and url without the credentials');

  // nsr check and nsr replay, side by side
  const replay = startNsr(dir, ['replay', 'recorded_info', '--port', '0', '--loop']);
  t.teardown(() => {
    try {
      process.kill(replay.pid, 'SIGKILL');
    } catch {}
  });
  const check = await nsrRun(dir, ['check', '-c', 'r.yaml']);
  t.notMatch(check.out, SECRETS, 'nsr check prints no credential');
  t.match(check.out, /api: http:\/\/\*\*\*@127\.0\.0\.1:\d+\/x\?api_key=\*\*\*&page=2 answered/);
  t.match(check.out, /HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/fail\?token=\*\*\*/);

  const base = await waitFor('the replay to list its routes', () => (replay.output().includes('/replay/status\n') ? /on (http:\/\/[\d.]+:\d+)/.exec(replay.output())?.[1] : undefined), Boolean, 10_000, replay);
  t.notMatch(replay.output(), SECRETS, 'replay lists no credential');
  t.match(replay.output(), /api → http:\/\/127\.0\.0\.1:\d+\/x\?page=2 \(/, 'the route is the path without the credential parameter');
  // A client of the replay may send a credential of its own: the route is the same.
  for (const route of ['/x?page=2', '/x?page=2&api_key=anything', '/x?api_key=SEKRIT-QUERY&page=2']) {
    const res = await waitFor(`${route} to answer`, () => fetch(`${base}${route}`), (r) => r.status !== 503, 5000);
    t.equal(res.status, 200, route);
    t.equal(await res.text(), '{"ok":1}', `${route}: the recorded body`);
  }
  t.equal((await fetch(`${base}/x?page=3`)).status, 404, 'other parameters still tell routes apart');
  process.kill(replay.pid, 'SIGTERM');
  t.equal((await replay.exit).code, 0);
});
