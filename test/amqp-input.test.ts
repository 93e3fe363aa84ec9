// The archiver's input is whatever anyone allowed to publish to the exchange
// sends: a message is written only when it is exactly one record line with a
// sane timestamp; anything else is rejected (not requeued) and reported, and
// the messages after it are still written. And what a collector publishes is
// its line's bytes exactly. Runs against this machine's RabbitMQ with
// exchanges and queues of its own (the broker is not restarted).
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import { amqpSchema, resolveAmqp } from '../src/connections/amqp-settings.js';
import { startAmqpSink } from '../src/sinks/amqp/amqp-sink.js';
import { checkRecordFrame, checkRecordJson } from '../src/sources/amqp/record-message.js';
import { needService, readArchives, readEvents, sleep, startNsr, tempDir } from './helpers.js';
import { holdBroker } from './broker-lease.js';

const BROKER = process.env.NSR_TEST_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672/';
// Not while amqp.test.ts restarts it (broker-lease.ts).
await holdBroker(t);

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

t.test('a forged second line and an impossible timestamp are rejected and reported; a good message after them is written', async (t) => {
  const conn = await needService(t, `RabbitMQ at ${BROKER}`, 'rabbitmq-server -detached', () => amqp.connect(BROKER, { timeout: 3000 }));
  if (!conn) return;
  const tag = `nsrinput${process.pid}${Date.now() % 100000}`;
  const queue = `${tag}.archive`;
  conn.on('error', () => {});
  const ch = await conn.createChannel();
  /** The queue's counts; a queue not declared yet closes the channel that asks, so each look has its own. */
  const queueState = async () => {
    const look = await conn.createChannel();
    look.on('error', () => {});
    const q = await look.checkQueue(queue).catch(() => undefined);
    await look.close().catch(() => {});
    return q;
  };
  t.teardown(async () => {
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(tag).catch(() => {});
    await conn.close().catch(() => {});
  });
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}\namqp: {url: "amqp://guest@127.0.0.1:5672/", password: guest, exchange: ${tag}}\nstreams:\n  archive: {kind: amqp, queue: ${queue}, queue_type: classic, streams: [probes]}\n`,
  );
  const archiver = startNsr(dir, ['run', '-c', 'r.yaml']);
  let exited = false;
  void archiver.exit.then(() => (exited = true));
  t.teardown(() => void (exited || process.kill(archiver.pid, 'SIGKILL')));
  // The archiver declares and binds its queue; publish once it consumes.
  await until('the archiver to consume', async () => ((await queueState())?.consumerCount ?? 0) > 0);

  const now = Date.now();
  const publish = (body: string, id: string) => ch.publish(tag, 'probes', Buffer.from(body), { headers: { stream: 'probes' }, messageId: id, persistent: true });
  publish(`{"timestamp":${now},"target":"real","status":200}\n{"timestamp":${now + 1},"target":"forged","status":500}`, 'with-newline');
  publish(`{"timestamp":8640000000000001,"target":"far","status":200}`, 'far-future');
  publish(`{"timestamp":${now + 2},"target":"good","status":200}`, 'good');

  const windows = () => (existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('_probes.json')) : []);
  await until('the good message in a window', () => windows().some((f) => readFileSync(path.join(out, f), 'utf8').includes('"target":"good"')));
  process.kill(archiver.pid, 'SIGTERM');
  t.equal((await archiver.exit).code, 0, archiver.output().slice(-1500));

  const lines = (await readArchives(out, 'probes')).flatMap((w) => w.lines);
  t.same(lines, [`{"timestamp":${now + 2},"target":"good","status":200}`], 'only the good message is in the windows: no forged line, no half of the rejected message');
  t.same(readdirSync(out).filter((f) => /NaN|Invalid/.test(f)), [], 'no window file named from an impossible timestamp');

  const events = await readEvents(out);
  const rejected = events.filter((e) => e.event === 'message_rejected');
  t.match(rejected, [
    { message_id: 'with-newline', reason: 'newline', stream: 'probes', queue },
    { message_id: 'far-future', reason: 'timestamp_out_of_range', detail: /8640000000000001 is outside 2000-01-01 \.\. now \+ 1 day/ },
  ]);
  t.equal(rejected.length, 2, 'each reported once: rejected, not requeued to come back');
  t.notMatch(JSON.stringify(rejected), /forged|"target"|"far"/, 'the events do not repeat the bodies');
  t.equal((await queueState())?.messageCount, 0, 'nothing left in the queue: rejected messages are not requeued');
});

t.test('what counts as one record line: the checks, case by case', async (t) => {
  const now = Date.UTC(2026, 10, 25, 12);
  const ts = now - 1000;
  const verdict = async (body: string | Buffer, max = 1024) => {
    const b = Buffer.from(body);
    const frame = checkRecordFrame(b, max, now);
    if (typeof frame !== 'number') return frame.reason;
    return (await checkRecordJson(b))?.reason ?? frame;
  };
  const cases: [string, string | Buffer, string | number][] = [
    ['a record', `{"timestamp":${ts},"a":[1,2.0,18446744073709551615]}`, ts],
    ['a record with only a timestamp', `{"timestamp":${ts}}`, ts],
    ['a trailing newline (the window would get an empty line)', `{"timestamp":${ts}}\n`, 'newline'],
    ['a newline inside, as JSON whitespace', `{"timestamp":${ts},\n"a":1}`, 'newline'],
    ['two JSON texts on one line', `{"timestamp":${ts}}{"timestamp":${ts}}`, 'not_json'],
    ['broken JSON', `{"timestamp":${ts},"a":}`, 'not_json'],
    ['a raw control character in a string', `{"timestamp":${ts},"a":"x\ty"}`, 'not_json'],
    ['a leading zero', `{"timestamp":0${ts}}`, 'not_json'],
    ['an array', `[{"timestamp":${ts}}]`, 'not_a_record'],
    ['the timestamp not first', `{"a":1,"timestamp":${ts}}`, 'not_a_record'],
    ['a fractional timestamp', `{"timestamp":${ts}.5}`, 'not_a_record'],
    ['a negative timestamp', `{"timestamp":-1}`, 'not_a_record'],
    ['a timestamp in seconds', `{"timestamp":${Math.floor(ts / 1000)}}`, 'timestamp_out_of_range'],
    ['beyond what a Date holds', '{"timestamp":8640000000000001}', 'timestamp_out_of_range'],
    ['thirty digits', `{"timestamp":${'9'.repeat(30)}}`, 'timestamp_out_of_range'],
    ['more than a day ahead', `{"timestamp":${now + 86_400_001}}`, 'timestamp_out_of_range'],
    ['larger than the limit', `{"timestamp":${ts},"a":"${'x'.repeat(2000)}"}`, 'too_large'],
    ['empty', '', 'not_a_record'],
  ];
  for (const [what, body, want] of cases) t.equal(await verdict(body), want, what);
  const big = Buffer.concat([Buffer.from(`{"timestamp":${ts},"a":"`), Buffer.alloc(2 * 1024 * 1024, 0x61), Buffer.from('"')]);
  t.equal(await verdict(big, 4 * 1024 * 1024), 'not_json', 'a large body is checked too (on the JSON thread)');
});

