// The database goes away under load (stopped, then started again), and the
// recorder is stopped and killed while it is away: every probe archived is in
// the database once, whether it waited in memory, spilled to the window files
// and was read back, or was left by a stopped or killed process for the next start.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { privatePostgres } from './pg-cluster.js';
import { readArchives, readEvents, sleep, startNsr, tempDir, untilRecording } from './helpers.js';

t.test('PostgreSQL stopped and started under load, then a SIGKILL while it is away: nothing lost, nothing twice', async (t) => {
  const cluster = privatePostgres(t);
  if (!cluster) return;
  const dir = tempDir(t);
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const targets = Array.from({ length: 100 }, (_, i) => `      - {id: "t${i}", url: "${url}/p/t${i}"}`).join('\n');
  // A buffer smaller than the outage: the records past it are read back from the window files.
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\npostgres: {url: "${cluster.url}", batch: 50, flush_interval: 200ms, buffer: 150}\nstreams:\n  probes:\n    kind: probe\n    postgres: true\n    targets:\n${targets}\n`);
  const init = startNsr(dir, ['db', 'init', '-c', 'r.yaml']);
  t.equal((await init.exit).code, 0, init.output());

  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  await sleep(2000);
  cluster.stop();
  await sleep(4000); // ~400 probes while it is away
  cluster.start();
  await sleep(4000);
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-2000));

  // Second run: the database goes away and the recorder is stopped: it does not wait for the database.
  const stopped = startNsr(dir, ['run', '-c', 'r.yaml']);
  // Recording (its signal handlers are in place) before the database goes: a loaded machine may take seconds to start it.
  await untilRecording(path.join(dir, 'out'), 'probes');
  cluster.stop();
  await sleep(1500);
  const stopAt = Date.now();
  process.kill(stopped.pid, 'SIGTERM');
  t.equal((await stopped.exit).code, 0, 'a clean stop with the database away');
  t.ok(Date.now() - stopAt < 10_000, `without waiting for the database (${Date.now() - stopAt} ms)`);
  cluster.start();

  // Third run: the database goes away and the recorder is killed outright.
  const killed = startNsr(dir, ['run', '-c', 'r.yaml']);
  await sleep(1500);
  cluster.stop();
  await sleep(2000);
  process.kill(killed.pid, 'SIGKILL');
  await killed.exit;
  cluster.start();
  // Fourth run: reads back what the stopped and the killed ones left, and records on.
  const last = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await last.exit).code, 0, last.output().slice(-2000));

  const archived = (await readArchives(path.join(dir, 'out'), 'probes')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  const { rows } = await client.query("SELECT target_id || '@' || (extract(epoch from scheduled_at) * 1000)::bigint AS k FROM probe_results");
  await client.end();
  const inDb = new Set(rows.map((r) => r.k));
  const keys = archived.map((r) => `${r.target}@${r.scheduled_at}`);
  t.ok(archived.length > 500, `${archived.length} probes archived over four runs`);
  t.equal(new Set(keys).size, keys.length, 'no probe archived twice');
  t.same(keys.filter((k) => !inDb.has(k)), [], 'every archived probe is in the database');
  t.equal(rows.length, keys.length, 'and the database has nothing else (each once)');

  const events = await readEvents(path.join(dir, 'out'));
  const names = new Set(events.map((e) => e.event));
  for (const e of ['sink_error', 'sink_spilled', 'sink_read_back', 'sink_recovered']) t.ok(names.has(e), `${e} reported`);
});
