/** The `amqp:` section: the RabbitMQ broker streams publish to (and archivers consume from). */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { bufferFields, connectionFields, connectionPassword } from './connection-settings.js';

export const amqpSchema = z
  .strictObject({
    ...connectionFields(/^amqps?:\/\//, 'amqp://nsr@127.0.0.1:5672/', 'AMQP_PASSWORD'),
    exchange: z.string().min(1).default('nsr').meta({ description: 'the exchange records are published to (durable)' }),
    exchange_type: z.enum(['topic', 'direct', 'fanout']).default('topic'),
    ...bufferFields('the broker', { batch: 500, batchMax: 10_000, flushMs: 200 }),
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
  const password = connectionPassword(section, 'amqp', 'AMQP_PASSWORD', where);
  const u = new URL(section.url);
  if (password !== undefined) u.password = password;
  return { ...section, connectUrl: u.toString(), describe: `${u.protocol}//${u.host}${u.pathname} exchange ${section.exchange}` };
}

/** The id an archiver deduplicates by: the same record always has the same id (the publisher sets it, the archiver checks it). */
export const messageId = (stream: string, line: Buffer | string) => createHash('md5').update(stream).update('\n').update(line).digest('hex');
