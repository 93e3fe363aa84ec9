// `nsr simulate`: run the simulated NDTwin kernel API (see src/simulate/ndtwin-simulator.ts).

import { Command } from 'commander';
import { NdtwinSimulator } from '../simulate/ndtwin-simulator.js';
import { JunosSimulator } from '../simulate/junos-simulator.js';
import { JunosNetconfSimulator } from '../simulate/junos-netconf-simulator.js';
import { NetboxSimulator } from '../simulate/netbox-simulator.js';
import { ProbeSimulator } from '../simulate/probe-simulator.js';
import { NetbeamSimulator } from '../simulate/netbeam-simulator.js';
import { DEFAULT_CLI_FAULT_KINDS, FAULT_KINDS, isFaultKind, type FaultKind, type FaultPlan } from '../simulate/faults.js';

interface SimulateCliOptions {
  ndtwin: boolean;
  netboxPort?: string;
  junosDevices?: string;
  junosPort?: string;
  junosLatency: string;
  junosFailureRate?: string;
  junosTransport: string;
  junosHostKey?: string;
  junosKnownHosts?: string;
  probePort?: string;
  netbeamPort?: string;
  host: string;
  port: string;
  topology: string;
  dpids?: string;
  latency: string;
  faultRate?: string;
  faults?: string;
  seed?: string;
}

function fail(message: string, code: number): never {
  process.stderr.write(`nsr simulate: ${message}\n`);
  process.exit(code);
}

function parsePort(value: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v) || Number(v) > 65535) {
    fail(`invalid --port '${value}': expected an integer between 0 and 65535`, 2);
  }
  return Number(v);
}

function parseTopology(value: string): 'mininet' | 'testbed' {
  if (value === 'mininet' || value === 'testbed') return value;
  fail(`invalid --topology '${value}': expected mininet or testbed`, 2);
}

function parseDpids(value: string | undefined, topology: 'mininet' | 'testbed'): 'mininet' | 'testbed' | undefined {
  if (value === undefined || value === 'testbed') return value;
  if (value !== 'mininet') fail(`invalid --dpids '${value}': expected mininet (switch DPIDs 1…N) or testbed (uint64 DPIDs above 2^63)`, 2);
  if (topology === 'testbed') fail(`--dpids mininet needs --topology mininet: the testbed topology serves the testbed's own uint64 DPIDs`, 2);
  return value;
}

function parseLatency(value: string): number {
  const v = value.trim();
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < 0) {
    fail(`invalid --latency '${value}': expected a non-negative number of milliseconds`, 2);
  }
  return n;
}

function parseFaultRate(value: string): number {
  const v = value.trim();
  const n = Number(v);
  if (v === '' || !/^[0-9.eE+-]+$/.test(v) || !Number.isFinite(n) || n < 0 || n > 1) {
    fail(`invalid --fault-rate '${value}': expected a probability between 0 and 1 (e.g. 0.05)`, 2);
  }
  return n;
}

function parseFaultKinds(value: string): FaultKind[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    fail(`invalid --faults '${value}': expected a comma-separated list of ${FAULT_KINDS.join(', ')}`, 2);
  }
  for (const p of parts) {
    if (!isFaultKind(p)) fail(`invalid --faults: unknown fault kind '${p}' (expected ${FAULT_KINDS.join(', ')})`, 2);
  }
  return parts as FaultKind[];
}

function parseSeed(value: string): number {
  const v = value.trim();
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) {
    fail(`invalid --seed '${value}': expected an integer`, 2);
  }
  return n;
}

