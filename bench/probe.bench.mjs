#!/usr/bin/env node
// URL probes at scale, on this machine: N targets at 1 s intervals against the
// probe simulator (its own process, on loopback), for each N in --targets.
// Reports probes per second achieved, lateness (probe start − its turn) p50/p99
// from the records themselves, skipped turns, and the recorder's CPU and RSS.
// Then, side by side in one process, the HTTP clients a prober could use, on
// the same simulator: Node's http (what nsr uses), got, and fetch (undici).
//
// Usage: npm run build && node bench/probe.bench.mjs [--targets 1000,5000,10000,20000] [--seconds 20] [--client-seconds 8]
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import got from 'got';
import { readZipRecords } from '../dist/archive/archive-reader.js';
import { probeAgents, runProbe } from '../dist/sources/probe/probe-client.js';
import { cpuSeconds, memoryMb, sleep, startNsr } from './process.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const counts = arg('--targets', '1000,5000,10000,20000').split(',').map(Number);
const seconds = Number(arg('--seconds', 20));
const clientSeconds = Number(arg('--client-seconds', 8));
const WARMUP_MS = 3000;

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function simulator(dir) {
  let url;
  const sim = startNsr(dir, ['simulate', '--no-ndtwin', '--probe-port', '0'], (out) => (url ??= /probe targets served on (http:\/\/\S+)\/p/.exec(out)?.[1]));
  while (!url) {
    if (sim.child.exitCode !== null) throw new Error(sim.output());
    await sleep(50);
  }
  return { sim, url };
}

async function recorderRun(n) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nsr-probe-bench-'));
  const { sim, url } = await simulator(dir);
  writeFileSync(path.join(dir, 'targets.csv'), ['id,url', ...Array.from({ length: n }, (_, i) => `t${i},${url}/p/t${i}`)].join('\n'));
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nlog: {level: warn}\ncontrol: {enabled: false}\nstreams:\n  probes: {kind: probe, targets_file: targets.csv, interval: 1s, timeout: 800ms}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  const pid = nsr.child.pid;
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const cpu = cpuSeconds(pid);
  const mem = memoryMb(pid);
  const wall = (Date.now() - t0) / 1000;
  process.kill(pid, 'SIGTERM');
  await nsr.exit;
  sim.child.kill('SIGTERM');
  await sim.exit;
  const out = path.join(dir, 'out');
  const lines = [];
  const events = [];
  for (const f of readdirSync(out).sort()) {
    // (a loop, not push(...lines): hundreds of thousands of arguments overflow the stack)
    if (f.endsWith('_probes_json.zip')) for (const l of (await readZipRecords(path.join(out, f))).lines) lines.push(l);
    if (f.endsWith('_events_json.zip')) for (const l of (await readZipRecords(path.join(out, f))).lines) events.push(JSON.parse(l));
  }
  rmSync(dir, { recursive: true, force: true });
  const recs = lines.map((l) => JSON.parse(l)).filter((r) => r.scheduled_at >= t0 + WARMUP_MS && r.scheduled_at < t0 + seconds * 1000);
  const late = recs.map((r) => r.lateness_ms).sort((a, b) => a - b);
  const errors = recs.filter((r) => r.error).length;
  const skipped = events.filter((e) => e.event === 'probes_skipped').reduce((a, e) => a + (e.overlap ?? 0) + (e.queue_full ?? 0) + (e.late ?? 0), 0);
  const span = (seconds * 1000 - WARMUP_MS) / 1000;
  return { n, rate: recs.length / span, expected: n, p50: pct(late, 0.5), p99: pct(late, 0.99), errors, skipped, cpuPct: (100 * cpu) / wall, rss: mem.rss, peak: mem.peak };
}

async function clientRun() {
  const dir = mkdtempSync(path.join(tmpdir(), 'nsr-probe-clients-'));
  const { sim, url } = await simulator(dir);
  const concurrency = 64;
  const agents = probeAgents(Infinity, true);
  const gotAgent = new http.Agent({ keepAlive: true });
  const clients = {
    'node:http (nsr)': (i) => runProbe({ url: `${url}/p/c${i % 1000}`, timeoutMs: 2000, expectStatus: [200], matchBytes: 64 * 1024 }, agents, new AbortController().signal),
    got: (i) => got(`${url}/p/c${i % 1000}`, { agent: { http: gotAgent }, retry: { limit: 0 }, throwHttpErrors: false, timeout: { request: 2000 } }),
    'fetch (undici)': async (i) => {
      const res = await fetch(`${url}/p/c${i % 1000}`);
      await res.arrayBuffer();
    },
  };
  const rows = [];
  for (const [name, one] of Object.entries(clients)) {
    let done = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const end = t0 + clientSeconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) await one(done++);
      }),
    );
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    rows.push({ client: name, 'req/s': Math.round((done / ms) * 1000), 'CPU µs per request (client process)': Math.round((cpu.user + cpu.system) / done) });
  }
  sim.child.kill('SIGTERM');
  await sim.exit;
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

console.log(`# nsr probe benchmark — ${new Date().toISOString()}, ${seconds} s per run (first ${WARMUP_MS / 1000} s left out), interval 1 s`);
const results = [];
for (const n of counts) {
  const r = await recorderRun(n);
  results.push(r);
  console.log(`| ${r.n} | ${r.rate.toFixed(0)} | ${((100 * r.rate) / r.n).toFixed(1)} % | ${r.p50} | ${r.p99} | ${r.skipped} | ${r.errors} | ${r.cpuPct.toFixed(0)} % | ${r.rss.toFixed(0)} / ${r.peak.toFixed(0)} MB |`);
}
console.log('(columns: targets | probes/s | of the schedule | lateness p50 ms | p99 ms | skipped turns | errors | recorder CPU (of one core) | RSS now / peak)');
console.table(await clientRun());
console.log(JSON.stringify({ results }));
