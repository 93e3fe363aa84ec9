/**
 * nsr's joined view of one Junos device: its physical interfaces (speed,
 * status, description, counters, logical units) with the far end of each from
 * the NetBox cabling, its next hops (inet.3) and its MPLS label operations
 * (mpls.0), each next hop's destination resolved to the NetBox device whose
 * primary IPv4 it is. Cables are matched by physical interface (`xe-0/1/0` for the unit
 * `xe-0/1/0.0`): NetBox cables end on physical interfaces, never on units.
 *
 * Junos JSON renders every element as an array of objects whose leaves carry
 * `data` (empty elements `"data": [null]`), so values are read through `leaf`.
 * Counters stay the device's digits (RawJson): they pass 2^53 on fast links.
 */
import type { CableEnd, Inventory, InventoryDevice } from '../common/inventory.js';
import { devicesByAddress4, regionsSiteFirst } from '../common/inventory.js';
import { rawInteger, RawJson } from '../../json/raw-json.js';

type Node = Record<string, unknown>;

export const nodes = (parent: unknown, key: string): Node[] => {
  const v = (parent as Node | undefined)?.[key];
  return Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object') as Node[]) : [];
};
/** The text of a leaf element, or null when absent or empty. */
export const leaf = (parent: unknown, key: string): string | null => {
  const d = nodes(parent, key)[0]?.data;
  return typeof d === 'string' ? d : null;
};
const has = (parent: unknown, key: string) => nodes(parent, key).length > 0;

/** `xe-0/1/0.213` → `xe-0/1/0`. */
export const physicalName = (name: string) => name.replace(/\.\d+$/, '');

const SPEED_UNITS: Record<string, number> = { bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9, tbps: 1e12 };

/** `10Gbps` → 10e9, `1000mbps` → 1e9; `Unspecified`, `Auto` or absent → null. */
export function speedBps(text: string | null): number | null {
  const m = text ? /^(\d+(?:\.\d+)?)\s*([kmgt]?bps)$/i.exec(text.trim()) : null;
  return m ? Math.round(Number(m[1]) * SPEED_UNITS[m[2].toLowerCase()]) : null;
}

