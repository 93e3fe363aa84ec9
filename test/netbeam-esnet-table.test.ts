// netbeam's `track_changes: {table: mysql, layout: esnet}` by bin/nsr against the
// simulated Netbeam and MariaDB: the ESnet collector's interface table with its
// columns and value formats (epoch ms as strings, status '1'/'0'), `*_until`
// advancing to the end of the windows read, a removal recorded (which the original
// never did), a re-addition as a new row, and every record applied again leaving
// the rows as they were; an existing table used as it is; and rows opened by the
// windows when the table is asked for after the interfaces were known.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetbeamSimulator } from '../src/simulate/netbeam-simulator.js';
import { parseChange } from '../src/sinks/inventory/inventory-history.js';
import { mysqlEsnetTable, parseSeriesReach, type SeriesReach } from '../src/sinks/inventory/esnet-table.js';
import type { HistoryChange } from '../src/sinks/inventory/inventory-table.js';
import { recordTimestamp } from '../src/pipeline/record.js';
import { needService, readArchives, sleep, startNsr, tempDir } from './helpers.js';

const DB = 'mysql://root@127.0.0.1:3306/test';
const SERIES = ['traffic', 'errors', 'discards'] as const;

interface Row {
  id: number;
  name: string;
  status: string;
  active_from: string;
  active_until: string | null;
  traffic_until: string | null;
  errors_until: string | null;
  discards_until: string | null;
}

async function mariadb(t: Tap.Test) {
  const mysql = await import('mysql2/promise');
  return needService(t, 'MariaDB at 127.0.0.1:3306', 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd', async () => {
    const pool = mysql.createPool({ uri: DB, connectionLimit: 1 });
    t.teardown(() => pool.end());
    await pool.query('SELECT 1');
    return pool;
  });
}

/** Polls until `ok` or fails the test after `ms`. */
async function until(t: Tap.Test, what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const stop = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > stop) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
  t.pass(what);
}

