// The netbeam kind against the simulated Netbeam API, by bin/nsr: series
// windows from checkpoints across a restart (no gap, no point twice), an empty
// series, null points, and inventory changes (a removed interface, an added one)
// in the changes stream and in the history table of PostgreSQL and of MariaDB.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetbeamSimulator } from '../src/simulate/netbeam-simulator.js';
import { needService, pgSchema, readArchives, sleep, startNsr, tempDir } from './helpers.js';

const lines = async (out: string, stream: string) => (await readArchives(out, stream)).flatMap((w) => w.lines);

async function mariadb(t: Tap.Test) {
  const mysql = await import('mysql2/promise');
  return needService(t, 'MariaDB at 127.0.0.1:3306', 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd', async () => {
    const pool = mysql.createPool({ uri: 'mysql://root@127.0.0.1:3306/test', connectionLimit: 1, timezone: 'Z' });
    t.teardown(() => pool.end());
    await pool.query('SELECT 1');
    return pool;
  });
}

for (const table of ['postgres', 'mysql'] as const) {
  t.test(`series windows across a restart, empty and null points, inventory changes (history in ${table})`, async (t) => {
    const pg = table === 'postgres' ? await pgSchema(t) : undefined;
    const my = table === 'mysql' ? await mariadb(t) : undefined;
    if (!pg && !my) return;
    const dir = tempDir(t);
    const sim = new NetbeamSimulator();
    const { url } = await sim.start();
    t.teardown(() => sim.stop());
    // A stream name of its own: MariaDB's table is shared by every run of this test.
    const stream = `esnet${process.pid}${table}`;
    const db = pg ? `postgres: {url: "${pg.url}"}` : `mysql: {url: "mysql://root@127.0.0.1:3306/test"}`;
    writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\n${db}\nstreams:\n  ${stream}: {kind: netbeam, url: "${url}", interval: 2s, backfill: 95s, concurrency: 8, track_changes: {table: ${table}}}\n`);
    if (pg) t.equal((await startNsr(dir, ['db', 'init', '-c', 'r.yaml']).exit).code, 0);
    if (my) t.teardown(() => my.query('DELETE FROM nsr_inventory WHERE stream = ?', [stream]));

    const first = startNsr(dir, ['run', '-c', 'r.yaml']);
    // The change comes after the first tick has read the list, and a tick reads it again before the stop.
    while (sim.listed < 1) await sleep(100);
    const removed = sim.interfaces.splice(1, 1)[0] as { resource: string };
    sim.interfaces.push({ ...sim.interfaces[0], resource: 'devices/newr-cr6/interfaces/3%2F1%2Fc1%2F1', name: '3/1/c1/1', device: 'newr-cr6' });
    const seen = sim.listed;
    while (sim.listed < seen + 2) await sleep(100);
    process.kill(first.pid, 'SIGTERM');
    t.equal((await first.exit).code, 0, first.output().slice(-1500));
    await sleep(1000);
    const second = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '4s']);
    t.equal((await second.exit).code, 0, second.output().slice(-1500));

    const out = path.join(dir, 'out');
    for (const series of ['traffic', 'errors', 'discards']) {
      const recs = (await lines(out, `${stream}_${series}`)).map((l) => JSON.parse(l));
      const byResource = new Map<string, { begin: number; end: number; points: [number, unknown, unknown][] }[]>();
      for (const r of recs) (byResource.get(r.resource) ?? byResource.set(r.resource, []).get(r.resource)!).push(r);
      t.ok(byResource.size >= 12, `${series}: every interface has records (${byResource.size})`);
      for (const [resource, list] of byResource) {
        list.sort((a, b) => a.begin - b.begin);
        const contiguous = list.every((r, i) => i === 0 || r.begin === list[i - 1].end);
        t.ok(contiguous, `${series} ${resource}: each window begins where the last ended, across the restart (${list.length} windows)`);
        const times = list.flatMap((r) => r.points.map((p) => p[0]));
        t.equal(new Set(times).size, times.length, `${series} ${resource}: no point twice`);
        const expected = NetbeamSimulator.points(resource, series, list[0].begin, list[list.length - 1].end).map((p) => p[0]);
        t.same(times, expected, `${series} ${resource}: every point of the whole span, none missing`);
      }
      const pime = byResource.get('devices/albq-asw1/interfaces/pime');
      t.ok(pime?.length && pime.every((r) => r.points.length === 0), `${series}: the empty series is recorded, with no points`);
    }
    const traffic = await lines(out, `${stream}_traffic`);
    t.ok(traffic.some((l) => /\[\s*\d+,\s*null,\s*null\s*\]/.test(l)), 'null points are kept as Netbeam sent them');
    t.ok(traffic.some((l) => l.includes('"resource":"devices/albq-cr6/interfaces/1%2F1%2Fc1%2F1"')), 'resource as sent, %2F and all');
    t.ok(sim.requests.some((r) => r.resource === 'devices/albq-cr6/interfaces/1%2F1%2Fc1%2F1'), 'asked with the resource verbatim (not encoded again)');

    const changes = (await lines(out, `${stream}_changes`)).map((l) => JSON.parse(l));
    t.equal(changes.filter((c) => c.change === 'added').length, 13, 'the twelve interfaces at the first tick, and the new one');
    t.match(changes.find((c) => c.change === 'removed'), { key: removed.resource });
    t.notOk(changes.find((c) => c.change === 'removed')?.item, 'a removed item has no body');
    t.equal(changes.filter((c) => c.change === 'removed').length, 1, 'removed once: the restart does not report it again');
    const rows = pg
      ? await pg.query('SELECT item_key, active_until FROM nsr_inventory WHERE stream = $1', [stream])
      : ((await my!.query('SELECT item_key, active_until FROM nsr_inventory WHERE stream = ?', [stream]))[0] as { item_key: string; active_until: Date | null }[]);
    t.equal(rows.length, 13, 'one row per interface seen');
    t.ok(rows.find((r) => r.item_key === removed.resource)?.active_until, 'the removed interface has active_until set');
    t.equal(rows.filter((r) => r.active_until === null).length, 12, 'the others are open');
  });
}
