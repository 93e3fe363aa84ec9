/**
 * A simulated NetBox 4 REST API: devices, cables, sites and regions from the
 * fixtures (fixtures/netbox), plus any number of generated Juniper routers
 * cabled in a ring, paged by limit/offset with absolute `next` links, with
 * NetBox's device filters, `exclude=config_context` and token auth.
 *
 * Every device's primary address is a loopback address (127.20.0.<id> for the
 * fixtures' devices, 127.21.x.y for generated ones; ::1 for the IPv6-only one),
 * where the Junos simulator answers for it: a recorder pointed at the
 * simulators never sends a packet off the machine.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fixturesDir } from './fixture-dirs.js';
import { listen, sendJson, type Listening } from './listen.js';

type Obj = Record<string, any>;

export interface NetboxSimulatorOptions {
  host?: string;
  port?: number;
  /** Generated routers besides the fixtures' seven devices. */
  generated?: number;
  /** Serve the fixtures' devices and cables (default true). */
  fixtures?: boolean;
  /** Require this API token (Token or Bearer scheme); none by default. */
  token?: string;
  /** The origin `next` links name, as a NetBox behind a proxy does (default: the simulator's own). */
  publicUrl?: string;
  /** Longest page served, as NetBox's MAX_PAGE_SIZE (default 1000). */
  maxPageSize?: number;
}

export interface SimulatedDevice {
  name: string;
  address: string;
}

const LISTS = ['devices', 'cables', 'sites', 'regions'] as const;
type ListName = (typeof LISTS)[number];

/** Where generated router `n` (0-based) lives: 250 addresses per /24, none ending in .0. */
export const generatedAddress = (n: number) => `127.21.${Math.floor(n / 250)}.${(n % 250) + 1}`;
export const fixtureAddress = (id: number) => `127.20.0.${id}`;

function fixtureItems(name: string): Obj[] {
  const dir = fixturesDir('netbox');
  const pages = name === 'sites' || name === 'regions' ? [`${name}_page1.json`] : [`${name}_page1.json`, `${name}_page2.json`];
  return pages.flatMap((p) => JSON.parse(readFileSync(`${dir}${p}`, 'utf8')).results as Obj[]);
}

export class NetboxSimulator {
  /** The inventory served; tests edit it between (or during) listings. */
  readonly items: Record<ListName, Obj[]>;
  /** Requests served, by list. */
  readonly requests: Record<ListName, number> = { devices: 0, cables: 0, sites: 0, regions: 0 };
  /** Called before each page is answered: a test can change the inventory mid-listing. */
  onPage?: (list: ListName, offset: number) => void;
  private listening: Listening | undefined;

  constructor(private readonly opts: NetboxSimulatorOptions = {}) {
    const useFixtures = opts.fixtures ?? true;
    this.items = {
      devices: useFixtures ? fixtureItems('devices').map(loopbackAddresses) : [],
      cables: useFixtures ? fixtureItems('cables') : [],
      sites: fixtureItems('sites'),
      regions: fixtureItems('regions'),
    };
    const n = opts.generated ?? 0;
    const template = fixtureItems('devices')[0];
    const cableTemplate = fixtureItems('cables')[0];
    for (let i = 0; i < n; i++) this.items.devices.push(generatedDevice(template, i, this.items.sites));
    // A ring: xe-0/1/0 of each router to xe-0/1/1 of the next (interfaces the Junos fixture has).
    for (let i = 0; n > 1 && i < n; i++) this.items.cables.push(generatedCable(cableTemplate, i, (i + 1) % n));
  }

  /** Every device with an address, where the Junos simulator should answer for it. */
  devices(): SimulatedDevice[] {
    return this.items.devices.flatMap((d) => {
      const address = (d.primary_ip4 ?? d.primary_ip6)?.address?.replace(/\/\d+$/, '');
      return address ? [{ name: d.name ?? `#${d.id}`, address }] : [];
    });
  }

  async start(): Promise<{ url: string; port: number }> {
    this.listening = await listen((req, res) => this.handle(req, res), this.opts.port ?? 0, this.opts.host ?? '127.0.0.1');
    return { url: this.listening.url, port: this.listening.port };
  }

