/**
 * `junos` kind: every tick, asks each Juniper device for its interfaces and
 * its inet.3 and mpls.0 routes, over the Junos REST API (JSON replies) or over
 * NETCONF/SSH (XML replies), `max_workers` devices at once. Devices come from a static list or from the
 * newest snapshot of a `netbox` stream. Each device has its own timeout: one
 * that fails or hangs is reported and never delays the others or the cycle.
 *
 * Per device answered, two records:
 *  - in this stream, the replies verbatim (DESIGN 2.1):
 *    REST:    {"timestamp":…,"device":…,"host":…,"ms":…,"replies":{"interfaces":<body>,"inet.3":<body>,"mpls.0":<body>},"errors":{…}}
 *    NETCONF: {…,"transport":"netconf","format":"xml","replies":{"interfaces":"<rpc-reply …>…",…}}: each XML
 *             reply a JSON string, whose value is the reply's exact text (a reply that is not UTF-8 goes
 *             under "replies_base64" instead, so its bytes are still exactly recoverable);
 *  - in the view stream (`<name>_view`), nsr's joined document (junos-view.ts), the same from either form.
 * With `publish:`, the newest cycle is also served over HTTP (publish/).
 */
import PQueue from 'p-queue';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { resolveSecret } from '../../config/secrets.js';
import { commonStreamFields, duration, secret, streamName } from '../../config/schema-types.js';
import { deviceFilterSchema, deviceLabel, matchesFilter, type Inventory, type InventoryDevice } from '../common/inventory.js';
import { deviceView, type DeviceReplies } from './junos-view.js';
import { xmlToJunosJson } from './junos-xml.js';
import { restTransport } from './junos-rest.js';
import { netconfSchema, netconfTransport } from './junos-netconf.js';
import { RPC_KEYS, type DeviceTransport, type RpcKey } from './junos-transport.js';
import { JunosPublisher } from './publish/junos-publisher.js';
import { publishSchema } from './publish/publish-config.js';
import type { SourceKind } from '../kind.js';
import { stringifyWithRaw } from '../../json/raw-json.js';
import { FetchError, type CycleFailure, type InventoryProvider, type Source } from '../source.js';

const staticDevice = z.union([
  z.string().min(1).transform((host) => ({ name: host, host, port: undefined as number | undefined })),
  z.strictObject({ name: z.string().min(1), host: z.string().min(1).optional(), port: z.int().min(1).max(65535).optional() }),
]);

/** Junos' defaults: `set system services rest http port` has none (3443 is the documented example), NETCONF/SSH is 830 (RFC 6242). */
const DEFAULT_PORTS = { rest: 3443, netconf: 830 } as const;

const schema = z.strictObject({
  kind: z.literal('junos'),
  devices: z.array(staticDevice).min(1).optional().meta({ description: 'devices to poll: host names, or {name, host, port}; or take them from a netbox stream (netbox:)' }),
  netbox: z
    .strictObject({ stream: streamName, filter: deviceFilterSchema })
    .optional()
    .meta({ description: 'poll the devices of the newest snapshot of this netbox stream that match the filter' }),
  cables_from: streamName.optional().meta({ description: 'the netbox stream whose cables give each interface its far end (default: netbox.stream)' }),
  transport: z.enum(['rest', 'netconf']).default('rest').meta({ description: 'rest: the Junos REST API (JSON); netconf: NETCONF over SSH (XML), what Junos usually has enabled' }),
  username: z.string().min(1).optional().meta({ description: 'the user (REST: Basic auth; NETCONF: SSH); write it as ${JUNOS_USER}' }),
  password: secret('the password; write it as ${JUNOS_PASSWORD}, never in the file'),
  password_file: z.string().min(1).optional().meta({ description: 'a file holding the password (instead of password)' }),
  scheme: z.enum(['https', 'http']).default('https').meta({ description: 'REST only' }),
  port: z.int().min(1).max(65535).optional().meta({ description: 'the device port: 3443 for REST (set system services rest https port), 830 for NETCONF' }),
  max_workers: z.int().min(1).max(2000).default(50).meta({ description: 'devices polled at once' }),
  device_timeout: duration('the time one device has for all its replies').default(10_000),
  tls_verify: z.boolean().default(true).meta({ description: "REST only: verify the devices' TLS certificates" }),
  ca_file: z.string().min(1).optional().meta({ description: 'REST only: CA bundle (PEM) that signed the devices’ certificates' }),
  netconf: netconfSchema,
  publish: publishSchema,
  view_stream: streamName.optional().meta({ description: 'the stream of the joined per-device view (default <name>_view)' }),
  ...commonStreamFields,
});

