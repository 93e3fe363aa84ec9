#!/usr/bin/env node
// Soak: the simulator with mixed upstream faults and outages, nsr killed with
// SIGKILL (sometimes stopped with SIGTERM) at random moments and restarted, for
// a set time; then every archive is read back and checked against what the
// simulator served.
//
// Usage: npm run build && node bench/soak.mjs [--minutes 10] [--fault-rate 0.05] [--seed 1]
//
// A response the simulator completed but nsr did not archive is explained when
// it completed within EXPLAIN_MS before a SIGKILL (it was in memory: the fetch
// in flight or the queue). Any other missing response is an unexplained loss.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readZipRecords } from '../dist/archive/archive-reader.js';
import { readCatalog } from '../dist/archive/catalog.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const minutes = Number(arg('--minutes', 10));
const faultRate = Number(arg('--fault-rate', 0.05));
let seed = Number(arg('--seed', 1));
const INTERVAL_MS = 250;
const EXPLAIN_MS = 3 * INTERVAL_MS;
const NSR = fileURLToPath(new URL('../bin/nsr', import.meta.url));
const STREAMS = { flowinfo: '/ndt/get_detected_flow_data', graphinfo: '/ndt/get_graph_data' };

const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(path.join(tmpdir(), 'nsr-soak-'));

function start(argv, onLine) {
  const child = spawn(process.execPath, [NSR, ...argv], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    onLine?.(out);
  });
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exit, output: () => out };
}

function peakRssMb(pid) {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return 0;
  }
}

// The simulator in its own process, with faults on both streams (all kinds but `large`).
let url;
const sim = start(['simulate', '--port', '0', '--dpids', 'testbed', '--fault-rate', String(faultRate), '--seed', String(seed)], (out) => {
  url ??= /listening on (http:\/\/\S+)/.exec(out)?.[1];
});
while (!url) await sleep(50);
writeFileSync(
  path.join(dir, 'r.yaml'),
  `output: {dir: out, window: 2s}\nlog: {level: warn}\nstreams:\n${Object.keys(STREAMS)
    .map((s) => `  ${s}: {kind: ndtwin, kernel: "${url}", data: ${s === 'flowinfo' ? 'flow' : 'graph'}, interval: ${INTERVAL_MS}ms}`)
    .join('\n')}\n`,
);

const kills = [];
let terms = 0;
let outages = 0;
let peakRss = 0;
const deadline = Date.now() + minutes * 60_000;
console.log(`soak: ${minutes} min, fault rate ${faultRate}, output ${dir}`);
while (Date.now() < deadline) {
  const nsr = start(['run', '-c', 'r.yaml']);
  const runFor = 1000 + random() * 6000;
  if (random() < 0.2) {
    await sleep(runFor / 2);
    outages++;
    await fetch(`${url}/sim/down?ms=${Math.round(500 + random() * 2000)}`, { method: 'POST' }).catch(() => undefined);
    await sleep(runFor / 2);
  } else await sleep(runFor);
  peakRss = Math.max(peakRss, peakRssMb(nsr.child.pid));
  if (random() < 0.8) {
    kills.push(Date.now());
    nsr.child.kill('SIGKILL');
  } else {
    terms++;
    nsr.child.kill('SIGTERM');
  }
  const { code, signal } = await nsr.exit;
  if (signal !== 'SIGKILL' && code !== 0) console.log(`nsr exited with ${code}: ${nsr.output().slice(-400)}`);
}
await sleep(3000); // let an outage end before the last run
const last = start(['run', '-c', 'r.yaml', '--for', '3s']);
const lastExit = await last.exit;
const { ledger, served_at: servedAt } = await (await fetch(`${url}/sim/served?times=1`)).json();
sim.child.kill('SIGTERM');
await sim.exit;

const out = path.join(dir, 'out');
const leftovers = readdirSync(out).filter((f) => !f.endsWith('_json.zip') && !f.startsWith('.'));
const zips = (await readCatalog(out, { scanUnindexed: false })).flatMap((c) => c.windows.filter((w) => w.type === 'zip'));
const report = { minutes, fault_rate: faultRate, kills: kills.length, sigterms: terms, outages, last_exit: lastExit.code, leftovers: leftovers.length, peak_rss_mb: Math.round(peakRss), corrupt_zips: 0, streams: {} };
const archived = {};
for (const f of zips) {
  try {
    const { lines } = await readZipRecords(f.path);
    for (const l of lines) (archived[f.stream] ??= []).push(Number(/"sim_seq":(\d+)/.exec(l)?.[1]));
  } catch (err) {
    report.corrupt_zips++;
    console.log(`corrupt: ${f.file}: ${err.message}`);
  }
}
let unexplainedTotal = 0;
for (const [stream, endpoint] of Object.entries(STREAMS)) {
  const served = ledger[endpoint] ?? [];
  const got = archived[stream] ?? [];
  const seen = new Set(got);
  const missing = served.filter((s) => !seen.has(s));
  const unexplained = missing.filter((s) => !kills.some((k) => servedAt[s] <= k + 50 && servedAt[s] >= k - EXPLAIN_MS));
  unexplainedTotal += unexplained.length;
  report.streams[stream] = { served: served.length, archived: got.length, duplicates: got.length - seen.size, not_served: got.filter((s) => !served.includes(s)).length, missing_at_kills: missing.length - unexplained.length, unexplained_losses: unexplained.length };
}
console.log(JSON.stringify(report, null, 2));
const ok = unexplainedTotal === 0 && report.corrupt_zips === 0 && leftovers.length === 0 && lastExit.code === 0 && Object.values(report.streams).every((s) => s.duplicates === 0 && s.not_served === 0);
console.log(ok ? 'soak: OK' : 'soak: FAILED');
if (ok) rmSync(dir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