  async stop(): Promise<void> {
    await this.listening?.close();
    this.listening = undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const m = /^\/api\/dcim\/(devices|cables|sites|regions)\/$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return sendJson(res, 404, '{"detail":"Not found."}');
    if (this.opts.token) {
      const auth = req.headers.authorization ?? '';
      if (auth !== `Token ${this.opts.token}` && auth !== `Bearer ${this.opts.token}`) return sendJson(res, 403, '{"detail":"Invalid token"}');
    }
    const list = m[1] as ListName;
    this.requests[list]++;
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 50) || 50, this.opts.maxPageSize ?? 1000);
    const offset = Number(url.searchParams.get('offset') ?? 0) || 0;
    this.onPage?.(list, offset);
    let items = this.filtered(list, url.searchParams);
    if (list === 'devices' && url.searchParams.getAll('exclude').includes('config_context')) items = items.map(({ config_context: _omit, ...rest }) => rest);
    const page = items.slice(offset, offset + limit);
    const origin = this.opts.publicUrl ?? this.listening!.url;
    const link = (o: number) => {
      const u = new URL(`${url.pathname}${url.search}`, origin);
      u.searchParams.set('limit', String(limit));
      if (o > 0) u.searchParams.set('offset', String(o));
      else u.searchParams.delete('offset');
      return u.toString();
    };
    const body = { count: items.length, next: offset + limit < items.length ? link(offset + limit) : null, previous: offset > 0 ? link(Math.max(0, offset - limit)) : null, results: page };
    sendJson(res, 200, JSON.stringify(body));
  }

  /** NetBox's filters: repeated values of one key match any, different keys must all match. */
  private filtered(list: ListName, q: URLSearchParams): Obj[] {
    const items = this.items[list];
    const want = (key: string) => q.getAll(key);
    if (list === 'devices') {
      const checks: [string, (d: Obj) => (string | undefined)[]][] = [
        ['site', (d) => [d.site?.slug]],
        ['role', (d) => [d.role?.slug]],
        ['status', (d) => [d.status?.value]],
        ['platform', (d) => [d.platform?.slug]],
        ['tag', (d) => (d.tags ?? []).map((t: Obj) => t.slug)],
      ];
      return items.filter((d) => checks.every(([key, get]) => !want(key).length || get(d).some((v) => v !== undefined && want(key).includes(v))));
    }
    if (list === 'cables' && want('site').length) {
      const siteOf = new Map(this.items.devices.map((d) => [d.id, d.site?.slug]));
      return items.filter((c) => [...c.a_terminations, ...c.b_terminations].some((t: Obj) => want('site').includes(siteOf.get(t.object?.device?.id))));
    }
    return items;
  }
}

/** The fixtures' devices answer on loopback addresses instead of their documentation ones. */
function loopbackAddresses(d: Obj): Obj {
  const out = structuredClone(d);
  const ip = (family: number, address: string) => ({ id: 9000 + out.id, url: `https://netbox.example.net/api/ipam/ip-addresses/${9000 + out.id}/`, display: address, family: { value: family, label: `IPv${family}` }, address, description: 'loopback' });
  if (out.primary_ip4) out.primary_ip4 = ip(4, `${fixtureAddress(out.id)}/32`);
  if (out.primary_ip6) out.primary_ip6 = ip(6, '::1/128');
  out.primary_ip = out.primary_ip4 ?? out.primary_ip6;
  return out;
}

function generatedDevice(template: Obj, n: number, sites: Obj[]): Obj {
  const d = structuredClone(template);
  const site = sites[n % sites.length];
  d.id = 1000 + n;
  d.name = `sim-r${String(n + 1).padStart(4, '0')}`;
  d.display = d.name;
  d.url = `https://netbox.example.net/api/dcim/devices/${d.id}/`;
  d.serial = `SIM${String(n).padStart(8, '0')}`;
  d.site = { id: site.id, url: site.url, display: site.display, name: site.name, slug: site.slug, description: site.description };
  d.primary_ip4 = { id: 20000 + n, url: `https://netbox.example.net/api/ipam/ip-addresses/${20000 + n}/`, display: `${generatedAddress(n)}/32`, family: { value: 4, label: 'IPv4' }, address: `${generatedAddress(n)}/32`, description: 'loopback' };
  d.primary_ip = d.primary_ip4;
  return d;
}

function generatedCable(template: Obj, from: number, to: number): Obj {
  const c = structuredClone(template);
  c.id = 10000 + from;
  c.url = `https://netbox.example.net/api/dcim/cables/${c.id}/`;
  c.label = `ring-${from + 1}`;
  c.display = c.label;
  const end = (n: number, iface: string, ifId: number) => ({
    object_type: 'dcim.interface',
    object_id: ifId,
    object: { id: ifId, url: `https://netbox.example.net/api/dcim/interfaces/${ifId}/`, display: iface, device: { id: 1000 + n, url: `https://netbox.example.net/api/dcim/devices/${1000 + n}/`, display: `sim-r${String(n + 1).padStart(4, '0')}`, name: `sim-r${String(n + 1).padStart(4, '0')}`, description: '' }, name: iface, description: '', cable: c.id, _occupied: true },
  });
  c.a_terminations = [end(from, 'xe-0/1/0', 100000 + from * 2)];
  c.b_terminations = [end(to, 'xe-0/1/1', 100000 + to * 2 + 1)];
  return c;
}
