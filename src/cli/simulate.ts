// `nsr simulate`: run the simulated NDTwin kernel API (see src/simulate/ndtwin-simulator.ts).

import { Command } from 'commander';
import { NdtwinSimulator } from '../simulate/ndtwin-simulator.js';
import { DEFAULT_CLI_FAULT_KINDS, FAULT_KINDS, isFaultKind, type FaultKind, type FaultPlan } from '../simulate/faults.js';

interface SimulateCliOptions {
  host: string;
  port: string;
  topology: string;
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
    .description('run a simulated NDTwin kernel HTTP API (fixture-based, values change every second)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port (0 = ephemeral)', '8000')
    .option('--topology <mininet|testbed>', 'topology to serve: mininet or testbed', 'mininet')
    .option('--latency <ms>', 'delay before answering each /ndt request, in milliseconds', '0')
    .option('--fault-rate <0..1>', 'share of requests to the flow and graph endpoints that get a fault')
    .option(
      '--faults <kinds>',
      `comma-separated fault kinds (${FAULT_KINDS.join(', ')}); default: all but large`,
    )
    .option('--seed <n>', 'seed for a reproducible choice of faults')
    .action(async (opts: SimulateCliOptions) => {
      const port = parsePort(String(opts.port));
      const topology = parseTopology(String(opts.topology));
      const latencyMs = parseLatency(String(opts.latency));
      const host = String(opts.host);
      const faults = parseFaultOptions(opts);

      let sim: NdtwinSimulator;
      try {
        sim = new NdtwinSimulator({ host, port, topology, latencyMs, ...(faults !== undefined ? { faults } : {}) });
      } catch (err) {
        fail((err as Error).message, 1);
      }

      let info: { host: string; port: number; url: string };
      try {
        info = await sim.start();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') {
          fail(`cannot listen on ${host}:${port}: address already in use (choose another --port)`, 1);
        }
        fail(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`, 1);
      }

      let stopping = false;
      const shutdown = (): void => {
        if (stopping) return;
        stopping = true;
        sim.stop().then(
          () => process.exit(0),
          () => process.exit(0),
        );
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);

      process.stdout.write(`nsr simulate: NDTwin kernel simulator listening on ${info.url}\n`);
      if (faults !== undefined) {
        const seed = faults.seed !== undefined ? `, seed ${faults.seed}` : '';
        process.stdout.write(`nsr simulate: injecting faults into ${faults.rate * 100}% of the flow/graph requests (${faults.kinds.join(', ')})${seed}\n`);
      }
      if (typeof process.send === 'function') {
        process.send({ type: 'ready', url: info.url });
        // Forked by the recorder: do not outlive the parent.
        process.once('disconnect', shutdown);
      }
    });
}
