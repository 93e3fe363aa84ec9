/**
 * `netbox` kind: the device inventory from NetBox's REST API. Each tick reads
 * devices (filtered), cables, and the sites and regions that describe those
 * devices, every listing paged to the end, and writes them as one record:
 *
 *   {"timestamp":…,"netbox":URL,"counts":{…},"digest":…,"devices":[…],"cables":[…],"sites":[…],"regions":[…]}
 *
 * with every item exactly as NetBox sent it. With `change_only`, a snapshot is
 * written when the digest changes (and as the first record of each window, so a
 * window is readable on its own), a small heartbeat record otherwise. The
 * newest snapshot is kept for sources that poll its devices (junos). With
 * `track_changes`, devices (by id) that were added, removed or changed since
 * the last snapshot go to `<name>_changes` (and to the history table if asked).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { resolveSecret } from '../../config/secrets.js';
import { commonStreamFields, httpUrl, secret } from '../../config/schema-types.js';
import { windowStart } from '../../clock/window-grid.js';
import { deviceFilterSchema, filterParams, parseCable, parseDevice, parseRegion, parseSite, type Inventory } from '../common/inventory.js';
import type { SourceKind } from '../kind.js';
import { NetboxClient, type ListedItem } from './netbox-client.js';
import { redactUrl } from '../common/redact.js';
import type { CycleReport, EmitRecord, InventoryProvider, Source } from '../source.js';
import { changesStream } from '../../config/stream-config.js';
import { ChangeTracker, itemDigest, trackChangesSchema } from '../common/inventory-changes.js';
import { readState, sourceStateFile, writeState } from '../common/state-file.js';

const schema = z.strictObject({
  kind: z.literal('netbox'),
  url: httpUrl.meta({ description: "NetBox's base URL, e.g. https://netbox.example.net (the API is read under /api/)" }),
  token: secret('API token; write it as ${NETBOX_TOKEN}, never in the file'),
  token_file: z.string().min(1).optional().meta({ description: 'a file holding the API token (instead of token)' }),
  filter: deviceFilterSchema.meta({ description: 'which devices to record: site, role, tag, status, platform (slugs; several values match any)' }),
  page_size: z.int().min(1).max(1000).default(250).meta({ description: "items per page (NetBox's MAX_PAGE_SIZE is 1000 by default)" }),
  change_only: z.boolean().default(false).meta({ description: 'write a snapshot only when the inventory changed (and once per window); a heartbeat otherwise' }),
  config_context: z.boolean().default(false).meta({ description: "also record each device's rendered config_context (large; excluded by default)" }),
  tls_verify: z.boolean().default(true).meta({ description: "verify NetBox's TLS certificate" }),
  track_changes: trackChangesSchema,
  ...commonStreamFields,
});

export type NetboxConfig = z.output<typeof schema>;

export const netboxKind: SourceKind<typeof schema> = {
  kind: 'netbox',
  schema,
  outputs: (name, cfg) => (cfg.track_changes ? [changesStream(name)] : []),
  build(name, cfg, { timing, outputDir, dryRun }): Source {
    const client = new NetboxClient({ url: cfg.url, token: resolveSecret(`streams.${name}`, 'token', cfg.token, cfg.token_file), pageSize: cfg.page_size, timeoutMs: timing.timeoutMs, retries: timing.retries, maxBodyBytes: cfg.max_body_size, tlsVerify: cfg.tls_verify });
    const inventory = new InventoryHolder();
    const target = redactUrl(cfg.url);
    const head = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify({ netbox: target, ...fields }).slice(0, -1));
    let written: { digest: string; window: number } | undefined;

    /** This tick's record (a snapshot, or a heartbeat in change_only mode) and the snapshot behind it. */
    async function snapshotRecord(signal: AbortSignal, deadline: number): Promise<{ body: Buffer; snap: Snapshot }> {
      let snap: Snapshot;
      try {
        snap = await readSnapshot(client, cfg, signal, deadline);
      } catch (err) {
        inventory.failed(err as Error);
        throw err;
      }
      inventory.set(snap.inventory);
      const window = windowStart(Date.now(), timing.windowMs);
      const counts = Object.fromEntries(Object.entries(snap.listings).map(([k, v]) => [k, v.length]));
      if (cfg.change_only && written?.digest === snap.digest && written.window === window) {
        return { body: Buffer.concat([head({ unchanged: true, digest: snap.digest, counts }), Buffer.from('}')]), snap };
      }
      written = { digest: snap.digest, window };
      const parts: Buffer[] = [head({ counts, digest: snap.digest })];
      for (const [key, items] of Object.entries(snap.listings)) {
        parts.push(Buffer.from(`,"${key}":[`));
        items.forEach((item, i) => parts.push(i ? COMMA : EMPTY, item.raw));
        parts.push(Buffer.from(']'));
      }
      parts.push(Buffer.from('}'));
      return { body: Buffer.concat(parts), snap };
    }

    // With change tracking, devices are compared with the last snapshot (kept beside the windows across restarts).
    const tracker = cfg.track_changes && !dryRun ? new ChangeTracker(name) : undefined;
    const stateFile = sourceStateFile(outputDir ?? process.cwd(), 'netbox', name);
    const state = readState<{ inventory: Record<string, string> }>(stateFile, { inventory: {} });
    return {
      name,
      kind: 'netbox',
      timing,
      shape: { mode: 'merge' },
      target,
      eager: true,
      inventory,
      ...(tracker
        ? {
            outputs: [{ name: changesStream(name), shape: { mode: 'merge' as const } }],
            async cycle(signal: AbortSignal, deadline: number, emit: EmitRecord): Promise<CycleReport> {
              const { body, snap } = await snapshotRecord(signal, deadline);
              emit({ body });
              const items = snap.listings.devices.map((d) => ({ key: String(d.id), raw: d.raw, digest: itemDigest(d.raw) }));
              const { changes } = tracker.track(state.inventory, items, emit);
              state.inventory = Object.fromEntries(items.map((i) => [i.key, i.digest]));
              writeState(stateFile, state);
              return { items: 1, records: 1 + changes, failures: [] };
            },
          }
        : { fetch: async (signal: AbortSignal, deadline: number) => (await snapshotRecord(signal, deadline)).body }),
      close: () => client.close(),
    };
  },
};

