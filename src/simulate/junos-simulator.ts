/**
 * Simulated Juniper devices: each listens on its own loopback address (as real
 * routers have their own management address) and answers the Junos REST API's
 * `get-interface-information` and `get-route-information` (inet.3, mpls.0) in
 * Junos JSON from fixtures/junos, with its own latency. Faults per device:
 * `hang` (accepts, never answers), `error` (HTTP 500 with an rpc-error), or a
 * share of failing requests across all devices. Interface packet counters move
 * with the clock unless `static` is set (then bodies are the fixtures' bytes).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sendJson, type Listening } from './listen.js';
import type { SimulatedDevice } from './netbox-simulator.js';
import { RPC_ERROR_XML, deviceLatency, junosFixture, listenOnAll, movingJsonCounters, type SimulatedJunosOptions } from './simulated-junos.js';

export type { DeviceFault } from './simulated-junos.js';

export type JunosSimulatorOptions = SimulatedJunosOptions;

export class JunosSimulator {
  readonly bodies = { interfaces: junosFixture('get-interface-information.json'), inet3: junosFixture('get-route-information.inet.3.json'), mpls0: junosFixture('get-route-information.mpls.0.json') };
  /** Requests answered, by device name. */
  readonly served = new Map<string, number>();
  private readonly byAddress = new Map<string, { device: SimulatedDevice; latency: number }>();
  private readonly servers: Listening[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly startedAt = Date.now();
  /** Addresses that could not be listened on (e.g. ::1 without IPv6). */
  readonly unavailable: string[] = [];

  constructor(private readonly opts: JunosSimulatorOptions) {
    for (const device of opts.devices) this.byAddress.set(device.address, { device, latency: deviceLatency(device.name, opts.latencyMs) });
  }

  /** Each device's latency, by name (the benchmark computes its ideal cycle from these). */
  latencies(): Map<string, number> {
    return new Map([...this.byAddress.values()].map((d) => [d.device.name, d.latency]));
  }

  async start(): Promise<void> {
    this.unavailable.push(...(await listenOnAll([...this.byAddress.keys()], (address) => listen((req, res) => this.handle(address, req, res), this.opts.port, address), this.servers)));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }

  private handle(address: string, req: IncomingMessage, res: ServerResponse): void {
    const { device, latency } = this.byAddress.get(address)!;
    if (this.opts.username !== undefined) {
      const expected = `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return sendJson(res, 401, 'Authentication failed', 'text/plain');
    }
    const url = new URL(req.url ?? '/', 'http://device');
    let body: string | undefined;
    if (url.pathname === '/rpc/get-interface-information') body = this.opts.static ? this.bodies.interfaces : movingJsonCounters(this.bodies.interfaces, Date.now() - this.startedAt);
    else if (url.pathname === '/rpc/get-route-information') body = url.searchParams.get('table') === 'inet.3' ? this.bodies.inet3 : url.searchParams.get('table') === 'mpls.0' ? this.bodies.mpls0 : undefined;
    if (body === undefined) return sendJson(res, 404, '<rpc-reply><rpc-error><error-message>syntax error</error-message></rpc-error></rpc-reply>', 'application/xml');
    const fault = this.opts.faults?.[device.name];
    if (fault === 'hang') return; // the connection stays open, unanswered
    const fail = fault === 'error' || Math.random() < (this.opts.failureRate ?? 0);
    const answer = () => {
      this.served.set(device.name, (this.served.get(device.name) ?? 0) + 1);
      if (fail) sendJson(res, 500, RPC_ERROR_XML, 'application/xml');
      else sendJson(res, 200, body!);
    };
    if (latency <= 0) return answer();
    const t = setTimeout(() => {
      this.timers.delete(t);
      answer();
    }, latency);
    this.timers.add(t);
    res.once('close', () => this.timers.delete(t) && clearTimeout(t));
  }
}
