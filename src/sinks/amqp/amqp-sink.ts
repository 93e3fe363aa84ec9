/**
 * AMQP sink: records of streams with `amqp:` set are published to the
 * exchange (buffering and read-back: buffered-sink.ts), persistent, on a
 * confirm channel: a batch counts as sent only when the broker has confirmed
 * every message of it; otherwise the connection is dropped and the batch sent
 * again on a new one. Each message carries the record line (its body), its
 * stream, tick and timestamp in headers, and a message id made from the
 * stream and the line, by which an archiver drops a message it already has.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { NoteEvent } from '../../logging/note-event.js';
import { messageId, type AmqpSettings } from '../../connections/amqp-settings.js';
import { BufferedSink, type Pending, type SinkStream, type SinkWriter } from '../buffered-sink.js';

class AmqpWriter implements SinkWriter {
  readonly describe: string;
  private conn: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;

  constructor(private readonly settings: AmqpSettings) {
    this.describe = settings.describe;
  }

  private async open(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const conn = await amqp.connect(this.settings.connectUrl, { timeout: 5000 });
    const drop = () => {
      if (this.conn === conn) this.conn = this.channel = undefined;
    };
    conn.on('close', drop);
    conn.on('error', drop); // 'close' follows; without a listener an error would crash the process
    try {
      const channel = await conn.createConfirmChannel();
      channel.on('error', () => {});
      channel.on('close', drop);
      await channel.assertExchange(this.settings.exchange, this.settings.exchange_type, { durable: true });
      this.conn = conn;
      this.channel = channel;
      return channel;
    } catch (err) {
      // (e.g. the exchange exists with another type): no connection left behind at each retry
      await conn.close().catch(() => {});
      throw err;
    }
  }

  async write(s: SinkStream, batch: Pending[]): Promise<void> {
    const channel = await this.open();
    const key = routingKey(s);
    try {
      for (const p of batch) {
        // The line's own bytes, not a decoded copy: a body that is not valid UTF-8 would
        // otherwise reach the archiver's windows with other bytes than the collector's.
        const body = p.line[p.line.length - 1] === 0x0a ? p.line.subarray(0, p.line.length - 1) : p.line;
        const ok = channel.publish(this.settings.exchange, key, body, {
          persistent: true,
          contentType: 'application/json',
          messageId: messageId(s.name, body),
          timestamp: Math.floor(p.ts / 1000),
          headers: { stream: s.name, tick: p.tick, timestamp: p.ts },
        });
        // Wait for room, or for the channel to go (then 'drain' would never come).
        if (!ok) await new Promise((resolve, reject) => {
          channel.once('drain', resolve);
          channel.once('close', () => reject(new Error('the channel closed while publishing')));
        });
      }
      await channel.waitForConfirms();
    } catch (err) {
      // A nack or a lost channel: start again on a new connection (the batch is sent again).
      const conn = this.conn;
      this.conn = this.channel = undefined;
      await conn?.close().catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = this.channel = undefined;
    await conn?.close().catch(() => {});
  }
}

/** Set per stream by amqp-kind.ts: `routing_key` for the stream's own records, the output's name for the others. */
function routingKey(s: SinkStream): string {
  return (s.settings as { routingKey?: string } | undefined)?.routingKey ?? s.name;
}

export function startAmqpSink(settings: AmqpSettings, dir: string, note: NoteEvent): BufferedSink {
  const sink = new BufferedSink(new AmqpWriter(settings), { sink: 'amqp', dir, batch: settings.batch, flushIntervalMs: settings.flush_interval, buffer: settings.buffer }, note);
  sink.start();
  return sink;
}
