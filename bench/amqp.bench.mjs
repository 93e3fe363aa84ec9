#!/usr/bin/env node
// The RabbitMQ path on this machine's broker: (1) publishing — nsr's AMQP sink
// (confirm channel, persistent messages) takes N probe-sized records and the
// time until the broker has confirmed them all is measured, in this process;
// (2) consume-to-window — an archiver (`nsr run` with an amqp stream, its own
// process) drains the N messages into its window file; the time until the
// last line is written and the archiver's CPU are measured. CPU per 10,000
// messages is user + sys (process.cpuUsage for (1), /proc for (2)).
//
// Usage: npm run build && node bench/amqp.bench.mjs [--messages 100000] [--batch 500]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { startAmqpSink } from '../dist/sinks/amqp/amqp-sink.js';
import { resolveAmqp } from '../dist/connections/amqp-settings.js';
import { cpuSeconds, sleep, startNsr } from './process.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const n = Number(arg('--messages', 100_000));
const batch = Number(arg('--batch', 500));
const tag = `nsrbench${process.pid}`;
const dir = mkdtempSync(path.join(tmpdir(), 'nsr-amqp-bench-'));
const url = 'amqp://guest@127.0.0.1:5672/';

// The queue first, so that nothing published is dropped for want of a binding.
const admin = await amqp.connect('amqp://guest:guest@127.0.0.1:5672/');
const ch = await admin.createChannel();
await ch.assertExchange(tag, 'topic', { durable: true });
await ch.assertQueue(`${tag}.archive`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
await ch.bindQueue(`${tag}.archive`, tag, '#');

// (1) publish
const settings = resolveAmqp({ url, password: 'guest', exchange: tag, exchange_type: 'topic', batch, flush_interval: 50, buffer: 10_000_000 }, 'bench');
const sink = startAmqpSink(settings, dir, () => {});
sink.addStream({ stream: 'probes', kind: 'probe', windowMs: 300_000, settings: { routingKey: 'probes' } });
const t0 = Date.now();
const line = (i) => Buffer.from(`{"timestamp":${t0 + i},"target":"t${i % 5000}","url":"http://127.0.0.1:8002/p/t${i % 5000}","scheduled_at":${t0 + i},"lateness_ms":1,"status":200,"latency_ms":{"connect":0,"first_byte":1.2,"total":1.4},"bytes":40,"match":null,"error":null}\n`);
const cpu0 = process.cpuUsage();
const p0 = performance.now();
for (let i = 0; i < n; i++) sink.offer('probes', t0 + i, line(i), i);
while (sink.stats()[0].inserted < n) await sleep(20);
const publishMs = performance.now() - p0;
const cpu = process.cpuUsage(cpu0);
await sink.close(Date.now() + 10_000);

// (2) consume to window
writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1h}\nlog: {level: warn}\ncontrol: {enabled: false}\namqp: {url: "${url}", password: guest, exchange: ${tag}}\nstreams:\n  archive: {kind: amqp, queue: ${tag}.archive, streams: [probes], prefetch: 2000}\n`);
const archiver = startNsr(dir, ['run', '-c', 'r.yaml']);
const c0 = performance.now();
const written = () => {
  const out = path.join(dir, 'out');
  if (!existsSync(out)) return 0;
  return readdirSync(out).filter((f) => f.endsWith('_probes.json')).reduce((a, f) => a + readFileSync(path.join(out, f), 'utf8').split('\n').length - 1, 0);
};
let done = 0;
while ((done = written()) < n && performance.now() - c0 < 300_000) await sleep(200);
const consumeMs = performance.now() - c0;
const archiverCpu = cpuSeconds(archiver.child.pid);
process.kill(archiver.child.pid, 'SIGTERM');
await archiver.exit;
await ch.deleteQueue(`${tag}.archive`);
await ch.deleteExchange(tag);
await admin.close();
rmSync(dir, { recursive: true, force: true });

const per10k = (cpuS, count) => ((cpuS / count) * 10_000).toFixed(2);
console.log(`# nsr AMQP benchmark — ${new Date().toISOString()}, ${n} messages of ${line(0).length - 1} bytes, quorum queue, persistent`);
console.log(`| publish (sink, confirm channel, batch ${batch}) | ${Math.round((n / publishMs) * 1000)} msg/s | ${(publishMs / 1000).toFixed(2)} s | CPU ${per10k((cpu.user + cpu.system) / 1e6, n)} s per 10,000 |`);
console.log(`| consume to window (archiver process, prefetch 2000) | ${Math.round((done / consumeMs) * 1000)} msg/s | ${(consumeMs / 1000).toFixed(2)} s (start-up included) | CPU ${per10k(archiverCpu, done)} s per 10,000 (start-up included) |`);
console.log(`(${done} of ${n} lines written by the archiver)`);