type JunosConfig = z.output<typeof schema>;

export interface Target {
  label: string;
  /** As written in a URL: an IPv6 address in brackets. */
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
    if (cfg.transport === 'netconf' && !cfg.netconf) problems.push(`${path}: transport: netconf needs a netconf: section saying how host keys are verified, e.g. netconf: {host_keys: {known_hosts: ~/.ssh/known_hosts, first_contact: refuse}}`);
    if (cfg.transport === 'netconf' && cfg.username === undefined) problems.push(`${path}: transport: netconf needs username (the SSH user), e.g. username: \${JUNOS_USER}`);
    if (cfg.transport === 'rest' && cfg.netconf) problems.push(`${path}.netconf: set, but transport is rest; add transport: netconf to poll over NETCONF, or remove netconf:`);
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
  build(name, cfg, { timing, source, outputDir }): Source {
    const where = `streams.${name}`;
    const password = resolveSecret(where, 'password', cfg.password, cfg.password_file);
    if (password !== undefined && cfg.username === undefined) throw new ConfigError(`${where}: a password is set but no username; add username: \${JUNOS_USER}`);
    const port = cfg.port ?? DEFAULT_PORTS[cfg.transport];
    const transport: DeviceTransport =
      cfg.transport === 'netconf'
        ? netconfTransport({ where, username: cfg.username!, password, options: cfg.netconf!, maxMessageBytes: cfg.max_body_size, outputDir })
        : restTransport({ where, scheme: cfg.scheme, username: cfg.username, password, tlsVerify: cfg.tls_verify, caFile: cfg.ca_file, timeoutMs: cfg.device_timeout, retries: timing.retries, maxBodyBytes: cfg.max_body_size });
    const view = viewStream(name, cfg);
    const inventoryOf = (stream: string | undefined) => (stream === undefined ? undefined : source(stream)?.inventory);
    const cablesInventory = () => inventoryOf(cfg.cables_from ?? cfg.netbox?.stream)?.current();
    const publisher = cfg.publish ? new JunosPublisher(where, cfg.publish, cablesInventory) : undefined;

    async function targets(signal: AbortSignal, deadline: number): Promise<{ targets: Target[]; skipped: CycleFailure[] }> {
      if (cfg.devices) {
        const inv = inventoryOf(cfg.cables_from)?.current();
        return { targets: cfg.devices.map((d) => ({ label: d.name, host: d.host ?? d.name, port: d.port ?? port, netbox: inv?.devices.find((n) => n.name === d.name) })), skipped: [] };
      }
      const inv = await waitForInventory(inventoryOf(cfg.netbox!.stream), signal, deadline, cfg.netbox!.stream);
      const skipped: CycleFailure[] = [];
      const list: Target[] = [];
      for (const d of inv.devices.filter((dev) => matchesFilter(dev, cfg.netbox!.filter))) {
        const host = d.address4 ?? (d.address6 ? `[${d.address6}]` : null);
        if (host) list.push({ label: deviceLabel(d), host, port, netbox: d });
        else skipped.push({ item: deviceLabel(d), reason: 'no_address', message: 'the device has no primary IPv4 or IPv6 address in NetBox: give it one to poll it' });
      }
      return { targets: list, skipped };
    }

    async function poll(t: Target, signal: AbortSignal, deadline: number): Promise<{ replies: Map<RpcKey, Buffer>; errors: Map<RpcKey, FetchError>; ms: number }> {
      const started = performance.now();
      const replies = new Map<RpcKey, Buffer>();
      const errors = new Map<RpcKey, FetchError>();
      await Promise.all(
        RPC_KEYS.map(async (key) => {
          try {
            replies.set(key, await transport.rpc(t, key, signal, deadline));
          } catch (err) {
            errors.set(key, err instanceof FetchError ? err : new FetchError('fetch_error', String(err)));
          }
        }),
      );
      return { replies, errors, ms: Math.round(performance.now() - started) };
    }

    /** The replies in the Junos JSON rendering the view reads; a reply that does not parse is an error of its RPC. */
    function parseReplies(replies: Map<RpcKey, Buffer>, errors: Map<RpcKey, FetchError>): DeviceReplies {
      const parsed: DeviceReplies = {};
      for (const [key, bytes] of replies) {
        try {
          parsed[key] = transport.format === 'xml' ? xmlToJunosJson(bytes) : JSON.parse(bytes.toString('utf8'));
        } catch (err) {
          errors.set(key, new FetchError('unexpected_body', `the ${key} reply is not well-formed ${transport.format.toUpperCase()}: ${(err as Error).message}`));
        }
      }
      return parsed;
    }

    return {
      name,
      kind: 'junos',
      timing,
      shape: { mode: 'merge' },
      outputs: [{ name: view, shape: { mode: 'merge' } }],
      target: cfg.transport === 'netconf' ? `netconf://<device>:${port} (${cfg.devices ? `${cfg.devices.length} devices` : `devices of stream ${cfg.netbox!.stream}`})` : `${cfg.scheme}://<device>:${port}/rpc (${cfg.devices ? `${cfg.devices.length} devices` : `devices of stream ${cfg.netbox!.stream}`})`,
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
                const failure = { item: t.label, host: t.host, reason: signal.aborted ? 'aborted' : 'cycle_deadline', message: 'not polled: the cycle ran out of time before this device; raise max_workers or the interval' };
                failures.push(failure);
                publisher?.failed(t, failure.reason, failure.message);
                return;
              }
              const { replies, errors, ms } = await poll(t, signal, Date.now() + Math.min(cfg.device_timeout, left));
              if (replies.size) emit({ body: rawRecord(t, ms, replies, errors, transport) });
              const parsed = parseReplies(replies, errors);
              const errorFields = Object.fromEntries([...errors].map(([k, e]) => [k, { reason: e.reason, message: e.message }]));
              const first = [...errors.values()][0];
              if (first) failures.push({ item: t.label, host: t.host, reason: first.reason, message: first.message, partial: replies.size > 0 || undefined, rpcs: errorFields });
              if (Object.keys(parsed).length === 0) {
                publisher?.failed(t, first?.reason ?? 'no_reply', first?.message ?? 'no reply');
                records += replies.size ? 1 : 0;
                return;
              }
              publisher?.answered(t, parsed, first && { reason: first.reason, message: first.message });
              emit({ output: view, body: Buffer.from(stringifyWithRaw(deviceView(t, parsed, cablesInventory()))) });
              records += 2;
            }),
          ),
        );
        transport.endCycle?.();
        publisher?.commit(list);
        return { items: list.length + skipped.length, records, failures, counters: transport.counters?.() };
      },
      open: publisher ? () => publisher.open() : undefined,
      close: () => {
        transport.close();
        publisher?.close();
      },
    };
  },
};

