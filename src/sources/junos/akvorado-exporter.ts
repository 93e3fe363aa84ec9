/**
 * One exporter for Akvorado's exporter metadata (its HTTP exporter source):
 * where flows from this device come from, and each unit's name, description
 * and speed by SNMP index, which is what the device's flow records carry.
 * Keys are lower case without dashes: Akvorado decodes them with mapstructure.
 * Built from the same units the old agent listed (agentInterfaces), so both
 * documents agree on which interfaces exist.
 */
import type { Inventory, InventoryDevice } from '../common/inventory.js';
import { regionsSiteFirst } from '../common/inventory.js';
import { agentConnections, agentInterfaces, siteName } from './agent-document.js';
import { speedBps, type DeviceReplies } from './junos-view.js';

/** What Akvorado uses for an interface not listed (passed in: a deployment's choice). */
export interface AkvoradoInterfaceDefault {
  name: string;
  description: string;
  speed: number;
}

export interface AkvoradoInterface {
  ifindex: number;
  name: string;
  description: string;
  /** Mbps; 0 when the device gave none it could parse (`Unspecified`, none). */
  speed: number;
}

export interface AkvoradoExporter {
  exportersubnet: string;
  name: string;
  site: string;
  region?: string;
  /** Absent with skipmissinginterfaces: Akvorado refuses both together. */
  default?: AkvoradoInterfaceDefault;
  skipmissinginterfaces?: true;
  interfaces: AkvoradoInterface[];
}

/** What Akvorado does with an ifIndex the device did not list: answer this default, or ask its next provider. */
export type MissingInterfaces = { default: AkvoradoInterfaceDefault } | { skipMissingInterfaces: true };

/** The exporter, or null for a device without a primary address (flows cannot be matched to it). An IPv6-only device is a /128: Akvorado's subnets are IPv6 inside. */
export function akvoradoExporter(device: InventoryDevice, replies: DeviceReplies, inv: Inventory | undefined, missing: MissingInterfaces): AkvoradoExporter | null {
  if (device.address4 === null && device.address6 === null) return null;
  const interfaces: AkvoradoInterface[] = [];
  for (const [snmpIndex, unit] of agentInterfaces(replies.interfaces, agentConnections(inv, device))) {
    const ifindex = Number(snmpIndex);
    if (!Number.isSafeInteger(ifindex) || ifindex < 0) continue; // not an ifIndex Akvorado could match
    const bps = speedBps(unit.speed);
    interfaces.push({ ifindex, name: unit.name, description: unit.description || unit.name, speed: bps === null ? 0 : Math.round(bps / 1e6) });
  }
  // The site's own region only: Akvorado has one region per exporter.
  const region = inv ? regionsSiteFirst(inv, device.site_id)[0] : undefined;
  return {
    exportersubnet: device.address4 !== null ? `${device.address4}/32` : `${device.address6}/128`,
    // Akvorado requires a name: one bad entry would reject the whole document.
    name: device.name ?? `#${device.id}`,
    site: siteName(inv, device.site_id),
    ...(region !== undefined ? { region } : {}),
    ...('default' in missing ? { default: { ...missing.default } } : { skipmissinginterfaces: true as const }),
    interfaces,
  };
}
