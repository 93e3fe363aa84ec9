/**
 * AMQP sink: records of streams with `amqp:` set are published to the
 * exchange (buffering and read-back: buffered-sink.ts), persistent, on a
 * confirm channel: a batch counts as sent only when the broker has confirmed
 * every message of it; otherwise the connection is dropped and the batch sent
 * again on a new one. Each message carries the record line (its body), its
 * stream, tick and timestamp in headers, and a message id made from the
 * stream and the line, by which an archiver drops a message it already has.
 * With `format: esnet` a record becomes the ESnet Netbeam collector's messages
 * instead (esnet-messages.ts); `backpressure:` pauses publishing on queue
 * depth (backpressure.ts).
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { NoteEvent } from '../../logging/note-event.js';
import { messageId, type AmqpSettings } from '../../connections/amqp-settings.js';
import { BufferedSink, type Pending, type SinkStream, type SinkWriter } from '../buffered-sink.js';
import type { AmqpFeedSettings } from './feed-settings.js';
import { BackpressureGate, managementDepth, queueDepth } from './backpressure.js';
import { interfaceMessages, pointMessages } from './esnet-messages.js';

/** Records confirmed in this run, by id: a record read back from the windows that was sent already is not sent again. */
const CONFIRMED_KEPT = 200_000;

interface Message {
  key: string;
  body: Buffer;
  id: string;
}

class AmqpWriter implements SinkWriter {
  readonly describe: string;
  private conn: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private readonly gate: BackpressureGate | undefined;
  private readonly confirmed = new Set<string>();

  constructor(
    private readonly settings: AmqpSettings,
    private readonly note: NoteEvent,
  ) {
    this.describe = settings.describe;
    const bp = settings.backpressure;
    if (bp) this.gate = new BackpressureGate(bp, bp.management ? managementDepth(settings, bp.management, bp.queues) : queueDepth(bp.queues!), note);
  }

  holding(): boolean {
    return this.gate?.holding ?? false;
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
      // An exchange declared by the owners of the broker is only checked: declaring it with other settings would fail.
      if (this.settings.declare_exchange) await channel.assertExchange(this.settings.exchange, this.settings.exchange_type, { durable: true });
      else await channel.checkExchange(this.settings.exchange);
      this.conn = conn;
      this.channel = channel;
      return channel;
    } catch (err) {
      // (e.g. the exchange exists with another type): no connection left behind at each retry
      await conn.close().catch(() => {});
      throw err;
    }
  }

  /** The messages a record becomes: itself, or the ESnet collector's messages derived from it. */
  private messagesOf(s: SinkStream, p: Pending): Message[] {
    // The line's own bytes, not a decoded copy: a body that is not valid UTF-8 would
    // otherwise reach the archiver's windows with other bytes than the collector's.
    const line = p.line[p.line.length - 1] === 0x0a ? p.line.subarray(0, p.line.length - 1) : p.line;
    const set = s.settings as AmqpFeedSettings | undefined;
    if (set?.format !== 'esnet') return [{ key: set?.routingKey ?? s.name, body: line, id: messageId(s.name, line) }];
    const keys = this.settings.esnetKeys;
    const key = set.role === 'interfaces' ? (set.routingKey ?? keys?.interfaces ?? 'esnet_interfaces') : (set.routingKey ?? keys?.traffic ?? 'esnet_traffic');
    const { messages, malformed } = set.role === 'interfaces' ? interfaceMessages(line) : pointMessages(line);
    // Never dropped in silence: the record stays in its window, and the event says what could not be sent.
    if (malformed) this.note('esnet_malformed', { sink: 'amqp', stream: s.name, timestamp: p.ts, items: malformed, published: messages.length }, 'warn', `${s.name}: ${malformed} ${set.role === 'interfaces' ? 'interfaces' : 'points'} of the record at ${p.ts} are not what the ESnet messages are made from; they are kept in the window file, not published`);
    return messages.map((m) => ({ key, body: m.body, id: m.id }));
  }

  async write(s: SinkStream, batch: Pending[]): Promise<void> {
    const channel = await this.open();
    const conn = this.conn!;
    this.gate?.newBatch();
    const done: string[] = [];
    try {
      for (const p of batch) {
        const recordId = messageId(s.name, p.line);
        if (this.confirmed.has(recordId)) continue;
        for (const m of this.messagesOf(s, p)) {
          if (this.gate) await this.gate.beforePublish(conn);
          const ok = channel.publish(this.settings.exchange, m.key, m.body, {
            persistent: true,
            contentType: 'application/json',
            messageId: m.id,
            timestamp: Math.floor(p.ts / 1000),
            headers: { stream: s.name, tick: p.tick, timestamp: p.ts },
          });
          // Wait for room, or for the channel to go (then 'drain' would never come).
          if (!ok) await new Promise((resolve, reject) => {
            channel.once('drain', resolve);
            channel.once('close', () => reject(new Error('the channel closed while publishing')));
          });
        }
        done.push(recordId);
      }
      await channel.waitForConfirms();
    } catch (err) {
      // A nack or a lost channel: start again on a new connection (the batch is sent again).
      const conn = this.conn;
      this.conn = this.channel = undefined;
      await conn?.close().catch(() => {});
      throw err;
    }
    for (const id of done) this.confirmed.add(id);
    // Oldest first out (a Set iterates in insertion order).
    for (const id of this.confirmed) {
      if (this.confirmed.size <= CONFIRMED_KEPT) break;
      this.confirmed.delete(id);
    }
  }

  async close(): Promise<void> {
    this.gate?.stop();
    const conn = this.conn;
    this.conn = this.channel = undefined;
    await conn?.close().catch(() => {});
  }
}

export function startAmqpSink(settings: AmqpSettings, dir: string, note: NoteEvent): BufferedSink {
  const sink = new BufferedSink(new AmqpWriter(settings, note), { sink: 'amqp', dir, batch: settings.batch, flushIntervalMs: settings.flush_interval, buffer: settings.buffer }, note);
  sink.start();
  return sink;
}
