/**
 * `junos` kind: every tick, asks each Juniper device for its interfaces and
 * its inet.3 and mpls.0 routes through the Junos REST API (JSON, Basic auth),
 * `max_workers` devices at once. Devices come from a static list or from the
 * newest snapshot of a `netbox` stream. Each device has its own timeout: one
 * that fails or hangs is reported and never delays the others or the cycle.
 *
 * Per device answered, two records:
 *  - in this stream, the replies verbatim (DESIGN 2.1):
 *    {"timestamp":…,"device":…,"host":…,"ms":…,"replies":{"interfaces":<body>,"inet.3":<body>,"mpls.0":<body>},"errors":{…}}
 *  - in the view stream (`<name>_view`), nsr's joined document (junos-view.ts).
 */
import { readFileSync } from 'node:fs';
import PQueue from 'p-queue';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { resolveSecret } from '../../config/secrets.js';
import { commonStreamFields, duration, secret, streamName } from '../../config/schema-types.js';
import { HttpFetcher } from '../common/http-fetcher.js';
import { deviceFilterSchema, deviceLabel, matchesFilter, type Inventory, type InventoryDevice } from '../common/inventory.js';
import { deviceView, type DeviceReplies } from './junos-view.js';
import type { SourceKind } from '../kind.js';
import { stringifyWithRaw } from '../../json/raw-json.js';
import { FetchError, type CycleFailure, type InventoryProvider, type Source } from '../source.js';

const staticDevice = z.union([
  z.string().min(1).transform((host) => ({ name: host, host, port: undefined as number | undefined })),
  z.strictObject({ name: z.string().min(1), host: z.string().min(1).optional(), port: z.int().min(1).max(65535).optional() }),
]);

const schema = z.strictObject({
  kind: z.literal('junos'),
  devices: z.array(staticDevice).min(1).optional().meta({ description: 'devices to poll: host names, or {name, host, port}; or take them from a netbox stream (netbox:)' }),
  netbox: z
    .strictObject({ stream: streamName, filter: deviceFilterSchema })
    .optional()
    .meta({ description: 'poll the devices of the newest snapshot of this netbox stream that match the filter' }),
  cables_from: streamName.optional().meta({ description: 'the netbox stream whose cables give each interface its far end (default: netbox.stream)' }),
  username: z.string().min(1).optional().meta({ description: 'Basic auth user; write it as ${JUNOS_USER}' }),
  password: secret('Basic auth password; write it as ${JUNOS_PASSWORD}, never in the file'),
  password_file: z.string().min(1).optional().meta({ description: 'a file holding the password (instead of password)' }),
  scheme: z.enum(['https', 'http']).default('https'),
  port: z.int().min(1).max(65535).default(3443).meta({ description: 'the REST API port (Junos: set system services rest https port)' }),
  max_workers: z.int().min(1).max(2000).default(50).meta({ description: 'devices polled at once' }),
  device_timeout: duration('the time one device has for all its replies').default(10_000),
  tls_verify: z.boolean().default(true).meta({ description: "verify the devices' TLS certificates" }),
  ca_file: z.string().min(1).optional().meta({ description: 'CA bundle (PEM) that signed the devices’ certificates' }),
  view_stream: streamName.optional().meta({ description: 'the stream of the joined per-device view (default <name>_view)' }),
  ...commonStreamFields,
});

type JunosConfig = z.output<typeof schema>;

/** The RPCs asked of every device, by the key their reply takes in the record. */
const RPCS: [key: keyof DeviceReplies, path: string][] = [
  ['interfaces', 'rpc/get-interface-information'],
  ['inet.3', 'rpc/get-route-information?table=inet.3'],
  ['mpls.0', 'rpc/get-route-information?table=mpls.0'],
];

interface Target {
  label: string;
  host: string;
  port: number;
  netbox?: InventoryDevice;
}

const viewStream = (name: string, cfg: Pick<JunosConfig, 'view_stream'>) => cfg.view_stream ?? `${name}_view`;

