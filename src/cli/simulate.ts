// `nsr simulate`: run the simulated NDTwin kernel API (see src/simulate/ndtwin-simulator.ts).

import { Command } from 'commander';
import { NdtwinSimulator } from '../simulate/ndtwin-simulator.js';

interface SimulateCliOptions {
  host: string;
  port: string;
  topology: string;
  latency: string;
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

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run a simulated NDTwin kernel HTTP API (fixture-based, values change every second)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'TCP port (0 = ephemeral)', '8000')
    .option('--topology <mininet|testbed>', 'topology to serve: mininet or testbed', 'mininet')
    .option('--latency <ms>', 'delay before answering each /ndt request, in milliseconds', '0')
    .action(async (opts: SimulateCliOptions) => {
      const port = parsePort(String(opts.port));
      const topology = parseTopology(String(opts.topology));
      const latencyMs = parseLatency(String(opts.latency));
      const host = String(opts.host);

      let sim: NdtwinSimulator;
      try {
        sim = new NdtwinSimulator({ host, port, topology, latencyMs });
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
      if (typeof process.send === 'function') {
        process.send({ type: 'ready', url: info.url });
        // Forked by the recorder: do not outlive the parent.
        process.once('disconnect', shutdown);
      }
    });
}
