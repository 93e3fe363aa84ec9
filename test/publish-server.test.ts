// The publish listener of a junos stream: documents swapped whole at the end of
// a cycle, ETag and Last-Modified, a token beyond loopback, stale devices
// keeping their last good data, and the Python agent's JSON formatting.
import t from 'tap';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { PublishedDocuments } from '../src/sources/junos/publish/published-documents.js';
import { PublishServer } from '../src/sources/junos/publish/publish-server.js';
import { publishSettings, publishSchema } from '../src/sources/junos/publish/publish-config.js';
import { stringifyPythonJson } from '../src/json/python-json.js';
import { ConfigError } from '../src/config/errors.js';
import { agentExporter } from '../src/sources/junos/agent-document.js';
import { akvoradoExporter } from '../src/sources/junos/akvorado-exporter.js';
import type { DeviceReplies } from '../src/sources/junos/junos-view.js';
import type { InventoryDevice } from '../src/sources/common/inventory.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Builders that make each part's size visible, so a torn document would show. */
const docs = () =>
  new PublishedDocuments<{ name: string }>({
    agent: (d, parts) => new Map<string, never>([['name', d.name as never], ['parts', Object.keys(parts).join(',') as never]]),
    akvorado: (d, parts) => ({ exportersubnet: `${d.name}/32`, name: d.name, interfaces: Object.keys(parts).map((p, i) => ({ ifindex: i + 1, name: p, description: p, speed: 1000 })) }),
  });

async function serve(t: Tap.Test, documents: ReturnType<typeof docs>, opts: Partial<{ token: string }> = {}) {
  const settings = publishSettings('streams.r', { ...publishSchema.parse({})!, token: opts.token });
  // port 0 passes the regex but not the range check; listen on an ephemeral port instead
  const server = new PublishServer({ ...settings, port: 0 }, () => documents.current());
  const address = await server.start();
  t.teardown(() => server.close());
  return { port: address.port, server };
}

t.test('python json.dump(indent=4, ensure_ascii=False) byte for byte, integer-like keys in insertion order', async (t) => {
  const value = new Map<string, never>([
    ['530', 'xe-0/1/0.0 «core»' as never],
    ['17', new Map() as never],
    ['list', [] as never],
    ['nested', new Map([['b', [1, 'x\n"y"', null, true]], ['a', new Map([['k', 'v']])]]) as never],
  ]);
  const ours = stringifyPythonJson(value, 4);
  const py = spawnSync('python3', ['-c', 'import json,sys; d=json.loads(sys.stdin.read(), object_pairs_hook=dict); sys.stdout.write(json.dumps(d, ensure_ascii=False, indent=4))'], { input: ours, encoding: 'utf8' });
  if (py.status !== 0) return t.skip(`python3 not usable here: ${py.stderr}`);
  t.equal(ours, py.stdout, 'Python re-dumps our bytes unchanged');
  t.ok(ours.indexOf('"530"') < ours.indexOf('"17"'), 'a JS object would put "17" first');
});

t.test('config: beyond loopback a token is required unless public: true; the error names key, value and fix', async (t) => {
  const parse = (v: unknown) => publishSchema.parse(v)!;
  t.throws(() => publishSettings('streams.r', parse({ listen: '0.0.0.0:8043' })), ConfigError);
  try {
    publishSettings('streams.r', parse({ listen: '0.0.0.0:8043' }));
  } catch (err) {
    t.match((err as Error).message, /streams\.r\.publish\.listen: got "0\.0\.0\.0:8043".*no token is set; add token: \$\{NSR_PUBLISH_TOKEN\}.*or public: true/);
  }
  t.equal(publishSettings('streams.r', parse({ listen: '0.0.0.0:8043', public: true })).token, undefined);
  t.equal(publishSettings('streams.r', parse({ listen: '0.0.0.0:8043', token: 's3cret-token' })).token, 's3cret-token');
  t.same(publishSettings('streams.r', parse(true)), { host: '127.0.0.1', port: 8043, token: undefined, akvorado: { default: { name: 'unknown', description: 'not reported by the device', speed: 1000 }, skip_missing_interfaces: false } }, 'publish: true is every default');
  t.throws(() => parse({ listen: '8043' }), /host:port/);
});

