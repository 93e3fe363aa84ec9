// The PostgreSQL sink against the machine's PostgreSQL (a schema of its own per
// test): nsr db init, batched writes of probe and other records, page text with
// quotes and SQL stored as data, uint64 digits kept, an uninitialised database refused.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { pgSchema, readArchives, startNsr, tempDir } from './helpers.js';

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
