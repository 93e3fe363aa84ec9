/** `amqp:` on a stream: its records are also published to RabbitMQ (the top-level amqp: section); see amqp-sink.ts. */
import { z } from 'zod';
import type { SinkKind } from '../kind.js';

const option = z
  .union([z.boolean(), z.strictObject({ routing_key: z.string().min(1).optional() })])
  .default(false)
  .meta({ description: 'also publish the records to RabbitMQ (the amqp: section); routing key: the stream name unless routing_key says otherwise' });

export const amqpSinkKind: SinkKind<typeof option> = {
  kind: 'amqp',
  option: { key: 'amqp', schema: option },
  // The stream's own records under its routing key; a joined view or other output under its own name.
  feeds(stream, outputs) {
    const set = stream.options.amqp as z.output<typeof option> | undefined;
    if (!set) return [];
    const own = typeof set === 'object' && set.routing_key ? set.routing_key : stream.name;
    return [stream.name, ...outputs].map((name) => ({ stream: name, kind: stream.kind, windowMs: stream.timing.windowMs, settings: { routingKey: name === stream.name ? own : name } }));
  },
  check: (streams, { amqp }) =>
    amqp ? [] : streams.filter((s) => s.options.amqp).slice(0, 1).map((s) => `streams.${s.name}: it needs a broker, and there is no amqp: section; add one (url, password: \${AMQP_PASSWORD})`),
  async build({ connections, dir, note }) {
    const { startAmqpSink } = await import('./amqp-sink.js');
    return startAmqpSink(connections.amqp!, dir, note);
  },
};
