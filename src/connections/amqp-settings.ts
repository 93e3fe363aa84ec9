/** The `amqp:` section: the RabbitMQ broker streams publish to (and archivers consume from). */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { duration } from '../config/schema-types.js';
import { bufferFields, connectionFields, connectionPassword } from './connection-settings.js';
import { esnetBroker } from './esnet-env.js';

const connection = connectionFields(/^amqps?:\/\//, 'amqp://nsr@127.0.0.1:5672/', 'AMQP_PASSWORD');

/** Publishing pauses while the bound queues hold more than high_water messages, and resumes below low_water (the ESnet collector's defaults). */
const backpressureSchema = z
  .strictObject({
    queues: z.array(z.string().min(1)).min(1).optional().meta({ description: 'the queues whose ready messages are counted (passive declare); without it, management: must be set' }),
    management: z
      .string()
      .regex(/^https?:\/\/[^/@]+\/?$/, { error: 'expected the management API base without credentials, such as http://127.0.0.1:15672' })
      .optional()
      .meta({ description: 'count messages of every queue of the vhost through the management API, as the ESnet collector did (same user and password)' }),
    high_water: z.int().min(1).default(50_000).meta({ description: 'above this many messages, publishing pauses' }),
    low_water: z.int().min(0).default(30_000).meta({ description: 'below this many, publishing resumes' }),
    check_every: z.int().min(1).default(5760).meta({ description: 'messages published between two looks at the depth (and one before each batch)' }),
    check_interval: duration('how often the depth is read again while paused').default(30_000),
  })
  .optional();

export const amqpSchema = z
  .strictObject({
    url: connection.url.optional(),
    password: connection.password,
    password_file: connection.password_file,
    from_env: z.literal('esnet').optional().meta({ description: 'take url, user, password, vhost, exchange and routing keys from the ESnet collector\'s RMQ_* variables (environment, then env_file)' }),
    env_file: z.string().min(1).optional().meta({ description: 'with from_env: a .env file to read the RMQ_* variables from (the environment wins)' }),
    exchange: z.string().min(1).optional().meta({ description: 'the exchange records are published to (durable); default nsr' }),
    exchange_type: z.enum(['topic', 'direct', 'fanout']).default('topic'),
    declare_exchange: z.boolean().default(true).meta({ description: 'declare the exchange (durable); false: only check that it exists, for an exchange the owners of the broker declared' }),
    backpressure: backpressureSchema,
    ...bufferFields('the broker', { batch: 500, batchMax: 10_000, flushMs: 200 }),
  })
  .optional();

export type AmqpSection = NonNullable<z.output<typeof amqpSchema>>;
export type BackpressureSettings = NonNullable<AmqpSection['backpressure']>;

export interface AmqpSettings extends Omit<AmqpSection, 'url' | 'exchange'> {
  url: string;
  exchange: string;
  /** The URL with the password in it, for amqplib only: never printed. */
  connectUrl: string;
  /** Without credentials, for logs and events. */
  describe: string;
  /** The routing keys the ESnet collector's variables named (from_env: esnet). */
  esnetKeys?: { interfaces: string; traffic: string };
  /** The user and password for the management API (back-pressure), never printed. */
  credentials: { user: string; password: string | undefined };
}

export function resolveAmqp(section: z.output<typeof amqpSchema>, where: string, env: Record<string, string | undefined> = process.env): AmqpSettings | undefined {
  if (!section) return undefined;
  const bp = section.backpressure;
  if (bp && !bp.queues && !bp.management) throw new ConfigError(`${where}: amqp.backpressure: neither queues nor management is set; name the queues your consumers read (queues: [esnet_traffic]) or the management API (management: http://rabbit:15672)`);
  if (bp && bp.low_water >= bp.high_water) throw new ConfigError(`${where}: amqp.backpressure.low_water: ${bp.low_water} is not below high_water (${bp.high_water}); expected low_water < high_water, e.g. low_water: 30000, high_water: 50000`);
  if (section.env_file !== undefined && !section.from_env) throw new ConfigError(`${where}: amqp.env_file: ${section.env_file} is set but from_env is not; add from_env: esnet to read the RMQ_* variables from it`);
  if (section.from_env) {
    for (const key of ['url', 'password', 'password_file', 'exchange'] as const) {
      if (section[key] !== undefined) throw new ConfigError(`${where}: amqp.${key}: set together with from_env: esnet, which gives it from RMQ_*; keep one of the two`);
    }
    const broker = esnetBroker(env, section.env_file, `${where}: amqp`);
    const u = new URL(broker.url);
    const describe = `${u.protocol}//${u.host}${u.pathname} exchange ${broker.exchange}`;
    u.password = encodeURIComponent(broker.password);
    return { ...section, url: broker.url, exchange: broker.exchange, connectUrl: u.toString(), describe, esnetKeys: broker.routingKeys, credentials: { user: decodeURIComponent(u.username), password: broker.password } };
  }
  if (section.url === undefined) throw new ConfigError(`${where}: amqp.url: missing; expected a URL such as amqp://nsr@127.0.0.1:5672/ (the password goes in password:), or from_env: esnet to take the ESnet collector's RMQ_* variables`);
  const password = connectionPassword({ ...section, url: section.url }, 'amqp', 'AMQP_PASSWORD', where);
  const u = new URL(section.url);
  const user = decodeURIComponent(u.username);
  if (password !== undefined) u.password = password;
  const exchange = section.exchange ?? 'nsr';
  return { ...section, url: section.url, exchange, connectUrl: u.toString(), describe: `${u.protocol}//${u.host}${u.pathname} exchange ${exchange}`, credentials: { user, password } };
}

/** The id an archiver deduplicates by: the same record always has the same id (the publisher sets it, the archiver checks it). */
export const messageId = (stream: string, line: Buffer | string) => createHash('md5').update(stream).update('\n').update(line).digest('hex');