t.test('a collector publishes the record line’s own bytes, also when they are not valid UTF-8', async (t) => {
  const conn = await needService(t, `RabbitMQ at ${BROKER}`, 'rabbitmq-server -detached', () => amqp.connect(BROKER, { timeout: 3000 }));
  if (!conn) return;
  conn.on('error', () => {});
  const tag = `nsrbytes${process.pid}${Date.now() % 100000}`;
  const ch = await conn.createChannel();
  await ch.assertExchange(tag, 'topic', { durable: true }); // as the sink declares it
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, tag, '#');
  t.teardown(async () => {
    await ch.deleteExchange(tag).catch(() => {});
    await conn.close().catch(() => {});
  });
  const section = amqpSchema.parse({ url: 'amqp://guest@127.0.0.1:5672/', password: 'guest', exchange: tag, flush_interval: '100ms' });
  const sink = startAmqpSink(resolveAmqp(section, 'amqp')!, tempDir(t), () => {});
  sink.addStream({ stream: 'latin1', kind: 'http', windowMs: 60_000, settings: true });
  const line = Buffer.concat([Buffer.from(`{"timestamp":${Date.now()},"data":{"name":"caf`), Buffer.from([0xe9]), Buffer.from('"}}\n')]);
  sink.offer('latin1', Date.now(), line);
  await sink.flush();
  let got: amqp.GetMessage | false = false;
  for (let i = 0; i < 50 && !got; i++) {
    got = await ch.get(queue, { noAck: true });
    if (!got) await sleep(100);
  }
  await sink.close(Date.now() + 2000);
  t.ok(got, 'published');
  if (got) t.ok(got.content.equals(line.subarray(0, -1)), 'the body is the line’s bytes without its newline (0xE9 kept, not U+FFFD)');
});
