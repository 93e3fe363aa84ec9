/** `amqp:` on a stream: its records are also published to RabbitMQ (the top-level amqp: section); see amqp-sink.ts. */
import { z } from 'zod';
import type { SinkKind } from '../kind.js';
import type { AmqpFeedSettings } from './feed-settings.js';

const option = z
  .union([
    z.boolean(),
    z.strictObject({
      routing_key: z.string().min(1).optional(),
      format: z.enum(['records', 'esnet']).default('records').meta({ description: "records: one message per record line; esnet (netbeam streams): the ESnet Netbeam collector's messages, one per interface and one per point" }),
      routing_keys: z
        .strictObject({
          interfaces: z.string().min(1).optional().meta({ description: 'per-interface messages; default RMQ_INTERFACE_KEY (from_env) or esnet_interfaces' }),
          traffic: z.string().min(1).optional().meta({ description: 'per-point messages of all three series; default RMQ_TRAFFIC_KEY (from_env) or esnet_traffic' }),
        })
        .optional()
        .meta({ description: 'with format: esnet, the routing keys' }),
    }),
  ])
  .default(false)
  .meta({ description: 'also publish the records to RabbitMQ (the amqp: section); routing key: the stream name unless routing_key says otherwise' });

type AmqpOption = z.output<typeof option>;


const SERIES = ['traffic', 'errors', 'discards'];

export const amqpSinkKind: SinkKind<typeof option> = {
  kind: 'amqp',
  option: { key: 'amqp', schema: option },
  // The stream's own records under its routing key; a joined view or other output under its own name.
  feeds(stream, outputs) {
    const set = stream.options.amqp as AmqpOption | undefined;
    if (!set) return [];
    const feed = (name: string, settings: AmqpFeedSettings) => ({ stream: name, kind: stream.kind, windowMs: stream.timing.windowMs, settings });
    if (typeof set === 'object' && set.format === 'esnet') {
      // The snapshot gives the per-interface messages, each series window its points; the changes stay in nsr.
      const series = outputs.filter((o) => SERIES.some((s) => o === `${stream.name}_${s}`));
      return [feed(stream.name, { format: 'esnet', role: 'interfaces', routingKey: set.routing_keys?.interfaces }), ...series.map((o) => feed(o, { format: 'esnet', role: 'points', routingKey: set.routing_keys?.traffic }))];
    }
    const own = typeof set === 'object' && set.routing_key ? set.routing_key : stream.name;
    return [stream.name, ...outputs].map((name) => feed(name, { format: 'records', routingKey: name === stream.name ? own : name }));
  },
  check: (streams, { amqp }) => {
    const problems: string[] = [];
    for (const s of streams) {
      const set = s.options.amqp as AmqpOption | undefined;
      if (!set) continue;
      if (!amqp) problems.push(`streams.${s.name}: it needs a broker, and there is no amqp: section; add one (url, password: \${AMQP_PASSWORD})`);
      if (typeof set !== 'object') continue;
      if (set.format === 'esnet' && s.kind !== 'netbeam') problems.push(`streams.${s.name}.amqp.format: esnet, but the stream is of kind ${s.kind}; the ESnet collector's messages come from a netbeam stream (remove format, or use it on kind: netbeam)`);
      if (set.format === 'esnet' && set.routing_key) problems.push(`streams.${s.name}.amqp.routing_key: ${set.routing_key}, with format: esnet, which publishes under two keys; write routing_keys: {interfaces: …, traffic: …} instead`);
      if (set.format !== 'esnet' && set.routing_keys) problems.push(`streams.${s.name}.amqp.routing_keys: set without format: esnet; add format: esnet, or use routing_key for the records`);
    }
    return problems.slice(0, 1);
  },
  async build({ connections, dir, note }) {
    const { startAmqpSink } = await import('./amqp-sink.js');
    return startAmqpSink(connections.amqp!, dir, note);
  },
};
