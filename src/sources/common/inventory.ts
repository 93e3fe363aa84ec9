/**
 * The device inventory nsr keeps from NetBox: the few fields the other sources
 * need (which devices to poll, at which address, and what every cable
 * connects), read defensively, because real inventories have unnamed
 * devices, sites without a region, devices without a management address, cables
 * to circuits and breakouts with several far ends.
 */
import { z } from 'zod';

export interface InventoryDevice {
  id: number;
  /** NetBox allows unnamed devices. */
  name: string | null;
  status: string | null;
  site: string | null;
  site_id: number | null;
  role: string | null;
  platform: string | null;
  tags: string[];
  /** Primary addresses without their prefix length. */
  address4: string | null;
  address6: string | null;
}

/** One end of a cable: an interface of a device, or a circuit, or a port. */
export interface CableEnd {
  type: string;
  device?: string | null;
  device_id?: number;
  interface?: string;
  circuit?: string;
  term_side?: string;
}

export interface InventoryCable {
  id: number;
  label: string | null;
  status: string | null;
  a: CableEnd[];
  b: CableEnd[];
}

export interface InventorySite {
  name: string;
  slug: string;
  region: number | null;
}

export interface Inventory {
  /** Epoch ms when the snapshot was complete. */
  at: number;
  devices: InventoryDevice[];
  cables: InventoryCable[];
  sites: Map<number, InventorySite>;
  regions: Map<number, { name: string; parent: number | null }>;
}

/** The label events and logs use for a device: its name, or `#<id>` when it has none. */
export const deviceLabel = (d: Pick<InventoryDevice, 'id' | 'name'>) => d.name ?? `#${d.id}`;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
/** `status` is `{value, label}` in NetBox ≥ 2.x; a bare string is accepted too. */
const choice = (v: unknown): string | null => str(obj(v)?.value) ?? str(v);
const slug = (v: unknown): string | null => str(obj(v)?.slug);
const address = (v: unknown): string | null => str(obj(v)?.address)?.replace(/\/\d+$/, '') ?? null;

export function parseDevice(d: Obj): InventoryDevice {
  return {
    id: num(d.id) ?? -1,
    name: str(d.name),
    status: choice(d.status),
    site: slug(d.site),
    site_id: num(obj(d.site)?.id) ?? null,
    // NetBox 4 calls it `role`; 3.x `device_role`.
    role: slug(d.role) ?? slug(d.device_role),
    platform: slug(d.platform),
    tags: Array.isArray(d.tags) ? d.tags.map(slug).filter((t): t is string => t !== null) : [],
    address4: address(d.primary_ip4),
    address6: address(d.primary_ip6),
  };
}

function parseEnd(t: Obj): CableEnd {
  const o = obj(t.object) ?? {};
  const type = str(t.object_type) ?? 'unknown';
  const device = obj(o.device);
  const circuit = obj(o.circuit);
  const end: CableEnd = { type };
  if (device) {
    end.device = str(device.name);
    end.device_id = num(device.id);
  }
  if (type === 'dcim.interface' || type.endsWith('port')) end.interface = str(o.name) ?? undefined;
  if (circuit) {
    end.circuit = str(circuit.cid) ?? undefined;
    end.term_side = str(o.term_side) ?? undefined;
  }
  return end;
}

export function parseCable(c: Obj): InventoryCable {
  const ends = (v: unknown) => (Array.isArray(v) ? v.map((t) => parseEnd(obj(t) ?? {})) : []);
  return { id: num(c.id) ?? -1, label: str(c.label), status: choice(c.status), a: ends(c.a_terminations), b: ends(c.b_terminations) };
}

export function parseSite(s: Obj): [number, InventorySite] {
  return [num(s.id) ?? -1, { name: str(s.name) ?? '', slug: str(s.slug) ?? '', region: num(obj(s.region)?.id) ?? null }];
}

export function parseRegion(r: Obj): [number, { name: string; parent: number | null }] {
  return [num(r.id) ?? -1, { name: str(r.name) ?? '', parent: num(obj(r.parent)?.id) ?? null }];
}

/**
 * The names of a site's region and its parents, the site's own region first and
 * the root last (the order the old Junos agent published); empty for a site
 * without a region.
 */
export function regionsSiteFirst(inv: Inventory, siteId: number | null): string[] {
  const names: string[] = [];
  let id = siteId === null ? null : (inv.sites.get(siteId)?.region ?? null);
  const seen = new Set<number>(); // a cycle in a hand-edited NetBox must not hang the poller
  while (id !== null && !seen.has(id)) {
    seen.add(id);
    const r = inv.regions.get(id);
    if (!r) break;
    names.push(r.name);
    id = r.parent;
  }
  return names;
}

/**
 * Devices by primary IPv4 (without prefix length). Two devices with the same
 * address: the later in the inventory wins, as in the old agent's dict of exporters.
 */
export function devicesByAddress4(inv: Inventory): Map<string, InventoryDevice> {
  const map = new Map<string, InventoryDevice>();
  for (const d of inv.devices) if (d.address4 !== null) map.set(d.address4, d);
  return map;
}

const slugs = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .optional();

/** Device filters, as NetBox's own query parameters (slugs; several values match any). */
export const deviceFilterSchema = z
  .strictObject({
    site: slugs.meta({ description: 'site slug(s)' }),
    role: slugs.meta({ description: 'device role slug(s)' }),
    tag: slugs.meta({ description: 'tag slug(s)' }),
    status: slugs.meta({ description: 'status value(s), e.g. active' }),
    platform: slugs.meta({ description: 'platform slug(s), e.g. junos' }),
  })
  .default({});

export type DeviceFilter = z.output<typeof deviceFilterSchema>;

/** The same filter applied to a snapshot (a poller choosing devices from an inventory stream). */
export function matchesFilter(d: InventoryDevice, f: DeviceFilter): boolean {
  const any = (want: string[] | undefined, have: (string | null)[]) => !want || have.some((h) => h !== null && want.includes(h));
  return any(f.site, [d.site]) && any(f.role, [d.role]) && any(f.status, [d.status]) && any(f.platform, [d.platform]) && any(f.tag, d.tags);
}

/** NetBox query parameters for the filter (repeated keys match any of the values). */
export function filterParams(f: DeviceFilter, keys: (keyof DeviceFilter)[] = ['site', 'role', 'tag', 'status', 'platform']): [string, string][] {
  return keys.flatMap((k) => (f[k] ?? []).map((v) => [k, v] as [string, string]));
}
