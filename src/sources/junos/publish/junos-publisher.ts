/**
 * A junos stream's `publish:`: each device's newest good replies go into the
 * documents (published-documents.ts), which are rebuilt when a cycle ends and
 * served by the listener (publish-server.ts). Devices are keyed by their
 * management address, as the agent keyed its exporters and as Akvorado looks
 * exporters up: the NetBox primary IPv4 (else IPv6), or a static device's host
 * when that is an address. A device known only by a name cannot be an exporter
 * and is left out.
 */
import { isIP } from 'node:net';
import type { Inventory, InventoryDevice } from '../../common/inventory.js';
import { agentExporter } from '../agent-document.js';
import { akvoradoExporter } from '../akvorado-exporter.js';
import type { DeviceReplies } from '../junos-view.js';
import { PublishedDocuments } from './published-documents.js';
import { publishSettings, type PublishOptions, type PublishSettings } from './publish-config.js';
import { PublishServer } from './publish-server.js';

interface Device {
  label: string;
  host: string;
  netbox?: InventoryDevice;
}

export class JunosPublisher {
  readonly settings: PublishSettings;
  private readonly documents: PublishedDocuments<InventoryDevice>;
  private readonly server: PublishServer;

  constructor(where: string, opts: PublishOptions, inventory: () => Inventory | undefined) {
    this.settings = publishSettings(where, opts);
    const { akvorado } = this.settings;
    const missing = akvorado.skip_missing_interfaces ? ({ skipMissingInterfaces: true } as const) : { default: akvorado.default };
    this.documents = new PublishedDocuments<InventoryDevice>({
      agent: (d, parts) => agentMap(agentExporter(d, parts as DeviceReplies, inventory())),
      akvorado: (d, parts) => akvoradoExporter(d, parts as DeviceReplies, inventory(), missing) ?? undefined,
    });
    this.server = new PublishServer(this.settings, () => this.documents.current());
  }

  /** The device's management address, or undefined when it has none (a host name). */
  static address(d: Device): string | undefined {
    const host = d.host.replace(/^\[|\]$/g, '');
    return d.netbox?.address4 ?? (isIP(host) === 4 ? host : undefined) ?? d.netbox?.address6 ?? (isIP(host) === 6 ? host : undefined);
  }

  answered(d: Device, parts: DeviceReplies, failed?: { reason: string; message: string }): void {
    const address = JunosPublisher.address(d);
    if (address) this.documents.answered(address, this.device(d, address), parts as Record<string, unknown>, Date.now(), failed);
  }

  failed(d: Device, reason: string, message: string): void {
    const address = JunosPublisher.address(d);
    if (address) this.documents.failed(address, this.device(d, address), reason, message, Date.now());
  }

  /** The cycle is over: its devices' documents are swapped in at once. */
  commit(devices: readonly Device[]): void {
    const keys = [...new Set(devices.map((d) => JunosPublisher.address(d)).filter((a): a is string => a !== undefined))];
    this.documents.commit(keys, Date.now());
  }

  async open(): Promise<void> {
    await this.server.start();
  }

  close(): void {
    this.server.close();
  }

  /** The NetBox device, or for a static device NetBox does not know, one made of its name and address. */
  private device(d: Device, address: string): InventoryDevice {
    if (d.netbox) return d.netbox;
    const v4 = isIP(address) === 4;
    return { id: -1, name: d.label, status: null, site: null, site_id: null, role: null, platform: null, tags: [], address4: v4 ? address : null, address6: v4 ? null : address };
  }
}

/** The agent's object as an ordered map, so the document keeps its key order. */
function agentMap(e: ReturnType<typeof agentExporter>): Map<string, unknown> {
  return new Map(Object.entries(e));
}
