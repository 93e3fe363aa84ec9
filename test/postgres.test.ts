// The PostgreSQL sink against the machine's PostgreSQL (a schema of its own per
// test): nsr db init, batched writes of probe and other records, page text with
// quotes and SQL stored as data, uint64 digits kept, an uninitialised database refused.
import t from 'tap';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readZipEntries } from '../src/archive/zip-reader.js';
import { listen, sendJson } from '../src/simulate/listen.js';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { pgSchema, readArchives, readEvents, startNsr, tempDir } from './helpers.js';

/** A schema of the test's own, a working directory and the probe simulator; undefined when the test is skipped. */
async function withDatabase(t: Tap.Test) {
  const db = await pgSchema(t);
  if (!db) return undefined;
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  return { db, dir: tempDir(t), url };
}

const records = async (dir: string, stream: string) => (await readArchives(path.join(dir, 'out'), stream)).flatMap((w) => w.lines);

t.test('db init, then probes and a uint64 record written in batches, exactly the archived records', async (t) => {
  const setup = await withDatabase(t);
  if (!setup) return;
  const { db, dir, url } = setup;
  const evil = `it's "quoted"; DROP TABLE probe_results;-- \\ $1 '); DELETE FROM nsr_records; --`;
  const targets = Array.from({ length: 20 }, (_, i) => `      - {id: "t${i}", url: "${url}/p/t${i}"}`).join('\n');
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
postgres: {url: "${db.url}", batch: 7, flush_interval: 200ms}
streams:
  probes:
    kind: probe
    postgres: true
    targets:
${targets}
      - {id: "o'neil \\"x\\"", url: "${url}/p/evil?body=${encodeURIComponent(evil)}", match: "DROP TABLE.*--"}
  big:
    kind: http
    url: "${url}/p/u64?body=${encodeURIComponent('{"dpid":14721744659231801344,"load":0.0}')}"
    expect: object
    record: merge
    postgres: true
`,
  );
  const refused = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.equal((await refused.exit).code, 2, 'a database nsr has not initialised is refused');
  t.match(refused.output(), /schema version none, this nsr needs 2: run `nsr db init -c <config>`/);

  const init = startNsr(dir, ['db', 'init', '-c', 'r.yaml']);
  t.equal((await init.exit).code, 0, init.output());
  t.match(init.output(), /schema version 2 \(applied 1, 2\)/);
  const again = startNsr(dir, ['db', 'init', '-c', 'r.yaml']);
  t.equal((await again.exit).code, 0);
  t.match(again.output(), /already up to date/);
  t.same((await db.query('SELECT version FROM nsr_schema_version ORDER BY version')).map((r) => r.version), [1, 2]);

  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3500ms']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  const archived = (await records(dir, 'probes')).map((l) => JSON.parse(l));
  const rows = await db.query('SELECT target_id, (extract(epoch from scheduled_at) * 1000)::bigint AS sched, status, match, matched, total_ms FROM probe_results ORDER BY 2, 1');
  t.ok(archived.length >= 40, `${archived.length} probes archived`);
  t.same(rows.map((r) => `${r.target_id}@${r.sched}`).sort(), archived.map((r) => `${r.target}@${r.scheduled_at}`).sort(), 'every archived probe is a row, once');
  const evilRow = rows.find((r) => r.target_id === `o'neil "x"`);
  t.match(evilRow, { status: 200, match: true }, 'a target id with quotes');
  t.equal(evilRow.matched, `DROP TABLE probe_results;-- \\ $1 '); DELETE FROM nsr_records; --`, 'page text with quotes and SQL stored as data, unchanged');
  t.equal((await db.query("SELECT to_regclass('probe_results') IS NOT NULL AS ok"))[0].ok, true, 'and nothing was dropped');

  const big = await records(dir, 'big');
  const raw = await db.query("SELECT raw, doc->>'dpid' AS dpid FROM nsr_records WHERE stream = 'big' ORDER BY ts_ms");
  t.same(raw.map((r) => r.raw), big, 'other streams: the raw line, byte for byte');
  t.match(raw[0].raw, /"dpid":14721744659231801344,"load":0\.0/, 'uint64 digits and 0.0 kept in raw');
  t.equal(raw[0].dpid, '14721744659231801344', 'jsonb keeps them as numeric too (a JS client reading doc as a number would not)');
});

