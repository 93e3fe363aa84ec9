/**
 * Back-pressure from queue depth, as the ESnet Netbeam collector had it: the
 * depth is read every `check_every` messages (and before each batch); above
 * `high_water` publishing pauses, and it resumes once the depth is below
 * `low_water` (the original resumed at high_water; the gap keeps it from
 * flapping). While paused, the batch waits unconfirmed in the sink, so its
 * mark does not move and nothing is dropped: later records wait in the
 * sink's buffer, past it they are read back from the window files.
 *
 * The depth is the ready messages of the named queues (a passive declare
 * each), or, with `management:`, the `messages` of every queue of the vhost
 * from the management API, which is what the original summed.
 */
import type { Channel, ChannelModel } from 'amqplib';
import type { NoteEvent } from '../../logging/note-event.js';
import type { AmqpSettings, BackpressureSettings } from '../../connections/amqp-settings.js';

export type DepthReader = (conn: ChannelModel) => Promise<number>;

export class BackpressureGate {
  private sinceCheck = Infinity;
  private paused: { since: number } | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly settings: BackpressureSettings,
    private readonly readDepth: DepthReader,
    private readonly note: NoteEvent,
  ) {}

  /** True while publishing is paused (a stop does not wait for the consumers then). */
  get holding(): boolean {
    return this.paused !== undefined;
  }

  /** Before a batch: the depth is read again. */
  newBatch(): void {
    this.sinceCheck = Infinity;
  }

  /** Before each message: reads the depth when due, and waits while it is above the water marks. Throws once stopped. */
  async beforePublish(conn: ChannelModel): Promise<void> {
    if (this.sinceCheck++ < this.settings.check_every) return;
    this.sinceCheck = 1;
    const depth = await this.readDepth(conn);
    if (depth <= this.settings.high_water) return;
    this.paused = { since: Date.now() };
    this.note('backpressure_on', { sink: 'amqp', depth, high_water: this.settings.high_water, low_water: this.settings.low_water }, 'warn', `${depth} messages wait in the queues (above ${this.settings.high_water}): publishing pauses until they are below ${this.settings.low_water}`);
    try {
      for (;;) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.settings.check_interval).unref();
        });
        if (this.stopped) throw new Error('stopped while publishing was paused by back-pressure');
        const now = await this.readDepth(conn);
        if (now < this.settings.low_water) {
          this.note('backpressure_off', { sink: 'amqp', depth: now, low_water: this.settings.low_water, paused_ms: Date.now() - this.paused.since }, 'info', `${now} messages wait in the queues (below ${this.settings.low_water}): publishing resumes`);
          return;
        }
      }
    } finally {
      this.paused = undefined;
    }
  }

  /** At stop: a paused wait ends (its batch is sent again at the next start). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}

/** The ready messages of `queues`, by a passive declare each on a channel of its own (a missing queue closes only that one). */
export function queueDepth(queues: readonly string[]): DepthReader {
  const channels = new WeakMap<ChannelModel, Promise<Channel>>();
  return async (conn) => {
    let ch = channels.get(conn);
    if (!ch) {
      ch = conn.createChannel().then((c) => {
        c.on('error', () => {});
        c.on('close', () => channels.delete(conn));
        return c;
      });
      channels.set(conn, ch);
    }
    const channel = await ch;
    let total = 0;
    try {
      for (const q of queues) total += (await channel.checkQueue(q)).messageCount;
    } catch (err) {
      channels.delete(conn);
      throw new Error(`cannot read the depth of the back-pressure queues ${queues.join(', ')} (${(err as Error).message}); check amqp.backpressure.queues`);
    }
    return total;
  };
}

/** The sum of `messages` over the vhost's queues (or only `queues`), from the management API, with the broker's user and password. */
export function managementDepth(settings: AmqpSettings, base: string, queues: readonly string[] | undefined): DepthReader {
  const vhost = decodeURIComponent(new URL(settings.url).pathname.slice(1)) || '/';
  const url = `${base.replace(/\/+$/, '')}/api/queues/${encodeURIComponent(vhost)}`;
  const auth = `Basic ${Buffer.from(`${settings.credentials.user}:${settings.credentials.password ?? ''}`).toString('base64')}`;
  return async () => {
    const res = await fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`the management API at ${base} answered ${res.status} for the queues of vhost ${vhost}`);
    const list = (await res.json()) as { name?: string; messages?: number }[];
    return list.filter((q) => !queues || queues.includes(q.name ?? '')).reduce((n, q) => n + (q.messages ?? 0), 0);
  };
}
