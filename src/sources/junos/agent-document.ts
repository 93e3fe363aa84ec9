/**
 * The old Junos agent's per-exporter document, rebuilt from nsr's parsed
 * replies (Junos JSON form, from REST or converted from NETCONF XML) and the
 * NetBox inventory, so the agent's consumers can switch to nsr unchanged: the
 * same keys, key order and value formats, quirks included.
 *
 * The agent (Python, lxml on namespace-stripped XML) searched descendants
 * (`.//physical-interface`, `.//rt`, `.//nh`); so does this, on the JSON tree.
 * Its dicts are keyed by data (SNMP indexes, addresses, labels) and keep
 * insertion order; they are Maps here, because a JS object would put
 * integer-like keys first in numeric order. Write it with stringifyPythonJson.
 */
import type { CableEnd, Inventory, InventoryDevice } from '../common/inventory.js';
import { devicesByAddress4, regionsSiteFirst } from '../common/inventory.js';
import { leaf, nodes, physicalName, type DeviceReplies } from './junos-view.js';

type Node = Record<string, unknown>;

/** Every element named `key` under `node`, at any depth, in document order (lxml's `.//key`). */
export function descendants(node: unknown, key: string, found: Node[] = []): Node[] {
  if (!node || typeof node !== 'object') return found;
  for (const [k, v] of Object.entries(node as Node)) {
    if (k === 'attributes' || k === 'data' || !Array.isArray(v)) continue;
    for (const child of v) {
      if (!child || typeof child !== 'object') continue;
      if (k === key) found.push(child as Node);
      descendants(child, key, found);
    }
  }
  return found;
}

/** lxml's `(el.findtext(key) or "").strip()`. */
const stripped = (node: unknown, key: string) => (leaf(node, key) ?? '').trim();

export interface AgentConnection {
  device: string;
  interface: string;
}

export interface AgentInterface {
  name: string;
  speed: string;
  description: string;
  connection: AgentConnection;
}

export interface AgentNextHop {
  name: string;
  site: string;
  regions: string[];
  /** via → label without its "Push". */
  labels: Map<string, string>;
}

export interface AgentLabelAction {
  action: string;
  label: string;
}

export interface AgentExporter {
  name: string;
  site: string;
  regions: string[];
  /** Unit SNMP index → the unit. */
  interfaces: Map<string, AgentInterface>;
  /** inet.3 destination address (prefix length removed) → the device there and the labels pushed towards it. */
  nexthops: Map<string, AgentNextHop>;
  /** mpls.0 label as written (`299776(S=0)`) → via → the action. */
  mpls_labels: Map<string, Map<string, AgentLabelAction>>;
}

const NO_CONNECTION: AgentConnection = { device: '', interface: '' };

/**
 * Physical interface → the far end, from NetBox cables with exactly one
 * termination at each end (the agent skipped breakouts and half-documented
 * cables). A far end that is not a device interface (a circuit) gives empty
 * names. Several such cables on one port: the last listed wins, as in the agent's dict.
 */
export function agentConnections(inv: Inventory | undefined, device: Pick<InventoryDevice, 'id'>): Map<string, AgentConnection> {
  const map = new Map<string, AgentConnection>();
  const mine = (e: CableEnd) => e.type === 'dcim.interface' && e.device_id === device.id && e.interface !== undefined;
  for (const cable of inv?.cables ?? []) {
    if (cable.a.length !== 1 || cable.b.length !== 1) continue;
    for (const [near, far] of [
      [cable.a[0], cable.b[0]],
      [cable.b[0], cable.a[0]],
    ])
      if (mine(near)) map.set(near.interface!, { device: far.device ?? '', interface: far.interface ?? '' });
  }
  return map;
}

/**
 * Units by SNMP index: every logical interface with a name and an SNMP index,
 * with its physical interface's speed (`""` when it has none). The agent looked
 * cables up by the unit's name, which never matches (NetBox cables end on
 * physical interfaces); here the unit's physical interface is looked up.
 */