const COMMA = Buffer.from(',');
const EMPTY = Buffer.alloc(0);

interface Snapshot {
  listings: { devices: ListedItem[]; cables: ListedItem[]; sites: ListedItem[]; regions: ListedItem[] };
  digest: string;
  inventory: Inventory;
}

async function readSnapshot(client: NetboxClient, cfg: NetboxConfig, signal: AbortSignal, deadline: number): Promise<Snapshot> {
  const deviceParams = filterParams(cfg.filter);
  if (!cfg.config_context) deviceParams.push(['exclude', 'config_context']);
  const [devices, cables, allSites, allRegions] = await Promise.all([
    client.list('dcim/devices', deviceParams, signal, deadline),
    // Cables have a site filter of their own; role, tag and status describe devices only.
    client.list('dcim/cables', filterParams(cfg.filter, ['site']), signal, deadline),
    client.list('dcim/sites', [], signal, deadline),
    client.list('dcim/regions', [], signal, deadline),
  ]);
  const inventory: Inventory = {
    at: Date.now(),
    devices: devices.map((d) => parseDevice(d.value)),
    cables: cables.map((c) => parseCable(c.value)),
    sites: new Map(allSites.map((s) => parseSite(s.value))),
    regions: new Map(allRegions.map((r) => parseRegion(r.value))),
  };
  // Only the sites of the recorded devices, and their regions up to the root.
  const siteIds = new Set(devices.map((d) => (d.value.site as { id?: number } | null)?.id));
  const regionIds = new Set<number>();
  for (const id of siteIds) {
    for (let r = id === undefined ? null : (inventory.sites.get(id)?.region ?? null); r !== null && !regionIds.has(r); r = inventory.regions.get(r)?.parent ?? null) regionIds.add(r);
  }
  const listings = { devices, cables, sites: allSites.filter((s) => siteIds.has(s.id)), regions: allRegions.filter((r) => regionIds.has(r.id)) };
  return { listings, digest: digestOf(listings), inventory };
}

/** Over the items in id order, so NetBox's page order does not count as a change. */
function digestOf(listings: Snapshot['listings']): string {
  const hash = createHash('sha256');
  for (const [key, items] of Object.entries(listings)) {
    hash.update(key);
    for (const item of [...items].sort((a, b) => a.id - b.id)) hash.update(item.raw).update('\n');
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * The newest snapshot, and the pollers waiting for the first one: they get it,
 * or the error of the fetch that should have brought it (no point waiting out
 * the tick for a NetBox that refused).
 */
class InventoryHolder implements InventoryProvider {
  private latest: Inventory | undefined;
  private waiters: ((result: Inventory | Error) => void)[] = [];

  current(): Inventory | undefined {
    return this.latest;
  }

  set(inv: Inventory): void {
    this.latest = inv;
    this.settle(inv);
  }

  failed(err: Error): void {
    this.settle(err);
  }

  private settle(result: Inventory | Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w(result));
  }

  whenAvailable(signal: AbortSignal): Promise<Inventory> {
    if (this.latest) return Promise.resolve(this.latest);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(signal.reason);
      };
      const done = (result: Inventory | Error) => {
        signal.removeEventListener('abort', onAbort);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      if (signal.aborted) return onAbort();
      this.waiters.push(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
