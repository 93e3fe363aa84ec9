/** What the amqp sink's writer is told per stream (set by amqp-kind.ts, read by amqp-sink.ts). */
export type AmqpFeedSettings =
  | { format: 'records'; routingKey: string }
  | { format: 'esnet'; role: 'interfaces' | 'points'; routingKey?: string };
