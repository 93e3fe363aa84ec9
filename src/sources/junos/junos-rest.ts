/**
 * The Junos REST API transport (`set system services rest`): each RPC a GET
 * with Basic auth, JSON replies. One connection per RPC in flight to a device;
 * many devices share nothing.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/errors.js';
import { HttpFetcher } from '../common/http-fetcher.js';
import type { DeviceTransport, RpcKey } from './junos-transport.js';
import { RPC_KEYS } from './junos-transport.js';

const PATHS: Record<RpcKey, string> = {
  interfaces: 'rpc/get-interface-information',
  'inet.3': 'rpc/get-route-information?table=inet.3',
  'mpls.0': 'rpc/get-route-information?table=mpls.0',
};

export interface RestOptions {
  where: string;
  scheme: 'http' | 'https';
  username: string | undefined;
  password: string | undefined;
  tlsVerify: boolean;
  caFile: string | undefined;
  timeoutMs: number;
  retries: number;
  maxBodyBytes: number | undefined;
}

export function restTransport(o: RestOptions): DeviceTransport {
  const headers: Record<string, string> = {};
  if (o.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`;
  let ca: Buffer | undefined;
  if (o.caFile) {
    try {
      ca = readFileSync(o.caFile);
    } catch (err) {
      throw new ConfigError(`${o.where}.ca_file: cannot read ${o.caFile} (${(err as NodeJS.ErrnoException).code}); check the path`);
    }
  }
  const fetcher = new HttpFetcher({ headers, expect: 'object', timeoutMs: o.timeoutMs, retries: o.retries, maxBodyBytes: o.maxBodyBytes, maxSockets: RPC_KEYS.length, tls: { verify: o.tlsVerify, ca } });
  return {
    name: 'rest',
    format: 'json',
    rpc: (d, key, signal, deadline) => fetcher.get(`${o.scheme}://${d.host}:${d.port}/${PATHS[key]}`, signal, deadline),
    close: () => fetcher.close(),
  };
}