export function agentInterfaces(body: unknown, connections: Map<string, AgentConnection>): Map<string, AgentInterface> {
  const out = new Map<string, AgentInterface>();
  for (const p of descendants(body, 'physical-interface')) {
    const speed = stripped(p, 'speed');
    // Through nodes(): a JSON reply is the device's to shape, and a unit list that is not a list must not throw.
    for (const u of nodes(p, 'logical-interface')) {
      const name = leaf(u, 'name');
      const snmpIndex = leaf(u, 'snmp-index');
      if (name === null || snmpIndex === null) continue;
      out.set(snmpIndex, { name, speed, description: stripped(u, 'description'), connection: { ...(connections.get(physicalName(name)) ?? NO_CONNECTION) } });
    }
  }
  return out;
}

/** inet.3: destination → via → label, `Push 299872` written `299872`. */
export function agentNextHopLabels(body: unknown): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const rt of descendants(body, 'rt')) {
    const destination = (leaf(rt, 'rt-destination') ?? '').split('/')[0];
    if (destination === '') continue;
    const labels = new Map<string, string>();
    for (const nh of descendants(rt, 'nh')) {
      const via = stripped(nh, 'via');
      if (via === '') continue;
      let label = stripped(nh, 'mpls-label');
      // Only the leading "Push" goes: a stacked "Push 301200, Push 299776(top)" stays "301200, Push 299776(top)", as the agent wrote it.
      if (label.startsWith('Push')) label = label.slice(4).trim();
      labels.set(via, label);
    }
    out.set(destination, labels);
  }
  return out;
}

/**
 * mpls.0: label → via → {action, label}: the label action's first two words.
 * "Swap 301200, Push 299776(top)" gives {action: "Swap", label: "301200,"},
 * comma kept and the push dropped: the agent's consumers read exactly that.
 */
export function agentMplsLabels(body: unknown): Map<string, Map<string, AgentLabelAction>> {
  const out = new Map<string, Map<string, AgentLabelAction>>();
  for (const rt of descendants(body, 'rt')) {
    const destination = leaf(rt, 'rt-destination') ?? '';
    for (const nh of descendants(rt, 'nh')) {
      const via = stripped(nh, 'via');
      const parts = stripped(nh, 'mpls-label').split(/\s+/).filter(Boolean); // Python's str.split()
      if (via === '' || parts.length === 0) continue;
      const vias = out.get(destination) ?? new Map<string, AgentLabelAction>();
      vias.set(via, { action: parts[0], label: parts[1] ?? '' });
      out.set(destination, vias);
    }
  }
  return out;
}

/** The site's name (the agent wrote names, not slugs), `""` without one. */
export const siteName = (inv: Inventory | undefined, siteId: number | null) => (siteId === null ? undefined : inv?.sites.get(siteId)?.name) ?? '';

/**
 * The agent's object for one exporter. A reply that is missing (its RPC
 * failed) gives an empty part, as an empty reply would.
 */
export function agentExporter(device: InventoryDevice, replies: DeviceReplies, inv: Inventory | undefined): AgentExporter {
  const exporters = inv ? devicesByAddress4(inv) : new Map<string, InventoryDevice>();
  const nexthops = new Map<string, AgentNextHop>();
  for (const [destination, labels] of agentNextHopLabels(replies['inet.3'])) {
    const there = exporters.get(destination);
    nexthops.set(destination, {
      name: there?.name ?? '',
      site: there ? siteName(inv, there.site_id) : '',
      regions: there && inv ? regionsSiteFirst(inv, there.site_id) : [],
      labels,
    });
  }
  return {
    name: device.name ?? '',
    site: siteName(inv, device.site_id),
    regions: inv ? regionsSiteFirst(inv, device.site_id) : [],
    interfaces: agentInterfaces(replies.interfaces, agentConnections(inv, device)),
    nexthops,
    mpls_labels: agentMplsLabels(replies['mpls.0']),
  };
}
