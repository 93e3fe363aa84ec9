// DAC users switch without touching their database: bin/nsr reads DAC's
// collector.ini, creates DAC's tables where there are none (nsr dac-schema),
// probes the rows of <schema>.urls (read again while running) in two shard
// processes (-p 2 -t 4), and writes DAC's stats rows with DAC's meaning.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { dacTarget } from '../src/sources/probe/dac-targets.js';
import { pgSchema, readArchives, sleep, startNsr, tempDir } from './helpers.js';

const ini = (schema: string, extra = '') => `[application]
default_timeout_sec = 4
maxretries = 10
targets_refresh_sec = 1

[database]
user=postgres
password=userp
host=127.0.0.1
port=5432
dbname=test
schema=${schema}

[logging]
verbose = INFO
logfilename = logs/collection.log
logfile_size = 5242880
log_history = 3
${extra}`;

/** The PostgreSQL server the helpers use, as the INI's [database] says it (trust authentication: the password is not checked). */
function pgTarget(url: string): { schema: string } | undefined {
  const u = new URL(url);
  const schema = /search_path=(\w+)/.exec(decodeURIComponent(u.search))?.[1];
  if (u.hostname !== '127.0.0.1' || (u.port || '5432') !== '5432' || u.pathname !== '/test' || !schema) return undefined;
  return { schema };
}

