/**
 * A simulated ESnet Netbeam API: `GET <base>/interfaces` from
 * fixtures/netbeam (tests add and remove interfaces), and
 * `GET <base>/<resource>/<traffic|errors|discards>?begin=&end=` with a point
 * every 30 s inside [begin, end), some of them null as Netbeam has them, and
 * no points at all for the interfaces the fixtures show empty. `resource` is
 * matched as sent (URL-encoded `/` included). Every series request is logged.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fixturesDir } from './fixture-dirs.js';
import { listen, sendJson, type Listening } from './listen.js';

export const NETBEAM_BASE = '/api/network/esnet/prod';
const SPACING = 30_000;

export interface SeriesRequest {
  resource: string;
  series: string;
  begin: number;
  end: number;
}

export class NetbeamSimulator {
  /** The interface list served; tests edit it. */
  interfaces: Record<string, unknown>[];
  readonly requests: SeriesRequest[] = [];
  /** How many times the interface list was served. */
  listed = 0;
  private listening: Listening | undefined;

  constructor(private readonly opts: { host?: string; port?: number } = {}) {
    this.interfaces = JSON.parse(readFileSync(path.join(fixturesDir('netbeam'), 'interfaces.json'), 'utf8'));
  }

  async start(): Promise<{ url: string }> {
    this.listening = await listen((req, res) => this.handle(req, res), this.opts.port ?? 0, this.opts.host ?? '127.0.0.1');
    return { url: `${this.listening.url}${NETBEAM_BASE}` };
  }

  async stop(): Promise<void> {
    await this.listening?.close();
  }

  /** The points a series has in [begin, end): the same every time it is asked. */
  static points(resource: string, series: string, begin: number, end: number): [number, number | null, number | null][] {
    if (resource.includes('pime')) return [];
    const out: [number, number | null, number | null][] = [];
    for (let t = Math.ceil(begin / SPACING) * SPACING; t < end; t += SPACING) {
      const k = t / SPACING;
      if (series === 'traffic' && k % 3 === 1) out.push([t, null, null]);
      else if (series === 'traffic') out.push([t, Math.round(4e10 + 1e10 * Math.sin(k / 10)) + 0.5, Math.round(2e10 + 5e9 * Math.cos(k / 7)) + 0.25]);
      else out.push([t, k % 13 === 0 ? 1 : 0, 0]);
    }
    return out;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/';
    const [pathPart, query = ''] = raw.split('?');
    if (!pathPart.startsWith(NETBEAM_BASE)) return sendJson(res, 404, '{"error":"not found"}');
    const rest = pathPart.slice(NETBEAM_BASE.length + 1);
    if (rest === 'interfaces') {
      this.listed++;
      return sendJson(res, 200, JSON.stringify(this.interfaces, null, 2));
    }
    const m = /^(devices\/[^/]+\/interfaces\/[^/]+)\/(traffic|errors|discards)$/.exec(rest);
    const q = new URLSearchParams(query);
    const begin = Number(q.get('begin'));
    const end = Number(q.get('end'));
    if (!m || !Number.isFinite(begin) || !Number.isFinite(end)) return sendJson(res, 404, '{"error":"not found"}');
    const [, resource, series] = m;
    this.requests.push({ resource, series, begin, end });
    const body = { name: `${resource}/${series}`, columns: ['time', 'in', 'out'], points: NetbeamSimulator.points(resource, series, begin, end) };
    sendJson(res, 200, JSON.stringify(body, null, 1));
  }
}
