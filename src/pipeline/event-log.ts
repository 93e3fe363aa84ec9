/**
 * The events stream (DESIGN 2.3): what happened to the recorder, as records
 * of its own (`…_events.json`), so an analyst can tell "no data" from "the
 * network was idle". Every event is also logged.
 */
import type { Logger } from '../logging/logger.js';
import { encodeObjectRecord } from './record.js';
import type { Payload } from './payload.js';

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export class EventLog {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly sink: (payload: Payload) => void,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  emit(event: string, fields: Record<string, unknown> = {}, level: EventLevel = 'info', message?: string): void {
    const timestamp = this.now();
    this.counts.set(event, (this.counts.get(event) ?? 0) + 1);
    this.sink({ stream: 'events', tick: 0, scheduledAt: timestamp, receivedAt: timestamp, line: encodeObjectRecord(timestamp, { event, ...fields }) });
    this.log[level]({ event, ...fields }, message ?? event);
  }

  count(event: string): number {
    return this.counts.get(event) ?? 0;
  }
}
