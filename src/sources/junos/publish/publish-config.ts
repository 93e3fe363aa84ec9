/**
 * The `publish:` option of a junos stream: an HTTP listener serving documents
 * built from the stream's newest cycle (the Juniper agent's `tmp.json`, and
 * Akvorado's static-provider exporters). Loopback by default; beyond it a
 * token is required unless the operator says `public: true`.
 */
import { z } from 'zod';
import { ConfigError } from '../../../config/errors.js';
import { resolveSecret } from '../../../config/secrets.js';
import { secret } from '../../../config/schema-types.js';
import { isLoopbackHost } from '../../../control/local-address.js';

/** Where the agent listened; Akvorado's examples fetch port 8043 too. */
export const DEFAULT_PUBLISH_LISTEN = '127.0.0.1:8043';

const akvoradoInterface = z.strictObject({
  name: z.string().min(1),
  description: z.string().min(1),
  // Akvorado validates a non-empty default as `required` on every field: a speed of 0 would reject the whole source.
  speed: z.int().min(1).meta({ description: 'Mbps' }),
});

const publishObject = z.strictObject({
  listen: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/, { error: 'expected host:port, e.g. 127.0.0.1:8043 or [::1]:8043' })
    .default(DEFAULT_PUBLISH_LISTEN)
    .meta({ description: 'address:port of the listener (default 127.0.0.1:8043, the agent’s port)' }),
  token: secret('a token clients send as Authorization: Bearer <token>; write it as ${NSR_PUBLISH_TOKEN}'),
  token_file: z.string().min(1).optional().meta({ description: 'a file holding the token (instead of token)' }),
  public: z.boolean().default(false).meta({ description: 'serve beyond loopback without a token (the documents name devices, addresses and interfaces)' }),
  akvorado: z
    .strictObject({
      default: akvoradoInterface.default({ name: 'unknown', description: 'not reported by the device', speed: 1000 }).meta({ description: 'the interface Akvorado uses for an ifIndex the device did not list' }),
      skip_missing_interfaces: z.boolean().default(false).meta({ description: 'leave ifIndexes the device did not list to Akvorado’s next provider (then no default is sent)' }),
    })
    .prefault({}),
});

/** `publish: true` is `publish: {}`: every default. */
export const publishSchema = z
  .union([z.literal(true).transform(() => publishObject.parse({})), publishObject])
  .optional()
  .meta({ description: 'serve /exporters.json (and /tmp.json, the agent’s path) and /akvorado.json over HTTP from the newest cycle' });

export type PublishOptions = z.output<typeof publishObject>;

export interface PublishSettings {
  host: string;
  port: number;
  /** Required of every request when set. */
  token: string | undefined;
  akvorado: PublishOptions['akvorado'];
}

/** The listener's settings, or a ConfigError naming the key, the value and the fix. */
export function publishSettings(where: string, opts: PublishOptions): PublishSettings {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(opts.listen)!;
  const host = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`${where}.publish.listen: got ${JSON.stringify(opts.listen)}; the port must be 1-65535, e.g. ${DEFAULT_PUBLISH_LISTEN}`);
  const token = resolveSecret(`${where}.publish`, 'token', opts.token, opts.token_file);
  if (!isLoopbackHost(host) && token === undefined && !opts.public) {
    throw new ConfigError(
      `${where}.publish.listen: got ${JSON.stringify(opts.listen)}, which is reachable beyond this machine, and no token is set; add token: \${NSR_PUBLISH_TOKEN} (Akvorado sends it with headers: {Authorization: "Bearer …"}), or public: true to serve the documents to anyone who can reach the port`,
    );
  }
  return { host, port, token, akvorado: opts.akvorado };
}
