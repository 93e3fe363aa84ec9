#!/usr/bin/env node
// What keeping NETCONF sessions saves: N simulated devices (default 200, no
// latency, 1.0 or 1.1 framing) polled with the junos kind's three RPCs for a
// few cycles, once opening a session per device per cycle and once keeping
// them. Reports the time to open one session (TCP, SSH key exchange, password
// auth, subsystem, hello), the time of one RPC on an open session, each
// cycle's wall time, the CPU seconds of this process (client and simulator
// share it: read the ratio, not the absolute), and the sessions the simulator
// saw. Simulator startup time on the N addresses is reported too.
//
// Usage: npm run build && node bench/netconf.bench.mjs [--devices 200] [--cycles 3] [--concurrency 50] [--port 18832] [--base10]
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { JunosNetconfSimulator } from '../dist/simulate/junos-netconf-simulator.js';
import { HostKeyVerifier } from '../dist/sources/junos/host-keys.js';
import { NetconfPool } from '../dist/sources/junos/netconf-pool.js';
import { NetconfSession } from '../dist/sources/junos/netconf-session.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const count = Number(arg('--devices', 200));
const cycles = Number(arg('--cycles', 3));
const concurrency = Number(arg('--concurrency', 50));
const port = Number(arg('--port', 18832));
const RPCS = ['<get-interface-information/>', '<get-route-information><table>inet.3</table></get-route-information>', '<get-route-information><table>mpls.0</table></get-route-information>'];

const dir = mkdtempSync(path.join(tmpdir(), 'nsr-netconf-bench-'));
const devices = Array.from({ length: count }, (_, n) => ({ name: `b${n}`, address: `127.22.${Math.floor(n / 250)}.${(n % 250) + 1}` }));
const sim = new JunosNetconfSimulator({ devices, port, username: 'bench', password: 'bench-pw', static: true, base10Only: args.includes('--base10') });
let t0 = performance.now();
await sim.start();
const startMs = performance.now() - t0;
const knownHostsFile = path.join(dir, 'known_hosts');
sim.writeKnownHosts(knownHostsFile);
const hostKeys = new HostKeyVerifier({ knownHostsFile, firstContact: 'refuse' });
const credentials = { username: 'bench', password: 'bench-pw', hostKeys, maxMessageBytes: 64 << 20 };
const never = new AbortController().signal;
setMaxListeners(0, never); // every RPC in flight listens on it, as on the recorder's cycle signal
const deadline = () => Date.now() + 30_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Sequential: one session's open and its RPCs, device after device, so the times are not queueing.
const openMs = [];
const rpcMs = { interfaces: [], 'inet.3': [], 'mpls.0': [] };
for (const d of devices.slice(0, Math.min(50, count))) {
  t0 = performance.now();
  const s = await NetconfSession.open({ host: d.address, port, name: d.name }, credentials, never, deadline());
  openMs.push(performance.now() - t0);
  for (const [i, key] of ['interfaces', 'inet.3', 'mpls.0'].entries()) {
    t0 = performance.now();
    await s.rpc(RPCS[i], never, deadline());
    rpcMs[key].push(performance.now() - t0);
  }
  await s.close();
}

async function run(keepSessions) {
  const pool = new NetconfPool({ ...credentials, keepSessions });
  const before = [...sim.sessionsOpened.values()].reduce((a, b) => a + b, 0);
  const cpu0 = process.cpuUsage();
  const walls = [];
  for (let c = 0; c < cycles; c++) {
    t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < devices.length) {
        const d = devices[next++];
        const target = { host: d.address, port, name: d.name };
        for (const body of RPCS) await pool.rpc(target, body, never, deadline());
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await pool.endCycle();
    walls.push(Math.round(performance.now() - t0));
  }
  const cpu = process.cpuUsage(cpu0);
  await pool.close();
  const sessions = [...sim.sessionsOpened.values()].reduce((a, b) => a + b, 0) - before;
  return { keepSessions, cycleMs: walls, cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2), simulatorSessions: sessions, counters: pool.counters };
}

const fresh = await run(false);
const kept = await run(true);
await sim.stop();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      devices: count,
      framing: args.includes('--base10') ? 'base:1.0' : 'base:1.1',
      simulatorStartMs: Math.round(startMs),
      medianSessionOpenMs: +median(openMs).toFixed(2),
      medianRpcMs: Object.fromEntries(Object.entries(rpcMs).map(([k, v]) => [k, +median(v).toFixed(2)])),
      perCycle: [fresh, kept],
    },
    null,
    1,
  ),
);