/** Every numeric child of a statistics element, by its Junos name. */
function counters(stats: Node | undefined): Record<string, RawJson> | undefined {
  if (!stats) return undefined;
  const out: Record<string, RawJson> = {};
  for (const key of Object.keys(stats)) {
    const v = rawInteger(leaf(stats, key));
    if (v) out[key] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

export interface FarEnd {
  cable: number;
  label: string | null;
  status: string | null;
  device?: string | null;
  interface?: string;
  circuit?: string;
  term_side?: string;
  type?: string;
}

function farEnd(cable: Inventory['cables'][number], end: CableEnd): FarEnd {
  const base = { cable: cable.id, label: cable.label, status: cable.status };
  if (end.type === 'dcim.interface') return { ...base, device: end.device ?? null, interface: end.interface };
  if (end.circuit !== undefined) return { ...base, circuit: end.circuit, term_side: end.term_side };
  return { ...base, type: end.type, device: end.device, interface: end.interface };
}

/** Physical interface → far ends, for one device, from every cable that ends on it (breakouts give several). */
export function cablingOf(inv: Inventory | undefined, device: { id?: number; name: string | null }): Map<string, FarEnd[]> {
  const map = new Map<string, FarEnd[]>();
  if (!inv) return map;
  const mine = (e: CableEnd) => e.type === 'dcim.interface' && e.interface !== undefined && (device.id !== undefined ? e.device_id === device.id : e.device === device.name);
  for (const cable of inv.cables) {
    for (const [near, far] of [
      [cable.a, cable.b],
      [cable.b, cable.a],
    ]) {
      for (const end of near.filter(mine)) {
        const list = map.get(end.interface!) ?? [];
        // A cable with nothing at its other end yet (planned) is still listed: the port is taken.
        list.push(...(far.length ? far.map((f) => farEnd(cable, f)) : [{ cable: cable.id, label: cable.label, status: cable.status }]));
        map.set(end.interface!, list);
      }
    }
  }
  return map;
}

function unitView(u: Node) {
  const name = leaf(u, 'name') ?? '';
  const families = nodes(u, 'address-family').map((f) => ({
    family: leaf(f, 'address-family-name'),
    mtu: rawInteger(leaf(f, 'mtu')) ?? null,
    addresses: nodes(f, 'interface-address').map((a) => ({ local: leaf(a, 'ifa-local'), destination: leaf(a, 'ifa-destination') })),
  }));
  const unit = Number(/\.(\d+)$/.exec(name)?.[1]);
  return {
    name,
    description: leaf(u, 'description'),
    // The unit's own ifIndex: flow exporters (Akvorado) report traffic by it, not by the physical's.
    snmp_index: rawInteger(leaf(u, 'snmp-index')) ?? null,
    // Units 16384 and up are created by Junos itself (e.g. .32767 for VLAN control, lo0.16385).
    internal: unit >= 16384 || undefined,
    families,
    counters: counters(nodes(u, 'traffic-statistics')[0]),
  };
}

export function interfacesView(body: unknown, cabling: Map<string, FarEnd[]>) {
  const info = nodes(body, 'interface-information')[0];
  return nodes(info, 'physical-interface').map((p) => {
    const name = leaf(p, 'name') ?? '';
    const speed = leaf(p, 'speed');
    return {
      name,
      admin_status: leaf(p, 'admin-status'),
      oper_status: leaf(p, 'oper-status'),
      description: leaf(p, 'description'),
      speed,
      speed_bps: speedBps(speed),
      mtu: rawInteger(leaf(p, 'mtu')) ?? null,
      snmp_index: rawInteger(leaf(p, 'snmp-index')) ?? null,
      counters: counters(nodes(p, 'traffic-statistics')[0]),
      errors: counters(nodes(p, 'input-error-list')[0]) || counters(nodes(p, 'output-error-list')[0]) ? { input: counters(nodes(p, 'input-error-list')[0]), output: counters(nodes(p, 'output-error-list')[0]) } : undefined,
      far_end: cabling.get(name) ?? [],
      units: nodes(p, 'logical-interface').map(unitView),
    };
  });
}

export interface LabelOp {
  op: 'pop' | 'swap' | 'push';
  label?: number;
  top?: boolean;
}

/** `Swap 301200, Push 299776(top)` → [{swap 301200}, {push 299776, top}]; `Pop` → [{pop}]. */
export function labelOps(text: string | null): LabelOp[] {
  if (!text) return [];
  return text.split(',').flatMap((part) => {
    const m = /^\s*(Pop|Swap|Push)\s*(\d+)?\s*(\(top\))?\s*$/i.exec(part);
    if (!m) return [];
    const op: LabelOp = { op: m[1].toLowerCase() as LabelOp['op'] };
    if (m[2] !== undefined) op.label = Number(m[2]);
    if (m[3]) op.top = true;
    return [op];
  });
}

function nextHop(nh: Node, cabling: Map<string, FarEnd[]>) {
  const via = leaf(nh, 'via');
  const iface = via ? physicalName(via) : null;
  const label = leaf(nh, 'mpls-label');
  return {
    to: leaf(nh, 'to'),
    via,
    interface: iface,
    selected: has(nh, 'selected-next-hop') || undefined,
    label_action: label ?? undefined,
    label_ops: label ? labelOps(label) : undefined,
    table: leaf(nh, 'nh-table') ?? undefined,
    far_end: iface ? (cabling.get(iface) ?? []) : undefined,
  };
}

/** The routes of one table: destination, protocol, whether active, and each next hop. */
export function routesView(body: unknown, cabling: Map<string, FarEnd[]>) {
  const info = nodes(body, 'route-information')[0];
  return nodes(info, 'route-table').flatMap((table) =>
    nodes(table, 'rt').flatMap((rt) =>
      nodes(rt, 'rt-entry').map((e) => ({
        table: leaf(table, 'table-name'),
        destination: leaf(rt, 'rt-destination'),
        protocol: leaf(e, 'protocol-name'),
        active: leaf(e, 'active-tag') === '*' || undefined,
        next_hops: nodes(e, 'nh').map((nh) => nextHop(nh, cabling)),
      })),
    ),
  );
}

/** mpls.0 routes as label operations: `299776(S=0)` is label 299776 when it is not the bottom of the stack. */
export function mplsView(body: unknown, cabling: Map<string, FarEnd[]>) {
  return routesView(body, cabling).map(({ destination, ...rest }) => {
    const m = /^(\d+)(\(S=0\))?$/.exec(destination ?? '');
    return { label: m ? Number(m[1]) : destination, bottom_of_stack: m ? !m[2] : undefined, ...rest };
  });
}

/** A route's destination as the NetBox device it leads to. */
export interface ResolvedDevice {
  id: number;
  name: string | null;
  /** Site slug, like the view's own `site`. */
  site: string | null;
  /** The site's region first, then its parents up to the root. */
  regions: string[];
}

/** `10.255.0.2/32` or `10.255.0.2` → `10.255.0.2`; any other prefix (a subnet, IPv6) → null. */
export function hostAddress4(destination: string | null): string | null {
  const m = destination ? /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/32)?$/.exec(destination) : null;
  return m ? m[1] : null;
}

/** inet.3 destination → the device with that primary IPv4, or null (a subnet, or an address NetBox does not know). */
export function destinationResolver(inv: Inventory | undefined): (destination: string | null) => ResolvedDevice | null {
  const byAddress = inv ? devicesByAddress4(inv) : new Map<string, InventoryDevice>();
  return (destination) => {
    const address = hostAddress4(destination);
    const d = address === null ? undefined : byAddress.get(address);
    return d && inv ? { id: d.id, name: d.name, site: d.site, regions: regionsSiteFirst(inv, d.site_id) } : null;
  };
}

export interface DeviceReplies {
  interfaces?: unknown;
  'inet.3'?: unknown;
  'mpls.0'?: unknown;
}

/** The joined document of one device. Parts whose RPC failed are left out (the raw record says why). */
export function deviceView(device: { label: string; host: string; netbox?: InventoryDevice }, replies: DeviceReplies, inv: Inventory | undefined) {
  const cabling = cablingOf(inv, { id: device.netbox?.id, name: device.netbox ? device.netbox.name : device.label });
  const resolve = destinationResolver(inv);
  return {
    device: device.label,
    host: device.host,
    netbox_id: device.netbox?.id,
    site: device.netbox?.site ?? undefined,
    // Site first, root last (the old agent's order); named `regions` so a reader of the old root-first `region` notices.
    regions: inv && device.netbox ? regionsSiteFirst(inv, device.netbox.site_id) : undefined,
    cabling_at: inv?.at,
    interfaces: replies.interfaces !== undefined ? interfacesView(replies.interfaces, cabling) : undefined,
    next_hops: replies['inet.3'] !== undefined ? routesView(replies['inet.3'], cabling).map(({ next_hops, ...route }) => ({ ...route, netbox: resolve(route.destination), next_hops })) : undefined,
    mpls_labels: replies['mpls.0'] !== undefined ? mplsView(replies['mpls.0'], cabling) : undefined,
  };
}