t.test('503 before the first cycle, then whole documents; ETag and Last-Modified give 304s while nothing changes', async (t) => {
  const documents = docs();
  const { port } = await serve(t, documents);
  const early = await get(port, '/exporters.json');
  t.equal(early.status, 503);
  t.match(early.body, /no cycle has finished yet/);
  documents.answered('10.0.0.1', { name: 'r1' }, { interfaces: {}, 'inet.3': {} }, 1000);
  documents.commit(['10.0.0.1'], 1000);
  const first = await get(port, '/tmp.json');
  t.equal(first.status, 200);
  t.equal(first.headers['content-type'], 'application/json; charset=utf-8');
  t.same(JSON.parse(first.body), { exporters: { '10.0.0.1': { name: 'r1', parts: 'interfaces,inet.3' } } });
  t.equal((await get(port, '/exporters.json')).body, first.body, '/tmp.json is /exporters.json');
  const etag = String(first.headers.etag);
  t.equal((await get(port, '/tmp.json', { 'If-None-Match': etag })).status, 304);
  t.equal((await get(port, '/tmp.json', { 'If-Modified-Since': String(first.headers['last-modified']) })).status, 304);
  // The same data again: same bytes, same validators.
  documents.answered('10.0.0.1', { name: 'r1' }, { interfaces: {}, 'inet.3': {} }, 61_000);
  documents.commit(['10.0.0.1'], 61_000);
  t.equal((await get(port, '/tmp.json', { 'If-None-Match': etag })).status, 304, 'a steady network keeps its ETag');
  documents.answered('10.0.0.1', { name: 'r1' }, { 'mpls.0': {} }, 121_000);
  documents.commit(['10.0.0.1'], 121_000);
  const changed = await get(port, '/tmp.json', { 'If-None-Match': etag });
  t.equal(changed.status, 200);
  t.not(changed.headers.etag, etag);
  const head = await get(port, '/akvorado.json', {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
  t.equal((await get(port, '/akvorado.json', {}, 'POST')).status, 405);
  t.match((await get(port, '/nope')).body, /served: \/exporters\.json, \/tmp\.json, \/akvorado\.json/);
});

t.test('a device that failed keeps its last good data, marked stale with its age; one never answered has none', async (t) => {
  const documents = docs();
  documents.answered('10.0.0.1', { name: 'r1' }, { interfaces: {}, 'inet.3': {}, 'mpls.0': {} }, 0);
  documents.answered('10.0.0.2', { name: 'r2' }, { interfaces: {} }, 0);
  documents.commit(['10.0.0.1', '10.0.0.2'], 0);
  documents.failed('10.0.0.1', { name: 'r1' }, 'timeout', 'no reply within 10 s', 60_000);
  documents.failed('10.0.0.3', { name: 'r3' }, 'auth_failed', 'authentication failed', 60_000);
  documents.answered('10.0.0.2', { name: 'r2' }, { interfaces: {} }, 60_000);
  const snap = documents.commit(['10.0.0.1', '10.0.0.2', '10.0.0.3'], 60_000);
  const doc = JSON.parse(snap.exporters.body.toString('utf8')).exporters;
  t.same(doc['10.0.0.1'], { name: 'r1', parts: 'interfaces,inet.3,mpls.0', stale: { reason: 'timeout', message: 'no reply within 10 s', failing_since: new Date(60_000).toISOString(), last_good: new Date(0).toISOString(), age_s: 60 } });
  t.same(doc['10.0.0.2'], { name: 'r2', parts: 'interfaces' }, 'a fresh device carries no stale mark');
  t.same(doc['10.0.0.3'].stale.last_good, null, 'never answered: no last good data');
  const akv = JSON.parse(snap.akvorado.body.toString('utf8')).exporters.map((e: { name: string }) => e.name);
  t.same(akv, ['r1', 'r2'], 'Akvorado gets the stale device’s last good data, and not the one without any');
  // Dropped from the cycle (NetBox no longer lists it): forgotten.
  const later = documents.commit(['10.0.0.2'], 120_000);
  t.same(Object.keys(JSON.parse(later.exporters.body.toString('utf8')).exporters), ['10.0.0.2']);
});

t.test('a token, when set, is needed by every request; rebinding names are refused on loopback', async (t) => {
  const documents = docs();
  documents.answered('10.0.0.1', { name: 'r1' }, { interfaces: {} }, 0);
  documents.commit(['10.0.0.1'], 0);
  const { port } = await serve(t, documents, { token: 'pub-Token-77' });
  const none = await get(port, '/akvorado.json');
  t.equal(none.status, 401);
  t.notMatch(none.body, /pub-Token-77/);
  t.equal((await get(port, '/akvorado.json', { Authorization: 'Bearer wrong' })).status, 401);
  t.equal((await get(port, '/akvorado.json', { Authorization: 'Bearer pub-Token-77' })).status, 200);
  t.equal((await get(port, '/akvorado.json', { Authorization: 'Bearer pub-Token-77', Host: 'evil.example:80' })).status, 403);
});

t.test('requests while cycles are rebuilt always see a whole document', async (t) => {
  const documents = docs();
  const { port } = await serve(t, documents);
  const keys = Array.from({ length: 300 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  let cycle = 0;
  const rebuild = () => {
    cycle++;
    for (const k of keys) documents.answered(k, { name: `r${cycle}` }, cycle % 2 ? { interfaces: {} } : { interfaces: {}, 'inet.3': {} }, cycle);
    documents.commit(keys, cycle * 1000);
  };
  rebuild();
  let stop = false;
  const rebuilder = (async () => {
    while (!stop) {
      rebuild();
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 0; i < 40; i++) {
    const doc = JSON.parse((await get(port, '/tmp.json')).body).exporters;
    const names = new Set(Object.values(doc).map((e) => (e as { name: string }).name));
    t.equal(names.size, 1, `request ${i}: every exporter from one cycle`);
    t.equal(Object.keys(doc).length, keys.length);
  }
  stop = true;
  await rebuilder;
});

t.test("a device whose reply the document builders cannot read costs its own entry, not the other devices'", async (t) => {
  // Before: a REST device's JSON nested 20000 deep overflowed the stack in the
  // agent's descendant search, commit() threw, and no device's document was updated.
  const documents = new PublishedDocuments<InventoryDevice>({
    agent: (d, parts) => new Map(Object.entries(agentExporter(d, parts as DeviceReplies, undefined))),
    akvorado: (d, parts) => akvoradoExporter(d, parts as DeviceReplies, undefined, { skipMissingInterfaces: true }) ?? undefined,
  });
  const device = (name: string, address4: string): InventoryDevice => ({ id: -1, name, status: null, site: null, site_id: null, role: null, platform: null, tags: [], address4, address6: null });
  let deep: Record<string, unknown> = {};
  const interfaces = deep;
  for (let i = 0; i < 20_000; i++) deep = (deep['physical-interface'] = [{}])[0] as Record<string, unknown>;
  documents.answered('10.0.0.1', device('r1', '10.0.0.1'), { interfaces }, 0);
  documents.answered('10.0.0.2', device('r2', '10.0.0.2'), { interfaces: {} }, 0);
  const snap = documents.commit(['10.0.0.1', '10.0.0.2'], 0);
  const doc = JSON.parse(snap.exporters.body.toString('utf8')).exporters;
  t.equal(doc['10.0.0.2'].name, 'r2');
  t.equal(doc['10.0.0.2'].stale, undefined);
  t.equal(doc['10.0.0.1'].stale.reason, 'unusable_reply');
  t.equal(doc['10.0.0.1'].stale.last_good, null);
  t.same(JSON.parse(snap.akvorado.body.toString('utf8')).exporters.map((e: { name: string }) => e.name), ['r2']);
});
