#!/usr/bin/env node
// Junos polling at scale: N simulated devices (default 1000, plus the NetBox
// fixtures' routers), each with its own latency drawn once in [min, max] ms,
// listed by the simulated NetBox; nsr polls them from the netbox stream with
// max_workers at once, over the Junos REST API or NETCONF/SSH (--transport).
// Reports each cycle's time against the ideal (the devices' poll times summed
// / workers: perfect packing, no overhead), its CPU seconds (first cycle apart:
// over NETCONF it opens the sessions), the NETCONF session counters of the
// cycle event, and the recorder's peak RSS (from /proc; the simulator runs in
// its own process and is not counted, but its CPU is printed: it shares the cores).
//
// A REST device answers the three RPCs in parallel, so its poll takes its
// latency; a NETCONF device answers them one at a time on its session (as
// Junos's mgd does), so its poll takes three latencies: the NETCONF ideal is
// three times the REST one, and the interval and device_timeout must allow it.
//
// Usage: npm run build && node bench/junos.bench.mjs [--devices 1000] [--workers 50]
//        [--latency 50-2000] [--interval 30s] [--cycles 4]
//        [--transport rest|netconf] [--keep-sessions true|false] [--device-timeout 5s|10s]
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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
const transport = arg('--transport', 'rest');
if (transport !== 'rest' && transport !== 'netconf') throw new Error(`--transport ${transport}: expected rest or netconf`);
const keepSessions = arg('--keep-sessions', 'true') === 'true';
// NETCONF: three serial RPCs of up to 2 s each, plus the SSH handshake, must fit.
const deviceTimeout = arg('--device-timeout', transport === 'netconf' ? '10s' : '5s');
const serialRpcs = transport === 'netconf' ? 3 : 1;
// The same latencies the simulator will draw (they depend only on the device names, on either transport).
const network = new NetboxSimulator({ generated: devices });
const active = new Set(network.items.devices.filter((d) => d.status.value === 'active').map((d) => d.name));
const drawn = new JunosSimulator({ devices: network.devices(), port: 1, latencyMs: { min: minMs, max: maxMs } }).latencies();
const latencies = [...drawn].filter(([name]) => active.has(name)).map(([, ms]) => ms);
const polled = latencies.length;
const ideal = (serialRpcs * latencies.reduce((a, b) => a + b, 0)) / workers;
const bound = Math.max(ideal, serialRpcs * Math.max(...latencies));
const loadBefore = loadavg();

const dir = mkdtempSync(path.join(tmpdir(), 'nsr-junos-bench-'));
const netboxPort = 20_000 + Math.floor(Math.random() * 20_000);
const junosPort = netboxPort + 1;
const knownHosts = path.join(dir, 'known_hosts');
const netconfArgs = transport === 'netconf' ? ['--junos-transport', 'netconf', '--junos-host-key', path.join(dir, 'host_key'), '--junos-known-hosts', knownHosts] : [];
// NETCONF: ready once known_hosts is written (the recorder refuses unknown keys).
const readyLine = transport === 'netconf' ? /known_hosts for the devices written/ : /Junos devices answering/;
let ready = false;
const sim = startNsr(dir, ['simulate', '--no-ndtwin', '--netbox-port', String(netboxPort), '--junos-devices', String(devices), '--junos-port', String(junosPort), '--junos-latency', `${minMs}-${maxMs}`, ...netconfArgs], (out) => (ready ||= readyLine.test(out)));
while (!ready) {
  if (sim.child.exitCode !== null) throw new Error(`simulator exited: ${sim.output()}`);
  await sleep(100);
}

