/**
 * `amqp` kind: an archiver. Consumes what collectors published (the `amqp:`
 * setting of their streams) from a durable queue (quorum by default, so a
 * broker node lost loses nothing) bound to the exchange, and writes each
 * message's record line, as it is, into the window files of its stream
 * (`streams`; a message of another stream goes into this stream's own
 * windows). A message is acknowledged only after its line is written: a crash
 * makes the broker deliver it again, and the message id (stream + line) of
 * what is already written (this run's, and the last `dedup_window` of the
 * windows at start) drops it then, so nothing is lost and nothing written
 * twice. A message that is not exactly one record line with a sane timestamp
 * (record-message.ts) is rejected without requeue (the broker dead-letters it
 * when the queue has a dead-letter exchange) and reported; it never reaches a
 * window.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { commonStreamFields, duration, streamName } from '../../config/schema-types.js';
import { readCatalog } from '../../archive/catalog.js';
import { readRecords } from '../../archive/records.js';
import { messageId } from '../../connections/amqp-settings.js';
import { DEFAULT_MAX_BODY_BYTES } from '../common/http-fetcher.js';
import { checkRecordFrame, checkRecordJson, type Rejection } from './record-message.js';
import type { SourceKind } from '../kind.js';
import type { Source } from '../source.js';

const schema = z.strictObject({
  kind: z.literal('amqp'),
  queue: z.string().min(1).default('nsr.archive').meta({ description: 'the durable queue this archiver consumes (archivers sharing it share the work)' }),
  queue_type: z.enum(['quorum', 'classic']).default('quorum').meta({ description: 'quorum: replicated across broker nodes (a node lost loses nothing)' }),
  bind: z.array(z.string().min(1)).min(1).default(['#']).meta({ description: 'routing key patterns bound to the exchange of the amqp: section' }),
  streams: z.array(streamName).min(1).meta({ description: 'the streams written here, by the stream header of each message' }),
  prefetch: z.int().min(1).max(65_535).default(1000).meta({ description: 'messages delivered before acknowledgement' }),
  dedup_window: duration('how far back the windows are read at start for messages already written').default(600_000),
  ...commonStreamFields,
});

/** The ids of the newest messages written, oldest dropped first. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
  }
}

export const amqpKind: SourceKind<typeof schema> = {
  kind: 'amqp',
  schema,
  outputs: (_name, cfg) => cfg.streams,
  build(name, cfg, { timing, amqp: settings, outputDir }): Source {
    if (!settings) throw new ConfigError(`streams.${name}: an amqp stream needs the amqp: section (url, password)`);
    const streams = new Set(cfg.streams);
    // A record line is its body plus the fields nsr puts around it (well under 4 KB).
    const maxMessageBytes = (cfg.max_body_size ?? DEFAULT_MAX_BODY_BYTES) + 4096;
    return {
      name,
      kind: 'amqp',
      timing,
      shape: { mode: 'line' },
      outputs: cfg.streams.map((s) => ({ name: s, shape: { mode: 'line' as const } })),
      target: `${settings.describe} queue ${cfg.queue}`,
      async run({ stop }, emit, note) {
        const seen = new RecentIds(1_000_000);
        // What the last run wrote but may not have acknowledged comes again: know it.
        if (outputDir) {
          const from = Date.now() - cfg.dedup_window;
          for (const catalog of await readCatalog(outputDir, { streams: [...cfg.streams, name], range: { from } }).catch(() => [])) {
            for await (const r of readRecords(catalog, { from })) seen.add(messageId(catalog.stream === name ? '' : catalog.stream, r.line));
          }
        }
        let duplicates = 0;
        let pending = 0;
        /** Messages handed to the writer and not yet written, by id, with their newest delivery. */
        const inFlight = new Map<string, { msg: ConsumeMessage; ch: Channel }>();
        let backoff = 1000;
        let connected = false;
        while (!stop.aborted) {
          let conn: ChannelModel | undefined;
          let channel: Channel | undefined;
          try {
            // amqplib loads with the first connection, not with every `nsr run` (BENCHMARKS.md §17).
            const { default: amqp } = await import('amqplib');
            conn = await amqp.connect(settings.connectUrl, { timeout: 5000 });
            conn.on('error', () => {}); // 'close' follows
            channel = await conn.createChannel();
            channel.on('error', () => {});
            await channel.prefetch(cfg.prefetch);
            await channel.assertExchange(settings.exchange, settings.exchange_type, { durable: true });
            await channel.assertQueue(cfg.queue, { durable: true, arguments: { 'x-queue-type': cfg.queue_type } });
            for (const pattern of cfg.bind) await channel.bindQueue(cfg.queue, settings.exchange, pattern);
            const ch = channel;
            // The connection closing, the channel alone closing (e.g. the broker's consumer_timeout),
            // or the broker cancelling the consumer (queue deleted): all mean consume again.
            let lost!: () => void;
            const closed = new Promise<void>((resolve) => (lost = resolve));
            conn.once('close', () => lost());
            ch.once('close', () => lost());
            // Messages are written in the order they came, even when a large one's JSON check takes longer.
            let order: Promise<void> = Promise.resolve();
            const { consumerTag } = await ch.consume(cfg.queue, (msg: ConsumeMessage | null) => {
              if (!msg) return lost();
              const header = msg.properties.headers?.stream;
              const stream = typeof header === 'string' && streams.has(header) ? header : undefined;
              const id = msg.properties.messageId ?? messageId(stream ?? '', msg.content);
              const reject = (delivery: { msg: ConsumeMessage; ch: Channel }, why: Rejection) => {
                // To the queue's dead-letter exchange, if it has one; never into a window. The body is not repeated (anyone who can publish wrote it).
                note('message_rejected', { queue: cfg.queue, stream: typeof header === 'string' ? header.slice(0, 64) : undefined, message_id: String(id).slice(0, 128), reason: why.reason, detail: why.detail, bytes: msg.content.length }, 'warn', `a message that is not one record line was rejected (${why.reason}: ${why.detail})`);
                try {
                  delivery.ch.nack(delivery.msg, false, false);
                } catch {
                  // The channel is gone: the broker delivers it again, and it is refused again then.
                }
              };
              const ts = checkRecordFrame(msg.content, maxMessageBytes, Date.now());
              if (typeof ts !== 'number') return reject({ msg, ch }, ts);
              if (seen.has(id)) {
                duplicates++;
                return ch.ack(msg);
              }
              // Delivered again while its first copy still waits to be written (a reconnect):
              // that write acknowledges this delivery instead, and the line is written once.
              const waiting = inFlight.get(id);
              if (waiting) {
                duplicates++;
                waiting.msg = msg;
                waiting.ch = ch;
                return;
              }
              pending++;
              const delivery = { msg, ch };
              inFlight.set(id, delivery);
              const checked = checkRecordJson(msg.content);
              order = order.then(async () => {
                const notJson = await checked;
                if (notJson) {
                  pending--;
                  inFlight.delete(id);
                  return reject(delivery, notJson);
                }
                emit({
                  output: stream,
                  body: msg.content,
                  timestamp: ts,
                  onWritten: () => {
                    pending--;
                    inFlight.delete(id);
                    seen.add(id);
                    try {
                      delivery.ch.ack(delivery.msg);
                    } catch {
                      // The channel is gone: the broker delivers it again, and `seen` drops it then.
                    }
                  },
                });
              });
              // A failure here must not stop the messages after this one from being written.
              order = order.catch((err: Error) => note('bus_error', { queue: cfg.queue, message: err.message }, 'error', `a message could not be handed to the writer: ${err.message}`));
            });
            if (!connected) note('bus_connected', { queue: cfg.queue, to: settings.describe }, 'info');
            else note('bus_reconnected', { queue: cfg.queue, to: settings.describe }, 'info', `consuming ${cfg.queue} again`);
            connected = true;
            backoff = 1000;
            await Promise.race([closed, new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }))]);
            if (stop.aborted) {
              await ch.cancel(consumerTag).catch(() => {});
              // What was delivered is written by now or soon: acknowledge it before closing.
              for (let i = 0; i < 100 && pending > 0; i++) await new Promise((r) => setTimeout(r, 50));
            } else note('bus_disconnected', { queue: cfg.queue, duplicates_dropped: duplicates }, 'warn', `the broker closed the connection; reconnecting`);
          } catch (err) {
            if (!stop.aborted) note('bus_error', { queue: cfg.queue, to: settings.describe, message: (err as Error).message }, 'warn', `cannot consume ${cfg.queue}: ${(err as Error).message}; retrying`);
          } finally {
            await conn?.close().catch(() => {});
          }
          if (!stop.aborted) {
            await new Promise((r) => setTimeout(r, backoff));
            backoff = Math.min(30_000, backoff * 2);
          }
        }
        if (duplicates) note('duplicates_dropped', { queue: cfg.queue, count: duplicates }, 'info');
      },
      close() {},
    };
  },
};
