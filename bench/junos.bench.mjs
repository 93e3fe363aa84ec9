#!/usr/bin/env node
// Junos polling at scale: N simulated devices (default 1000, plus the NetBox
// fixtures' routers), each with its own latency drawn once in [min, max] ms,
// listed by the simulated NetBox; nsr polls them from the netbox stream with
// max_workers at once. Reports each cycle's time against the ideal (the sum of
// the devices' latencies / workers: perfect packing, no overhead) and the
// recorder's CPU seconds and peak RSS (from /proc; the simulator runs in its
// own process and is not counted).
//
// Usage: npm run build && node bench/junos.bench.mjs [--devices 1000] [--workers 50]
//        [--latency 50-2000] [--interval 30s] [--cycles 4]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuSeconds, memoryMb, sleep, startNsr } from './process.mjs';
import { NetboxSimulator } from '../dist/simulate/netbox-simulator.js';
import { JunosSimulator } from '../dist/simulate/junos-simulator.js';
import { readZipRecords } from '../dist/archive/archive-reader.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const devices = Number(arg('--devices', 1000));
const workers = Number(arg('--workers', 50));
const [minMs, maxMs] = arg('--latency', '50-2000').split('-').map(Number);
const interval = arg('--interval', '30s');
const cycles = Number(arg('--cycles', 4));
// The same latencies the simulator will draw (they depend only on the device names).
const network = new NetboxSimulator({ generated: devices });
const active = new Set(network.items.devices.filter((d) => d.status.value === 'active').map((d) => d.name));
const drawn = new JunosSimulator({ devices: network.devices(), port: 1, latencyMs: { min: minMs, max: maxMs } }).latencies();
const latencies = [...drawn].filter(([name]) => active.has(name)).map(([, ms]) => ms);
const polled = latencies.length;
const ideal = latencies.reduce((a, b) => a + b, 0) / workers;
const bound = Math.max(ideal, Math.max(...latencies));

const dir = mkdtempSync(path.join(tmpdir(), 'nsr-junos-bench-'));
const netboxPort = 20_000 + Math.floor(Math.random() * 20_000);
const junosPort = netboxPort + 1;
let ready = false;
const sim = startNsr(dir, ['simulate', '--no-ndtwin', '--netbox-port', String(netboxPort), '--junos-devices', String(devices), '--junos-port', String(junosPort), '--junos-latency', `${minMs}-${maxMs}`], (out) => (ready ||= /Junos devices answering/.test(out)));
while (!ready) {
  if (sim.child.exitCode !== null) throw new Error(`simulator exited: ${sim.output()}`);
  await sleep(100);
}

writeFileSync(
  path.join(dir, 'r.yaml'),
  `output: {dir: out, window: 5m}
log: {level: warn}
control: {enabled: false}
streams:
  inventory: {kind: netbox, url: "http://127.0.0.1:${netboxPort}", interval: 5m, page_size: 1000, filter: {status: active}}
  routers:
    kind: junos
    netbox: {stream: inventory}
    scheme: http
    port: ${junosPort}
    interval: ${interval}
    device_timeout: 5s
    max_workers: ${workers}
`,
);
const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
const pid = nsr.child.pid;
// Cycles are logged at debug; the events stream has them all: the open window, and the zipped ones.
const cycleEvents = async () => {
  const out = path.join(dir, 'out');
  if (!existsSync(out)) return [];
  const lines = [];
  for (const f of readdirSync(out)) {
    if (f.endsWith('_events.json')) lines.push(...readFileSync(path.join(out, f), 'utf8').split('\n'));
    else if (f.endsWith('_events_json.zip')) lines.push(...(await readZipRecords(path.join(out, f))).lines);
  }
  const byTick = new Map(lines.filter((l) => l.includes('"event":"cycle"')).map((l) => JSON.parse(l)).map((e) => [e.tick, e]));
  return [...byTick.values()].sort((a, b) => a.tick - b.tick);
};
const samples = [];
const t0 = Date.now();
while ((await cycleEvents()).length < cycles && Date.now() - t0 < 15 * 60_000) {
  samples.push(memoryMb(pid));
  await sleep(1000);
}
const before = { cpu: cpuSeconds(pid), ...memoryMb(pid) };
const events = await cycleEvents();
process.kill(pid, 'SIGTERM');
await nsr.exit;
sim.child.kill('SIGTERM');
await sim.exit;

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
console.log(`# nsr junos benchmark — ${new Date().toISOString()}`);
console.log(`devices polled: ${polled} (latency ${minMs}-${maxMs} ms per device, mean ${(latencies.reduce((a, b) => a + b, 0) / polled).toFixed(0)} ms), max_workers ${workers}, interval ${interval}`);
console.log(`ideal cycle (sum of latencies / workers): ${(ideal / 1000).toFixed(2)} s; lower bound with the slowest device: ${(bound / 1000).toFixed(2)} s`);
console.log('| cycle | devices | records | failed | cycle time | / ideal |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [i, e] of events.entries()) console.log(`| ${i + 1} | ${e.items} | ${e.records} | ${e.failed} | ${(e.ms / 1000).toFixed(2)} s | ${(e.ms / ideal).toFixed(3)}x |`);
const wall = (Date.now() - t0) / 1000;
console.log(`recorder CPU: ${before.cpu.toFixed(2)} s over ${wall.toFixed(0)} s (${((before.cpu / events.length) || 0).toFixed(2)} s per cycle of ${polled} devices, ${((before.cpu / Math.max(1, events.reduce((a, e) => a + e.items, 0))) * 1000).toFixed(2)} ms per device poll incl. both records)`);
console.log(`recorder RSS: peak ${before.peak.toFixed(0)} MB; p50 of 1 s samples ${pct(samples.map((s) => s.rss), 0.5)?.toFixed(0)} MB`);
rmSync(dir, { recursive: true, force: true });