// The simulator accepts any SSH login when it has no credentials set; the host keys are checked all the same.
const transportYaml =
  transport === 'netconf'
    ? `    transport: netconf
    username: nsr
    netconf:
      keep_sessions: ${keepSessions}
      host_keys: {known_hosts: ${JSON.stringify(knownHosts)}, first_contact: refuse}
`
    : `    scheme: http
`;
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
${transportYaml}    port: ${junosPort}
    interval: ${interval}
    device_timeout: ${deviceTimeout}
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
// Sampled every 500 ms, so a cycle's CPU is the difference across its span (scheduled_at to scheduled_at + ms).
const samples = [];
const sample = () => samples.push({ at: Date.now(), cpu: cpuSeconds(pid), ...memoryMb(pid) });
const t0 = Date.now();
let events = [];
const endOf = (e) => e.scheduled_at + e.ms;
// Past the last cycle's end by a second, so its records' writing is in its CPU.
while ((events.length < cycles || samples.at(-1).at < endOf(events[cycles - 1]) + 1000) && Date.now() - t0 < 20 * 60_000) {
  sample();
  await sleep(500);
  events = (await cycleEvents()).slice(0, cycles);
}
sample();
const before = { cpu: cpuSeconds(pid), ...memoryMb(pid) };
const simCpu = cpuSeconds(sim.child.pid);
const loadAfter = loadavg();
const cpuAt = (t, after) => (after ? samples.find((s) => s.at >= t) ?? samples.at(-1) : samples.findLast((s) => s.at <= t) ?? samples[0]).cpu;
const cycleCpu = (e) => cpuAt(endOf(e) + 1000, true) - cpuAt(e.scheduled_at, false);
process.kill(pid, 'SIGTERM');
await nsr.exit;
sim.child.kill('SIGTERM');
await sim.exit;

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const la = (l) => l.map((x) => x.toFixed(2)).join(' ');
const mode = transport === 'netconf' ? `netconf, keep_sessions ${keepSessions}` : 'rest';
console.log(`# nsr junos benchmark (${mode}) — ${new Date().toISOString()}`);
console.log(`load average before ${la(loadBefore)}, after ${la(loadAfter)}`);
console.log(`devices polled: ${polled} (latency ${minMs}-${maxMs} ms per device, mean ${(latencies.reduce((a, b) => a + b, 0) / polled).toFixed(0)} ms), max_workers ${workers}, interval ${interval}, device_timeout ${deviceTimeout}`);
console.log(`ideal cycle (${serialRpcs > 1 ? `${serialRpcs} serial RPCs x ` : ''}sum of latencies / workers): ${(ideal / 1000).toFixed(2)} s; lower bound with the slowest device: ${(bound / 1000).toFixed(2)} s`);
const sessions = transport === 'netconf';
console.log(`| cycle | devices | records | failed | cycle time | / ideal | CPU | CPU / device |${sessions ? ' opened | reused | reopened |' : ''}`);
console.log(`| --- | --- | --- | --- | --- | --- | --- | --- |${sessions ? ' --- | --- | --- |' : ''}`);
for (const [i, e] of events.entries()) {
  const cpu = cycleCpu(e);
  const counters = sessions ? ` ${e.sessions_opened} | ${e.sessions_reused} | ${e.sessions_reopened} |` : '';
  console.log(`| ${i + 1} | ${e.items} | ${e.records} | ${e.failed} | ${(e.ms / 1000).toFixed(2)} s | ${(e.ms / ideal).toFixed(3)}x | ${cpu.toFixed(2)} s | ${((cpu / e.items) * 1000).toFixed(2)} ms |${counters}`);
}
const later = events.slice(1);
const laterCpu = later.reduce((a, e) => a + cycleCpu(e), 0);
const laterItems = later.reduce((a, e) => a + e.items, 0);
if (events.length) console.log(`CPU per cycle: first ${cycleCpu(events[0]).toFixed(2)} s (${((cycleCpu(events[0]) / events[0].items) * 1000).toFixed(2)} ms per device); later ${later.length ? `${(laterCpu / later.length).toFixed(2)} s (${((laterCpu / laterItems) * 1000).toFixed(2)} ms per device)` : 'n/a'}`);
const wall = (Date.now() - t0) / 1000;
console.log(`recorder CPU: ${before.cpu.toFixed(2)} s over ${wall.toFixed(0)} s in all (start-up, NetBox reads and idle time included); simulator CPU ${simCpu.toFixed(2)} s`);
console.log(`recorder RSS: peak ${before.peak.toFixed(0)} MB; p50 of 500 ms samples ${pct(samples.map((s) => s.rss), 0.5)?.toFixed(0)} MB`);
rmSync(dir, { recursive: true, force: true });