t.test('a stream with postgres: true needs a postgres: section', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'r.yaml'), `streams:\n  f: {kind: ndtwin, data: flow, postgres: true}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.equal((await nsr.exit).code, 2);
  t.match(nsr.output(), /streams\.f\.postgres: true, but there is no postgres: section/);
  writeFileSync(path.join(dir, 'p.yaml'), `postgres: {url: "postgres://nsr:hunter2@127.0.0.1/x"}\nstreams:\n  f: {kind: ndtwin, data: flow, postgres: true}\n`);
  const pw = startNsr(dir, ['run', '-c', 'p.yaml']);
  t.equal((await pw.exit).code, 2);
  t.match(pw.output(), /postgres\.url: the URL carries a password; move it to password: \$\{PGPASSWORD\}/);
  t.notMatch(pw.output(), /hunter2/);
});

t.test('targets from the probe_targets table: bad rows reported, rows added later picked up at the next refresh', async (t) => {
  const setup = await withDatabase(t);
  if (!setup) return;
  const { db, dir, url } = setup;
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out}\npostgres: {url: "${db.url}"}\nstreams:\n  probes: {kind: probe, targets_table: probe_targets, refresh: 1s}\n`);
  const init = startNsr(dir, ['db', 'init', '-c', 'r.yaml']);
  t.equal((await init.exit).code, 0, init.output());
  await db.query(`INSERT INTO probe_targets (id, url, interval_ms, expect_status, match) VALUES ($1, $2, 1000, '{200}', 'ok'), ($3, $4, 2000, NULL, NULL), ('off', $2, 1000, NULL, NULL), ('broken', 'not a url', 1000, NULL, NULL)`, ['a', `${url}/p/a`, 'b', `${url}/p/b?status=503`]);
  await db.query("UPDATE probe_targets SET enabled = false WHERE id = 'off'");
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  await new Promise((r) => setTimeout(r, 2500));
  await db.query('INSERT INTO probe_targets (id, url, interval_ms) VALUES ($1, $2, 1000)', ['later', `${url}/p/later`]);
  await new Promise((r) => setTimeout(r, 3000));
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  const recs = (await records(dir, 'probes')).map((l) => JSON.parse(l));
  const ids = new Set(recs.map((r) => r.target));
  t.same([...ids].sort(), ['a', 'b', 'later'], 'enabled, valid rows are probed; a row added later joins');
  t.match(recs.find((r) => r.target === 'a'), { match: true, status: 200 });
  t.match(recs.find((r) => r.target === 'b'), { status: 503, error: 'unexpected_status' });
  const b = recs.filter((r) => r.target === 'b');
  t.ok(b.every((r, i) => i === 0 || r.scheduled_at - b[i - 1].scheduled_at === 2000), 'interval_ms from the table');
  const events = (await readArchives(path.join(dir, 'out'), 'events')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  t.match(events.find((e) => e.event === 'targets_rejected'), { problems: [/probe_targets row \d+: url: "not a url" is not a URL/] });
});

t.test('a record line that is not valid UTF-8 is refused with sink_rejected, never stored with other bytes', async (t) => {
  const db = await pgSchema(t);
  if (!db) return;
  const dir = tempDir(t);
  // An upstream whose JSON carries a Latin-1 byte (0xE9, "é" in Latin-1) inside a string: recorded
  // verbatim in the window file, but a text column would turn it into U+FFFD.
  const latin1 = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('","n":1}')]);
  const upstream = await listen((req, res) => sendJson(res, 200, req.url === '/latin1' ? latin1 : '{"name":"café","n":2}'), 0, '127.0.0.1');
  t.teardown(() => upstream.close());
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
postgres: {url: "${db.url}", batch: 10, flush_interval: 200ms}
streams:
  latin1: {kind: http, url: "${upstream.url}/latin1", interval: 500ms, expect: object, record: merge, postgres: true}
  utf8: {kind: http, url: "${upstream.url}/utf8", interval: 500ms, expect: object, record: merge, postgres: true}
`,
  );
  t.equal((await startNsr(dir, ['db', 'init', '-c', 'r.yaml']).exit).code, 0);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '2500ms']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));

  const zips = readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('_latin1_json.zip'));
  const archived = Buffer.concat(await Promise.all(zips.map(async (f) => Buffer.concat(await zipEntryBytes(path.join(dir, 'out', f))))));
  t.ok(archived.includes(latin1.subarray(1)), 'the window file has the upstream bytes as sent');
  const rows = await db.query('SELECT stream, raw FROM nsr_records ORDER BY ts_ms');
  t.same(rows.filter((r) => r.stream === 'latin1'), [], 'no row with altered bytes');
  const utf8 = await records(dir, 'utf8');
  t.ok(utf8.length >= 2, `${utf8.length} utf8 records`);
  t.same(rows.filter((r) => r.stream === 'utf8').map((r) => r.raw), utf8, 'valid UTF-8 (é included) is stored byte for byte');
  const rejected = (await readEvents(path.join(dir, 'out'))).filter((e) => e.event === 'sink_rejected');
  t.ok(rejected.length >= 1, 'reported');
  t.match(rejected[0], { sink: 'postgres', stream: 'latin1', first: [{ error: /not valid UTF-8/ }] });
  t.notOk(rejected.some((e) => e.stream === 'utf8'));
});

/** The inflated bytes of a zip's entries, as stored (no decoding). */
async function zipEntryBytes(file: string): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  await readZipEntries(file, (_e, chunk) => chunks.push(chunk));
  return chunks;
}