t.test('the ESnet collector interface table: columns, formats, *_until moving, a removal, a re-addition, idempotent', async (t) => {
  const my = await mariadb(t);
  if (!my) return;
  // A table of its own: the database is shared by every run of the suite.
  const table = `esnet_interfaces_t${process.pid}`;
  await my.query(`DROP TABLE IF EXISTS ${table}`);
  t.teardown(() => my.query(`DROP TABLE IF EXISTS ${table}`));
  const rows = async () => (await my.query(`SELECT * FROM ${table} ORDER BY id`))[0] as Row[];

  const dir = tempDir(t);
  const sim = new NetbeamSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const listed = sim.interfaces.map((i) => i.resource as string);
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}\nmysql: {url: "${DB}"}\nstreams:\n  esnet: {kind: netbeam, url: "${url}", interval: 2s, backfill: 95s, concurrency: 8, track_changes: {table: mysql, layout: esnet, table_name: ${table}}}\n`,
  );

  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  // A failure before the stop must not leave it running.
  let exited = false;
  void nsr.exit.then(() => (exited = true));
  t.teardown(() => {
    if (!exited) process.kill(nsr.pid, 'SIGKILL');
  });
  await until(t, 'a row per listed interface, with its windows reached', async () => {
    const r = await rows().catch(() => []);
    return r.length === listed.length && r.every((x) => x.traffic_until && x.errors_until && x.discards_until);
  });
  const early = new Map((await rows()).map((r) => [r.name, Number(r.traffic_until)]));

  // Dropped from the list mid-run, then listed again: the original's model is a new row.
  const gone = sim.interfaces.splice(1, 1)[0];
  const goneName = gone.resource as string;
  await until(t, 'the removal is recorded', async () => (await rows()).some((r) => r.name === goneName && r.status === '0'));
  sim.interfaces.push(gone);
  await until(t, 'the re-addition opens a new row', async () => (await rows()).filter((r) => r.name === goneName).length === 2);
  await until(t, 'traffic_until moves on as windows are read', async () => (await rows()).every((r) => r.status === '0' || Number(r.traffic_until) > early.get(r.name)!));
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));

  // The original's DDL, as its README documents it.
  const [columns] = (await my.query(`SELECT COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_KEY AS k, EXTRA AS extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [table])) as unknown as [{ c: string; type: string; nullable: string; k: string; extra: string }[]];
  t.same(
    // MariaDB and MySQL 5.7 say int(11), MySQL 8 int.
    columns.map((c) => [c.c, c.type.replace(/^int\(\d+\)$/, 'int'), c.nullable, c.k]),
    [
      ['id', 'int', 'NO', 'PRI'],
      ['name', 'varchar(128)', 'NO', 'PRI'],
      ['status', 'varchar(2)', 'NO', ''],
      ['active_from', 'varchar(13)', 'NO', ''],
      ['active_until', 'varchar(13)', 'YES', ''],
      ['errors_until', 'varchar(13)', 'YES', ''],
      ['discards_until', 'varchar(13)', 'YES', ''],
      ['traffic_until', 'varchar(13)', 'YES', ''],
    ],
    "the original's columns, types, nullability and key (id, name)",
  );
  t.match(columns[0].extra, /auto_increment/);

  const out = path.join(dir, 'out');
  const recordsOf = async (stream: string) => (await readArchives(out, stream)).flatMap((w) => w.lines);
  const changes = (await recordsOf('esnet_changes')).map((l) => JSON.parse(l) as { timestamp: number; change: string; key: string });
  const final = await rows();
  t.equal(final.length, listed.length + 1, 'a row per interface, and one more for the re-added one');
  t.same([...new Set(final.map((r) => r.name))].sort(), [...listed].sort(), "name is the interface's resource as Netbeam sent it");
  const ms = /^\d{13}$/;
  for (const r of final) {
    t.ok(ms.test(r.active_from), `${r.name}: active_from is epoch ms as a string (${r.active_from})`);
    for (const s of SERIES) t.ok(ms.test(r[`${s}_until`] ?? ''), `${r.name}: ${s}_until is epoch ms as a string`);
  }
  const [closed, reopened] = final.filter((r) => r.name === goneName);
  const removal = changes.find((c) => c.change === 'removed' && c.key === goneName)!;
  const [firstAdd, reAdd] = changes.filter((c) => c.change === 'added' && c.key === goneName);
  t.match(closed, { status: '0', active_from: String(firstAdd.timestamp), active_until: String(removal.timestamp) }, 'the removal: status 0, active_until at the snapshot that missed it');
  t.match(reopened, { status: '1', active_from: String(reAdd.timestamp), active_until: null }, 'the re-addition: a new row, status 1');
  t.ok(reopened.id > closed.id, 'the new row has the next id');
  t.ok(Number(closed.traffic_until) < Number(reopened.traffic_until), "the closed row keeps how far its windows went; the new one's move on");
  for (const r of final.filter((x) => x.name !== goneName)) {
    const added = changes.find((c) => c.change === 'added' && c.key === r.name)!;
    t.match(r, { status: '1', active_from: String(added.timestamp), active_until: null }, `${r.name}: active since the snapshot that listed it`);
  }

  // `*_until` is the end of the last window asked for, as the original set it.
  const series: Buffer[] = [];
  for (const s of SERIES) {
    const lines = await recordsOf(`esnet_${s}`);
    series.push(...lines.map((l) => Buffer.from(l)));
    const furthest = new Map<string, number>();
    for (const l of lines) {
      const rec = JSON.parse(l) as { resource: string; end: number };
      furthest.set(rec.resource, Math.max(furthest.get(rec.resource) ?? 0, rec.end));
    }
    for (const r of final.filter((x) => x.status === '1')) t.equal(r[`${s}_until`], String(furthest.get(r.name)), `${r.name}: ${s}_until is the end of its last ${s} window`);
  }

  // Every record once more, the series before the changes this time: the rows do not move.
  const table2 = await mysqlEsnetTable(DB, undefined, table);
  t.teardown(() => table2.close());
  const again = (await recordsOf('esnet_changes')).map((l) => parseChange(Buffer.from(l), 0) as HistoryChange);
  const reached = series.map((b) => parseSeriesReach(b, recordTimestamp(b) ?? 0) as SeriesReach);
  await table2.apply([], reached);
  await table2.apply(again, []);
  await table2.apply(again, reached);
  t.same(await rows(), final, 'applied again, in another order: the same rows');
});

