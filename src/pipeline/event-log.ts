/**
 * The events stream (DESIGN 2.3): what happened to the recorder, as records
 * of its own (`…_events.json`), so an analyst can tell "no data" from "the
 * network was idle". Every event is also logged.
 */
import type { Logger } from '../logging/logger.js';
import { encodeObjectRecord } from './record.js';
import type { Payload } from './payload.js';

import type { EventLevel } from '../logging/note-event.js';
export type { EventLevel };

/** How many recent events /status shows. */
export const RECENT_EVENTS = 50;

export class EventLog {
  private readonly counts = new Map<string, number>();
  /** The latest events as their record lines (a ring): kept by reference, parsed only when asked for. */
  private readonly recentLines: Buffer[] = [];
  private recentNext = 0;

  constructor(
    private readonly sink: (payload: Payload) => void,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  emit(event: string, fields: Record<string, unknown> = {}, level: EventLevel = 'info', message?: string): void {
    const timestamp = this.now();
    this.counts.set(event, (this.counts.get(event) ?? 0) + 1);
    const line = encodeObjectRecord(timestamp, { event, ...fields });
    if (this.recentLines.length < RECENT_EVENTS) this.recentLines.push(line);
    else this.recentLines[this.recentNext++ % RECENT_EVENTS] = line;
    this.sink({ stream: 'events', tick: 0, scheduledAt: timestamp, receivedAt: timestamp, line });
    this.log[level]({ event, ...fields }, message ?? event);
  }

  /** The latest events, oldest first, as records (`{timestamp, event, …}`). */
  recent(): Record<string, unknown>[] {
    const n = this.recentLines.length;
    const start = n < RECENT_EVENTS ? 0 : this.recentNext % RECENT_EVENTS;
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) out.push(JSON.parse(this.recentLines[(start + i) % n].toString('utf8')));
    return out;
  }

  count(event: string): number {
    return this.counts.get(event) ?? 0;
  }
}