/** The fault plan from --fault-rate / --faults / --seed, or undefined without --fault-rate. */
function parseFaultOptions(opts: SimulateCliOptions): FaultPlan | undefined {
  if (opts.faultRate === undefined) {
    if (opts.faults !== undefined) fail('--faults needs --fault-rate <0..1> (the share of requests that get a fault)', 2);
    if (opts.seed !== undefined) fail('--seed needs --fault-rate <0..1> (it seeds the fault choice)', 2);
    return undefined;
  }
  const plan: FaultPlan = {
    rate: parseFaultRate(String(opts.faultRate)),
    kinds: opts.faults !== undefined ? parseFaultKinds(String(opts.faults)) : DEFAULT_CLI_FAULT_KINDS.slice(),
  };
  if (opts.seed !== undefined) plan.seed = parseSeed(String(opts.seed));
  return plan;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run a simulated NDTwin kernel HTTP API (fixture-based, values change every second), and optionally a NetBox API and Juniper devices')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port (0 = ephemeral)', '8000')
    .option('--topology <mininet|testbed>', 'topology to serve: mininet or testbed', 'mininet')
    .option('--dpids <mininet|testbed>', 'switch DPIDs: mininet (1…N, as the kernel serves them on Mininet; the default with --topology mininet) or testbed (uint64 above 2^63, as on the hardware testbed)')
    .option('--latency <ms>', 'delay before answering each /ndt request, in milliseconds', '0')
    .option('--fault-rate <0..1>', 'share of requests to the flow and graph endpoints that get a fault')
    .option(
      '--faults <kinds>',
      `comma-separated fault kinds (${FAULT_KINDS.join(', ')}); default: all but large`,
    )
    .option('--seed <n>', 'seed for a reproducible choice of faults')
    .option('--no-ndtwin', 'do not serve the NDTwin kernel (only NetBox and Junos devices)')
    .option('--netbox-port <port>', 'also serve a NetBox API (fixtures plus the generated routers) on this port')
    .option('--junos-devices <n>', 'also run the fixtures\' Juniper devices plus N generated ones, each on its own loopback address (127.20.0.x, 127.21.x.y)')
    .option('--junos-transport <rest|netconf>', 'what the simulated devices answer: the Junos REST API, or NETCONF over SSH', 'rest')
    .option('--junos-port <port>', 'port of the simulated devices (default 3443 for rest, 830 for netconf)')
    .option('--junos-host-key <file>', 'netconf: the devices\' SSH host key (PEM or OpenSSH); generated and written there 0600 if missing, so clients that remembered it still trust it after a restart')
    .option('--junos-known-hosts <file>', 'netconf: write an OpenSSH known_hosts file listing every device address with the host key')
    .option('--junos-latency <min-max>', 'latency of each device in ms, drawn once per device (e.g. 50-2000)', '0-0')
    .option('--junos-failure-rate <0..1>', 'share of device requests answered with HTTP 500')
    .option('--netbeam-port <port>', 'also serve a Netbeam API (interfaces and their traffic, errors and discards) on this port')
    .option('--probe-port <port>', 'also serve probe targets: GET /p/<id>?latency=MS&status=CODE&body=TEXT on this port')
    .action(async (opts: SimulateCliOptions) => {
      const port = parsePort(String(opts.port));
      const topology = parseTopology(String(opts.topology));
      const dpids = parseDpids(opts.dpids, topology);
      const latencyMs = parseLatency(String(opts.latency));
      const host = String(opts.host);
      const faults = parseFaultOptions(opts);

      const network = await startNetwork(opts, host);
      let sim: NdtwinSimulator | undefined;
      let info: { host: string; port: number; url: string } | undefined;
      if (opts.ndtwin) {
        try {
          sim = new NdtwinSimulator({ host, port, topology, dpids, latencyMs, ...(faults !== undefined ? { faults } : {}) });
        } catch (err) {
          fail((err as Error).message, 1);
        }
        try {
          info = await sim.start();
        } catch (err) {
          fail(listenError(err, `${host}:${port}`, '--port'), 1);
        }
      }

      let stopping = false;
      const shutdown = (): void => {
        if (stopping) return;
        stopping = true;
        Promise.allSettled([sim?.stop(), network.stop()]).then(() => process.exit(0));
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);

      if (info) process.stdout.write(`nsr simulate: NDTwin kernel simulator listening on ${info.url}\n`);
      for (const line of network.lines) process.stdout.write(`nsr simulate: ${line}\n`);
      if (faults !== undefined) {
        const seed = faults.seed !== undefined ? `, seed ${faults.seed}` : '';
        process.stdout.write(`nsr simulate: injecting faults into ${faults.rate * 100}% of the flow/graph requests (${faults.kinds.join(', ')})${seed}\n`);
      }
      if (typeof process.send === 'function') {
        process.send({ type: 'ready', url: info?.url });
        // Forked by the recorder: do not outlive the parent.
        process.once('disconnect', shutdown);
      }
    });
}

function listenError(err: unknown, where: string, option: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `cannot listen on ${where}: address already in use (choose another ${option})`;
  return `cannot listen on ${where}: ${e.code ?? e.message}`;
}