t.test('nsr run -c collector.ini -p 2 -t 4: DAC stats rows in DAC’s tables, urls read again while running', async (t) => {
  const pg = await pgSchema(t);
  if (!pg) return;
  const where = pgTarget(pg.url);
  if (!where) return t.skip(`the INI names 127.0.0.1:5432/test; NSR_TEST_PG points elsewhere (${new URL(pg.url).host})`);
  const { schema } = where;
  const dir = tempDir(t);
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  writeFileSync(path.join(dir, 'collector.ini'), ini(schema));

  const created = startNsr(dir, ['dac-schema', '-c', 'collector.ini', '--apply']);
  t.equal((await created.exit).code, 0, created.output());
  const again = startNsr(dir, ['dac-schema', '-c', 'collector.ini', '--apply']);
  t.equal((await again.exit).code, 0, `dac-schema runs again without harm: ${again.output()}`);

  await pg.query(
    `INSERT INTO ${schema}.urls (url_id, url, interval, regex) VALUES
      (1, $1, 1, 'v(\\d)'),
      (2, $2, 2, NULL),
      (3, 'http://127.0.0.1:1/refused', 1, 'x'),
      (4, $3, 2, ''),
      (5, $4, 1, NULL), (6, $5, 1, NULL), (7, $6, 1, NULL), (8, $7, 1, NULL)`,
    [`${url}/p/one?body=v1-v2-v3`, `${url}/p/two`, `${url}/p/four?status=503`, `${url}/p/5`, `${url}/p/6`, `${url}/p/7`, `${url}/p/8`],
  );
  const nsr = startNsr(dir, ['run', '-c', 'collector.ini', '-p', '2', '-t', '4', '--for', '9s']);
  // A row added while running: read at the next refresh (targets_refresh_sec = 1).
  await sleep(4000);
  await pg.query(`INSERT INTO ${schema}.urls VALUES (9, $1, 1, 'late')`, [`${url}/p/nine?body=late-late`]);
  const { code } = await nsr.exit;
  t.equal(code, 0, nsr.output().slice(-2000));

  const rows = await pg.query(`SELECT url_id, status, extract(epoch FROM request_ts)::float8 AS req, extract(epoch FROM responce_ts)::float8 AS resp, regex_mach FROM ${schema}.stats ORDER BY url_id, request_ts`);
  const of = (id: number) => rows.filter((r) => r.url_id === id);
  for (let id = 1; id <= 9; id++) t.ok(of(id).length >= 2, `url_id ${id}: probed (${of(id).length} rows)`);
  t.same([...new Set(of(1).map((r) => `${r.status} ${r.regex_mach}`))], ['200 1 2 3'], "every match joined by single spaces; with one group, the group's text, as DAC's re.findall");
  t.same([...new Set(of(2).map((r) => r.status))], [200]);
  t.same([...new Set(of(2).map((r) => r.regex_mach))], [null], 'no regex (NULL): regex_mach NULL');
  t.same([...new Set(of(3).map((r) => r.status))], [-1], 'a target that fails: status -1');
  t.same([...new Set(of(3).map((r) => r.regex_mach))], [''], "a regex but no body: '' as DAC");
  t.same([...new Set(of(4).map((r) => r.status))], [503], 'any HTTP status is recorded as it is');
  t.same([...new Set(of(4).map((r) => r.regex_mach))], [null], "an empty regex is none: NULL");
  t.same([...new Set(of(9).map((r) => r.regex_mach))], ['late late'], 'the row added while running, with its matches');
  t.equal(rows.filter((r) => r.regex_mach === 'None').length, 0, "never the string 'None'");
  t.ok(rows.every((r) => r.resp >= r.req), 'responce_ts ≥ request_ts');
  const interval: Record<number, number> = { 1: 1, 2: 2, 3: 1, 4: 2, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1 };
  for (let id = 1; id <= 9; id++) {
    const req = of(id).map((r) => r.req);
    const steps = req.slice(1).map((v, i) => v - req[i]);
    t.ok(steps.every((s) => s > 0 && s % interval[id] === 0), `url_id ${id}: request_ts on its schedule, whole multiples of ${interval[id]} s apart (${steps.join(', ')})`);
  }

  // Two shards, disjoint and complete, each in its own folder; one log file for both.
  const shardIds = async (k: number) => new Set((await readArchives(path.join(dir, 'recorded_info', `shard-${k}-of-2`), 'urls')).flatMap((w) => w.lines.map((l) => JSON.parse(l).target)));
  const [one, two] = [await shardIds(1), await shardIds(2)];
  t.same([...one].filter((id) => two.has(id)), [], 'no url probed by both shards');
  t.same([...one, ...two].map(Number).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'every url probed by one of them');
  const logLines = readFileSync(path.join(dir, 'logs', 'collection.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.ok(new Set(logLines.map((l) => l.pid)).size >= 3, 'the log file holds the lines of the parent and both shards');
  t.equal(logLines.filter((l) => /password is written in this file/.test(l.msg)).length, 1, 'the plain-password warning, once');
  t.notMatch(readFileSync(path.join(dir, 'logs', 'collection.log'), 'utf8'), /userp/, 'the password is never logged');
});

t.test('a DAC INI with a bad value: the key as written, the value, what is expected, a fix', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'collector.ini'), ini('public').replace('logfile_size = 5242880', 'logfile_size = 5MB'));
  const run = startNsr(dir, ['run', '-c', 'collector.ini']);
  t.equal((await run.exit).code, 2);
  t.match(run.output(), /collector\.ini: \[logging\] logfile_size: got "5MB"; expected the size in bytes at which the log file is rotated \(0: never\) \(a whole number, 0 or more\), e.g\. logfile_size = 5242880/);
  writeFileSync(path.join(dir, 'r.yaml'), 'streams:\n  p: {kind: probe, targets: [{url: "http://127.0.0.1:1/"}]}\n');
  const yaml = startNsr(dir, ['run', '-c', 'r.yaml', '-p', '2']);
  t.equal((await yaml.exit).code, 2);
  t.match(yaml.output(), /-p: only with DAC's collector\.ini/);
  const zero = startNsr(dir, ['run', '-c', 'collector.ini', '-t', '0']);
  t.equal((await zero.exit).code, 2);
  t.match(zero.output(), /-t: got "0"; expected the number of probes in flight per process, 1 to 100000, e.g\. -t 4/);
  t.notOk(existsSync(path.join(dir, 'recorded_info')) && readdirSync(path.join(dir, 'recorded_info')).some((f) => f.endsWith('.zip')), 'nothing recorded');
});

t.test("urls_small.csv rows: url_id → id, interval in whole seconds, regex → the match, DAC's timeout", async (t) => {
  t.same(dacTarget({ url_id: '1', url: 'https://www.wikipedia.org/', interval: '2', regex: '' }), { id: '1', url: 'https://www.wikipedia.org/', interval: '2s', timeout: '1s', match: undefined });
  t.same(dacTarget({ url_id: '7', url: 'http://x/', interval: '1', regex: 'a+' }), { id: '7', url: 'http://x/', interval: '1s', timeout: undefined, match: 'a+' }, '1 s: the stream timeout (default_timeout_sec, kept under the interval)');
  t.equal(dacTarget({ url_id: '1', url: 'http://x/', interval: '2.5', regex: '' }), `1: interval: got "2.5"; expected whole seconds, at least 1 (DAC's urls.interval), e.g. 30`);
  t.match(dacTarget({ url_id: 'web', url: 'http://x/', interval: '2' }), /web: url_id: got "web"; expected a whole number \(DAC's stats\.url_id is an int4\), e\.g\. 1/);
});