/** The replies as the device sent them: JSON spliced under `replies` (no parse, no re-serialisation); XML as JSON strings. */
function rawRecord(t: Target, ms: number, replies: Map<RpcKey, Buffer>, errors: Map<RpcKey, FetchError>, transport: DeviceTransport): Buffer {
  const fields: Record<string, unknown> = { device: t.label, host: t.host, netbox_id: t.netbox?.id, ms };
  if (transport.name !== 'rest') Object.assign(fields, { transport: transport.name, format: transport.format });
  const head = JSON.stringify(fields);
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},"replies":{`)];
  const undecodable: [RpcKey, Buffer][] = [];
  let first = true;
  for (const key of RPC_KEYS) {
    const body = replies.get(key);
    if (!body) continue;
    let value: Buffer;
    if (transport.format === 'json') value = body;
    else {
      const text = strictUtf8(body);
      if (text === undefined) {
        undecodable.push([key, body]);
        continue;
      }
      value = Buffer.from(JSON.stringify(text));
    }
    parts.push(Buffer.from(`${first ? '' : ','}${JSON.stringify(key)}:`), value);
    first = false;
  }
  parts.push(Buffer.from('}'));
  if (undecodable.length) parts.push(Buffer.from(`,"replies_base64":${JSON.stringify(Object.fromEntries(undecodable.map(([k, b]) => [k, b.toString('base64')])))}`));
  const errorFields = Object.fromEntries([...errors].map(([k, e]) => [k, { reason: e.reason, message: e.message }]));
  parts.push(Buffer.from(Object.keys(errorFields).length ? `,"errors":${JSON.stringify(errorFields)}}` : '}'));
  return Buffer.concat(parts);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** The text of bytes that are valid UTF-8 (so the JSON string gives back the very bytes), else undefined. */
function strictUtf8(b: Buffer): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
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