t.test("an existing table is used as it is, and the original's open rows go on", async (t) => {
  const my = await mariadb(t);
  if (!my) return;
  const table = `esnet_interfaces_old${process.pid}`;
  await my.query(`DROP TABLE IF EXISTS ${table}`);
  t.teardown(() => my.query(`DROP TABLE IF EXISTS ${table}`));
  // The other DDL the original kept (sql/createTable.sql): numbers, not strings, and a wider key.
  await my.query(`CREATE TABLE ${table} (id INT NOT NULL AUTO_INCREMENT, name VARCHAR(100) NOT NULL, status BOOLEAN NOT NULL, active_from BIGINT(13) NOT NULL, active_until BIGINT(13), errors_until BIGINT(13), discards_until BIGINT(13), traffic_until BIGINT(13), PRIMARY KEY (id, name, active_from))`);
  const sim = new NetbeamSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const kept = sim.interfaces[0].resource as string;
  // A row the original left: active since long ago, read up to then.
  await my.query(`INSERT INTO ${table} (name, status, active_from, traffic_until) VALUES (?, 1, 1600000000000, 1600000000000)`, [kept]);
  // Without the AUTO_INCREMENT counter, which the rows move.
  const ddl = async () => ((await my.query(`SHOW CREATE TABLE ${table}`))[0] as Record<string, string>[])[0]['Create Table'].replace(/ AUTO_INCREMENT=\d+/, '');
  const before = await ddl();

  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nmysql: {url: "${DB}"}\nstreams:\n  esnet: {kind: netbeam, url: "${url}", interval: 2s, backfill: 95s, track_changes: {table: mysql, layout: esnet, table_name: ${table}}}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '4s']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));

  t.equal(await ddl(), before, 'the table is not altered');
  const [rows] = (await my.query(`SELECT id, name, status, active_from, traffic_until FROM ${table} ORDER BY id`)) as unknown as [{ id: number; name: string; status: number; active_from: number; traffic_until: number }[]];
  t.equal(rows.length, sim.interfaces.length, 'one row per interface: none added beside the open one');
  t.match(rows[0], { id: 1, name: kept, status: 1, active_from: 1600000000000 }, "the original's row stays, active since then");
  t.ok(rows[0].traffic_until > Date.now() - 60_000, 'and its traffic_until moves on with the windows nsr reads');
});

t.test('asked for on a stream that already knows its interfaces: the windows open their rows', async (t) => {
  const my = await mariadb(t);
  if (!my) return;
  const table = `esnet_interfaces_late${process.pid}`;
  await my.query(`DROP TABLE IF EXISTS ${table}`);
  t.teardown(() => my.query(`DROP TABLE IF EXISTS ${table}`));
  const sim = new NetbeamSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const dir = tempDir(t);
  const config = (tracking: string) => writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nmysql: {url: "${DB}"}\nstreams:\n  esnet: {kind: netbeam, url: "${url}", interval: 2s, backfill: 95s, track_changes: ${tracking}}\n`);
  // First without the table: every interface's `added` is written and goes by.
  config('{}');
  const first = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await first.exit).code, 0, first.output().slice(-1500));
  config(`{table: mysql, layout: esnet, table_name: ${table}}`);
  const second = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await second.exit).code, 0, second.output().slice(-1500));
  const [rows] = (await my.query(`SELECT name, status, active_from, traffic_until FROM ${table}`)) as unknown as [{ name: string; status: string; active_from: string; traffic_until: string }[]];
  t.equal(rows.length, sim.interfaces.length, 'a row per listed interface, though no change named them in this run');
  t.ok(rows.every((r) => r.status === '1' && /^\d{13}$/.test(r.active_from) && /^\d{13}$/.test(r.traffic_until)), 'active, with epoch ms strings');
});
