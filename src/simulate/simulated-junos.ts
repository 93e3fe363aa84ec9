/**
 * What the simulated Juniper devices share whatever API they answer (REST or
 * NETCONF): the fixtures, each device's latency from its name, faults, the
 * error a failing device gives, and packet counters that move with the clock.
 */
import type { SimulatedDevice } from './netbox-simulator.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './fixture-dirs.js';

export type DeviceFault = 'hang' | 'error';

/** What the REST and the NETCONF simulators of Junos devices are both told. */
export interface SimulatedJunosOptions {
  devices: SimulatedDevice[];
  /** The port every device listens on (each on its own address). */
  port: number;
  /** Each device's latency is drawn once, uniformly in [min, max] ms, from its name. */
  latencyMs?: { min: number; max: number };
  /** Share of requests (0..1) that fail (HTTP 500, or an rpc-error over NETCONF), on any device. */
  failureRate?: number;
  /** Faults of single devices, by name. */
  faults?: Record<string, DeviceFault>;
  /** The login the devices require, if set. */
  username?: string;
  password?: string;
  /** Serve the fixtures' bytes unchanged (counters do not move). */
  static?: boolean;
}

/** The rpc-error a failing device answers with (Junos's words when mgd cannot take the request). */
export const RPC_ERROR_MESSAGE = 'simulated failure: mgd is busy';
export const RPC_ERROR_XML = `<rpc-reply><rpc-error><error-type>protocol</error-type><error-severity>error</error-severity><error-message>${RPC_ERROR_MESSAGE}</error-message></rpc-error></rpc-reply>`;

export function junosFixture(name: string): string {
  return readFileSync(path.join(fixturesDir('junos'), name), 'utf8');
}

/** A stable number in [0, 1) from a string (FNV-1a): the same device has the same latency every run. */
export function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/** A device's latency in ms, drawn once from its name, uniformly in [min, max]. */
export function deviceLatency(name: string, range: { min: number; max: number } | undefined): number {
  const { min, max } = range ?? { min: 0, max: 0 };
  return Math.round(min + (max - min) * unitHash(name));
}

/** Packets added to every counter after `elapsedMs`: 1000 a second, as on a live router. */
function packetsSince(elapsedMs: number): bigint {
  return BigInt(Math.floor(elapsedMs / 1000) * 1000);
}

/** Junos JSON with its packet counters moved on by `elapsedMs`. */
export function movingJsonCounters(text: string, elapsedMs: number): string {
  const add = packetsSince(elapsedMs);
  return text.replace(/("(?:input|output)-packets": \[\s*\{\s*"data": ")(\d+)/g, (_, head: string, n: string) => `${head}${BigInt(n) + add}`);
}

/** A Junos XML reply with its packet counters moved on by `elapsedMs`. */
export function movingXmlCounters(text: string, elapsedMs: number): string {
  const add = packetsSince(elapsedMs);
  return text.replace(/(<(?:input|output)-packets>)(\d+)(?=<)/g, (_, head: string, n: string) => `${head}${BigInt(n) + add}`);
}

/**
 * Listens on every device address, a few at a time (a thousand addresses take
 * a moment). An IPv6 address this machine lacks (no ::1) is left out and
 * returned; any other failure is the start's.
 */
export async function listenOnAll<S>(addresses: readonly string[], listen: (address: string) => Promise<S>, servers: S[]): Promise<string[]> {
  const unavailable: string[] = [];
  for (let i = 0; i < addresses.length; i += 64) {
    await Promise.all(
      addresses.slice(i, i + 64).map(async (address) => {
        try {
          servers.push(await listen(address));
        } catch (err) {
          if (address.includes(':')) unavailable.push(address);
          else throw err;
        }
      }),
    );
  }
  return unavailable;
}
