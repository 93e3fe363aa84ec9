/** The `amqp:` section: the RabbitMQ broker streams publish to (and archivers consume from). */
import { z } from 'zod';
import { duration, secret } from '../config/schema-types.js';
import { resolveSecret } from '../config/secrets.js';
import { ConfigError } from '../config/errors.js';

export const amqpSchema = z
  .strictObject({
    url: z.string().regex(/^amqps?:\/\//, { error: 'expected a URL such as amqp://nsr@127.0.0.1:5672/ (the password goes in password:)' }).meta({ description: 'amqp://user@host:port/vhost' }),
    password: secret('the password; write it as ${AMQP_PASSWORD}, never in the file'),
    password_file: z.string().min(1).optional(),
    exchange: z.string().min(1).default('nsr').meta({ description: 'the exchange records are published to (durable)' }),
    exchange_type: z.enum(['topic', 'direct', 'fanout']).default('topic'),
    batch: z.int().min(1).max(10_000).default(500).meta({ description: 'messages published before waiting for the confirms' }),
    flush_interval: duration('how long records wait to fill a batch').default(200),
    buffer: z.int().min(100).max(10_000_000).default(100_000).meta({ description: 'records held in memory per stream while the broker is away; past that, they are read back from the window files' }),
  })
  .optional();

export type AmqpSection = NonNullable<z.output<typeof amqpSchema>>;

export interface AmqpSettings extends AmqpSection {
  /** The URL with the password in it, for amqplib only: never printed. */
  connectUrl: string;
  /** Without credentials, for logs and events. */
  describe: string;
}

export function resolveAmqp(section: z.output<typeof amqpSchema>, where: string): AmqpSettings | undefined {
  if (!section) return undefined;
  const u = new URL(section.url);
  if (u.password) throw new ConfigError(`${where}: amqp.url: the URL carries a password; move it to password: \${AMQP_PASSWORD} (or password_file)`);
  const password = resolveSecret(`${where}: amqp`, 'password', section.password, section.password_file);
  if (password !== undefined) u.password = password;
  return { ...section, connectUrl: u.toString(), describe: `${u.protocol}//${u.host}${u.pathname} exchange ${section.exchange}` };
}
