// Distributed recording on this machine's RabbitMQ: two collectors publish
// their probe records (confirmed, persistent), one archiver consumes them into
// windows and zips. The archiver is killed and restarted, and the broker is
// restarted under load: every record the collectors archived is in the
// archiver's windows exactly once.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { needService, readArchives, readEvents, sleep, startNsr, tempDir } from './helpers.js';
import { whileNoOtherUses } from './broker-lease.js';

const BROKER = process.env.NSR_TEST_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672/';
/** How long the restart waits for the other files that use the broker to end (tap gives a file 180 s). */
const RESTART_WAIT_MS = 60_000;

async function broker(t: Tap.Test): Promise<boolean> {
  const up = await needService(t, `RabbitMQ at ${BROKER}`, 'rabbitmq-server -detached', async () => {
    const conn = await amqp.connect(BROKER, { timeout: 3000 });
    await conn.close();
    return true;
  });
  return up === true;
}

/** Waits for the broker to answer again (after start_app). */
async function brokerBack(): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      const conn = await amqp.connect(BROKER, { timeout: 2000 });
      await conn.close();
      return;
    } catch {
      await sleep(500);
    }
  }
  throw new Error('RabbitMQ did not come back');
}

const lines = async (dir: string, stream: string) => (await readArchives(path.join(dir, 'out'), stream)).flatMap((w) => w.lines);

t.test('two collectors and one archiver: archiver killed, broker restarted, nothing lost or twice', async (t) => {
  if (!(await broker(t))) return;
  const root = tempDir(t);
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const tag = `nsrtest${process.pid}${Date.now() % 100000}`;
  const amqpSection = `amqp: {url: "amqp://guest@127.0.0.1:5672/", password: guest, exchange: ${tag}, flush_interval: 100ms, batch: 50}`;
  const collector = (name: string) => {
    const dir = path.join(root, name);
    execFileSync('mkdir', ['-p', dir]);
    const targets = Array.from({ length: 25 }, (_, i) => `      - {id: "${name}-${i}", url: "${url}/p/${name}-${i}"}`).join('\n');
    writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\n${amqpSection}\nstreams:\n  ${name}:\n    kind: probe\n    amqp: true\n    targets:\n${targets}\n`);
    return dir;
  };
  const a = collector('probes_a');
  const b = collector('probes_b');
  const arch = path.join(root, 'archiver');
  execFileSync('mkdir', ['-p', arch]);
  writeFileSync(path.join(arch, 'r.yaml'), `output: {dir: out, window: 1m}\n${amqpSection}\nstreams:\n  archive: {kind: amqp, queue: ${tag}.archive, streams: [probes_a, probes_b], prefetch: 200}\n`);
  t.teardown(async () => {
    const conn = await amqp.connect(BROKER).catch(() => undefined);
    if (!conn) return;
    const ch = await conn.createChannel();
    await ch.deleteQueue(`${tag}.archive`).catch(() => {});
    await ch.deleteExchange(tag).catch(() => {});
    await conn.close().catch(() => {});
  });

  // The archiver first, so its queue exists before anything is published.
  let archiver = startNsr(arch, ['run', '-c', 'r.yaml']);
  await sleep(1500);
  const ca = startNsr(a, ['run', '-c', 'r.yaml']);
  const cb = startNsr(b, ['run', '-c', 'r.yaml']);
  // Killed while it has a window open (it has written some of both collectors' records).
  const hasWindow = () => existsSync(path.join(arch, 'out')) && readdirSync(path.join(arch, 'out')).some((f) => f.endsWith('_probes_b.json'));
  for (let i = 0; i < 100 && !hasWindow(); i++) await sleep(200);
  await sleep(1000);
  process.kill(archiver.pid, 'SIGKILL');
  await archiver.exit;
  await sleep(1500); // messages pile up in the queue meanwhile
  archiver = startNsr(arch, ['run', '-c', 'r.yaml']);
  await sleep(2000);
  // Only while no other test file uses the broker (broker-lease.ts).
  const restarted =
    process.getuid?.() === 0 &&
    (await whileNoOtherUses(async () => {
      execFileSync('rabbitmqctl', ['stop_app'], { stdio: 'ignore', timeout: 60_000 });
      await sleep(1000);
      execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore', timeout: 120_000 });
      await brokerBack();
    }, RESTART_WAIT_MS));
  if (!restarted) t.comment(process.getuid?.() === 0 ? `other test files used the broker for ${RESTART_WAIT_MS / 1000} s: the broker restart is left out` : 'not root: the broker restart is left out');
  await sleep(3000);
  process.kill(ca.pid, 'SIGTERM');
  process.kill(cb.pid, 'SIGTERM');
  t.equal((await ca.exit).code, 0, ca.output().slice(-1500));
  t.equal((await cb.exit).code, 0, cb.output().slice(-1500));

  const published = [...(await lines(a, 'probes_a')), ...(await lines(b, 'probes_b'))];
  // The archiver catches up with what is queued, then stops.
  for (let i = 0; i < 60; i++) {
    const conn = await amqp.connect(BROKER);
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(`${tag}.archive`);
    await conn.close();
    if (q.messageCount === 0) break;
    await sleep(500);
  }
  await sleep(1000);
  process.kill(archiver.pid, 'SIGTERM');
  t.equal((await archiver.exit).code, 0, archiver.output().slice(-1500));

  const archived = [...(await lines(arch, 'probes_a')), ...(await lines(arch, 'probes_b'))];
  t.ok(published.length > 150, `${published.length} records published by the two collectors`);
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const want = count(published);
  const got = count(archived);
  t.same([...want.keys()].filter((k) => !got.has(k)).length, 0, 'nothing lost: every record the collectors wrote is in the archiver’s windows');
  t.same([...got.entries()].filter(([, n]) => n > 1).length, 0, 'nothing twice');
  t.equal(archived.length, published.length);
  const events = await readEvents(path.join(arch, 'out'));
  t.ok(events.some((e) => e.event === 'recovery'), 'the killed archiver’s window was recovered at its restart');
  if (restarted) {
    const collectorEvents = await readEvents(path.join(a, 'out'));
    t.ok(collectorEvents.some((e) => e.event === 'sink_error') && collectorEvents.some((e) => e.event === 'sink_recovered'), 'the collector saw the broker go and come back');
  }
});