export const junosKind: SourceKind<typeof schema> = {
  kind: 'junos',
  schema,
  outputs: (name, cfg) => [viewStream(name, cfg)],
  check(name, cfg, streams) {
    const problems: string[] = [];
    const path = `streams.${name}`;
    if (!cfg.devices === !cfg.netbox) problems.push(`${path}: set either devices (a static list) or netbox (devices from a netbox stream), not ${cfg.devices ? 'both' : 'neither'}`);
    for (const [key, ref] of [
      ['netbox.stream', cfg.netbox?.stream],
      ['cables_from', cfg.cables_from],
    ] as const) {
      if (ref === undefined) continue;
      const kind = streams[ref]?.kind;
      if (kind !== 'netbox') problems.push(`${path}.${key}: ${kind ? `stream "${ref}" is of kind ${kind}` : `no stream is named "${ref}"`}; expected a stream of kind netbox`);
    }
    return problems;
  },
  build(name, cfg, { timing, source }): Source {
    const password = resolveSecret(`streams.${name}`, 'password', cfg.password, cfg.password_file);
    if (password !== undefined && cfg.username === undefined) throw new ConfigError(`streams.${name}: a password is set but no username; add username: \${JUNOS_USER}`);
    const headers: Record<string, string> = {};
    if (cfg.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${cfg.username}:${password ?? ''}`).toString('base64')}`;
    let ca: Buffer | undefined;
    if (cfg.ca_file) {
      try {
        ca = readFileSync(cfg.ca_file);
      } catch (err) {
        throw new ConfigError(`streams.${name}.ca_file: cannot read ${cfg.ca_file} (${(err as NodeJS.ErrnoException).code}); check the path`);
      }
    }
    // One connection per RPC in flight to a device; many devices share nothing.
    const fetcher = new HttpFetcher({ headers, expect: 'object', timeoutMs: cfg.device_timeout, retries: timing.retries, maxBodyBytes: cfg.max_body_size, maxSockets: RPCS.length, tls: { verify: cfg.tls_verify, ca } });
    const view = viewStream(name, cfg);
    const inventoryOf = (stream: string | undefined) => (stream === undefined ? undefined : source(stream)?.inventory);

    async function targets(signal: AbortSignal, deadline: number): Promise<{ targets: Target[]; skipped: CycleFailure[] }> {
      if (cfg.devices) {
        const inv = inventoryOf(cfg.cables_from)?.current();
        return { targets: cfg.devices.map((d) => ({ label: d.name, host: d.host ?? d.name, port: d.port ?? cfg.port, netbox: inv?.devices.find((n) => n.name === d.name) })), skipped: [] };
      }
      const inv = await waitForInventory(inventoryOf(cfg.netbox!.stream), signal, deadline, cfg.netbox!.stream);
      const skipped: CycleFailure[] = [];
      const list: Target[] = [];
      for (const d of inv.devices.filter((dev) => matchesFilter(dev, cfg.netbox!.filter))) {
        const host = d.address4 ?? (d.address6 ? `[${d.address6}]` : null);
        if (host) list.push({ label: deviceLabel(d), host, port: cfg.port, netbox: d });
        else skipped.push({ item: deviceLabel(d), reason: 'no_address', message: 'the device has no primary IPv4 or IPv6 address in NetBox: give it one to poll it' });
      }
      return { targets: list, skipped };
    }

    async function poll(t: Target, signal: AbortSignal, deadline: number): Promise<{ replies: Map<string, Buffer>; errors: Map<string, FetchError>; ms: number }> {
      const started = performance.now();
      const replies = new Map<string, Buffer>();
      const errors = new Map<string, FetchError>();
      await Promise.all(
        RPCS.map(async ([key, path]) => {
          try {
            replies.set(key, await fetcher.get(`${cfg.scheme}://${t.host}:${t.port}/${path}`, signal, deadline));
          } catch (err) {
            errors.set(key, err instanceof FetchError ? err : new FetchError('fetch_error', String(err)));
          }
        }),
      );
      return { replies, errors, ms: Math.round(performance.now() - started) };
    }

    return {
      name,
      kind: 'junos',
      timing,
      shape: { mode: 'merge' },
      outputs: [{ name: view, shape: { mode: 'merge' } }],
      target: `${cfg.scheme}://<device>:${cfg.port}/rpc (${cfg.devices ? `${cfg.devices.length} devices` : `devices of stream ${cfg.netbox!.stream}`})`,
      async cycle(signal, deadline, emit) {
        const { targets: list, skipped } = await targets(signal, deadline);
        const failures: CycleFailure[] = [...skipped];
        let records = 0;
        const queue = new PQueue({ concurrency: cfg.max_workers });
        await Promise.all(
          list.map((t) =>
            queue.add(async () => {
              const left = deadline - Date.now();
              if (signal.aborted || left <= 0) {
                failures.push({ item: t.label, host: t.host, reason: signal.aborted ? 'aborted' : 'cycle_deadline', message: 'not polled: the cycle ran out of time before this device; raise max_workers or the interval' });
                return;
              }
              const { replies, errors, ms } = await poll(t, signal, Date.now() + Math.min(cfg.device_timeout, left));
              const errorFields = Object.fromEntries([...errors].map(([k, e]) => [k, { reason: e.reason, message: e.message }]));
              if (errors.size) {
                const first = [...errors.values()][0];
                failures.push({ item: t.label, host: t.host, reason: first.reason, message: first.message, partial: replies.size > 0 || undefined, rpcs: errorFields });
              }
              if (replies.size === 0) return;
              emit({ body: rawRecord(t, ms, replies, errorFields) });
              const parsed = Object.fromEntries([...replies].map(([k, b]) => [k, JSON.parse(b.toString('utf8'))]));
              const inv = inventoryOf(cfg.cables_from ?? cfg.netbox?.stream)?.current();
              emit({ output: view, body: Buffer.from(stringifyWithRaw(deviceView(t, parsed, inv))) });
              records += 2;
            }),
          ),
        );
        return { items: list.length + skipped.length, records, failures };
      },
      close: () => fetcher.close(),
    };
  },
};

/** The replies as the device sent them, spliced under `replies` (no parse, no re-serialisation). */
function rawRecord(t: Target, ms: number, replies: Map<string, Buffer>, errors: Record<string, unknown>): Buffer {
  const head = JSON.stringify({ device: t.label, host: t.host, netbox_id: t.netbox?.id, ms });
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},"replies":{`)];
  let first = true;
  for (const [key] of RPCS) {
    const body = replies.get(key);
    if (!body) continue;
    parts.push(Buffer.from(`${first ? '' : ','}${JSON.stringify(key)}:`), body);
    first = false;
  }
  parts.push(Buffer.from(Object.keys(errors).length ? `},"errors":${JSON.stringify(errors)}}` : '}}'));
  return Buffer.concat(parts);
}

/** The newest snapshot of the inventory stream; at start, the first one, for as long as the tick allows. */
async function waitForInventory(provider: InventoryProvider | undefined, signal: AbortSignal, deadline: number, stream: string): Promise<Inventory> {
  if (!provider) throw new FetchError('no_inventory', `stream ${stream} is not running: the device list comes from it`);
  const current = provider.current();
  if (current) return current;
  // A timer of our own, not AbortSignal.timeout: that one is unref'd and would let `nsr check` exit while waiting.
  const wait = new AbortController();
  const timer = setTimeout(() => wait.abort(), Math.max(0, deadline - Date.now()));
  const onAbort = () => wait.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await provider.whenAvailable(wait.signal);
  } catch (err) {
    const why = err instanceof FetchError ? `its last fetch failed: ${err.reason}: ${err.message}` : 'NetBox has not answered since the start';
    throw new FetchError('no_inventory', `no snapshot of stream ${stream} yet (${why}): the device list comes from it`);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