function parseLatencyRange(value: string): { min: number; max: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(value);
  if (!m || Number(m[2] ?? m[1]) < Number(m[1])) fail(`invalid --junos-latency '${value}': expected milliseconds MIN-MAX such as 50-2000 (or one number)`, 2);
  return { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
}

function parseJunosTransport(value: string, opts: SimulateCliOptions): 'rest' | 'netconf' {
  if (value !== 'rest' && value !== 'netconf') fail(`invalid --junos-transport '${value}': expected rest or netconf`, 2);
  if (value === 'rest' && (opts.junosHostKey !== undefined || opts.junosKnownHosts !== undefined)) fail('--junos-host-key and --junos-known-hosts need --junos-transport netconf (the REST devices have no SSH host key)', 2);
  return value;
}

/** The simulated Netbeam API, probe targets, NetBox and Junos devices, when asked for. */
async function startNetwork(opts: SimulateCliOptions, host: string): Promise<{ lines: string[]; stop: () => Promise<unknown> }> {
  const lines: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  const stop = () => Promise.allSettled(stops.map((s) => s()));
  /** Starts one loopback simulator on the port of `option`, or exits saying why it cannot listen. */
  const serve = async (sim: { start(): Promise<{ url: string }>; stop(): Promise<void> }, port: number, option: string, say: (url: string) => string) => {
    try {
      const { url } = await sim.start();
      stops.push(() => sim.stop());
      lines.push(say(url));
    } catch (err) {
      await stop();
      fail(listenError(err, `${host}:${port}`, option), 1);
    }
  };
  if (opts.netbeamPort !== undefined) {
    const port = parsePort(String(opts.netbeamPort));
    await serve(new NetbeamSimulator({ host, port }), port, '--netbeam-port', (url) => `Netbeam API simulator listening on ${url}`);
  }
  if (opts.probePort !== undefined) {
    const port = parsePort(String(opts.probePort));
    await serve(new ProbeSimulator({ host, port }), port, '--probe-port', (url) => `probe targets served on ${url}/p/<id>?latency=MS&status=CODE&body=TEXT`);
  }
  if (opts.netboxPort === undefined && opts.junosDevices === undefined) return { lines, stop };
  const generated = opts.junosDevices === undefined ? 0 : Number(opts.junosDevices);
  if (!Number.isInteger(generated) || generated < 0 || generated > 60_000) fail(`invalid --junos-devices '${opts.junosDevices}': expected a whole number of devices (0-60000)`, 2);
  const netboxPort = opts.netboxPort === undefined ? 0 : parsePort(String(opts.netboxPort));
  const netbox = new NetboxSimulator({ host, port: netboxPort, generated });
  if (opts.netboxPort !== undefined) {
    await serve(netbox, netboxPort, '--netbox-port', (url) => `NetBox API simulator listening on ${url} (${netbox.items.devices.length} devices, ${netbox.items.cables.length} cables)`);
  }
  if (opts.junosDevices !== undefined) {
    const transport = parseJunosTransport(String(opts.junosTransport), opts);
    const junosPort = opts.junosPort !== undefined ? parsePort(String(opts.junosPort)) : transport === 'netconf' ? 830 : 3443;
    const failureRate = opts.junosFailureRate === undefined ? 0 : parseFaultRate(String(opts.junosFailureRate));
    const common = { devices: netbox.devices(), port: junosPort, latencyMs: parseLatencyRange(String(opts.junosLatency)), failureRate };
    let junos: JunosSimulator | JunosNetconfSimulator;
    try {
      junos = transport === 'netconf' ? new JunosNetconfSimulator({ ...common, ...(opts.junosHostKey !== undefined ? { hostKeyFile: String(opts.junosHostKey) } : {}) }) : new JunosSimulator(common);
    } catch (err) {
      await stop();
      fail(`cannot use the host key: ${(err as Error).message}`, 1);
    }
    try {
      await junos.start();
      stops.push(() => junos.stop());
    } catch (err) {
      await stop();
      fail(listenError(err, `port ${junosPort} of the device addresses`, '--junos-port'), 1);
    }
    const skipped = junos.unavailable.length ? ` (not on ${junos.unavailable.join(', ')}: no IPv6 loopback)` : '';
    if (junos instanceof JunosNetconfSimulator) {
      lines.push(`${netbox.devices().length} Junos devices answering NETCONF over SSH on port ${junosPort} of 127.20.0.x and 127.21.x.y${skipped}; host key ${junos.publicKey.split(' ')[0]} ${junos.fingerprint}`);
      if (opts.junosKnownHosts !== undefined) {
        try {
          junos.writeKnownHosts(String(opts.junosKnownHosts));
        } catch (err) {
          await stop();
          fail(`cannot write --junos-known-hosts ${opts.junosKnownHosts}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
        }
        lines.push(`known_hosts for the devices written to ${opts.junosKnownHosts}`);
      }
    } else lines.push(`${netbox.devices().length} Junos devices answering on port ${junosPort} of 127.20.0.x and 127.21.x.y${skipped}`);
  }
  return { lines, stop };
}
